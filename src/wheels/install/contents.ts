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

/**
 * Small entries read on demand: the first `take` inflates all of them (in windows of neighbours,
 * one read each), and each is handed out once, then forgotten, so memory drains as they are used.
 */
export class LazyEntries {
  private readonly data = new Map<string, Buffer>()
  private loading: Promise<void> | null = null

  constructor(
    private readonly zip: ZipReader,
    /** Every entry that will be taken: fixed before the first `take`. */
    private readonly entries: readonly ZipEntry[],
    private readonly extract: ExtractOptions = {}
  ) {}

  async take(entry: ZipEntry): Promise<Buffer> {
    await (this.loading ??= this.load())
    const data = this.data.get(entry.name)
    if (!data)
      throw new WheelError(
        `${entry.name} was read twice`,
        this.zip.path,
        'report this as a fast-build bug',
        entry.name
      )
    this.data.delete(entry.name)
    return data
  }

  private load(): Promise<void> {
    return this.zip.extract(
      this.entries,
      {
        whole: (entry, data) => {
          this.data.set(entry.name, data)
        },
        stream: () => Promise.reject(new Error('unreachable: small entries are read whole'))
      },
      { ...this.extract, ...WHOLE }
    )
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
