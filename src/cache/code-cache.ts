// V8's compiled code of the CLI bundle, kept between runs (the loader, src/cli-start.ts, uses it).
// Parsing and compiling 800 kB of JavaScript, then each function on its first call, is otherwise a
// fixed part of every run: on a build whose deps image is rebuilt for one bumped package, about a
// tenth. (Node 22.1's module.enableCompileCache does the like for ES modules; this works from
// Node 20, for which the CLI bundle is CommonJS, compiled by vm.Script.)
//
// V8 checks a cache against its own version and flags and rejects one that does not fit, but it
// checks the source only by its length, and the bytes not at all: given the cache of another
// source of the same length, or damaged bytes, it runs what they say. So each file is named after
// the bundle's sha256, and starts with the sha256 of what follows, checked before V8 sees it. It
// lives in the user's cache directory, never a shared one (whoever can write it can run code as
// the user). Failing to read or write it only costs the time it would have saved.
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'

export interface CodeCacheName {
  /** `build-`: the files of one command (older bundles' are removed when a new one is written). */
  readonly prefix: string
  /** `build-<32 hex>.bin` */
  readonly file: string
}

/**
 * One file per command (what a run compiles depends on it: `plan` never reaches the build code)
 * and per bundle, Node version and architecture.
 */
export function codeCacheName(
  source: string | Buffer,
  command: string | undefined,
  runtime = `${process.version} ${process.arch}`
): CodeCacheName {
  const c = command && /^[a-z][a-z-]{0,19}$/.test(command) ? command : 'other'
  const key = createHash('sha256').update(`${runtime}\0`).update(source).digest('hex').slice(0, 32)
  return { prefix: `${c}-`, file: `${c}-${key}.bin` }
}

const SUM = 32

/** The cached code, or undefined when there is none, it cannot be read, or it is damaged. */
export function readCodeCache(dir: string, name: CodeCacheName): Buffer | undefined {
  let bytes: Buffer
  try {
    bytes = readFileSync(`${dir}/${name.file}`)
  } catch {
    return undefined
  }
  if (bytes.length <= SUM) return undefined
  const data = bytes.subarray(SUM)
  return createHash('sha256').update(data).digest().equals(bytes.subarray(0, SUM)) ? data : undefined
}

/**
 * Written aside and renamed (a concurrent run reads a whole file or none); the command's files of
 * other bundles are removed. Never throws: a read-only home or a full disk only means the next run
 * compiles again.
 */
export function writeCodeCache(dir: string, name: CodeCacheName, data: Buffer): void {
  try {
    mkdirSync(dir, { recursive: true })
    const tmp = `${dir}/${name.file}.${process.pid}.tmp`
    writeFileSync(tmp, Buffer.concat([createHash('sha256').update(data).digest(), data]))
    renameSync(tmp, `${dir}/${name.file}`)
    for (const f of readdirSync(dir))
      if (f.startsWith(name.prefix) && f.endsWith('.bin') && f !== name.file)
        rmSync(`${dir}/${f}`, { force: true })
  } catch {
    // The next run compiles again.
  }
}
