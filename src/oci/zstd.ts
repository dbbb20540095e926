// zstd for layers: Node's own (node:zlib has zstd from 22.15/23.8, which is what the action's
// node24 runs), else the `zstd` program (Debian/Ubuntu package zstd, on GitHub's runner images),
// so a CLI on an older Node can still write and read zstd layers. The program is fed the whole
// tar stream and writes one frame sequence; Node's is fed fixed blocks and writes one frame per
// block. Both are valid zstd for every reader; the blob bytes (so the digest) differ between the
// two, which costs at most one re-upload when a machine switches between them.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { PassThrough, type Readable } from 'node:stream'
import { promisify } from 'node:util'
import * as zlib from 'node:zlib'
import { FastBuildError } from '../errors.js'

export class CompressionError extends FastBuildError {}

interface NodeZstd {
  zstdCompress?: (b: Buffer, o: object, cb: (e: Error | null, r: Buffer) => void) => void
  createZstdDecompress?: () => NodeJS.ReadWriteStream
  constants: Record<string, number>
}
const z = zlib as unknown as NodeZstd

/** zstd's own default level: fast, and still smaller than gzip -6. */
export const ZSTD_LEVEL = 3

/**
 * The program to fall back to. FAST_BUILD_ZSTD names one to use even where Node has zstd (a
 * newer zstd than Node's, or tests that need the program path on any Node).
 */
function program(): string {
  return process.env['FAST_BUILD_ZSTD'] || 'zstd'
}

const programChosen = () => Boolean(process.env['FAST_BUILD_ZSTD'])

const noZstd = (what: string) =>
  new CompressionError(
    `${what} needs zstd: this Node.js (${process.version}) has none built in, and the zstd program was not found`,
    {},
    'install zstd (apt-get install zstd), run fast-build on Node.js 22.15 or newer, or use compression = "gzip"'
  )

/** Node's block compressor, or null when this Node has no zstd. */
export function nodeZstdCompressor(level: number | undefined): ((block: Buffer) => Promise<Buffer>) | null {
  if (!z.zstdCompress || programChosen()) return null
  const compress = promisify(z.zstdCompress)
  const param = z.constants['ZSTD_c_compressionLevel']
  return (block) => compress(block, param === undefined ? {} : { params: { [param]: level ?? ZSTD_LEVEL } })
}

/**
 * A `zstd` child compressing one stream: `write` blocks in order, `end` once; `onOutput` gets
 * the compressed bytes in order, one call at a time (the child waits while it runs).
 */
export class ZstdProcess {
  private readonly child: ChildProcessWithoutNullStreams
  private readonly exited: Promise<void>
  private output: Promise<void> = Promise.resolve()
  private failure: Error | null = null
  private stderr = ''

  constructor(level: number | undefined, onOutput: (chunk: Buffer) => Promise<void>) {
    this.child = spawn(program(), ['-q', '-c', `-${level ?? ZSTD_LEVEL}`], { stdio: 'pipe' })
    const { child } = this
    child.stdout.on('data', (chunk: Buffer) => {
      child.stdout.pause()
      this.output = this.output
        .then(() => (this.failure ? undefined : onOutput(chunk)))
        .then(
          () => {
            child.stdout.resume()
          },
          (e: unknown) => {
            this.fail(e instanceof Error ? e : new Error(String(e)))
          }
        )
    })
    child.stderr.on('data', (d: Buffer) => {
      if (this.stderr.length < 4096) this.stderr += d.toString('utf8')
    })
    // EPIPE when the child died: its exit status says why.
    child.stdin.on('error', () => {})
    this.exited = new Promise((resolve) => {
      child.on('error', (e: NodeJS.ErrnoException) => {
        this.fail(e.code === 'ENOENT' ? noZstd('a zstd layer') : e)
        resolve()
      })
      child.on('close', (code, signal) => {
        if (code !== 0 && !this.failure)
          this.fail(
            new CompressionError(
              `zstd exited with ${signal ?? `status ${code}`}${this.stderr ? `: ${this.stderr.trim()}` : ''}`,
              {},
              'check that the zstd program works (zstd --version)'
            )
          )
        resolve()
      })
    })
  }

  private fail(e: Error): void {
    this.failure ??= e
    this.child.kill()
  }

  /** Hands the child one block; resolves once it can take more. */
  async write(block: Buffer): Promise<void> {
    if (this.failure) throw this.failure
    if (!this.child.stdin.write(block)) {
      await Promise.race([new Promise((r) => this.child.stdin.once('drain', r)), this.exited])
    }
    if (this.failure) throw this.failure
  }

  /** Ends the input and resolves when every output byte has been handed on. */
  async end(): Promise<void> {
    this.child.stdin.end()
    await this.exited
    await this.output
    if (this.failure) throw this.failure
  }

  /** Stops the child (a failed build elsewhere). */
  abort(): void {
    if (this.child.exitCode === null) this.child.kill()
  }
}

/** The tar bytes of a zstd blob on disk: Node's decompressor, else `zstd -d`. */
export function zstdDecompressFile(raw: Readable, file: string): Readable {
  if (z.createZstdDecompress && !programChosen()) {
    const d = z.createZstdDecompress() as unknown as Readable & NodeJS.WritableStream
    raw.on('error', (e) => d.destroy(e))
    return raw.pipe(d)
  }
  raw.destroy()
  const out = new PassThrough()
  const child = spawn(program(), ['-d', '-q', '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString('utf8')
  })
  child.stdout.pipe(out, { end: false })
  child.on('error', (e: NodeJS.ErrnoException) =>
    out.destroy(e.code === 'ENOENT' ? noZstd(`reading the zstd layer ${file}`) : e)
  )
  child.on('close', (code, signal) => {
    if (code === 0) out.end()
    else
      out.destroy(
        new CompressionError(
          `zstd could not read ${file} (${signal ?? `status ${code}`})${stderr ? `: ${stderr.trim()}` : ''}`,
          { file },
          'the layer blob is damaged: delete it from the cache directory and build again'
        )
      )
  })
  // A reader that stops early (it found what it wanted) stops the child too.
  out.on('close', () => {
    if (child.exitCode === null) child.kill()
  })
  return out
}
