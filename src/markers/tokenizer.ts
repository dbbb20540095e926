// The context-sensitive tokenizer of packaging 26.2 (`packaging/_tokenizer.py`), shared by the
// marker and requirement parsers. The rules are the same regular expressions; Python's `\b` and
// `$` are spelled out because JavaScript's differ (ASCII-only `\b`; Python's `$` also matches
// before a final newline).
import { MarkerSyntaxError, type Location } from '../errors.js'
import { SPECIFIER_PATTERN } from '../pep440.js'
import { redactUserinfo } from '../util/redact.js'

/** Python's `\w` for str patterns: `str.isalnum()` or `_`. */
const WORD = '[\\p{L}\\p{N}_]'
/** Python's `\b`: a word character on exactly one side. */
const B = `(?:(?<=${WORD})(?!${WORD})|(?<!${WORD})(?=${WORD}))`

function rules(b: string, flags: '' | 'u') {
  return {
    LEFT_PARENTHESIS: /\(/y,
    RIGHT_PARENTHESIS: /\)/y,
    LEFT_BRACKET: /\[/y,
    RIGHT_BRACKET: /\]/y,
    SEMICOLON: /;/y,
    COMMA: /,/y,
    QUOTED_STRING: /'[^']*'|"[^"]*"/y,
    OP: /===|==|~=|!=|<=|>=|<|>/y,
    BOOLOP: new RegExp(`${b}(?:or|and)${b}`, `y${flags}`),
    IN: new RegExp(`${b}in${b}`, `y${flags}`),
    NOT: new RegExp(`${b}not${b}`, `y${flags}`),
    VARIABLE: new RegExp(
      `${b}(?:python_version|python_full_version|os[._]name|sys[._]platform|platform_(?:release|system)` +
        `|platform[._](?:version|machine|python_implementation)|python_implementation` +
        `|implementation_(?:name|version)|extras?|dependency_groups)${b}`,
      `y${flags}`
    ),
    SPECIFIER: new RegExp(SPECIFIER_PATTERN, 'yi'),
    AT: /@/y,
    URL: /[^ \t]+/y,
    IDENTIFIER: new RegExp(`${b}[a-zA-Z0-9][a-zA-Z0-9._-]*${b}`, `y${flags}`),
    VERSION_PREFIX_TRAIL: /\.\*/y,
    VERSION_LOCAL_LABEL_TRAIL: /\+[a-z0-9]+(?:[-_.][a-z0-9]+)*/y,
    WS: /[ \t]+/y
  } as const
}

type Rules = ReturnType<typeof rules>
/** Made on first use: the Unicode look-behinds cost milliseconds to compile, on every start. */
let unicodeRules: Rules | null = null
/**
 * For ASCII text (virtually every marker), JavaScript's own `\b` is Python's `\b`: both see
 * [A-Za-z0-9_] as word characters there. These rules skip the slow Unicode look-behinds.
 */
const ASCII_RULES = rules('\\b', '')
// eslint-disable-next-line no-control-regex -- the whole ASCII range, on purpose
const ASCII = /^[\x00-\x7f]*$/

export type TokenName = keyof Rules

/**
 * The characters each token can start with. Checking the next character first skips most regex
 * runs (the Unicode word-boundary look-behinds are slow); a token that cannot start here would not
 * match anyway, so results are unchanged.
 */
const FIRST: Partial<Record<TokenName, (c: string) => boolean>> = {
  BOOLOP: (c) => c === 'o' || c === 'a',
  IN: (c) => c === 'i',
  NOT: (c) => c === 'n',
  VARIABLE: (c) => 'posied'.includes(c),
  OP: (c) => '=~!<>'.includes(c),
  QUOTED_STRING: (c) => c === "'" || c === '"',
  IDENTIFIER: (c) => /[a-zA-Z0-9]/.test(c),
  WS: (c) => c === ' ' || c === '\t'
}

/**
 * How a source text is shown in messages: single quotes unless it contains one, and without the
 * userinfo of a URL in it (`name @ https://user:token@host/…`).
 */
