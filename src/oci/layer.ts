// A layer blob from entries: tar them deterministically, compress, and take both digests (the
// compressed blob's, for the manifest; the tar's, the diff_id, for the config) in one pass.
//
// Compression runs in parallel: the tar stream is cut into fixed 2 MiB blocks, each compressed
// on libuv's thread pool while the next is read, and the results are concatenated in order. For
// gzip that is a multi-member file (RFC 1952 §2.2), which every layer reader handles (Go's gzip
// reader in containerd/skopeo/umoci, Python's gzip and tarfile, GNU gzip); for zstd, several
// frames. The block size is fixed, so the bytes stay a pure function of the entries. On a Node
// without zstd, the zstd program compresses the whole stream instead (zstd.ts).
//
// A gzip layer of installed wheels deflates little: a wheel is a zip whose entries are already
// deflate streams, and a gzip member is a deflate stream between a 10-byte header and an 8-byte
// trailer (CRC-32 and size, both in the zip's directory). So each big file goes in as its own
// member, its deflate data copied from the wheel; only the tar headers and small files between
// them are deflated here. The content is still inflated, to check it against RECORD and to hash
// the tar (the diff_id), but inflating costs a fraction of deflating, and wheels are deflated
// harder than gzip -1, so the layer also comes out smaller.
import { open, type FileHandle } from 'node:fs/promises'
import { promisify } from 'node:util'
import * as zlib from 'node:zlib'
import { DigestWriter, type Digest } from './digest.js'
import { CARRY_MIN_BYTES, type DeflatedContent, type LayerEntry } from './entry.js'
import { layerMediaType, OCI_MANIFEST, type Compression } from './media-types.js'
import { writeTar, type Carry } from './tar.js'
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
  /**
   * gzip: carry files that come deflated (wheel entries) as gzip members of their own, their
   * deflate data as it is, instead of deflating them again (default true). The blob is then a
   * function of the entries and that data; without it, of the entries alone.
   */
  readonly reuseDeflate?: boolean
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
  /** gzip only: deflate data standing for the content that came last, as a member of its own. */
  carry?: (d: DeflatedContent, size: number) => Promise<void>
  end(): Promise<void>
  abort(): void
}

/**
 * A wheel's deflate data could not stand for its content: it has bytes after its deflate stream
 * (which pip ignores). The layer must be written again with every file deflated afresh.
 */
export class InexactDeflateError extends Error {
  constructor() {
    super('deflate data with bytes after its stream cannot be carried into a gzip layer')
  }
}

/** A gzip member's header (RFC 1952): no name, no time, OS "unknown" (as the blocks have it). */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff])

/** A gzip member's trailer: CRC-32 and size (mod 2^32) of what it inflates to, little-endian. */
function gzipTrailer(crc32: number, size: number): Buffer {
  const t = Buffer.alloc(8)
  t.writeUInt32LE(crc32 >>> 0, 0)
  t.writeUInt32LE(size % 2 ** 32, 4)
  return t
}

/** Pieces smaller than this (the tar headers between carried files) are deflated right here. */
const SYNC_BELOW = 16 * 1024

function gzipBlocks(level: number | undefined): BlockCompressor {
  return async (block) => {
    // One output buffer a little larger than the block (deflate's worst case): zlib then deflates
    // the whole block in one go on the thread pool, instead of returning to the main thread every
    // 16 kB (the bytes are the same either way). A small piece is deflated at once instead: a
    // trip to a pool busy inflating would cost more, and hold up the pieces after it.
    const opts = { level: level ?? 1, chunkSize: block.length + (block.length >>> 10) + 64 }
    const out = block.length < SYNC_BELOW ? zlib.gzipSync(block, opts) : await gzip(block, opts)
    // zlib writes its build's OS code (3 on Unix, 10 on Windows) into byte 9 of each member's
    // header; a fixed 255 ("unknown") keeps the blob the same whichever OS wrote it.
    out[9] = 0xff
    return out
  }
}

/** What goes out next: compressed bytes, or a carried member that writes itself. */
type Piece = Buffer | ((emit: (out: Buffer) => Promise<void>) => Promise<void>)

