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
import { once } from 'node:events'
import { open, type FileHandle } from 'node:fs/promises'
import { promisify } from 'node:util'
import * as zlib from 'node:zlib'
import { WRITE_BATCH, writeAll } from '../util/file-sink.js'
import { handled } from '../util/limit.js'
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
  /**
   * Copied segments up to this many bytes are read and decompressed whole, bigger ones in pieces
   * (default 32 MiB; the tests set it low to take the other way).
   */
  readonly copyWholeBelow?: number
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
  /**
   * Compressed bytes that go out as they are, in order (a segment copied from an earlier layer).
   * Absent where the compressed stream cannot be cut (the zstd program compresses it whole).
   */
  raw?: (out: Buffer) => Promise<void>
  /** `f` runs once everything written so far has gone out (a segment's end in the blob). */
  mark?: (f: () => void) => Promise<void>
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
  const push = async (piece: Promise<Piece>): Promise<void> => {
    pending.push(piece)
    if (pending.length >= IN_FLIGHT) await next()
  }
  const sink: Sink = {
    write: (block) =>
      push(
        compress(block).then((out) => {
          // Input blocks go back to the tar writer once compressed (no new 2 MiB buffer per block).
          if (block.length === BLOCK_SIZE) free.push(block)
          return out
        })
      ),
    raw: (out) => push(Promise.resolve(out)),
    mark: (f) => push(Promise.resolve(async () => f())),
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
      await push(
        Promise.resolve(async (out: (b: Buffer) => Promise<void>) => {
          await out(GZIP_HEADER)
          for await (const chunk of d.raw()) await out(chunk)
          await out(gzipTrailer(d.crc32, size))
        })
      )
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
  if (compression === 'none')
    return { write: emit, raw: emit, mark: async (f) => f(), end: async () => {}, abort() {} }
  if (compression === 'gzip') return blockSink(gzipBlocks(level), emit, free, carries)
  const nodeZstd = nodeZstdCompressor(level)
  if (nodeZstd) return blockSink(nodeZstd, emit, free, false)
  // The zstd program holds on to what it is given, so its blocks are not reused.
  return new ZstdProcess(level, emit)
}

/**
 * Compressed bytes gathered before a write when the layer is also streamed (smaller than
 * WRITE_BATCH: the upload follows the build more closely).
 */
const STREAM_BATCH = 256 * 1024

/**
 * A part of a segmented layer (see `buildSegmentedLayer`): entries to write, or a segment of an
 * earlier layer blob to copy as it is.
 */
export type LayerSegment = { readonly entries: readonly LayerEntry[] } | { readonly copy: SegmentCopy }

/** Where a segment is in a blob: enough to copy it, and to check what was copied. */
export interface SegmentLocation {
  /** Byte offset and length in the compressed blob. */
  readonly offset: number
  readonly length: number
  /** CRC-32 of those compressed bytes (a damaged or replaced blob is caught before it is used). */
  readonly crc32: number
  /** Bytes of tar the segment holds. */
  readonly tarSize: number
}

export interface SegmentCopy extends SegmentLocation {
  /** The blob file holding it. */
  readonly file: string
}

/** A segment copied from an earlier blob did not hold what was recorded of it. */
export class SegmentDamagedError extends Error {
  constructor(file: string, why: string) {
    super(`segment of ${file}: ${why}`)
  }
}

/**
 * Whether layers of this compression can be segmented: a segment's compressed bytes must stand
 * alone (gzip members, zstd frames, or plain tar), which the zstd program's one stream does not.
 */
export function segmentable(compression: Compression): boolean {
  return compression !== 'zstd' || nodeZstdCompressor(undefined) !== null
}

/** Copied segments up to this size are read and decompressed whole, in one trip to the pool. */
const WHOLE_SEGMENT = 32 * 1024 * 1024

const gunzip = promisify(zlib.gunzip)

