// Deterministic tar (ustar, with PAX records where ustar fields are too small): the bytes are a
// pure function of the entries and one timestamp. Entries are sorted; owners are 0/0 with empty
// names; modes are 0755 for directories and executables, 0644 for other files, 0777 for links;
// no xattrs, no device numbers, no access times.
import { FastBuildError } from '../errors.js'
import type { LayerEntry } from './entry.js'

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

function header(f: HeaderFields): Buffer {
  const h = Buffer.alloc(BLOCK)
  h.write(f.name, 0, 100, 'utf8')
  h.write(octal(f.mode, 8), 100, 8, 'ascii')
  h.write(octal(0, 8), 108, 8, 'ascii')
  h.write(octal(0, 8), 116, 8, 'ascii')
  h.write(octal(f.size, 12), 124, 12, 'ascii')
  h.write(octal(f.mtime, 12), 136, 12, 'ascii')
  h.write('        ', 148, 8, 'ascii')
  h.write(f.typeflag, 156, 1, 'ascii')
  h.write(f.linkname, 157, 100, 'utf8')
  h.write('ustar\0', 257, 6, 'ascii')
  h.write('00', 263, 2, 'ascii')
  h.write(octal(0, 8), 329, 8, 'ascii')
  h.write(octal(0, 8), 337, 8, 'ascii')
  let sum = 0
  for (let i = 0; i < BLOCK; i++) sum += h[i]!
  h.write(octal(sum, 7) + ' ', 148, 8, 'ascii')
  return h
}

const MAX_USTAR_SIZE = 0o77777777777 // 11 octal digits

/** Header block(s) for one entry: a PAX record first when a name or size does not fit ustar. */
function headersFor(name: string, f: Omit<HeaderFields, 'name'>): Buffer[] {
  const pax: Buffer[] = []
  const fits = (s: string) => Buffer.byteLength(s) <= 100 && /^[\x20-\x7e]*$/.test(s)
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

/** The tar stream of the entries, as chunks; file contents are read one at a time, in order. */
export async function* tarChunks(entries: readonly LayerEntry[], opts: TarOptions): AsyncGenerator<Buffer> {
  const mtime = Math.max(0, Math.floor(opts.mtime))
  for (const e of normalizeEntries(entries)) {
    switch (e.type) {
      case 'dir':
        yield* headersFor(`${e.path}/`, { mode: 0o755, size: 0, typeflag: '5', linkname: '', mtime })
        break
      case 'symlink':
        yield* headersFor(e.path, { mode: 0o777, size: 0, typeflag: '2', linkname: e.target, mtime })
        break
      case 'file': {
        const content = await e.content()
        if (content.length !== e.size) {
          throw new LayerPathError(
            `${e.path} changed while the layer was written (${e.size} bytes, then ${content.length})`
          )
        }
        yield* headersFor(e.path, {
          mode: e.executable ? 0o755 : 0o644,
          size: content.length,
          typeflag: '0',
          linkname: '',
          mtime
        })
        if (content.length > 0) yield content
        const pad = padding(content.length)
        if (pad.length > 0) yield pad
        break
      }
    }
  }
  yield ZEROS
}
