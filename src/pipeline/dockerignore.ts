// `.dockerignore` as Docker reads it: moby/patternmatcher (`ignorefile.ReadAll` + `New` +
// `MatchesOrParentMatches`), reimplemented. Pure: text in, patterns out; patterns and a path in,
// excluded or not out.
//
// Reading a file (ignorefile.ReadAll, then patternmatcher.New):
// - one pattern a line; a UTF-8 BOM at the start is dropped; a line whose FIRST character is `#`
//   is a comment (`  # x` is a pattern); surrounding whitespace is trimmed; blank lines are skipped;
// - a leading `!` makes an exception (re-include); the rest is cleaned like Go's `filepath.Clean`
//   (`./a//b/` → `a/b`, `a/../b` → `b`) and one leading `/` is dropped (`/a` ≡ `a`);
// - `!` alone (or `!/`) is an error, as are malformed classes and trailing backslashes
//   (filepath.Match's syntax check).
//
// Matching one pattern (patternmatcher's compile):
// - `*` = any run of characters except `/`; `?` = one character except `/`;
//   `[...]`/`[^...]` = a character class; `\x` = the character x;
// - `**` = any number of directories (`**/a` matches `a` and `x/y/a`); `a/**` = everything below a;
//   a pattern that STARTS with `**` and has no other wildcard is a plain suffix test
//   (`**.pyc` matches `x.pyc` and `dir/x.pyc`; `**foo` matches `barfoo`);
// - the pattern must match the whole path, never a part of a name.
//
// Matching a path (MatchesOrParentMatches): the last pattern that matches wins (`!` ones make the
// path included again); a pattern matches a path when it matches the path itself OR any of its
// parent directories (`a`, `a/b`, ... of `a/b/c`), so `build` excludes `build/x/y`, and
// `!build/keep` brings back `build/keep` and everything below it.
//
// Where this differs from Docker:
// - BuildKit's walker (tonistiigi/fsutil) calls MatchesUsingParentResults, which remembers per
//   directory which patterns matched it and skips an exception that was not "live" there: for
//   `**/z.py` then `!pkg`, BuildKit keeps pkg/a/z.py excluded, while MatchesOrParentMatches (here,
//   and buildah/podman, see buildah.differential.test.ts) includes it again.
// - Docker compiles a pattern's regular expression when it first needs it, so a pattern Go's
//   regexp rejects (`[z-a]`, `\y`) fails the build only if it is reached; here every pattern is
//   checked up front.
// - Escapes that Go's regexp gives a meaning and nobody writes in a .dockerignore (`\x41`,
//   `\p{L}`, `\Q..\E`, octal `\101`) are refused with an error instead of being emulated;
//   `\d \w \s \b` (and their capitals) and POSIX classes (`[[:alpha:]]`) are emulated.
import { SourceError } from './errors.js'

export interface DockerignorePattern {
  /** The pattern as Docker keeps it: cleaned, without the `!`. */
  readonly pattern: string
  /** 1-based line in the file. */
  readonly line: number
  /** A `!` pattern: paths it matches are included again. */
  readonly exception: boolean
  /** Does the pattern match this cleaned, `/`-separated path (not its parents)? */
  readonly matches: (path: string) => boolean
}

export interface DockerignorePatterns {
  /** The file the patterns came from, as the user would name it. */
  readonly file: string
  readonly patterns: readonly DockerignorePattern[]
  /** Any `!` pattern: an excluded directory may still have included files below it. */
  readonly hasExceptions: boolean
}

/** No `.dockerignore`: nothing is excluded. */
export const NO_DOCKERIGNORE: DockerignorePatterns = {
  file: '.dockerignore',
  patterns: [],
  hasExceptions: false
}

/** Parse the text of a `.dockerignore`; `file` names it in errors. */
export function parseDockerignore(text: string, file = '.dockerignore'): DockerignorePatterns {
  const patterns: DockerignorePattern[] = []
  const lines = text.replace(/^\uFEFF/, '').split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  lines.forEach((raw, index) => {
    const line = index + 1
    const pattern = readLine(raw.endsWith('\r') ? raw.slice(0, -1) : raw)
    if (pattern === null) return
    patterns.push(compilePattern(pattern, raw.trim(), file, line))
  })
  return { file, patterns, hasExceptions: patterns.some((p) => p.exception) }
}

/**
 * Is `relativePath` (relative to the directory of the `.dockerignore`, `/`-separated) left out?
 * The root itself (`.`, ``) never is.
 */