/** A copied segment's tar bytes, decompressed in one go (`tarSize` gives the output's size). */
async function inflateWhole(data: Buffer, compression: Compression, tarSize: number): Promise<Buffer> {
  if (compression === 'none') return data
  // One output buffer of the known size: no 16 kB pieces, no trip back per piece.
  const opts = { chunkSize: Math.max(64, tarSize + 64) }
  if (compression === 'gzip') return gunzip(data, opts)
  return promisify(zlib.zstdDecompress)(data, opts)
}

/** Decompresses a big copied segment as it is read, so that it is never held whole. */
function segmentInflater(compression: Compression): zlib.Gunzip | zlib.ZstdDecompress | null {
  const opts = { chunkSize: 1024 * 1024 }
  if (compression === 'gzip') return zlib.createGunzip(opts)
  if (compression === 'zstd') return zlib.createZstdDecompress(opts)
  return null
}

/** How the tar goes into a layer: entries written here, or a segment copied. */
interface LayerWriter {
  tar(entries: readonly LayerEntry[], end: boolean): Promise<void>
  /** `ahead`: the segment already being read (see ReadAhead). */
  copy(c: SegmentCopy, ahead?: Promise<WholeSegment>): Promise<void>
  /** Everything written so far has gone out: `f` sees where the blob and the tar stand. */
  mark(f: (blobSize: number, crc32: number, tarSize: number) => void): Promise<void>
}

export async function buildLayer(entries: readonly LayerEntry[], opts: LayerOptions): Promise<LayerBlob> {
  return writeLayer(opts, false, (w) => w.tar(entries, true))
}

/**
 * A layer in segments: each part's compressed bytes stand alone (its own gzip members or zstd
 * frames, cut at its start), so a later layer can copy a part's bytes as they are, compressing
 * nothing, and only hash them into its diff_id. The tar ends after the last part. Returns where
 * each part is in the blob. The bytes are a pure function of the parts: a copied part gives
 * the same bytes as the part written afresh.
 */
export async function buildSegmentedLayer(
  segments: readonly LayerSegment[],
  opts: LayerOptions
): Promise<LayerBlob & { readonly segments: readonly SegmentLocation[] }> {
  const compression = opts.compression ?? 'gzip'
  if (!segmentable(compression)) throw new Error(`${compression} layers cannot be segmented here`)
  const located: SegmentLocation[] = []
  const wholeBelow = opts.copyWholeBelow ?? WHOLE_SEGMENT
  const ahead = new ReadAhead(
    segments.map((seg) => ('copy' in seg && seg.copy.length <= wholeBelow ? seg.copy : null)),
    compression
  )
  const blob = await writeLayer(opts, true, async (w) => {
    let start = { offset: 0, tarSize: 0 }
    for (const [i, seg] of segments.entries()) {
      if ('copy' in seg) await w.copy(seg.copy, ahead.take(i))
      else await w.tar(seg.entries, false)
      await w.mark((blobSize, crc32, tarSize) => {
        located.push({
          offset: start.offset,
          length: blobSize - start.offset,
          crc32,
          tarSize: tarSize - start.tarSize
        })
        start = { offset: blobSize, tarSize }
      })
    }
    await w.tar([], true)
  })
  return { ...blob, segments: located }
}

