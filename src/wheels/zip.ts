// A small, strict ZIP reader for wheels (APPNOTE 6.3: end of central directory, ZIP64 end record
// and locator, ZIP64 extra fields; stored and deflate entries). It reads the central directory with
// positioned reads and never loads the whole archive: small entries are read in windows of several
// neighbouring entries and inflated in the thread pool; large ones are streamed in chunks. Every
// entry's size and CRC-32 are checked. Errors are `WheelError`s that name the file and the entry.
import { createInflateRaw, inflateRaw, inflateRawSync } from 'node:zlib'
import * as zlib from 'node:zlib'
import { open, type FileHandle } from 'node:fs/promises'
import { once } from 'node:events'
import { basename } from 'node:path'
import { WheelError } from './wheel-error.js'

const SIG_LOCAL = 0x04034b50
const SIG_CENTRAL = 0x02014b50
const SIG_EOCD = 0x06054b50
const SIG_ZIP64_EOCD = 0x06064b50
const SIG_ZIP64_LOCATOR = 0x07064b50
const EOCD_SIZE = 22
const ZIP64_LOCATOR_SIZE = 20
const ZIP64_EOCD_SIZE = 56
const CENTRAL_SIZE = 46
const LOCAL_SIZE = 30
const MAX_COMMENT = 0xffff

export const METHOD_STORED = 0
export const METHOD_DEFLATE = 8
/** "Version made by" host system (high byte) for Unix: external attributes then carry st_mode. */
export const SYSTEM_UNIX = 3

const FLAG_ENCRYPTED = 0x1
const FLAG_UTF8 = 0x800

export interface ZipEntry {
  /** As stored: UTF-8 when flag bit 11 is set, else CP437 (as Python's zipfile decodes it). */
  readonly name: string
  /** Ends with `/` (a directory entry; wheels may have them, installers skip them). */
  readonly isDirectory: boolean
  readonly method: number
  readonly flags: number
  readonly crc32: number
  readonly compressedSize: number
  /** Uncompressed size. */
  readonly size: number
  readonly localHeaderOffset: number
  /** High byte of "version made by": 0 MS-DOS, 3 Unix, 19 OS X... */
  readonly creatorSystem: number
  readonly externalAttributes: number
  /** `st_mode` from the high 16 bits of the external attributes when the creator is Unix, else null. */
  readonly unixMode: number | null
}

// ---------------------------------------------------------------------------------------------
// CRC-32 (IEEE, reflected, as zip uses it). Node has zlib.crc32 from 20.15/22.2; before that a
// slicing-by-8 table version is used.

const CRC_TABLES: Uint32Array[] = (() => {
  const t0 = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    t0[n] = c >>> 0
  }
  const tables = [t0]
  for (let k = 1; k < 8; k++) {
    const prev = tables[k - 1]!
    const t = new Uint32Array(256)
    for (let n = 0; n < 256; n++) t[n] = (prev[n]! >>> 8) ^ t0[prev[n]! & 0xff]!
    tables.push(t)
  }
  return tables
})()

