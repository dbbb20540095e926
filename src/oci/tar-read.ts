// Reading a layer's tar stream: the entries' names, kinds, link targets and modes, with the
// content of a few chosen files. Enough to know what an image's filesystem holds without unpacking
// it (ustar, GNU long names, PAX path/linkpath records, as docker, buildah and umoci write them).
import { createReadStream } from 'node:fs'
import { createGunzip } from 'node:zlib'
import type { Readable } from 'node:stream'
import { FastBuildError } from '../errors.js'
import { zstdDecompressFile } from './zstd.js'

export class TarReadError extends FastBuildError {}

export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'other'

export interface TarEntryInfo {
  /** As stored, without a leading `./` or `/` and without a trailing slash. */
  readonly path: string
  readonly type: TarEntryType
  /** Symlink or hard link target, as stored. */
  readonly linkTarget: string
  readonly mode: number
  readonly size: number
}

const BLOCK = 512

function cString(buf: Buffer, start: number, length: number): string {
  const end = buf.indexOf(0, start)
  return buf.toString('utf8', start, end === -1 || end > start + length ? start + length : end)
}

function octal(buf: Buffer, start: number, length: number): number {
  // GNU base-256 for big values: the first byte has its top bit set.
  if ((buf[start]! & 0x80) !== 0) {
    let n = 0
    for (let i = start + 1; i < start + length; i++) n = n * 256 + buf[i]!
    return n
  }
  const text = cString(buf, start, length).trim()
  return text === '' ? 0 : parseInt(text, 8)
}

function cleanPath(p: string): string {
  let s = p
  while (s.startsWith('./')) s = s.slice(2)
  s = s.replace(/^\/+/, '').replace(/\/+$/, '')
  return s === '.' ? '' : s
}

/** PAX extended header records: `len key=value\n`. */
function paxRecords(data: Buffer): Map<string, string> {
  const out = new Map<string, string>()
  let i = 0
  while (i < data.length) {
    const space = data.indexOf(0x20, i)
    if (space === -1) break
    const len = Number(data.toString('utf8', i, space))
    if (!Number.isSafeInteger(len) || len <= 0) break
    const record = data.toString('utf8', space + 1, i + len - 1)
    const eq = record.indexOf('=')
    if (eq > 0) out.set(record.slice(0, eq), record.slice(eq + 1))
    i += len
  }
  return out
}

function typeOf(flag: string): TarEntryType {
  switch (flag) {
    case '0':
    case '\0':
    case '':
    case '7':
      return 'file'
    case '5':
      return 'dir'
    case '2':
      return 'symlink'
    case '1':
      return 'hardlink'
    default:
      return 'other'
  }
}

export interface ReadTarOptions {
  /** Called for every entry, in order. */
  readonly onEntry: (entry: TarEntryInfo) => void
  /** Files whose content is wanted (small ones: a config file, a script's first line). */
  readonly want?: (entry: TarEntryInfo) => boolean
  /** Receives the wanted files' content (at most `maxContent` bytes of each). */
  readonly onContent?: (entry: TarEntryInfo, content: Buffer) => void
  readonly maxContent?: number
}

/**
 * Walks a tar stream. Content is skipped, except for wanted files. Holds at most one block run in
 * memory at a time, so a multi-gigabyte layer streams through.
 */