export function isExcluded(ignore: DockerignorePatterns, relativePath: string): boolean {
  if (ignore.patterns.length === 0) return false
  const file = cleanPath(relativePath)
  if (file === '.') return false
  const slash = file.lastIndexOf('/')
  const parents: string[] = []
  if (slash > 0) {
    // The prefixes `a`, `a/b`, ... of the parent directory, shortest first.
    const parent = file.slice(0, slash)
    for (let i = parent.indexOf('/'); i !== -1; i = parent.indexOf('/', i + 1))
      parents.push(parent.slice(0, i))
    parents.push(parent)
  }
  let excluded = false
  for (const p of ignore.patterns) {
    // Only a pattern that could change the answer is tried (an exception when excluded, ...).
    if (p.exception !== excluded) continue
    if (p.matches(file) || parents.some((d) => p.matches(d))) excluded = !p.exception
  }
  return excluded
}

// --- reading lines ---------------------------------------------------------------------------

/** ignorefile.ReadAll + the trimming and cleaning of patternmatcher.New; null for no pattern. */
function readLine(raw: string): string | null {
  if (raw.startsWith('#')) return null
  let pattern = goTrimSpace(raw)
  if (pattern === '') return null
  const invert = pattern.startsWith('!')
  if (invert) pattern = goTrimSpace(pattern.slice(1))
  if (pattern.length > 0) {
    pattern = cleanPath(pattern)
    if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1)
  }
  if (invert) pattern = '!' + pattern
  // patternmatcher.New trims and cleans once more, `!` included (`!/` becomes `!`).
  return cleanPath(goTrimSpace(pattern))
}

/** Go's `filepath.Clean` for `/`-separated paths. */
export function cleanPath(path: string): string {
  if (path === '') return '.'
  const rooted = path.startsWith('/')
  const out: string[] = []
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop()
      else if (!rooted) out.push('..')
      continue
    }
    out.push(part)
  }
  const joined = out.join('/')
  if (rooted) return '/' + joined
  return joined === '' ? '.' : joined
}

// Go's unicode.IsSpace, which strings.TrimSpace uses (JS's trim() differs on U+0085 and U+FEFF).
const GO_SPACE = '[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]'
const GO_TRIM = new RegExp(`^${GO_SPACE}+|${GO_SPACE}+$`, 'g')
const goTrimSpace = (s: string): string => s.replace(GO_TRIM, '')

// --- one pattern -----------------------------------------------------------------------------

function compilePattern(cleaned: string, written: string, file: string, line: number): DockerignorePattern {
  const fail = (what: string, hint: string): never => {
    throw new SourceError(
      `bad .dockerignore pattern ${JSON.stringify(written)}: ${what}`,
      { file, line },
      hint
    )
  }
  let pattern = cleaned
  const exception = pattern.startsWith('!')
  if (exception) {
    if (pattern.length === 1) {
      fail(
        '`!` needs a pattern after it',
        'write the path to include again after the `!`, or delete the line'
      )
    }
    pattern = pattern.slice(1)
  }
  const syntax = globSyntaxError(pattern)
  if (syntax) fail(syntax, 'escape a literal `[`, `]` or `\\` with a backslash (`\\[`)')
  try {
    return { pattern, line, exception, matches: compileMatcher(pattern) }
  } catch (e) {
    if (!(e instanceof RegexError)) throw e
    return fail(e.message, e.hint)
  }
}

/**
 * filepath.Match's syntax check (run by patternmatcher.New on every pattern): classes must close,
 * have at least one item, and not start a range with `-` or `]`; a backslash must escape something.
 */
function globSyntaxError(pattern: string): string | null {
  const cs = Array.from(pattern)
  let i = 0
  // One class item (`a`, `\]`); false when malformed or when nothing follows it.
  const item = (): boolean => {
    const c = cs[i]
    if (c === undefined || c === '-' || c === ']') return false
    if (c === '\\' && ++i >= cs.length) return false
    i++
    return i < cs.length
  }
  while (i < cs.length) {
    const c = cs[i]!
    if (c === '\\') {
      if (i + 1 >= cs.length) return 'a trailing backslash escapes nothing'
      i += 2
    } else if (c === '[') {
      i++
      if (cs[i] === '^') i++
      for (let n = 0; ; n++) {
        if (cs[i] === ']' && n > 0) {
          i++
          break
        }
        if (!item()) return 'malformed character class (empty, unclosed, or a range without both ends)'
        if (cs[i] === '-') {
          i++
          if (!item()) return 'malformed character class (empty, unclosed, or a range without both ends)'
        }
      }
    } else {
      i++
    }
  }
  return null
}

