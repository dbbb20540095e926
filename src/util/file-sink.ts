// Files written from pieces (a download, a copy, a layer being compressed): gathered into batches
// of about a MiB, each one trip to the thread pool. A write per piece (64 KiB from a socket, less
// from a compressor) costs a trip each, and a Node stream between them more again: a 2 MB wheel
// took three times as long to download as to arrive.
import { createHash } from 'node:crypto'
import { open, type FileHandle } from 'node:fs/promises'

/** Pieces gathered before a write to the file. */
export const WRITE_BATCH = 1024 * 1024

/** Every byte of the buffers, in order (writev may write less than asked). */
export async function writeAll(handle: FileHandle, buffers: Buffer[]): Promise<void> {
  let rest = buffers
  while (rest.length > 0) {
    let { bytesWritten } = await handle.writev(rest)
    while (rest.length > 0 && bytesWritten >= rest[0]!.length) {
      bytesWritten -= rest[0]!.length
      rest = rest.slice(1)
    }
    if (rest.length > 0 && bytesWritten > 0) rest = [rest[0]!.subarray(bytesWritten), ...rest.slice(1)]
  }
}

export interface Received {
  readonly bytes: number
  /** Lowercase hex sha256 of every byte. */
  readonly sha256: string
}

/**
 * Write what `source` yields to `file` (created or truncated), hashing and counting it as it
 * comes, and telling `onBytes` the count so far. The source is read no faster than the file is
 * written (a batch is written before the next piece is taken). Rejects with the source's error.
 */
export async function hashIntoFile(
  source: AsyncIterable<Buffer>,
  file: string,
  onBytes?: (bytes: number, total: number | null) => void,
  total: number | null = null
): Promise<Received> {
  const hash = createHash('sha256')
  let bytes = 0
  const handle = await open(file, 'w')
  try {
    let batch: Buffer[] = []
    let batched = 0
    for await (const piece of source) {
      hash.update(piece)
      bytes += piece.length
      onBytes?.(bytes, total)
      batch.push(piece)
      batched += piece.length
      if (batched >= WRITE_BATCH) {
        await writeAll(handle, batch)
        batch = []
        batched = 0
      }
    }
    if (batch.length > 0) await writeAll(handle, batch)
  } finally {
    await handle.close()
  }
  return { bytes, sha256: hash.digest('hex') }
}
