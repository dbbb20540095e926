// Files by their sha256, for the whole tool: the wheels and sdists a lock pins (fetched by
// src/wheels/fetch.ts, restored from the Actions cache by src/github/cache.ts), in the cache
// directory's `artifacts/` (src/cache/layout.ts). One ArtifactCache per build is made by the front
// door (the action, the CLI) and passed down to everything that reads or fills it.
import { createHash, randomBytes } from 'node:crypto'
import { statSync } from 'node:fs'
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { FastBuildError } from '../errors.js'

const SHA256_HEX = /^[0-9a-f]{64}$/

/** A file fetched into the cache: where it is and its size. */
export interface ArrivedArtifact {
  readonly path: string
  readonly size: number
}

/** A key that is not a sha256 (a bug of the caller, or a path trick). */
export class ArtifactCacheError extends FastBuildError {}

/**
 * Files by their sha256: `<dir>/sha256/<first two hex digits>/<hex>`. Entries appear only by
 * rename from `<dir>/tmp/`, after their hash was computed, so a present entry is always whole.
 */
export class ArtifactCache {
  readonly dir: string
  /** Files being fetched into the cache now, by sha256 (see `arriving`). */
  private readonly inFlight = new Map<string, Promise<ArrivedArtifact>>()

  constructor(dir: string) {
    this.dir = resolve(dir)
  }

  /**
   * Tell the cache that `arrival` fetches this file into it: until it settles, `arriving` hands
   * it to whoever else wants the file, so one download serves them all. Returns `arrival`.
   */
  track(sha256Hex: string, arrival: Promise<ArrivedArtifact>): Promise<ArrivedArtifact> {
    const h = sha256Hex.toLowerCase()
    this.inFlight.set(h, arrival)
    const done = () => {
      if (this.inFlight.get(h) === arrival) this.inFlight.delete(h)
    }
    arrival.then(done, done)
    return arrival
  }

  /** The fetch of this file under way (see `track`), if there is one. */
  arriving(sha256Hex: string): Promise<ArrivedArtifact> | undefined {
    return this.inFlight.get(sha256Hex.toLowerCase())
  }

  /** Once every fetch under way has settled (a build does not end with one still writing). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight.values()])
  }

  pathFor(sha256Hex: string): string {
    const h = sha256Hex.toLowerCase()
    if (!SHA256_HEX.test(h)) throw new ArtifactCacheError(`not a sha256 digest: ${JSON.stringify(sha256Hex)}`)
    return join(this.dir, 'sha256', h.slice(0, 2), h)
  }

  /** Whether the cache holds the file (and, when `size` is given, with that size). */
  has(sha256Hex: string, size: number | null = null): boolean {
    return this.sizeOf(sha256Hex, size) !== null
  }

  /** The cached file's size, or null when it is not cached (or has another size than `size`). */
  sizeOf(sha256Hex: string, size: number | null = null): number | null {
    try {
      const s = statSync(this.pathFor(sha256Hex))
      return s.isFile() && (size === null || s.size === size) ? s.size : null
    } catch {
      return null
    }
  }

  /** A fresh temporary file name on the cache's file system (the directory exists). */
  async tempPath(): Promise<string> {
    const dir = join(this.dir, 'tmp')
    await mkdir(dir, { recursive: true })
    return join(dir, `${process.pid}-${randomBytes(8).toString('hex')}.part`)
  }

  /**
   * Move `tempPath` into the cache as `sha256Hex`, which must be the hash of its content as
   * computed while it was written (fetchArtifacts does so). Atomic: readers see all or nothing.
   */
  async commit(tempPath: string, sha256Hex: string): Promise<string> {
    const final = this.pathFor(sha256Hex)
    await mkdir(dirname(final), { recursive: true })
    await rename(tempPath, final)
    return final
  }

  /** Remove temporary files older than `maxAgeMs` (left by runs that were killed). Best effort. */
  async pruneTemp(maxAgeMs = 24 * 3600_000): Promise<void> {
    const dir = join(this.dir, 'tmp')
    let names: string[]
    try {
      names = await readdir(dir)
    } catch {
      return
    }
    const before = Date.now() - maxAgeMs
    for (const name of names) {
      const p = join(dir, name)
      try {
        if ((await stat(p)).mtimeMs < before) await rm(p, { force: true })
      } catch {
        // Another run may have just renamed or removed it.
      }
    }
  }

  /** Store bytes; returns their sha256 and cache path. */
  async put(data: Uint8Array): Promise<{ sha256: string; path: string }> {
    const sha256 = createHash('sha256').update(data).digest('hex')
    if (this.has(sha256)) return { sha256, path: this.pathFor(sha256) }
    const temp = await this.tempPath()
    await writeFile(temp, data)
    return { sha256, path: await this.commit(temp, sha256) }
  }
}