export async function readTar(stream: AsyncIterable<Buffer>, opts: ReadTarOptions): Promise<void> {
  const maxContent = opts.maxContent ?? 64 * 1024
  let buf: Buffer = Buffer.alloc(0)
  /** Bytes of the current entry's data (padded) still to skip or collect. */
  let remaining = 0
  let collecting: { entry: TarEntryInfo; parts: Buffer[]; got: number } | null = null
  /** A pending extended header being read (PAX `x`, GNU `L`/`K`). */
  let meta: { kind: 'x' | 'L' | 'K' | 'g'; size: number; parts: Buffer[]; got: number } | null = null
  let pax = new Map<string, string>()
  let longName: string | null = null
  let longLink: string | null = null
  let ended = false

  const finishCollect = () => {
    if (!collecting) return
    const c = collecting
    collecting = null
    opts.onContent?.(c.entry, Buffer.concat(c.parts).subarray(0, Math.min(c.entry.size, maxContent)))
  }

  const finishMeta = () => {
    const m = meta!
    meta = null
    const data = Buffer.concat(m.parts).subarray(0, m.size)
    if (m.kind === 'x') pax = paxRecords(data)
    else if (m.kind === 'L') longName = cString(data, 0, data.length)
    else if (m.kind === 'K') longLink = cString(data, 0, data.length)
  }

  for await (const chunk of stream) {
    if (ended) continue
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk])
    let off = 0
    while (off < buf.length) {
      if (remaining > 0) {
        const n = Math.min(remaining, buf.length - off)
        const piece = buf.subarray(off, off + n)
        if (collecting && collecting.got < maxContent) {
          collecting.parts.push(Buffer.from(piece))
          collecting.got += n
        }
        if (meta) {
          meta.parts.push(Buffer.from(piece))
          meta.got += n
        }
        remaining -= n
        off += n
        if (remaining === 0) {
          finishCollect()
          if (meta) finishMeta()
        }
        continue
      }
      if (buf.length - off < BLOCK) break
      const h = buf.subarray(off, off + BLOCK)
      off += BLOCK
      if (h.every((b) => b === 0)) {
        ended = true
        break
      }
      const flag = String.fromCharCode(h[156]!)
      const size = octal(h, 124, 12)
      const padded = Math.ceil(size / BLOCK) * BLOCK
      if (flag === 'x' || flag === 'L' || flag === 'K' || flag === 'g') {
        if (size > 16 * 1024 * 1024) throw new TarReadError(`a tar extended header of ${size} bytes`)
        meta = { kind: flag, size, parts: [], got: 0 }
        remaining = padded
        if (remaining === 0) finishMeta()
        continue
      }
      const magic = h.toString('latin1', 257, 263)
      const prefix = magic.startsWith('ustar') ? cString(h, 345, 155) : ''
      const rawName =
        longName ?? pax.get('path') ?? (prefix ? `${prefix}/${cString(h, 0, 100)}` : cString(h, 0, 100))
      const rawLink = longLink ?? pax.get('linkpath') ?? cString(h, 157, 100)
      const paxSize = pax.get('size')
      const realSize = paxSize !== undefined ? Number(paxSize) : size
      const realPadded = Math.ceil(realSize / BLOCK) * BLOCK
      longName = null
      longLink = null
      pax = new Map()
      const entry: TarEntryInfo = {
        path: cleanPath(rawName),
        type: typeOf(flag),
        linkTarget: rawLink,
        mode: octal(h, 100, 8) & 0o7777,
        size: realSize
      }
      opts.onEntry(entry)
      remaining = realPadded
      if (remaining > 0 && entry.type === 'file' && opts.want?.(entry)) {
        collecting = { entry, parts: [], got: 0 }
      } else if (entry.type === 'file' && opts.want?.(entry) && realSize === 0) {
        opts.onContent?.(entry, Buffer.alloc(0))
      }
    }
    buf = off >= buf.length ? Buffer.alloc(0) : buf.subarray(off)
  }
}

/** A layer blob on disk as a stream of tar bytes, decompressed by its media type. */
export function openLayerTar(file: string, mediaType: string): Readable {
  const raw = createReadStream(file, { highWaterMark: 1024 * 1024 })
  if (mediaType.endsWith('+gzip') || mediaType.endsWith('.tar.gzip') || mediaType.endsWith('tar.gzip')) {
    const gunzip = createGunzip()
    raw.on('error', (e) => gunzip.destroy(e))
    return raw.pipe(gunzip)
  }
  if (mediaType.endsWith('+zstd')) return zstdDecompressFile(raw, file)
  return raw
}
