// Deterministic tar (ustar, with PAX records where ustar fields are too small): the bytes are a
// pure function of the entries and one timestamp. Entries are sorted; owners are 0/0 with empty
// names; modes are 0755 for directories and executables, 0644 for other files, 0777 for links;
// no xattrs, no device numbers, no access times.
import { FastBuildError } from '../errors.js'
import { closeSync, openSync, readSync } from 'node:fs'
import type { DeflatedContent, LayerEntry } from './entry.js'

export class LayerPathError extends FastBuildError {}

const BLOCK = 512
const ZEROS = Buffer.alloc(BLOCK * 2)

/** Refuse paths a tar reader could resolve outside the layer root. */
export function checkEntryPath(path: string): void {
  if (
    path === '' ||
    path.startsWith('/') ||
    path.endsWith('/') ||
    path.includes('\0') ||
    path.split('/').some((s) => s === '' || s === '.' || s === '..')
  ) {
    throw new LayerPathError(
      `refusing layer path ${JSON.stringify(path)}: it must be relative, without empty, "." or ".." segments`
    )
  }
}

function compareCodePoints(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Sorted, de-duplicated entries (a path given twice must be the same kind of entry). */
export function normalizeEntries(entries: readonly LayerEntry[]): LayerEntry[] {
  const byPath = new Map<string, LayerEntry>()
  for (const e of entries) {
    checkEntryPath(e.path)
    const prev = byPath.get(e.path)
    if (prev && (prev.type !== 'dir' || e.type !== 'dir')) {
      throw new LayerPathError(`layer path ${JSON.stringify(e.path)} is given twice`)
    }
    byPath.set(e.path, e)
  }
  return [...byPath.values()].sort((a, b) => compareCodePoints(a.path, b.path))
}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0'
}

