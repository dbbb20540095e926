// Poetry 2.x writes each package's files as a `files = [` … `]` array, one
// `{file = "…", hash = "…"},` per line: on big locks most of the bytes, and most of the time a
// general TOML parser spends. Those arrays are cut out of the text before the parse (each line
// kept as an empty one, so every line number stays right) and read later, only for the packages
// a plan looks at, with a strict line pattern. An array with any other line is left in place for
// the TOML parser, so nothing the pattern does not cover is ever read by it.

/** `{file = "name", hash = "algo:hex"},`: plain strings only (no escapes), as Poetry writes them. */
const FILE_LINE = /^ {4}\{file = "([^"\\\n]*)", hash = "([^"\\\n]*)"\},?$/

export interface CutFiles {
  /** The lock text with the cut arrays emptied (same number of lines). */
  readonly text: string
  /** Per `[[package]]`, in file order: the array's lines, when it was cut. */
  readonly bodies: ReadonlyMap<number, readonly string[]>
}

export function cutPoetryFileArrays(text: string): CutFiles {
  const lines = text.split('\n')
  const bodies = new Map<number, string[]>()
  let pkg = -1
  // True while inside the [[package]] table itself (not one of its sub-tables).
  let inPackage = false
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (line.charCodeAt(0) === 91 /* [ */) {
      const header = line.trim()
      if (header === '[[package]]') {
        pkg++
        inPackage = true
      } else inPackage = false
      continue
    }
    if (!inPackage || line !== 'files = [') continue
    let end = i + 1
    while (end < lines.length && FILE_LINE.test(lines[end]!)) end++
    if (end >= lines.length || lines[end] !== ']') continue // some other shape: the parser reads it
    bodies.set(pkg, lines.slice(i + 1, end))
    for (let k = i + 1; k < end; k++) lines[k] = ''
    i = end
  }
  return { text: bodies.size > 0 ? lines.join('\n') : text, bodies }
}

/** The file tables of a cut array, as the TOML parser would have given them. */
export function readCutFiles(body: readonly string[]): { file: string; hash: string }[] {
  return body.map((line) => {
    const m = FILE_LINE.exec(line)!
    return { file: m[1]!, hash: m[2]! }
  })
}