/** patternmatcher's compile: exact, prefix (`a/**`), suffix (`**\/a`) or a regular expression. */
function compileMatcher(pattern: string): (path: string) => boolean {
  const cs = Array.from(pattern)
  let pos = 0
  let re = '^'
  let kind: 'exact' | 'prefix' | 'suffix' | 'regexp' = 'exact'
  for (let i = 0; pos < cs.length; i++) {
    const ch = cs[pos++]!
    if (ch === '*') {
      if (cs[pos] === '*') {
        pos++
        if (cs[pos] === '/') pos++
        if (pos === cs.length) {
          // `**` at the end: everything below.
          if (kind === 'exact') kind = 'prefix'
          else {
            re += '.*'
            kind = 'regexp'
          }
        } else {
          re += '(.*/)?'
          kind = 'regexp'
        }
        if (i === 0) kind = 'suffix'
      } else {
        re += '[^/]*'
        kind = 'regexp'
      }
    } else if (ch === '?') {
      re += '[^/]'
      kind = 'regexp'
    } else if ('.+()|{}$'.includes(ch)) {
      re += '\\' + ch
    } else if (ch === '\\') {
      if (pos < cs.length) {
        re += '\\' + cs[pos++]!
        kind = 'regexp'
      } else {
        re += '\\' // unreachable: the syntax check refuses a trailing backslash
      }
    } else if (ch === '[' || ch === ']') {
      re += ch
      kind = 'regexp'
    } else {
      re += ch
    }
  }
  switch (kind) {
    case 'exact':
      return (path) => path === pattern
    case 'prefix': {
      const prefix = pattern.slice(0, -2)
      return (path) => path.startsWith(prefix)
    }
    case 'suffix': {
      const suffix = pattern.slice(2)
      const bare = suffix.startsWith('/') ? suffix.slice(1) : null
      return (path) => path.endsWith(suffix) || path === bare
    }
    case 'regexp': {
      const nfa = goRegexpToNfa(re + '$')
      return (path) => runNfa(nfa, path)
    }
  }
}

// --- Go regexp (RE2 syntax) → an automaton ---------------------------------------------------
// patternmatcher hands its regular expression to Go's regexp; the character classes it builds
// (`[a[^/]*]` from `[a*]`, POSIX `[[:alpha:]]`) parse differently in JavaScript, so the Go syntax is
// parsed here and every class is written out as explicit code point ranges. The result runs as a
// small automaton, one step per character, as RE2 does: a JavaScript RegExp backtracks, and a
// pattern such as `*a*a*a*a*b` took seconds on one 100-character path (a minute at 200).

class RegexError extends Error {
  constructor(
    message: string,
    readonly hint: string
  ) {
    super(message)
  }
}

type Ranges = [number, number][]

const MAX_RUNE = 0x10ffff
const c = (s: string): number => s.codePointAt(0)!
const DIGIT: Ranges = [[c('0'), c('9')]]
const WORD: Ranges = [
  [c('0'), c('9')],
  [c('A'), c('Z')],
  [c('_'), c('_')],
  [c('a'), c('z')]
]
const PERL_SPACE: Ranges = [
  [9, 10],
  [12, 13],
  [32, 32]
]
const PERL: Record<string, Ranges> = { d: DIGIT, s: PERL_SPACE, w: WORD }
const POSIX: Record<string, Ranges> = {
  alnum: [
    [c('0'), c('9')],
    [c('A'), c('Z')],
    [c('a'), c('z')]
  ],
  alpha: [
    [c('A'), c('Z')],
    [c('a'), c('z')]
  ],
  ascii: [[0, 0x7f]],
  blank: [
    [9, 9],
    [32, 32]
  ],
  cntrl: [
    [0, 0x1f],
    [0x7f, 0x7f]
  ],
  digit: DIGIT,
  graph: [[0x21, 0x7e]],
  lower: [[c('a'), c('z')]],
  print: [[0x20, 0x7e]],
  punct: [
    [0x21, 0x2f],
    [0x3a, 0x40],
    [0x5b, 0x60],
    [0x7b, 0x7e]
  ],
  space: [
    [9, 13],
    [32, 32]
  ],
  upper: [[c('A'), c('Z')]],
  word: WORD,
  xdigit: [
    [c('0'), c('9')],
    [c('A'), c('F')],
    [c('a'), c('f')]
  ]
}
const CONTROL_ESCAPES: Record<string, number> = { a: 7, f: 12, n: 10, r: 13, t: 9, v: 11 }

function complement(ranges: Ranges): Ranges {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0])
  const out: Ranges = []
  let next = 0
  for (const [lo, hi] of sorted) {
    if (lo > next) out.push([next, lo - 1])
    next = Math.max(next, hi + 1)
  }
  if (next <= MAX_RUNE) out.push([next, MAX_RUNE])
  return out
}