export function quoteSource(source: string): string {
  const text = redactUserinfo(source)
  return text.includes("'") ? JSON.stringify(text) : `'${text}'`
}

export class Tokenizer {
  position = 0
  private readonly rules: Rules

  constructor(
    readonly source: string,
    private readonly at: Location | undefined
  ) {
    this.rules = ASCII.test(source) ? ASCII_RULES : (unicodeRules ??= rules(B, 'u'))
  }

  /** The text of the token `name` at the current position, without consuming it. */
  peek(name: TokenName): string | null {
    const first = FIRST[name]
    if (first) {
      const c = this.source[this.position]
      if (c === undefined || c === '' || !first(c)) return null
    }
    const re = this.rules[name]
    re.lastIndex = this.position
    const m = re.exec(this.source)
    return m ? m[0] : null
  }

  /** Consumes the token `name` when it is next and returns its text. */
  take(name: TokenName): string | null {
    const text = this.peek(name)
    if (text !== null) this.position += text.length
    return text
  }

  /** Optional whitespace (spaces and tabs only, as in PEP 508). */
  ws(): void {
    this.take('WS')
  }

  /** Python's `$`: the end of the text, or just before a final newline. */
  atEnd(): boolean {
    const rest = this.source.length - this.position
    return rest === 0 || (rest === 1 && this.source[this.position] === '\n')
  }

  /** 1-based column (in characters, not UTF-16 units) of a 0-based position. */
  column(position: number): number {
    let col = 1
    for (const _ of this.source.slice(0, position)) col++
    return col
  }

  fail(message: string, position: number = this.position, hint?: string): never {
    const column = this.column(position)
    throw new MarkerSyntaxError(
      `${message} at column ${column} in ${quoteSource(this.source)}`,
      { ...this.at, column },
      hint
    )
  }
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v'
}

/**
 * The value of a QUOTED_STRING token, as `ast.literal_eval` (which packaging uses) computes it:
 * Python escape sequences are decoded, a line break or NUL inside the quotes is an error.
 * `start` is the token's position, for error columns.
 */
export function decodeQuoted(tz: Tokenizer, token: string, start: number): string {
  const body = token.slice(1, -1)
  if (!/[\\\n\r\0]/.test(body)) return body
  let out = ''
  let i = 0
  while (i < body.length) {
    const ch = body[i]!
    const here = start + 1 + i
    if (ch === '\n' || ch === '\r') tz.fail('a quoted string cannot contain a line break', here)
    if (ch === '\0') tz.fail('a quoted string cannot contain a NUL character', here)
    if (ch !== '\\') {
      out += ch
      i++
      continue
    }
    const next = body[i + 1]
    if (next === undefined) {
      tz.fail(
        'unterminated quoted string (a backslash escapes its closing quote)',
        start,
        'write \\\\ for a literal backslash'
      )
    }
    if (next === '\n') {
      i += 2 // line continuation
    } else if (next === '\r') {
      i += body[i + 2] === '\n' ? 3 : 2
    } else if (next in SIMPLE_ESCAPES) {
      out += SIMPLE_ESCAPES[next]
      i += 2
    } else if (next >= '0' && next <= '7') {
      const oct = /^[0-7]{1,3}/.exec(body.slice(i + 1))![0]
      out += String.fromCodePoint(parseInt(oct, 8))
      i += 1 + oct.length
    } else if (next === 'x' || next === 'u' || next === 'U') {
      const len = next === 'x' ? 2 : next === 'u' ? 4 : 8
      const hex = body.slice(i + 2, i + 2 + len)
      if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) {
        tz.fail(`truncated \\${next} escape in a quoted string`, here)
      }
      const code = parseInt(hex, 16)
      if (code > 0x10ffff) tz.fail(`\\${next}${hex} is not a Unicode character`, here)
      out += String.fromCodePoint(code)
      i += 2 + len
    } else if (next === 'N') {
      tz.fail('\\N{...} escapes are not supported in marker strings', here, 'write the character itself')
    } else {
      out += '\\' // unknown escapes keep their backslash
      i++
    }
  }
  return out
}