/**
 * Blocks compressed on the thread pool, several at once, emitted in order; with `carry` (gzip),
 * carried deflate data goes out in its place among them, wrapped as a gzip member.
 */
function blockSink(
  compress: BlockCompressor,
  emit: (out: Buffer) => Promise<void>,
  free: Buffer[],
  carries: boolean
): Sink {
  const pending: Promise<Piece>[] = []
  const next = async (): Promise<void> => {
    const piece = await pending.shift()!
    if (typeof piece === 'function') await piece(emit)
    else await emit(piece)
  }
  const sink: Sink = {
    async write(block) {
      pending.push(
        compress(block).then((out) => {
          // Input blocks go back to the tar writer once compressed (no new 2 MiB buffer per block).
          if (block.length === BLOCK_SIZE) free.push(block)
          return out
        })
      )
      if (pending.length >= IN_FLIGHT) await next()
    },
    async end() {
      while (pending.length > 0) await next()
    },
    abort() {}
  }
  if (!carries) return sink
  return {
    ...sink,
    async carry(d, size) {
      // The content has been read by now, and so inflated and checked: its CRC-32 is the one
      // given, and whether the deflate data ends with its stream is known.
      if (!d.exact()) throw new InexactDeflateError()
      pending.push(
        Promise.resolve(async (out: (b: Buffer) => Promise<void>) => {
          await out(GZIP_HEADER)
          for await (const chunk of d.raw()) await out(chunk)
          await out(gzipTrailer(d.crc32, size))
        })
      )
      if (pending.length >= IN_FLIGHT) await next()
    }
  }
}

function sinkFor(
  compression: Compression,
  level: number | undefined,
  emit: (out: Buffer) => Promise<void>,
  free: Buffer[],
  carries: boolean
): Sink {
  if (compression === 'none') return { write: emit, end: async () => {}, abort() {} }
  if (compression === 'gzip') return blockSink(gzipBlocks(level), emit, free, carries)
  const nodeZstd = nodeZstdCompressor(level)
  if (nodeZstd) return blockSink(nodeZstd, emit, free, false)
  // The zstd program holds on to what it is given, so its blocks are not reused.
  return new ZstdProcess(level, emit)
}

/** Compressed bytes gathered before a write to the layer file. */
const WRITE_BATCH = 1024 * 1024

/** Every byte of the buffers, in order (writev may write less than asked). */
async function writeAll(handle: FileHandle, buffers: Buffer[]): Promise<void> {
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

export async function buildLayer(entries: readonly LayerEntry[], opts: LayerOptions): Promise<LayerBlob> {
  const compression = opts.compression ?? 'gzip'
  const tar = new DigestWriter()
  const blob = new DigestWriter()
  const kept: Buffer[] = []
  let handle: FileHandle | null = opts.file ? await open(opts.file, 'w') : null
  // Pieces for the file, written together once there is enough of them (a carried file is three
  // pieces, some a few bytes: one write each would be thousands of trips to the thread pool).
  let batch: Buffer[] = []
  let batched = 0
  const flush = async () => {
    if (!handle || batch.length === 0) return
    const buffers = batch
    batch = []
    batched = 0
    await writeAll(handle, buffers)
  }
  const emit = async (out: Buffer) => {
    blob.update(out)
    if (handle) {
      batch.push(out)
      batched += out.length
      if (batched >= WRITE_BATCH) await flush()
    } else kept.push(out)
    if (opts.onChunk) await opts.onChunk(out)
  }
  // Input blocks go back to the tar writer once compressed (no new 2 MiB buffer per block).
  const free: Buffer[] = []
  const sink = sinkFor(compression, opts.level, emit, free, opts.reuseDeflate !== false)
  const carry: Carry | undefined = sink.carry && {
    minSize: CARRY_MIN_BYTES,
    content: (chunk) => void tar.update(chunk),
    deflated: sink.carry
  }
  try {
    await writeTar(
      entries,
      { mtime: opts.mtime, blockSize: BLOCK_SIZE, freeBlocks: free, ...(carry ? { carry } : {}) },
      async (block) => {
        tar.update(block)
        await sink.write(block)
      }
    )
    await sink.end()
    await flush()
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