/** CRC-32 in JavaScript (slicing-by-8); `crc` continues a previous value. */
export function crc32Table(data: Uint8Array, crc = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = CRC_TABLES as [
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array
  ]
  let c = ~crc >>> 0
  let i = 0
  const n = data.length
  for (; n - i >= 8; i += 8) {
    const a = (c ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0
    c =
      t7[a & 0xff]! ^
      t6[(a >>> 8) & 0xff]! ^
      t5[(a >>> 16) & 0xff]! ^
      t4[a >>> 24]! ^
      t3[data[i + 4]!]! ^
      t2[data[i + 5]!]! ^
      t1[data[i + 6]!]! ^
      t0[data[i + 7]!]!
  }
  for (; i < n; i++) c = t0[(c ^ data[i]!) & 0xff]! ^ (c >>> 8)
  return ~c >>> 0
}

const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32

/** CRC-32 of `data`, continuing `crc`: node:zlib's when this Node has it, else the table version. */
export function crc32(data: Uint8Array, crc = 0): number {
  return nativeCrc32 ? nativeCrc32(data, crc) >>> 0 : crc32Table(data, crc)
}

// ---------------------------------------------------------------------------------------------
// Names

// Code page 437, bytes 0x80-0xFF (0x00-0x7F are ASCII, as in Python's cp437 codec).
const CP437_HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0'

export function decodeCp437(bytes: Uint8Array): string {
  let s = ''
  for (const b of bytes) s += b < 0x80 ? String.fromCharCode(b) : CP437_HIGH[b - 0x80]!
  return s
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

// ---------------------------------------------------------------------------------------------

export interface ExtractOptions {
  /** Neighbouring small entries are read together up to this many bytes (default 4 MiB). */
  windowBytes?: number
  /** Entries at least this big (compressed or not) are streamed in chunks (default 16 MiB). */
  streamThreshold?: number
  /** Windows and streams processed at once (default 4). */
  concurrency?: number
  /**
   * Keep the deflate data of windowed entries at least this big (when it is exactly one stream),
   * for `raw` to hand out once without reading the file again (default: keep none).
   */
  keepDeflatedFrom?: number
}

export interface ExtractHandlers {
  /** A small entry, inflated and checked (size, CRC-32). */
  whole(entry: ZipEntry, data: Buffer): Promise<void> | void
  /**
   * A large entry as chunks. The chunks are checked as they come: the iteration throws when the
   * entry inflates to more than its size, and after the last chunk when the size or CRC is wrong,
   * so a handler that writes chunks out must treat an exception as "discard what was written".
   */
  stream(entry: ZipEntry, chunks: AsyncIterable<Buffer>): Promise<void>
}

interface Internal {
  readonly rawName: Buffer
  /** Where the next entry's local header (or the central directory) starts. */
  readonly limit: number
  readonly cdExtraLength: number
}

/**
 * Entries with less deflate data than this are inflated right here; bigger ones on the thread
 * pool, leaving this thread (which hashes and tars every byte of a layer) for the rest.
 */
const INFLATE_SYNC_BELOW = 4 * 1024

/** What zlib's one-shot inflate gives with `info: true`. */
interface Inflated {
  readonly buffer: Buffer
  readonly engine: { readonly bytesWritten: number }
}
const STREAM_CHUNK = 4 * 1024 * 1024

export class ZipReader {
  readonly entries: readonly ZipEntry[]
  private readonly byName: Map<string, ZipEntry>
  private readonly internal: Map<ZipEntry, Internal>
  /** Deflate entries inflated so far: whether their data was one stream with nothing after it. */
  private readonly exact = new Map<ZipEntry, boolean>()
  /** Deflate data kept from a window (`keepDeflatedFrom`), until `raw` hands it out. */
  private readonly kept = new Map<ZipEntry, Buffer>()

  private constructor(
    private readonly fh: FileHandle,
    /** The file, as given to `open` (errors name it). */
    readonly path: string,
    readonly fileSize: number,
    entries: ZipEntry[],
    internal: Map<ZipEntry, Internal>
  ) {
    this.entries = entries
    this.internal = internal
    this.byName = new Map(entries.map((e) => [e.name, e]))
  }

  /** Open a zip file and read its central directory. Close it with `close()`. */
  static async open(path: string): Promise<ZipReader> {
    let fh: FileHandle
    try {
      fh = await open(path, 'r')
    } catch (e) {
      throw new WheelError(
        `cannot open the wheel: ${(e as Error).message}`,
        path,
        'check that the file exists and is readable'
      )
    }
    try {
      const { size } = await fh.stat()
      const { entries, internal } = await readCentralDirectory(fh, path, size)
      return new ZipReader(fh, path, size, entries, internal)
    } catch (e) {
      await fh.close()
      throw e
    }
  }

  async close(): Promise<void> {
    await this.fh.close()
  }

  entry(name: string): ZipEntry | undefined {
    return this.byName.get(name)
  }

  /** One entry's content, inflated and checked. For entries that fit in memory. */
  async read(entry: ZipEntry): Promise<Buffer> {
    const start = await this.dataStart(entry, null, 0)
    const raw = await this.readExactly(start, entry.compressedSize, entry)
    return this.decode(entry, raw)
  }

  /**
   * Whether the entry's deflate data, inflated by now, was exactly one complete deflate stream:
   * nothing left over after its last block (Python's zipfile, and so pip, ignores such bytes, but
   * whoever reuses the data as a deflate stream of its own must not carry them). False for an entry
   * not inflated yet, or stored.
   */
  exactDeflate(entry: ZipEntry): boolean {
    return this.exact.get(entry) === true
  }

  /** The entry's data as the file holds it (compressed, for a deflate entry), in chunks. */
  async *raw(entry: ZipEntry): AsyncGenerator<Buffer> {
    const kept = this.kept.get(entry)
    if (kept) {
      this.kept.delete(entry)
      yield kept
      return
    }
    const start = await this.dataStart(entry, null, 0)
    yield* this.rawChunks(entry, start)
  }

  /**
   * Extract many entries: small ones in windows of neighbouring entries (one read each, inflated in
   * parallel), large ones streamed. Handlers run concurrently; order is not guaranteed.
   */
  async extract(
    entries: readonly ZipEntry[],
    handlers: ExtractHandlers,
    opts: ExtractOptions = {}
  ): Promise<void> {
    const windowBytes = opts.windowBytes ?? 4 * 1024 * 1024
    const threshold = opts.streamThreshold ?? 16 * 1024 * 1024
    const concurrency = Math.max(1, opts.concurrency ?? 4)
    const sorted = [...entries].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset)
    const jobs: Array<() => Promise<void>> = []
    let group: ZipEntry[] = []
    let groupStart = 0
    let groupEnd = 0
    let groupInflated = 0
    const flush = (): void => {
      if (group.length === 0) return
      const g = group
      const [s, e] = [groupStart, groupEnd]
      jobs.push(() => this.extractWindow(g, s, e, handlers, opts.keepDeflatedFrom ?? Infinity))
      group = []
    }
    for (const entry of sorted) {
      if (entry.size >= threshold || entry.compressedSize >= threshold) {
        jobs.push(() => this.extractStream(entry, handlers))
        continue
      }
      const info = this.internal.get(entry)!
      // Room for the local header with a generous local extra field; never past the next entry.
      const estEnd = Math.min(
        info.limit,
        entry.localHeaderOffset +
          LOCAL_SIZE +
          info.rawName.length +
          info.cdExtraLength +
          256 +
          entry.compressedSize
      )
      if (
        group.length > 0 &&
        (estEnd - groupStart > windowBytes ||
          entry.localHeaderOffset - groupEnd > 64 * 1024 ||
          groupInflated + entry.size > windowBytes * 8)
      ) {
        flush()
      }
      if (group.length === 0) {
        groupStart = entry.localHeaderOffset
        groupInflated = 0
      }
      group.push(entry)
      groupEnd = estEnd
      groupInflated += entry.size
    }
    flush()
    await runPool(jobs, concurrency)
  }

  // -------------------------------------------------------------------------------------------

  private fail(message: string, entry?: ZipEntry, hint?: string): WheelError {
    return new WheelError(
      message,
      this.path,
      hint ?? `download ${basename(this.path)} again; the file is damaged or is not a wheel`,
      entry?.name
    )
  }

  private async readExactly(position: number, length: number, entry?: ZipEntry): Promise<Buffer> {
    if (position + length > this.fileSize) {
      throw this.fail(
        entry
          ? `entry ${JSON.stringify(entry.name)} is truncated (the file ends early)`
          : 'the file is truncated',
        entry
      )
    }
    const buf = Buffer.allocUnsafe(length)
    let done = 0
    while (done < length) {
      const { bytesRead } = await this.fh.read(buf, done, length - done, position + done)
      if (bytesRead === 0) {
        throw this.fail(
          entry
            ? `entry ${JSON.stringify(entry.name)} is truncated (the file ends early)`
            : 'the file is truncated',
          entry
        )
      }
      done += bytesRead
    }
    return buf
  }

  /**
   * Offset of the entry's data, from its local header. `window` (starting at file offset
   * `windowStart`) is used when it holds the header; otherwise the header is read.
   */
  private async dataStart(entry: ZipEntry, window: Buffer | null, windowStart: number): Promise<number> {
    const info = this.internal.get(entry)!
    const off = entry.localHeaderOffset
    let header: Buffer
    const rel = off - windowStart
    if (window && rel >= 0 && rel + LOCAL_SIZE <= window.length) header = window.subarray(rel)
    else
      header = await this.readExactly(
        off,
        Math.min(LOCAL_SIZE + info.rawName.length, info.limit - off),
        entry
      )
    if (header.length < LOCAL_SIZE || header.readUInt32LE(0) !== SIG_LOCAL) {
      throw this.fail(
        `entry ${JSON.stringify(entry.name)} has no local header where the directory says`,
        entry
      )
    }
    const nameLen = header.readUInt16LE(26)
    const extraLen = header.readUInt16LE(28)
    if (LOCAL_SIZE + nameLen > header.length) {
      header = await this.readExactly(off, LOCAL_SIZE + nameLen, entry)
    }
    if (!header.subarray(LOCAL_SIZE, LOCAL_SIZE + nameLen).equals(info.rawName)) {
      throw this.fail(
        `entry ${JSON.stringify(entry.name)}: the name in its local header differs from the central directory`,
        entry
      )
    }
    const start = off + LOCAL_SIZE + nameLen + extraLen
    const end = start + entry.compressedSize
    if (end > this.fileSize) {
      throw this.fail(`entry ${JSON.stringify(entry.name)} is truncated (the file ends early)`, entry)
    }
    if (end > info.limit) {
      throw this.fail(
        `entry ${JSON.stringify(entry.name)} overlaps the next entry or the central directory`,
        entry
      )
    }
    return start
  }

  private check(entry: ZipEntry, size: number, crc: number): void {
    if (size !== entry.size) {
      throw this.fail(
        `entry ${JSON.stringify(entry.name)} is corrupt: ${size} bytes instead of the ${entry.size} the directory records`,
        entry
      )
    }
    if (crc !== entry.crc32) {
      throw this.fail(
        `CRC mismatch in ${JSON.stringify(entry.name)} (${hex8(crc)}, the directory says ${hex8(entry.crc32)})`,
        entry
      )
    }
  }

  private async decode(entry: ZipEntry, raw: Buffer): Promise<Buffer> {
    let data: Buffer
    if (entry.method === METHOD_STORED) {
      data = raw
    } else {
      // `info` hands back the engine too: its bytesWritten is the input it consumed. One output
      // buffer a little larger than the content: zlib's default (16 kB pieces, then a copy into
      // one buffer) allocates and copies every byte twice, and a last piece that fills its buffer
      // exactly makes it allocate another one.
      const opts = {
        maxOutputLength: Math.max(1, entry.size),
        chunkSize: entry.size + 64,
        info: true
      }
      try {
        const out =
          raw.length < INFLATE_SYNC_BELOW
            ? (inflateRawSync(raw, opts) as unknown as Inflated)
            : await new Promise<Inflated>((resolve, reject) =>
                inflateRaw(raw, opts, (err, out) => (err ? reject(err) : resolve(out as unknown as Inflated)))
              )
        data = out.buffer
        this.exact.set(entry, out.engine.bytesWritten === raw.length)
      } catch (e) {
        throw this.inflateError(entry, e)
      }
    }
    this.check(entry, data.length, crc32(data))
    return data
  }

  private inflateError(entry: ZipEntry, e: unknown): WheelError {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || (e as Error).name === 'RangeError') {
      return this.fail(
        `entry ${JSON.stringify(entry.name)} is corrupt: it inflates to more than the ${entry.size} bytes the directory records`,
        entry
      )
    }
    const msg = (e as Error).message
    if (/unexpected end/i.test(msg)) {
      return this.fail(
        `entry ${JSON.stringify(entry.name)} is truncated (its deflate stream ends early)`,
        entry
      )
    }
    return this.fail(`entry ${JSON.stringify(entry.name)} is corrupt (deflate: ${msg})`, entry)
  }

  private async extractWindow(
    group: readonly ZipEntry[],
    start: number,
    end: number,
    handlers: ExtractHandlers,
    keepFrom: number
  ): Promise<void> {
    const window = await this.readExactly(start, Math.min(end, this.fileSize) - start)
    // allSettled: no handler is still writing when an error is reported.
    const results = await Promise.allSettled(
      group.map(async (entry) => {
        const dataStart = await this.dataStart(entry, window, start)
        const rel = dataStart - start
        const raw =
          rel + entry.compressedSize <= window.length
            ? window.subarray(rel, rel + entry.compressedSize)
            : await this.readExactly(dataStart, entry.compressedSize, entry)
        const data = await this.decode(entry, raw)
        if (entry.size >= keepFrom && this.exactDeflate(entry)) this.kept.set(entry, raw)
        await handlers.whole(entry, data)
      })
    )
    for (const r of results) if (r.status === 'rejected') throw r.reason
  }

  private async extractStream(entry: ZipEntry, handlers: ExtractHandlers): Promise<void> {
    const start = await this.dataStart(entry, null, 0)
    await handlers.stream(entry, this.checkedChunks(entry, start))
  }

  private async *rawChunks(entry: ZipEntry, start: number): AsyncGenerator<Buffer> {
    let pos = start
    let left = entry.compressedSize
    while (left > 0) {
      const n = Math.min(STREAM_CHUNK, left)
      yield await this.readExactly(pos, n, entry)
      pos += n
      left -= n
    }
  }

  private async *inflatedChunks(entry: ZipEntry, start: number): AsyncGenerator<Buffer> {
    const inflater = createInflateRaw({ chunkSize: 1024 * 1024 })
    const stop = new AbortController()
    const pump = (async () => {
      try {
        for await (const chunk of this.rawChunks(entry, start)) {
          if (!inflater.write(chunk)) await once(inflater, 'drain', { signal: stop.signal })
        }
        inflater.end()
      } catch (e) {
        if (!stop.signal.aborted) inflater.destroy(e as Error)
      }
    })()
    try {
      for await (const out of inflater) yield out as Buffer
      this.exact.set(entry, inflater.bytesWritten === entry.compressedSize)
    } catch (e) {
      if (e instanceof WheelError) throw e
      throw this.inflateError(entry, e)
    } finally {
      stop.abort()
      inflater.destroy()
      await pump
    }
  }

  private async *checkedChunks(entry: ZipEntry, start: number): AsyncGenerator<Buffer> {
    const source =
      entry.method === METHOD_STORED ? this.rawChunks(entry, start) : this.inflatedChunks(entry, start)
    let size = 0
    let crc = 0
    for await (const chunk of source) {
      size += chunk.length
      if (size > entry.size) {
        throw this.fail(
          `entry ${JSON.stringify(entry.name)} is corrupt: it inflates to more than the ${entry.size} bytes the directory records`,
          entry
        )
      }
      crc = crc32(chunk, crc)
      yield chunk
    }
    this.check(entry, size, crc)
  }
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0')
}