async function writeLayer(
  opts: LayerOptions,
  segmented: boolean,
  body: (w: LayerWriter) => Promise<void>
): Promise<LayerBlob> {
  const compression = opts.compression ?? 'gzip'
  const tar = new DigestWriter()
  const blob = new DigestWriter()
  const kept: Buffer[] = []
  let handle: FileHandle | null = opts.file ? await open(opts.file, 'w') : null
  // Pieces for the file, written together once there is enough of them (a carried file is three
  // pieces, some a few bytes: one write each would be thousands of trips to the thread pool).
  let batch: Buffer[] = []
  let batched = 0
  // CRC-32 of the blob bytes since the last mark (what a segment is checked by when copied).
  let crc = 0
  // The same batches go to onChunk (a streamed upload): a request write per piece would be
  // thousands of them.
  const flush = async () => {
    if (batch.length === 0) return
    const buffers = batch
    batch = []
    batched = 0
    if (handle) await writeAll(handle, buffers)
    if (opts.onChunk) await opts.onChunk(buffers.length === 1 ? buffers[0]! : Buffer.concat(buffers))
  }
  const emit = async (out: Buffer) => {
    blob.update(out)
    if (segmented) crc = zlib.crc32(out, crc)
    if (!handle) kept.push(out)
    if (handle || opts.onChunk) {
      batch.push(out)
      batched += out.length
      if (batched >= (opts.onChunk ? STREAM_BATCH : WRITE_BATCH)) await flush()
    }
  }
  let entryCount = 0
  // Input blocks go back to the tar writer once compressed (no new 2 MiB buffer per block).
  const free: Buffer[] = []
  const sink = sinkFor(compression, opts.level, emit, free, opts.reuseDeflate !== false)
  const carry: Carry | undefined = sink.carry && {
    minSize: CARRY_MIN_BYTES,
    content: (chunk) => void tar.update(chunk),
    deflated: sink.carry
  }
  const writer: LayerWriter = {
    async tar(entries, end) {
      entryCount += entries.length
      await writeTar(
        entries,
        { mtime: opts.mtime, blockSize: BLOCK_SIZE, freeBlocks: free, end, ...(carry ? { carry } : {}) },
        async (block) => {
          tar.update(block)
          await sink.write(block)
        }
      )
    },
    copy: (c, ahead) => copySegment(c, compression, sink, tar, opts.copyWholeBelow ?? WHOLE_SEGMENT, ahead),
    mark(f) {
      // The tar is hashed as it is written, the blob as the compressed pieces go out (later).
      const tarSize = tar.size
      return sink.mark!(() => {
        f(blob.size, crc >>> 0, tarSize)
        crc = 0
      })
    }
  }
  try {
    await body(writer)
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
    entries: entryCount
  }
}

/** Pieces of a copied segment read at once. */
const COPY_CHUNK = 1024 * 1024

/**
 * A segment of an earlier blob, copied into this one as it is; its tar bytes (decompressed here)
 * go into the diff_id before anything after it. Its length, CRC-32 and tar size are checked.
 */
async function copySegment(
  c: SegmentCopy,
  compression: Compression,
  sink: Sink,
  tar: DigestWriter,
  wholeBelow: number,
  ahead?: Promise<WholeSegment>
): Promise<void> {
  if (c.length === 0) return
  if (ahead || c.length <= wholeBelow) {
    const { data, tarBytes } = await (ahead ?? readWhole(c, compression))
    tar.update(tarBytes)
    await sink.raw!(data)
    return
  }
  const handle = await openSegmentFile(c)
  try {
    await copyStreaming(c, handle, compression, sink, tar)
  } finally {
    await handle.close()
  }
}

function openSegmentFile(c: SegmentCopy): Promise<FileHandle> {
  return open(c.file, 'r').catch((e: NodeJS.ErrnoException) => {
    throw new SegmentDamagedError(c.file, e.code ?? e.message)
  })
}

/** A copied segment read whole and checked: its compressed bytes and its tar bytes. */
interface WholeSegment {
  readonly data: Buffer
  readonly tarBytes: Buffer
}

async function readWhole(c: SegmentCopy, compression: Compression): Promise<WholeSegment> {
  const handle = await openSegmentFile(c)
  let data: Buffer
  try {
    data = Buffer.allocUnsafe(c.length)
    const { bytesRead } = await handle.read(data, 0, c.length, c.offset)
    if (bytesRead !== c.length) throw new SegmentDamagedError(c.file, 'the blob is shorter than recorded')
  } finally {
    await handle.close()
  }
  if (zlib.crc32(data) >>> 0 !== c.crc32 >>> 0)
    throw new SegmentDamagedError(c.file, 'its bytes changed since it was written')
  const tarBytes = await inflateWhole(data, compression, c.tarSize).catch((e: Error) => {
    throw new SegmentDamagedError(c.file, e.message)
  })
  if (tarBytes.length !== c.tarSize)
    throw new SegmentDamagedError(c.file, `it holds ${tarBytes.length} bytes of tar, not ${c.tarSize}`)
  return { data, tarBytes }
}

