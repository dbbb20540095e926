// A layer blob from entries: tar them deterministically, compress, and take both digests (the
// compressed blob's, for the manifest; the tar's, the diff_id, for the config) in one pass.
//
// Compression runs in parallel: the tar stream is cut into fixed 2 MiB blocks, each compressed
// on libuv's thread pool while the next is read, and the results are concatenated in order. For
// gzip that is a multi-member file (RFC 1952 §2.2), which every layer reader handles (Go's gzip
// reader in containerd/skopeo/umoci, Python's gzip and tarfile, GNU gzip); for zstd, several
// frames. The block size is fixed, so the bytes stay a pure function of the entries. On a Node
// without zstd, the zstd program compresses the whole stream instead (zstd.ts).
import { open, type FileHandle } from 'node:fs/promises'
import { promisify } from 'node:util'
import * as zlib from 'node:zlib'
import { DigestWriter, type Digest } from './digest.js'
import type { LayerEntry } from './entry.js'
import { layerMediaType, OCI_MANIFEST, type Compression } from './media-types.js'
import { writeTar } from './tar.js'
import { nodeZstdCompressor, ZstdProcess } from './zstd.js'

export { CompressionError } from './zstd.js'

export interface LayerOptions {
  readonly mtime: number
  readonly compression?: Compression
  /** gzip/zstd level; defaults to fast (gzip 1, zstd 3): a layer is written once per change. */
  readonly level?: number
  /** The manifest family the layer goes into (decides the layer media type). */
  readonly manifestType?: string
  /** Write the blob to this file instead of keeping it in memory (large dependency layers). */
  readonly file?: string
  /** Also told every piece of the blob, in order, as it is produced (a streamed upload). */
  readonly onChunk?: (chunk: Buffer) => Promise<void>
}

export interface LayerBlob {
  readonly compression: Compression
  /** The OCI (or, for manifestType Docker, Docker) layer media type. */
  readonly mediaType: string
  readonly digest: Digest
  readonly size: number
  readonly diffId: Digest
  readonly uncompressedSize: number
  /** The blob bytes, unless written to `file`. */
  readonly data: Buffer | null
  readonly file: string | null
  readonly entries: number
}

/** Part of the format: changing it changes every compressed layer's bytes. */
export const BLOCK_SIZE = 2 * 1024 * 1024
/** Blocks compressing at once (libuv's pool has 4 threads by default). */
const IN_FLIGHT = 4

const gzip = promisify(zlib.gzip)

type BlockCompressor = (block: Buffer) => Promise<Buffer>

/** Where the tar blocks go: written in order, ended once; the compressed bytes go to `emit`. */
interface Sink {
  write(block: Buffer): Promise<void>
  end(): Promise<void>
  abort(): void
}

function gzipBlocks(level: number | undefined): BlockCompressor {
  return async (block) => {
    // One output buffer as large as the block: zlib then deflates the whole block in one go on
    // the thread pool, instead of returning to the main thread every 16 kB (the bytes are the
    // same either way).
    const out = await gzip(block, { level: level ?? 1, chunkSize: BLOCK_SIZE + 64 * 1024 })
    // zlib writes its build's OS code (3 on Unix, 10 on Windows) into byte 9 of each member's
    // header; a fixed 255 ("unknown") keeps the blob the same whichever OS wrote it.
    out[9] = 0xff
    return out
  }
}

/** Blocks compressed on the thread pool, several at once, emitted in order. */
function blockSink(compress: BlockCompressor, emit: (out: Buffer) => Promise<void>, free: Buffer[]): Sink {
  const pending: Promise<Buffer>[] = []
  return {
    async write(block) {
      pending.push(
        compress(block).then((out) => {
          // Input blocks go back to the tar writer once compressed (no new 2 MiB buffer per block).
          if (block.length === BLOCK_SIZE) free.push(block)
          return out
        })
      )
      if (pending.length >= IN_FLIGHT) await emit(await pending.shift()!)
    },
    async end() {
      while (pending.length > 0) await emit(await pending.shift()!)
    },
    abort() {}
  }
}

function sinkFor(
  compression: Compression,
  level: number | undefined,
  emit: (out: Buffer) => Promise<void>,
  free: Buffer[]
): Sink {
  if (compression === 'none') return { write: emit, end: async () => {}, abort() {} }
  if (compression === 'gzip') return blockSink(gzipBlocks(level), emit, free)
  const nodeZstd = nodeZstdCompressor(level)
  if (nodeZstd) return blockSink(nodeZstd, emit, free)
  // The zstd program holds on to what it is given, so its blocks are not reused.
  return new ZstdProcess(level, emit)
}

export async function buildLayer(entries: readonly LayerEntry[], opts: LayerOptions): Promise<LayerBlob> {
  const compression = opts.compression ?? 'gzip'
  const tar = new DigestWriter()
  const blob = new DigestWriter()
  const kept: Buffer[] = []
  let handle: FileHandle | null = opts.file ? await open(opts.file, 'w') : null
  const emit = async (out: Buffer) => {
    blob.update(out)
    if (handle) await handle.write(out)
    else kept.push(out)
    if (opts.onChunk) await opts.onChunk(out)
  }
  // Input blocks go back to the tar writer once compressed (no new 2 MiB buffer per block).
  const free: Buffer[] = []
  const sink = sinkFor(compression, opts.level, emit, free)
  try {
    await writeTar(entries, { mtime: opts.mtime, blockSize: BLOCK_SIZE, freeBlocks: free }, async (block) => {
      tar.update(block)
      await sink.write(block)
    })
    await sink.end()
  } catch (e) {
    sink.abort()
    throw e
  } finally {
    await handle?.close()
    handle = null
  }
  return {
    compression,
    mediaType: layerMediaType(opts.manifestType ?? OCI_MANIFEST, compression),
    digest: blob.digest(),
    size: blob.size,
    diffId: tar.digest(),
    uncompressedSize: tar.size,
    data: opts.file ? null : Buffer.concat(kept, blob.size),
    file: opts.file ?? null,
    entries: entries.length
  }
}
