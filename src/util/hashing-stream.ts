// A pass-through stream that hashes (sha256) and counts what flows through it, telling a progress
// callback as it goes: how downloads (src/net/http.ts) and local copies (src/wheels/fetch.ts) learn
// a file's digest while writing it, without reading it twice.
import { createHash } from 'node:crypto'
import { Transform } from 'node:stream'

export interface HashingStream {
  readonly stream: Transform
  /** Bytes so far. */
  bytes(): number
  /** Lowercase hex sha256 of everything that went through (call once, at the end). */
  sha256(): string
}

export function hashingStream(
  onBytes?: (bytes: number, total: number | null) => void,
  total: number | null = null
): HashingStream {
  const hash = createHash('sha256')
  let bytes = 0
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk)
      bytes += chunk.length
      onBytes?.(bytes, total)
      callback(null, chunk)
    }
  })
  return { stream, bytes: () => bytes, sha256: () => hash.digest('hex') }
}