const isAsciiAlnum = (ch: string): boolean => /^[A-Za-z0-9]$/.test(ch)

function unsupportedEscape(e: string): RegexError {
  if (/^[xpPQC0-7]$/.test(e)) {
    return new RegexError(
      `\`\\${e}\` is a regular-expression escape in Docker's matcher, which fast-build does not reproduce`,
      `write the character(s) you mean without the backslash`
    )
  }
  return new RegexError(
    `\`\\${e}\` is an invalid escape (Docker's matcher fails on it too)`,
    'escape only punctuation (`\\*`, `\\?`, `\\[`); write letters and digits without a backslash'
  )
}

/** A single-character escape inside or outside a class (Go's parseEscape). */
function escapedRune(e: string): number {
  if (c(e) < 0x80 && !isAsciiAlnum(e)) return c(e)
  const control = CONTROL_ESCAPES[e]
  if (control !== undefined) return control
  throw unsupportedEscape(e)
}

/**
 * One step of the automaton. The regular expressions patternmatcher writes are a sequence of
 * these: single characters and classes (from the pattern's own characters, `?`, `[...]` and
 * escapes), `[^/]*` and `.*` (from `*` and a final `**`), `(.*\/)?` (from `**` followed by more),
 * and the zero-width `^`, `\A`, `\z`, `\b`, `\B` a pattern may spell (its `$` is escaped; the final one
 * is the end of the match).
 */
type Step =
  | { readonly kind: 'one'; readonly ranges: Ranges }
  | { readonly kind: 'star'; readonly ranges: Ranges }
  /** `(.*\/)?`: nothing, or anything (no newline) that ends with `/`. */
  | { readonly kind: 'dirs' }
  | { readonly kind: 'start' }
  | { readonly kind: 'end' }
  | { readonly kind: 'boundary'; readonly word: boolean }

const NOT_NEWLINE: Ranges = complement([[10, 10]])

function goRegexpToNfa(source: string): Step[] {
  const cs = Array.from(source)
  const steps: Step[] = []
  const internal = (): RegexError =>
    new RegexError(
      `fast-build cannot read the regular expression Docker's matcher makes of it`,
      'please report the pattern; escape its punctuation meanwhile'
    )
  let p = 0
  while (p < cs.length) {
    const ch = cs[p++]!
    switch (ch) {
      case '\\': {
        const e = cs[p++]
        if (e === undefined) throw new RegexError('a trailing backslash escapes nothing', 'remove it')
        if (e === 'A') steps.push({ kind: 'start' })
        else if (e === 'z') steps.push({ kind: 'end' })
        else if (e === 'b' || e === 'B') steps.push({ kind: 'boundary', word: e === 'b' })
        else if ('dDsSwW'.includes(e)) {
          const ranges = PERL[e.toLowerCase()]!
          steps.push({ kind: 'one', ranges: e === e.toLowerCase() ? ranges : complement(ranges) })
        } else {
          const cp = escapedRune(e)
          steps.push({ kind: 'one', ranges: [[cp, cp]] })
        }
        break
      }
      case '[': {
        const parsed = parseClass(cs, p)
        steps.push({ kind: 'one', ranges: parsed.ranges })
        p = parsed.end
        break
      }
      case '.':
        steps.push({ kind: 'one', ranges: NOT_NEWLINE })
        break
      case '(':
        // The one group patternmatcher writes (a pattern's own parentheses are escaped).
        if (cs.slice(p, p + 5).join('') !== '.*/)?') throw internal()
        p += 5
        steps.push({ kind: 'dirs' })
        break
      case '*': {
        const last = steps[steps.length - 1]
        if (last?.kind !== 'one') throw internal()
        steps[steps.length - 1] = { kind: 'star', ranges: last.ranges }
        break
      }
      case '^':
        steps.push({ kind: 'start' })
        break
      case '$':
        // Only the final `$` (the pattern's own are escaped): the match ends there.
        if (p !== cs.length) throw internal()
        break
      case ')':
      case '|':
      case '+':
      case '?':
        throw internal()
      default:
        steps.push({ kind: 'one', ranges: [[c(ch), c(ch)]] })
    }
  }
  return steps
}

function inRanges(ranges: Ranges, cp: number): boolean {
  for (const [lo, hi] of ranges) if (cp >= lo && cp <= hi) return true
  return false
}

const isWordCp = (cp: number | undefined): boolean => cp !== undefined && inRanges(WORD, cp)

