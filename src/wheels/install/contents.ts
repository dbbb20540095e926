// How the bytes of a wheel's entries are read for an install that writes nothing to disk: the few
// entries whose installed bytes or hash must be known up front are read whole at once; small
// entries are inflated a window of neighbours at a time when the first of them is wanted; large
// ones stream in chunks, hashed as they pass.
import { createHash } from 'node:crypto'
import { WheelError } from '../wheel-error.js'
import type { ExtractOptions, ZipEntry, ZipReader } from '../zip.js'

/** Entries at least this big are streamed; smaller ones are read in windows. */
export const STREAM_BYTES = 1024 * 1024

/** Never stream: what is read here is wanted whole. */
const WHOLE = { streamThreshold: Number.MAX_SAFE_INTEGER }

/** These entries' bytes, read now (inflated and checked against their size and CRC-32). */
export async function readWhole(
  zip: ZipReader,
  entries: readonly ZipEntry[],
  extract: ExtractOptions = {}
): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>()
  await zip.extract(
    entries,
    {
      whole: (entry, data) => {
        out.set(entry.name, data)
      },
      stream: async (entry, chunks) => {
        const parts: Buffer[] = []
        for await (const c of chunks) parts.push(c)
        out.set(entry.name, Buffer.concat(parts))
      }
    },
    { ...extract, ...WHOLE }
  )
  return out
}

/** Compressed bytes of small entries inflated per batch (a few windows, read in parallel). */
const BATCH_BYTES = 8 * 1024 * 1024

/**
 * Small entries read on demand, in batches in the zip's order: a `take` inflates batches until
 * its entry is there, and the next batch is read while the current one is used. Each entry is
 * handed out once, then forgotten. Layers take entries in path order, which is about the order
 * wheel builders write them in, so only a batch or two are in memory at a time (not every small
 * file of torch at once); taken out of order, the batches in between wait in memory.
 */
export class LazyEntries {
  private readonly data = new Map<string, Buffer>()
  /** Not inflated yet, in the zip's order. */
  private readonly queue: ZipEntry[]
  private next = 0
  private loading: Promise<void> | null = null
  /** A batch that failed (a damaged entry): every later `take` fails with it. */
  private failed: unknown = null

  constructor(
    private readonly zip: ZipReader,
    /** Every entry that will be taken: fixed before the first `take`. */
    entries: readonly ZipEntry[],
    private readonly extract: ExtractOptions = {},
    /** Compressed bytes per batch (the tests make it small). */
    private readonly batchBytes = BATCH_BYTES
  ) {
    this.queue = [...entries].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset)
  }

  async take(entry: ZipEntry): Promise<Buffer> {
    while (!this.failed && !this.data.has(entry.name) && (this.loading || this.next < this.queue.length))
      await (this.loading ??= this.loadBatch())
    if (this.failed) throw this.failed
    const data = this.data.get(entry.name)
    if (!data)
      throw new WheelError(
        `${entry.name} was read twice`,
        this.zip.path,
        'report this as a fast-build bug',
        entry.name
      )
    this.data.delete(entry.name)
    // One batch ahead: inflating on the thread pool while this one is hashed and written.
    if (!this.loading && !this.failed && this.next < this.queue.length) this.loading = this.loadBatch()
    return data
  }

  private async loadBatch(): Promise<void> {
    const batch: ZipEntry[] = []
    for (let bytes = 0; this.next < this.queue.length && (batch.length === 0 || bytes < this.batchBytes);) {
      const e = this.queue[this.next++]!
      batch.push(e)
      bytes += e.compressedSize
    }
    try {
      await this.zip.extract(
        batch,
        {
          whole: (entry, data) => {
            this.data.set(entry.name, data)
          },
          stream: () => Promise.reject(new Error('unreachable: small entries are read whole'))
        },
        { ...this.extract, ...WHOLE }
      )
    } catch (e) {
      this.failed ??= e
    } finally {
      this.loading = null
    }
  }
}

/**
 * A large entry written through `out` chunk by chunk; `done` gets its sha256 once every chunk has
 * passed (and throws to fail the write, e.g. on a RECORD mismatch).
 */
export function streamEntry(
  zip: ZipReader,
  entry: ZipEntry,
  done: (sha256: Buffer) => void
): (out: (chunk: Buffer) => Promise<void>) => Promise<void> {
  return async (out) => {
    const h = createHash('sha256')
    await zip.extract(
      [entry],
      {
        whole: async (_e, data) => {
          h.update(data)
          await out(data)
        },
        stream: async (_e, chunks) => {
          for await (const c of chunks) {
            h.update(c)
            await out(c)
          }
        }
      },
      { streamThreshold: 0 }
    )
    done(h.digest())
  }
}
