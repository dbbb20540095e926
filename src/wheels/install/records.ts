// RECORD, the list of a wheel's files with their hashes and sizes (the binary distribution format
// and "Recording installed projects"): read from the wheel to check every file installed, written
// anew for the installed files as pip writes it (Python's csv writer, rows sorted, CRLF).
//
// Where we differ from pip 23-26, on purpose: the wheel's RECORD hashes are verified for every file
// installed (pip does not check them); a mismatch, a weak (md5/sha1) or unknown algorithm is an
// error. Files the RECORD does not list are accepted, as pip accepts them, but get a hash in the
// new RECORD (pip leaves it empty). The new RECORD lists exactly the installed files; pip also keeps
// rows of the old RECORD for files it did not install (left-out wrappers).
import { WheelError } from '../wheel-error.js'
import { PY_LINES } from './python-str.js'

export interface RecordRow {
  readonly path: string
  readonly hash: string
  readonly size: string
}

/** One CSV line as Python's csv reader (default dialect) splits it. */
function parseCsvLine(line: string): string[] {
  const fields: string[] = []
  let field = ''
  let inQuotes = false
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (inQuotes) {
      if (c === '"') {
        if (line[i + 1] === '"') {
          field += '"'
          i++
        } else inQuotes = false
      } else field += c
    } else if (c === ',') {
      fields.push(field)
      field = ''
      quoted = false
    } else if (c === '"' && field === '' && !quoted) {
      inQuotes = true
      quoted = true
    } else field += c
  }
  fields.push(field)
  return fields
}

/** A RECORD file: CSV rows `path,hash,size` (hash and size may be empty). */
export function parseRecord(text: string): RecordRow[] {
  const rows: RecordRow[] = []
  for (const line of text.split(PY_LINES)) {
    if (line === '') continue
    const f = parseCsvLine(line)
    rows.push({ path: f[0] ?? '', hash: f[1] ?? '', size: f[2] ?? '' })
  }
  return rows
}

function csvField(s: string): string {
  return /[,"\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

/** RECORD text as pip writes it: rows sorted by (path, hash, size), Python csv quoting, CRLF. */
export function formatRecord(rows: readonly RecordRow[]): string {
  const sorted = [...rows].sort(
    (a, b) => compareUtf8(a.path, b.path) || compareUtf8(a.hash, b.hash) || compareUtf8(a.size, b.size)
  )
  return sorted.map((r) => `${csvField(r.path)},${csvField(r.hash)},${csvField(r.size)}\r\n`).join('')
}

/** `sha256=<urlsafe base64 without padding>` (the RECORD hash format). */
export function recordHash(digest: Buffer, algorithm = 'sha256'): string {
  return `${algorithm}=${digest.toString('base64url')}`
}

// hashlib names in RECORD → node's names. md5 and sha1 are refused by the spec.
const RECORD_ALGORITHMS: Record<string, string> = {
  sha224: 'sha224',
  sha256: 'sha256',
  sha384: 'sha384',
  sha512: 'sha512',
  sha3_224: 'sha3-224',
  sha3_256: 'sha3-256',
  sha3_384: 'sha3-384',
  sha3_512: 'sha3-512',
  blake2b: 'blake2b512',
  blake2s: 'blake2s256'
}

export interface ExpectedHash {
  readonly algorithm: string
  readonly nodeAlgorithm: string
  readonly value: string
}

function expectedHash(row: RecordRow, wheel: string, recordPath: string): ExpectedHash | null {
  if (row.hash === '') return null
  const eq = row.hash.indexOf('=')
  const algorithm = eq < 0 ? row.hash : row.hash.slice(0, eq)
  const nodeAlgorithm = RECORD_ALGORITHMS[algorithm]
  if (eq < 0 || nodeAlgorithm === undefined) {
    const weak = algorithm === 'md5' || algorithm === 'sha1'
    throw new WheelError(
      `${recordPath} lists ${JSON.stringify(row.path)} with ${
        weak
          ? `a ${algorithm} hash, which the wheel spec forbids`
          : `an unsupported hash ${JSON.stringify(row.hash)}`
      }`,
      wheel,
      'rebuild the wheel with a current build backend (it writes sha256 hashes)',
      row.path
    )
  }
  return { algorithm, nodeAlgorithm, value: row.hash.slice(eq + 1).replace(/=+$/, '') }
}

/** The wheel's own RECORD: what each entry must hash to, and the check of what it did hash to. */
export class WheelRecord {
  private readonly rows: ReadonlyMap<string, RecordRow>

  constructor(
    text: string,
    /** The wheel, for error messages. */
    private readonly wheel: string,
    /** The RECORD's name inside the wheel. */
    private readonly recordPath: string
  ) {
    this.rows = new Map(parseRecord(text).map((r) => [r.path, r]))
  }

  /** The hash RECORD gives the entry; null when it lists none. Throws on a weak or unknown algorithm. */
  expected(entry: string): ExpectedHash | null {
    const row = this.rows.get(entry)
    return row ? expectedHash(row, this.wheel, this.recordPath) : null
  }

  /** Throws when `actual` (a digest with `exp`'s algorithm) is not what RECORD says. */
  verify(entry: string, exp: ExpectedHash | null, actual: Buffer): void {
    if (exp && actual.toString('base64url') !== exp.value) {
      throw new WheelError(
        `${entry} does not match its hash in RECORD (${exp.algorithm}=${exp.value}, the file has ${exp.algorithm}=${actual.toString('base64url')})`,
        this.wheel,
        `the wheel's content was changed after it was built: download it again, or rebuild it`,
        entry
      )
    }
  }
}