async function runPool(jobs: ReadonlyArray<() => Promise<void>>, concurrency: number): Promise<void> {
  let next = 0
  let failure: { error: unknown } | null = null
  const worker = async (): Promise<void> => {
    while (failure === null && next < jobs.length) {
      const job = jobs[next++]!
      try {
        await job()
      } catch (error) {
        failure ??= { error }
      }
    }
  }
  // Every worker stops before we return (nothing keeps writing after an error); the first error wins.
  await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker))
  if (failure !== null) throw (failure as { error: unknown }).error
}

// ---------------------------------------------------------------------------------------------
// Central directory

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length)
  let done = 0
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done)
    if (bytesRead === 0) break
    done += bytesRead
  }
  return buf.subarray(0, done)
}

function u64(buf: Buffer, offset: number, what: string, fail: (m: string) => WheelError): number {
  const v = buf.readBigUInt64LE(offset)
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw fail(`${what} is too large (${v})`)
  return Number(v)
}

async function readCentralDirectory(
  fh: FileHandle,
  path: string,
  fileSize: number
): Promise<{ entries: ZipEntry[]; internal: Map<ZipEntry, Internal> }> {
  const damaged = `download ${basename(path)} again; the file is damaged or is not a wheel`
  const fail = (message: string, entry?: string): WheelError => new WheelError(message, path, damaged, entry)
  const notZip = (why: string): WheelError =>
    new WheelError(
      `not a zip file (${why})`,
      path,
      `a wheel is a zip archive: download ${basename(path)} again; it is truncated or not a wheel`
    )

  if (fileSize < EOCD_SIZE) throw notZip(`${fileSize} bytes, too short for a zip`)
  const tailLen = Math.min(fileSize, EOCD_SIZE + MAX_COMMENT + ZIP64_LOCATOR_SIZE)
  const tailStart = fileSize - tailLen
  const tail = await readAt(fh, tailStart, tailLen)
  let eocd = -1
  for (let i = tail.length - EOCD_SIZE; i >= 0; i--) {
    if (tail.readUInt32LE(i) === SIG_EOCD && i + EOCD_SIZE + tail.readUInt16LE(i + 20) === tail.length) {
      eocd = i
      break
    }
  }
  if (eocd < 0) throw notZip('no end of central directory record; the file is truncated or not a zip')
  const eocdPos = tailStart + eocd
  const disk = tail.readUInt16LE(eocd + 4)
  const cdDisk = tail.readUInt16LE(eocd + 6)
  let count = tail.readUInt16LE(eocd + 10)
  let cdSize = tail.readUInt32LE(eocd + 12)
  let cdOffset = tail.readUInt32LE(eocd + 16)
  let cdEnd = eocdPos
  let zip64 = false

  if (eocd >= ZIP64_LOCATOR_SIZE && tail.readUInt32LE(eocd - ZIP64_LOCATOR_SIZE) === SIG_ZIP64_LOCATOR) {
    const loc = eocd - ZIP64_LOCATOR_SIZE
    if (tail.readUInt32LE(loc + 4) !== 0 || tail.readUInt32LE(loc + 16) > 1) {
      throw notZip('a multi-disk (split) archive')
    }
    const recPos = u64(tail, loc + 8, 'the ZIP64 end record offset', fail)
    const rec = await readAt(fh, recPos, ZIP64_EOCD_SIZE)
    if (rec.length < ZIP64_EOCD_SIZE || rec.readUInt32LE(0) !== SIG_ZIP64_EOCD) {
      throw notZip('the ZIP64 end of central directory record is missing')
    }
    if (rec.readUInt32LE(16) !== 0 || rec.readUInt32LE(20) !== 0) throw notZip('a multi-disk (split) archive')
    count = u64(rec, 32, 'the ZIP64 entry count', fail)
    cdSize = u64(rec, 40, 'the ZIP64 central directory size', fail)
    cdOffset = u64(rec, 48, 'the ZIP64 central directory offset', fail)
    cdEnd = recPos
    zip64 = true
  } else if (disk !== 0 || cdDisk !== 0) {
    throw notZip('a multi-disk (split) archive')
  }
  if (cdOffset + cdSize !== cdEnd) {
    throw notZip(
      `the central directory (${cdSize} bytes at ${cdOffset}) does not end where the end record is (${cdEnd}); ` +
        'the file is truncated, or has data before the archive'
    )
  }

  const cd = await readAt(fh, cdOffset, cdSize)
  if (cd.length !== cdSize) throw notZip('the central directory is truncated')
  const entries: ZipEntry[] = []
  const raw: Array<{ rawName: Buffer; cdExtraLength: number }> = []
  const seen = new Set<string>()
  let p = 0
  while (p < cd.length) {
    if (p + CENTRAL_SIZE > cd.length || cd.readUInt32LE(p) !== SIG_CENTRAL) {
      throw fail(`the central directory is corrupt at entry ${entries.length + 1}`)
    }
    const madeBy = cd.readUInt16LE(p + 4)
    const flags = cd.readUInt16LE(p + 8)
    const method = cd.readUInt16LE(p + 10)
    const crc = cd.readUInt32LE(p + 16)
    let compressedSize = cd.readUInt32LE(p + 20)
    let size = cd.readUInt32LE(p + 24)
    const nameLen = cd.readUInt16LE(p + 28)
    const extraLen = cd.readUInt16LE(p + 30)
    const commentLen = cd.readUInt16LE(p + 32)
    const external = cd.readUInt32LE(p + 38)
    let localHeaderOffset = cd.readUInt32LE(p + 42)
    const end = p + CENTRAL_SIZE + nameLen + extraLen + commentLen
    if (end > cd.length) throw fail(`the central directory is corrupt at entry ${entries.length + 1}`)
    const rawName = Buffer.from(cd.subarray(p + CENTRAL_SIZE, p + CENTRAL_SIZE + nameLen))
    let name: string
    if (flags & FLAG_UTF8) {
      try {
        name = utf8.decode(rawName)
      } catch {
        throw fail(
          `entry name ${JSON.stringify(rawName.toString('latin1'))} is marked UTF-8 but is not valid UTF-8`
        )
      }
    } else {
      name = decodeCp437(rawName)
    }
    if (name.includes('\0')) throw fail(`entry name ${JSON.stringify(name)} contains a NUL byte`, name)

    // ZIP64 extended information: only the fields whose 32-bit value is 0xFFFFFFFF, in this order.
    const extra = cd.subarray(p + CENTRAL_SIZE + nameLen, p + CENTRAL_SIZE + nameLen + extraLen)
    let x = 0
    while (x + 4 <= extra.length) {
      const tag = extra.readUInt16LE(x)
      const len = extra.readUInt16LE(x + 2)
      if (x + 4 + len > extra.length)
        throw fail(`entry ${JSON.stringify(name)} has a corrupt extra field`, name)
      if (tag === 0x0001) {
        const field = extra.subarray(x + 4, x + 4 + len)
        let q = 0
        const take = (what: string): number => {
          if (q + 8 > field.length)
            throw fail(`entry ${JSON.stringify(name)} has a corrupt ZIP64 extra field`, name)
          const v = u64(field, q, `entry ${JSON.stringify(name)}: ${what}`, fail)
          q += 8
          return v
        }
        if (size === 0xffffffff) size = take('size')
        if (compressedSize === 0xffffffff) compressedSize = take('compressed size')
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = take('offset')
      }
      x += 4 + len
    }
    if (flags & FLAG_ENCRYPTED) {
      throw new WheelError(
        `entry ${JSON.stringify(name)} is encrypted`,
        path,
        'wheels cannot be encrypted; rebuild the wheel',
        name
      )
    }
    if (method !== METHOD_STORED && method !== METHOD_DEFLATE) {
      throw new WheelError(
        `entry ${JSON.stringify(name)} uses compression method ${method}; only stored (0) and deflate (8) are supported`,
        path,
        'rebuild the wheel with deflate compression (what the wheel spec asks for)',
        name
      )
    }
    if (seen.has(name)) {
      throw new WheelError(
        `entry ${JSON.stringify(name)} appears twice in the archive`,
        path,
        'rebuild the wheel; a wheel lists each file once',
        name
      )
    }
    seen.add(name)
    const creatorSystem = madeBy >>> 8
    entries.push({
      name,
      isDirectory: name.endsWith('/'),
      method,
      flags,
      crc32: crc,
      compressedSize,
      size,
      localHeaderOffset,
      creatorSystem,
      externalAttributes: external,
      unixMode: creatorSystem === SYSTEM_UNIX ? external >>> 16 : null
    })
    raw.push({ rawName, cdExtraLength: extraLen })
    p = end
  }
  if (entries.length !== count && !(!zip64 && count === entries.length % 0x10000)) {
    throw fail(`the end record says ${count} entries, the central directory has ${entries.length}`)
  }

  // Each entry's data must end before the next local header (or the central directory).
  const order = entries
    .map((_, i) => i)
    .sort((a, b) => entries[a]!.localHeaderOffset - entries[b]!.localHeaderOffset)
  const internal = new Map<ZipEntry, Internal>()
  for (let k = 0; k < order.length; k++) {
    const i = order[k]!
    const e = entries[i]!
    const next = k + 1 < order.length ? entries[order[k + 1]!]!.localHeaderOffset : cdOffset
    if (e.localHeaderOffset + LOCAL_SIZE > cdOffset) {
      throw fail(`entry ${JSON.stringify(e.name)} starts past the end of the archive data`, e.name)
    }
    if (next === e.localHeaderOffset) {
      throw fail(`entries ${JSON.stringify(e.name)} and another share one local header`, e.name)
    }
    internal.set(e, { ...raw[i]!, limit: next })
  }
  return { entries, internal }
}