/** Tar and compressed bytes of copied segments read ahead, at most this many at a time. */
const READ_AHEAD_BYTES = 64 * 1024 * 1024

/**
 * The copied segments of a layer, read and decompressed before their turn: a copy is a file read
 * and an inflate on the thread pool, and one after the other (each waited for in turn) they left
 * the main thread idle a third of a bump's layer build. Started in layer order, within
 * READ_AHEAD_BYTES (compressed and tar bytes held), each taken once. A read that fails is
 * reported when its segment's turn comes, as without reading ahead.
 */
class ReadAhead {
  private readonly started = new Map<number, { read: Promise<WholeSegment>; cost: number }>()
  private next = 0
  private held = 0

  /** `copies[i]`: the segment to read ahead for part i of the layer, or null (none, or too big). */
  constructor(
    private readonly copies: readonly (SegmentCopy | null)[],
    private readonly compression: Compression
  ) {
    this.fill()
  }

  private fill(): void {
    for (; this.next < this.copies.length; this.next++) {
      const c = this.copies[this.next]
      if (!c || c.length === 0) continue
      const cost = c.length + c.tarSize
      if (this.held > 0 && this.held + cost > READ_AHEAD_BYTES) return
      this.held += cost
      this.started.set(this.next, { read: handled(readWhole(c, this.compression)), cost })
    }
  }

  /** Part i's segment, being read; undefined when it was not read ahead. */
  take(i: number): Promise<WholeSegment> | undefined {
    const s = this.started.get(i)
    if (!s) return undefined
    this.started.delete(i)
    this.held -= s.cost
    this.fill()
    return s.read
  }
}

/** `copySegment` for a big segment: read, decompressed and hashed in pieces. */
async function copyStreaming(
  c: SegmentCopy,
  handle: FileHandle,
  compression: Compression,
  sink: Sink,
  tar: DigestWriter
): Promise<void> {
  const inflater = segmentInflater(compression)
  let tarBytes = 0
  const hashTar = (d: Buffer) => {
    tar.update(d)
    tarBytes += d.length
  }
  const inflated = inflater
    ? new Promise<void>((resolve, reject) => {
        inflater.on('data', hashTar)
        inflater.once('end', resolve)
        inflater.once('error', (e) => reject(new SegmentDamagedError(c.file, e.message)))
      })
    : Promise.resolve()
  // A failed inflate is reported by `inflated` (awaited below); this keeps it from going unhandled.
  inflated.catch(() => undefined)
  let crc = 0
  let read = 0
  while (read < c.length) {
    const want = Math.min(COPY_CHUNK, c.length - read)
    const chunk = Buffer.allocUnsafe(want)
    const { bytesRead } = await handle.read(chunk, 0, want, c.offset + read)
    if (bytesRead === 0) throw new SegmentDamagedError(c.file, 'the blob is shorter than recorded')
    const piece = bytesRead === want ? chunk : chunk.subarray(0, bytesRead)
    read += bytesRead
    crc = zlib.crc32(piece, crc)
    if (inflater) {
      if (!inflater.write(piece)) await Promise.race([once(inflater, 'drain'), inflated])
    } else hashTar(piece)
    await sink.raw!(piece)
  }
  inflater?.end()
  await inflated
  if (crc >>> 0 !== c.crc32 >>> 0)
    throw new SegmentDamagedError(c.file, 'its bytes changed since it was written')
  if (tarBytes !== c.tarSize)
    throw new SegmentDamagedError(c.file, `it holds ${tarBytes} bytes of tar, not ${c.tarSize}`)
}
