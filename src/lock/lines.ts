// Line numbers of `[[package]]` entries, for annotations and error locations. TOML parsers do
// not keep positions, and entries appear in file order, so one scan of the text suffices.

/** 1-based line of each `[[<table>]]` header, in file order. */
export function arrayTableLines(text: string, table = 'package'): number[] {
  const lines: number[] = []
  const header = `[[${table}]]`
  let line = 1
  let start = 0
  for (;;) {
    const nl = text.indexOf('\n', start)
    const end = nl === -1 ? text.length : nl
    // Cheap check before trimming: most lines do not start with '['.
    if (
      text.charCodeAt(start) === 91 /* [ */ ||
      text.charCodeAt(start) === 32 ||
      text.charCodeAt(start) === 9
    ) {
      if (text.slice(start, end).trim() === header) lines.push(line)
    }
    if (nl === -1) break
    start = nl + 1
    line++
  }
  return lines
}