function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`
  // The length prefix counts itself.
  let len = Buffer.byteLength(body) + 1
  while (String(len).length + Buffer.byteLength(body) !== len)
    len = String(len).length + Buffer.byteLength(body)
  return Buffer.from(`${len}${body}`, 'utf8')
}

interface HeaderFields {
  name: string
  mode: number
  size: number
  typeflag: string
  linkname: string
  mtime: number
}

/** What every header has: owners 0, the ustar magic, no device numbers, a blank checksum. */
const TEMPLATE = (() => {
  const t = Buffer.alloc(BLOCK)
  t.write(octal(0, 8), 108, 8, 'ascii')
  t.write(octal(0, 8), 116, 8, 'ascii')
  t.write('        ', 148, 8, 'ascii')
  t.write('ustar\0', 257, 6, 'ascii')
  t.write('00', 263, 2, 'ascii')
  t.write(octal(0, 8), 329, 8, 'ascii')
  t.write(octal(0, 8), 337, 8, 'ascii')
  return t
})()

/** Writes a ustar header into `h` at `at` (512 bytes there get overwritten). */
function writeHeader(f: HeaderFields, h: Buffer, at: number): void {
  TEMPLATE.copy(h, at)
  h.write(f.name, at, 100, 'utf8')
  h.write(octal(f.mode, 8), at + 100, 8, 'ascii')
  h.write(octal(f.size, 12), at + 124, 12, 'ascii')
  h.write(octal(f.mtime, 12), at + 136, 12, 'ascii')
  h.write(f.typeflag, at + 156, 1, 'ascii')
  h.write(f.linkname, at + 157, 100, 'utf8')
  let sum = 0
  for (let i = at; i < at + BLOCK; i++) sum += h[i]!
  h.write(octal(sum, 7) + ' ', at + 148, 8, 'ascii')
}

function header(f: HeaderFields): Buffer {
  const h = Buffer.allocUnsafe(BLOCK)
  writeHeader(f, h, 0)
  return h
}

const MAX_USTAR_SIZE = 0o77777777777 // 11 octal digits

const fits = (s: string) => s.length <= 100 && /^[\x20-\x7e]*$/.test(s)

/** Header block(s) for one entry: a PAX record first when a name or size does not fit ustar. */
function headersFor(name: string, f: Omit<HeaderFields, 'name'>): Buffer[] {
  const pax: Buffer[] = []
  if (!fits(name)) pax.push(paxRecord('path', name))
  if (!fits(f.linkname)) pax.push(paxRecord('linkpath', f.linkname))
  if (f.size > MAX_USTAR_SIZE) pax.push(paxRecord('size', String(f.size)))
  const main = header({
    ...f,
    name: fits(name) ? name : asciiPrefix(name),
    linkname: fits(f.linkname) ? f.linkname : asciiPrefix(f.linkname),
    size: f.size > MAX_USTAR_SIZE ? 0 : f.size
  })
  if (pax.length === 0) return [main]
  const body = Buffer.concat(pax)
  const paxHeader = header({
    name: asciiPrefix(`PaxHeaders/${name}`),
    mode: 0o644,
    size: body.length,
    typeflag: 'x',
    linkname: '',
    mtime: f.mtime
  })
  return [paxHeader, body, padding(body.length), main]
}

/** The first 100 bytes of the name's printable-ASCII form (readers use the PAX path). */
function asciiPrefix(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '_').slice(0, 100)
}

function padding(size: number): Buffer {
  const rest = size % BLOCK
  return rest === 0 ? Buffer.alloc(0) : ZEROS.subarray(0, BLOCK - rest)
}

export interface TarOptions {
  /** Seconds since the epoch for every entry (SOURCE_DATE_EPOCH, or the commit time). */
  readonly mtime: number
}

/**
 * Fills fixed-size blocks and hands each full one to `onBlock` (a new buffer each time, which the
 * receiver may keep). Files with a `diskPath` are read straight into the block.
 */
class BlockSink {
  private block: Buffer
  private used = 0
  /**
   * Where the block starts in the tar stream. A multiple of 512 until a carried file's content
   * (which bypasses the blocks, see `Carry`) moves it; records are placed by it, not by `used`.
   */
  private position = 0

  constructor(
    private readonly size: number,
    private readonly onBlock: (block: Buffer) => Promise<void> | void,
    /** Blocks the receiver is done with, to fill again (less allocation, less GC). */
    private readonly free: Buffer[] = []
  ) {
    this.block = free.pop() ?? Buffer.allocUnsafe(size)
  }

  // Writes are synchronous; only handing off a full block (a few per layer) can be awaited, so a
  // file costs no promises. Each method returns that promise, or undefined.

  private flushIfFull(): Promise<void> | void {
    if (this.used === this.size) {
      const full = this.block
      this.block = this.free.pop() ?? Buffer.allocUnsafe(this.size)
      this.used = 0
      this.position += this.size
      return this.onBlock(full)
    }
  }

  async write(data: Buffer): Promise<void> {
    let offset = 0
    while (offset < data.length) {
      const n = Math.min(this.size - this.used, data.length - offset)
      data.copy(this.block, this.used, offset, offset + n)
      this.used += n
      offset += n
      await this.flushIfFull()
    }
  }

  /**
   * A header, written in place. Every tar record starts on a 512-byte boundary and blocks are a
   * multiple of 512 bytes, so a header fits in the rest of the block, unless a carried file has
   * moved the block's start: then one that would straddle two blocks is copied in.
   */
  header(f: HeaderFields): Promise<void> | void {
    if (this.used + BLOCK > this.size) return this.write(header(f))
    writeHeader(f, this.block, this.used)
    this.used += BLOCK
    return this.flushIfFull()
  }

  /** Zeros up to the next 512-byte boundary of the tar stream. */
  pad(): Promise<void> | void {
    const rest = (this.position + this.used) % BLOCK
    if (rest === 0) return
    if (this.used + BLOCK - rest > this.size) return this.write(ZEROS.subarray(0, BLOCK - rest))
    this.block.fill(0, this.used, this.used + BLOCK - rest)
    this.used += BLOCK - rest
    return this.flushIfFull()
  }

  /** `n` bytes of the tar stream went around the blocks (a carried file's content), after a cut. */
  skip(n: number): void {
    this.position += n
  }

  /**
   * `size` bytes of the file at `path`, read straight into the block. A file that is shorter now
   * is an error; one that grew is cut at `size`, which the header already promised.
   */
  writeFile(path: string, size: number, entryPath: string): Promise<void> | void {
    const fd = openSync(path, 'r')
    let done = 0
    let closed = false
    const close = () => {
      if (!closed) {
        closed = true
        closeSync(fd)
      }
    }
    const rest = async (flush: Promise<void>): Promise<void> => {
      try {
        await flush
        for (;;) {
          const next = this.readSome(fd, size, done, entryPath)
          if (next === null) return
          done = next.done
          if (next.flush) await next.flush
        }
      } finally {
        close()
      }
    }
    try {
      for (;;) {
        const next = this.readSome(fd, size, done, entryPath)
        if (next === null) break
        done = next.done
        // A full block was handed over: finish this file asynchronously.
        if (next.flush) return rest(next.flush)
      }
    } catch (e) {
      close()
      throw e
    }
    close()
  }

  /** One read into the block; null when the file is done. */
  private readSome(
    fd: number,
    size: number,
    done: number,
    entryPath: string
  ): { done: number; flush: Promise<void> | void } | null {
    if (done >= size) return null
    const n = readSync(fd, this.block, this.used, Math.min(this.size - this.used, size - done), done)
    if (n === 0)
      throw new LayerPathError(`${entryPath} changed while the layer was written (it was ${size} bytes)`)
    this.used += n
    return { done: done + n, flush: this.flushIfFull() }
  }

  /**
   * Hand over what the block holds so far, however little (a copy: the block is filled again), so
   * that what follows can take another way: a carried file's content (see `Carry`).
   */
  cut(): Promise<void> | void {
    if (this.used === 0) return
    const piece = Buffer.from(this.block.subarray(0, this.used))
    this.position += this.used
    this.used = 0
    return this.onBlock(piece)
  }

  async end(): Promise<void> {
    if (this.used > 0) await this.onBlock(this.block.subarray(0, this.used))
  }
}

/**
 * Where the content of files that come already deflated goes, when the receiver can use their
 * deflate data instead (a gzip layer): such a file's header ends the block it is in (the block is
 * handed over short), its content passes through `content` (part of the tar, to be hashed, not
 * compressed), then `deflated` is called in its place, and a new block starts with its padding.
 */
export interface Carry {
  /** Files smaller than this are left in the blocks (deflating them again costs less). */
  readonly minSize: number
  content(chunk: Buffer): Promise<void> | void
  deflated(d: DeflatedContent, size: number): Promise<void> | void
}

/**
 * The tar stream of the entries, cut into blocks of `blockSize` bytes (the last may be shorter,
 * and so may a block ended by a carried file's header), each passed to `onBlock` in order, which
 * may await (back-pressure). The cuts depend on the entries alone, so the output stays a pure
 * function of them.
 */
export async function writeTar(
  entries: readonly LayerEntry[],
  opts: TarOptions & {
    readonly blockSize: number
    readonly freeBlocks?: Buffer[]
    readonly carry?: Carry
    /** Whether the end-of-archive blocks follow (default true; false for a part of a tar). */
    readonly end?: boolean
  },
  onBlock: (block: Buffer) => Promise<void> | void
): Promise<void> {
  if (opts.blockSize % BLOCK !== 0) throw new Error('the block size must be a multiple of 512')
  const mtime = Math.max(0, Math.floor(opts.mtime))
  const sink = new BlockSink(opts.blockSize, onBlock, opts.freeBlocks)
  const headers = (name: string, f: Omit<HeaderFields, 'name'>): Promise<void> | void => {
    if (fits(name) && fits(f.linkname) && f.size <= MAX_USTAR_SIZE) return sink.header({ ...f, name })
    return (async () => {
      for (const h of headersFor(name, f)) await sink.write(h)
    })()
  }
  // Awaits only what is a promise: most steps finish synchronously.
  let w: Promise<void> | void
  for (const e of normalizeEntries(entries)) {
    switch (e.type) {
      case 'dir':
        if ((w = headers(`${e.path}/`, { mode: 0o755, size: 0, typeflag: '5', linkname: '', mtime }))) await w
        break
      case 'symlink':
        if ((w = headers(e.path, { mode: 0o777, size: 0, typeflag: '2', linkname: e.target, mtime }))) await w
        break
      case 'file': {
        const mode = e.executable ? 0o755 : 0o644
        const carry = opts.carry
        if (carry && e.deflated && !e.diskPath && e.size >= carry.minSize) {
          if ((w = headers(e.path, { mode, size: e.size, typeflag: '0', linkname: '', mtime }))) await w
          if ((w = sink.cut())) await w
          await fileContent(e, (chunk) => carry.content(chunk))
          if ((w = carry.deflated(e.deflated, e.size))) await w
          sink.skip(e.size)
        } else if (e.diskPath) {
          if ((w = headers(e.path, { mode, size: e.size, typeflag: '0', linkname: '', mtime }))) await w
          if ((w = sink.writeFile(e.diskPath, e.size, e.path))) await w
        } else {
          // The header first: its size is the one announced, which the content is held to.
          if ((w = headers(e.path, { mode, size: e.size, typeflag: '0', linkname: '', mtime }))) await w
          await fileContent(e, (chunk) => sink.write(chunk))
        }
        if ((w = sink.pad())) await w
        break
      }
    }
  }
  if (opts.end !== false) await sink.write(ZEROS)
  await sink.end()
}

/** A file's content (streamed, or whole), exactly the size it announced, through `out`. */
async function fileContent(
  e: Extract<LayerEntry, { type: 'file' }>,
  out: (chunk: Buffer) => Promise<void> | void
): Promise<void> {
  if (!e.stream) {
    const content = await e.content()
    if (content.length !== e.size) {
      throw new LayerPathError(
        `${e.path} changed while the layer was written (${e.size} bytes, then ${content.length})`
      )
    }
    await out(content)
    return
  }
  let written = 0
  const size = e.size
  await e.stream(async (chunk) => {
    written += chunk.length
    if (written > size) throw new LayerPathError(`${e.path} gave more than the ${size} bytes it announced`)
    await out(chunk)
  })
  if (written !== size)
    throw new LayerPathError(`${e.path} gave ${written} bytes, not the ${size} it announced`)
}
