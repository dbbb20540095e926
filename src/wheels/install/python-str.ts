// Python's `str` rules that the text files of a wheel are read by (pip and importlib.metadata run
// `str.strip()` and `str.splitlines()` on them), so our readers split and trim exactly as they do.

const PY_WHITESPACE =
  '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000'
const PY_STRIP = new RegExp(`^[${PY_WHITESPACE}]+|[${PY_WHITESPACE}]+$`, 'g')

/** Python's `str.splitlines()` line boundaries (which include the file/group/record separators). */
// eslint-disable-next-line no-control-regex
export const PY_LINES = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/

/** Python's `str.strip()` (Unicode whitespace, not only ASCII). */
export function pyStrip(s: string): string {
  return s.replace(PY_STRIP, '')
}