/**
 * Does the whole of `path` match? A set of positions in `steps` advances one code point at a
 * time (Thompson's construction): time linear in the path for a given pattern. State `i` is
 * "before step i"; `steps.length` is the match; `steps.length + 1 + i` is inside the `(.*\/)?` of
 * step i.
 */
function runNfa(steps: readonly Step[], path: string): boolean {
  const cps = Array.from(path, (ch) => c(ch))
  const n = steps.length
  const inner = (i: number) => n + 1 + i
  let current = new Set<number>()
  // Adds `state` and everything reachable from it without reading (at position `pos`).
  const close = (set: Set<number>, state: number, pos: number): void => {
    const stack = [state]
    while (stack.length > 0) {
      const s = stack.pop()!
      if (set.has(s)) continue
      set.add(s)
      if (s >= n) continue
      const step = steps[s]!
      switch (step.kind) {
        case 'star':
          stack.push(s + 1)
          break
        case 'dirs':
          stack.push(s + 1, inner(s))
          break
        case 'start':
          if (pos === 0) stack.push(s + 1)
          break
        case 'end':
          if (pos === cps.length) stack.push(s + 1)
          break
        case 'boundary':
          if ((isWordCp(cps[pos - 1]) !== isWordCp(cps[pos])) === step.word) stack.push(s + 1)
          break
        case 'one':
          break
      }
    }
  }
  close(current, 0, 0)
  for (let pos = 0; pos < cps.length && current.size > 0; pos++) {
    const cp = cps[pos]!
    const next = new Set<number>()
    for (const s of current) {
      if (s === n) continue
      if (s > n) {
        // Inside `(.*\/)?`: any character but a newline stays; a `/` may also end the group.
        const i = s - n - 1
        if (cp !== 10) close(next, s, pos + 1)
        if (cp === 47) close(next, i + 1, pos + 1)
        continue
      }
      const step = steps[s]!
      if (step.kind === 'one' && inRanges(step.ranges, cp)) close(next, s + 1, pos + 1)
      else if (step.kind === 'star' && inRanges(step.ranges, cp)) close(next, s, pos + 1)
    }
    current = next
  }
  return current.has(n)
}

/** Go's parseClass (Perl flags), from just after the `[`; returns the matched code points. */
function parseClass(cs: string[], start: number): { ranges: Ranges; end: number } {
  let p = start
  let negated = false
  if (cs[p] === '^') {
    negated = true
    p++
  }
  const ranges: Ranges = []
  const classChar = (): number => {
    const ch = cs[p++]
    if (ch === undefined) throw missingBracket()
    if (ch !== '\\') return c(ch)
    const e = cs[p++]
    if (e === undefined) throw missingBracket()
    return escapedRune(e)
  }
  for (let first = true; first || cs[p] !== ']'; first = false) {
    if (p >= cs.length) throw missingBracket()
    // POSIX classes: `[:alpha:]`, `[:^alpha:]`.
    if (cs[p] === '[' && cs[p + 1] === ':') {
      const rest = cs.slice(p + 2).join('')
      const close = rest.indexOf(':]')
      if (close >= 0) {
        let name = rest.slice(0, close)
        const not = name.startsWith('^')
        if (not) name = name.slice(1)
        const group = POSIX[name]
        if (!group) {
          throw new RegexError(
            `\`[:${rest.slice(0, close)}:]\` is not a character class name`,
            'use a POSIX class such as [:alpha:], or escape the `[`'
          )
        }
        ranges.push(...(not ? complement(group) : group))
        p += 2 + Array.from(rest.slice(0, close + 2)).length
        continue
      }
    }
    if (cs[p] === '\\' && cs[p + 1] !== undefined && 'dDsSwW'.includes(cs[p + 1]!)) {
      const e = cs[p + 1]!
      const group = PERL[e.toLowerCase()]!
      ranges.push(...(e === e.toLowerCase() ? group : complement(group)))
      p += 2
      continue
    }
    const lo = classChar()
    let hi = lo
    if (cs[p] === '-' && cs[p + 1] !== undefined && cs[p + 1] !== ']') {
      p++
      hi = classChar()
      if (hi < lo) {
        throw new RegexError(
          `the range \`${String.fromCodePoint(lo)}-${String.fromCodePoint(hi)}\` runs backwards (Docker's matcher fails on it)`,
          `write it as \`${String.fromCodePoint(hi)}-${String.fromCodePoint(lo)}\``
        )
      }
    }
    ranges.push([lo, hi])
  }
  return { ranges: negated ? complement(ranges) : ranges, end: p + 1 }
}

const missingBracket = (): RegexError =>
  new RegexError('a character class is not closed', 'close it with `]`, or escape the `[` as `\\[`')
