// Python's `json.dumps(obj, sort_keys=True)` byte for byte: ", " and ": " separators, keys sorted
// by code point, non-ASCII escaped as \uXXXX (ensure_ascii). Poetry hashes this text, so ours
// must match exactly or every lock would read as stale.

export function pythonJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return 'null'
  if (value === true) return 'true'
  if (value === false) return 'false'
  if (typeof value === 'bigint') return value.toString()
  if (typeof value === 'number') return pythonNumber(value)
  if (typeof value === 'string') return pythonString(value)
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(', ')}]`
  if (value instanceof Date) return pythonString(value.toISOString())
  if (typeof value === 'object') {
    const keys = Object.keys(value as object).sort(compareCodePoints)
    return `{${keys.map((k) => `${pythonString(k)}: ${pythonJsonDumps((value as Record<string, unknown>)[k])}`).join(', ')}}`
  }
  throw new TypeError(`cannot serialize ${typeof value}`)
}

function pythonNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e16) return String(n)
  if (Number.isNaN(n)) return 'NaN'
  if (!Number.isFinite(n)) return n > 0 ? 'Infinity' : '-Infinity'
  // Python's float repr: shortest round-trip, always with a '.' or exponent.
  const s = String(n)
  if (/e/.test(s)) return s.replace(/e([+-])(\d)$/, 'e$10$2')
  return s.includes('.') ? s : `${s}.0`
}

const ESCAPES: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f'
}

function pythonString(s: string): string {
  let out = '"'
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!
    const code = s.charCodeAt(i)
    const esc = ESCAPES[ch]
    if (esc) out += esc
    else if (code < 0x20 || code > 0x7e) out += `\\u${code.toString(16).padStart(4, '0')}`
    else out += ch
  }
  return out + '"'
}

/** Python sorts str keys by code point; JS's default sort is by UTF-16 unit. */
export function compareCodePoints(a: string, b: string): number {
  const ai = a[Symbol.iterator]()
  const bi = b[Symbol.iterator]()
  for (;;) {
    const x = ai.next()
    const y = bi.next()
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!
    if (d !== 0) return d
  }
}
