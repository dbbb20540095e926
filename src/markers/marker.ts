// PEP 508 environment markers: parse to an immutable tree, evaluate for an environment, print.
//
// Parsing and evaluation follow packaging 26.2 (`packaging/markers.py`, `_parser.py`) exactly,
// with these deliberate differences, all pinned by the differential test:
// - `extra` is evaluated against a SET of active extras, as uv and Poetry locks need:
//   `extra == "x"` holds iff x is active, `extra != "x"` iff it is not. Every other operator is
//   packaging's comparison against each active extra: true for some (positive operators) or for
//   all (`!=`, `not in`); with no active extra it is packaging's default `extra == ""`.
// - extra names are normalized (PEP 685) at every nesting level. packaging normalizes only
//   comparisons at the top level, so `(extra == "Foo_Bar")` never matches there.
// - `\N{NAME}` escapes in strings are refused (packaging decodes them with Python's Unicode
//   name table, which we do not carry).
import { MarkerEvaluationError, type Location } from '../errors.js'
import type { MarkerEnvironment } from './environment.js'
import { parseSpecifier, specifierContains } from '../pep440.js'
import { decodeQuoted, quoteSource, Tokenizer } from './tokenizer.js'

export const MARKER_VARIABLES = [
  'python_version',
  'python_full_version',
  'os_name',
  'sys_platform',
  'platform_release',
  'platform_system',
  'platform_version',
  'platform_machine',
  'platform_python_implementation',
  'implementation_name',
  'implementation_version',
  'extra',
  'extras',
  'dependency_groups'
] as const

export type MarkerVariable = (typeof MARKER_VARIABLES)[number]

export type MarkerOperator = '<' | '<=' | '!=' | '==' | '>=' | '>' | '~=' | '===' | 'in' | 'not in'

/** One side of a comparison. */
export type MarkerValue =
  | { readonly kind: 'variable'; readonly name: MarkerVariable }
  | { readonly kind: 'string'; readonly value: string }

export interface MarkerComparison {
  readonly kind: 'compare'
  readonly left: MarkerValue
  readonly op: MarkerOperator
  readonly right: MarkerValue
}

/** All items hold (at least two items, none of them an `and`). */
export interface MarkerAnd {
  readonly kind: 'and'
  readonly items: readonly Marker[]
}

/** Some item holds (at least two items, none of them an `or`). */
export interface MarkerOr {
  readonly kind: 'or'
  readonly items: readonly Marker[]
}

export type Marker = MarkerComparison | MarkerAnd | MarkerOr

// ---------------------------------------------------------------------------------------------
// Parsing

const ALIASES: Readonly<Record<string, MarkerVariable>> = {
  'os.name': 'os_name',
  'sys.platform': 'sys_platform',
  'platform.version': 'platform_version',
  'platform.machine': 'platform_machine',
  'platform.python_implementation': 'platform_python_implementation',
  python_implementation: 'platform_python_implementation'
}

const KNOWN = new Set<string>(MARKER_VARIABLES)

/** packaging's `canonicalize_name` (PEP 503 without trimming), which it applies to extra names. */
function canonicalizeExtra(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-')
}

function variable(name: MarkerVariable): MarkerValue {
  return Object.freeze({ kind: 'variable', name })
}

function string(value: string): MarkerValue {
  return Object.freeze({ kind: 'string', value })
}

function valueText(v: MarkerValue): string {
  return v.kind === 'variable' ? v.name : v.value
}

function parseValue(tz: Tokenizer): MarkerValue {
  const start = tz.position
  const name = tz.take('VARIABLE')
  if (name !== null) return variable(ALIASES[name] ?? (name as MarkerVariable))
  const quoted = tz.take('QUOTED_STRING')
  if (quoted !== null) return string(decodeQuoted(tz, quoted, start))
  const ch = tz.source[start]
  if (ch === '"' || ch === "'") tz.fail('unterminated quoted string', start, `close it with ${ch}`)
  const word = /^[\p{L}\p{N}_.]+/u.exec(tz.source.slice(start))?.[0]
  if (word !== undefined && !/^[0-9]/.test(word)) {
    tz.fail(
      `unknown marker variable '${word}'`,
      start,
      `marker variables are ${MARKER_VARIABLES.join(', ')}; quote strings ("...")`
    )
  }
  tz.fail(
    'expected a marker variable or a quoted string',
    start,
    word !== undefined ? `quote values, as in python_version >= "${word}"` : undefined
  )
}

const OPERATORS = '<, <=, !=, ==, >=, >, ~=, ===, in, not in'

function parseOperator(tz: Tokenizer): MarkerOperator {
  if (tz.take('IN') !== null) return 'in'
  if (tz.take('NOT') !== null) {
    if (tz.take('WS') === null) tz.fail("expected whitespace after 'not'")
    if (tz.take('IN') === null) tz.fail("expected 'in' after 'not'")
    return 'not in'
  }
  const op = tz.take('OP')
  if (op !== null) return op as MarkerOperator
  const single = tz.source[tz.position] === '='
  tz.fail(
    `expected a marker operator (one of ${OPERATORS})`,
    tz.position,
    single ? 'write == to test equality' : undefined
  )
}

function parseComparison(tz: Tokenizer): MarkerComparison {
  tz.ws()
  let left = parseValue(tz)
  tz.ws()
  const op = parseOperator(tz)
  tz.ws()
  let right = parseValue(tz)
  tz.ws()
  // packaging's `_normalize_extras`: the other side of an `extra` comparison is an extra name.
  if (left.kind === 'variable' && left.name === 'extra') right = string(canonicalizeExtra(valueText(right)))
  else if (right.kind === 'variable' && right.name === 'extra')
    left = string(canonicalizeExtra(valueText(left)))
  return Object.freeze({ kind: 'compare', left, op, right })
}

function combine(kind: 'and' | 'or', items: Marker[]): Marker {
  if (items.length === 1) return items[0]!
  const flat = items.flatMap((m) => (m.kind === kind ? m.items : [m]))
  return Object.freeze({ kind, items: Object.freeze(flat) })
}

function parseAtom(tz: Tokenizer): Marker {
  tz.ws()
  const open = tz.position
  let m: Marker
  if (tz.take('LEFT_PARENTHESIS') !== null) {
    tz.ws()
    m = parseMarkerExpression(tz)
    tz.ws()
    if (tz.take('RIGHT_PARENTHESIS') === null) {
      tz.fail(`expected ')' to close the '(' opened at column ${tz.column(open)}`)
    }
  } else {
    m = parseComparison(tz)
  }
  tz.ws()
  return m
}

/** `marker = atom (('and' | 'or') atom)*`, `and` binding tighter. Used by the requirement parser. */
export function parseMarkerExpression(tz: Tokenizer): Marker {
  const groups: Marker[][] = [[parseAtom(tz)]]
  for (let op = tz.take('BOOLOP'); op !== null; op = tz.take('BOOLOP')) {
    const atom = parseAtom(tz)
    if (op === 'or') groups.push([atom])
    else groups[groups.length - 1]!.push(atom)
  }
  return combine(
    'or',
    groups.map((g) => combine('and', g))
  )
}

const CACHE_LIMIT = 10_000
const cache = new Map<string, Marker>()

/**
 * Parses a PEP 508 marker. Accepts what packaging 26.2 accepts (including the legacy dotted
 * names `os.name`, `sys.platform`, `platform.version`, `platform.machine`,
 * `platform.python_implementation` and `python_implementation`). A syntax error is a
 * MarkerSyntaxError whose `location.column` is the 1-based column of the offending character,
 * merged into `at` (file, line, keyPath of the string). With `at`, the marker also remembers it,
 * so that an evaluation error names the same place (see locateMarker).
 */
export function parseMarker(text: string, at?: Location): Marker {
  let marker = cache.get(text)
  if (marker === undefined) {
    const tz = new Tokenizer(text, at)
    marker = parseMarkerExpression(tz)
    if (!tz.atEnd()) tz.fail("expected 'and', 'or' or the end of the marker")
    if (cache.size >= CACHE_LIMIT) cache.clear()
    cache.set(text, marker)
  }
  return at === undefined ? marker : locateMarker(marker, at)
}

// Markers are shared by text (the cache above: a lock repeats a few hundred markers thousands of
// times), so a marker cannot hold the place it was written. A located marker is a shallow copy of
// the shared one that this table maps to it and to its place; evaluation runs on the shared one
// and puts the place on its errors.
const located = new WeakMap<Marker, { readonly shared: Marker; readonly at: Location }>()

/** `m` remembering where it was written: an error evaluating it names `at` (file, key path, line). */
export function locateMarker(m: Marker, at: Location): Marker {
  const shared = located.get(m)?.shared ?? m
  const copy = Object.freeze({ ...shared }) as Marker
  located.set(copy, { shared, at })
  return copy
}

/**
 * The marker that `m` is a located copy of, else `m`: the same for every occurrence of one marker
 * text, which is what caches of evaluation results should be keyed by.
 */
export function sharedMarker(m: Marker): Marker {
  return located.get(m)?.shared ?? m
}

/** Where `m` was written, when it was parsed with a location. */
export function markerLocation(m: Marker): Location | null {
  return located.get(m)?.at ?? null
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/** Variables packaging compares as PEP 440 versions when the other side is a valid specifier. */
const VERSION_VARIABLES = new Set<string>([
  'implementation_version',
  'platform_release',
  'python_full_version',
  'python_version'
])

type StringVariable = Exclude<MarkerVariable, 'extra' | 'extras' | 'dependency_groups'>

function lookup(env: MarkerEnvironment, key: string, c: MarkerComparison): string | ReadonlySet<string> {
  if (key === 'extras' || key === 'dependency_groups') return env[key]
  if (key === 'python_full_version') {
    // packaging's `_repair_python_full_version` for untagged builds ("3.13.0+").
    const v = env.python_full_version
    return v.endsWith('+') ? `${v}local` : v
  }
  if (KNOWN.has(key) && key !== 'extra') return env[key as StringVariable]
  throw new MarkerEvaluationError(
    `cannot evaluate ${quoteSource(markerToString(c))}: a comparison needs a marker variable on one side`,
    {},
    'compare a marker variable with a quoted string, as in sys_platform == "linux"'
  )
}

function undefinedComparison(c: MarkerComparison, lhs: string, rhs: string): never {
  throw new MarkerEvaluationError(
    `cannot evaluate ${quoteSource(markerToString(c))}: ${c.op} compares versions, and ` +
      `${JSON.stringify(lhs)} ${c.op} ${JSON.stringify(rhs)} is not a version comparison`,
    {},
    '~= and === apply to python_version, python_full_version, implementation_version and platform_release with a valid version'
  )
}

/** packaging's `_eval_op`. */
function evalOp(lhs: string, op: MarkerOperator, rhs: string, key: string, c: MarkerComparison): boolean {
  if (VERSION_VARIABLES.has(key)) {
    const spec = parseSpecifier(op + rhs)
    if (spec !== null) return specifierContains(spec, lhs)
  }
  switch (op) {
    case 'in':
      return rhs.includes(lhs)
    case 'not in':
      return !rhs.includes(lhs)
    case '<':
    case '>':
      return false
    case '<=':
    case '==':
    case '>=':
      return lhs === rhs
    case '!=':
      return lhs !== rhs
    default:
      return undefinedComparison(c, lhs, rhs)
  }
}

function evalComparison(c: MarkerComparison, env: MarkerEnvironment): boolean {
  const { left, op, right } = c
  const envOnLeft = left.kind === 'variable'
  const key = envOnLeft ? left.name : valueText(right)

  if (key === 'extra') {
    const other = envOnLeft ? valueText(right) : valueText(left)
    const one = (extra: string): boolean =>
      envOnLeft ? evalOp(extra, op, other, key, c) : evalOp(other, op, extra, key, c)
    if (env.extras.size === 0) return one('')
    const negative = op === '!=' || op === 'not in'
    let result = negative
    for (const extra of env.extras) {
      if (one(extra) !== negative) result = !negative
    }
    return result
  }

  const lhs = envOnLeft ? lookup(env, key, c) : valueText(left)
  const rhs = envOnLeft ? valueText(right) : lookup(env, key, c)
  if (typeof lhs !== 'string') {
    throw new MarkerEvaluationError(
      `cannot evaluate ${quoteSource(markerToString(c))}: ${key} is a set of names and can only be on the right`,
      {},
      `write "name" in ${key}`
    )
  }
  if (typeof rhs === 'string') return evalOp(lhs, op, rhs, key, c)
  // A literal against the `extras` / `dependency_groups` set (PEP 751), names normalized.
  const name = canonicalizeExtra(lhs)
  switch (op) {
    case 'in':
      return rhs.has(name)
    case 'not in':
      return !rhs.has(name)
    case '!=':
      return true // a string never equals a set
    case '~=':
    case '===':
      return undefinedComparison(c, lhs, key)
    default:
      return false
  }
}

/**
 * Evaluates a marker as packaging 26.2 does (`Marker.evaluate(env, context="lock_file")` with
 * `extras`/`dependency_groups` sets), `extra` being evaluated against the set of active extras.
 * Every comparison is evaluated, as packaging does, so a comparison that packaging refuses
 * (`os_name ~= "x"`, `"a" == "b"`, `extras == "x"`, `python_version ~= "3"`) throws a
 * MarkerEvaluationError wherever it is, located where the marker was written when it was parsed
 * with a location.
 */
export function evaluateMarker(m: Marker, env: MarkerEnvironment): boolean {
  const place = located.get(m)
  if (place === undefined) return evaluate(m, env)
  try {
    return evaluate(place.shared, env)
  } catch (e) {
    throw e instanceof MarkerEvaluationError && e.location.file === undefined
      ? new MarkerEvaluationError(e.message, { ...place.at, ...definedOnly(e.location) }, e.hint)
      : e
  }
}

function definedOnly(at: Location): Location {
  return Object.fromEntries(Object.entries(at).filter(([, v]) => v !== undefined)) as Location
}

function evaluate(m: Marker, env: MarkerEnvironment): boolean {
  switch (m.kind) {
    case 'compare':
      return evalComparison(m, env)
    case 'and': {
      let all = true
      for (const item of m.items) all = evaluate(item, env) && all
      return all
    }
    case 'or': {
      let some = false
      for (const item of m.items) some = evaluate(item, env) || some
      return some
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Printing and helpers

const isControl = (code: number): boolean => code < 0x20 || code === 0x7f

/** A string literal that reads back to `value`: double quotes, escapes only where needed. */
function quote(value: string): string {
  let plain = true
  let single = true
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i)
    if (code === 0x5c || isControl(code)) plain = single = false
    else if (code === 0x22) plain = false
    else if (code === 0x27) single = false
  }
  if (plain) return `"${value}"`
  if (single) return `'${value}'`
  let out = ''
  for (const ch of value) {
    const code = ch.charCodeAt(0)
    if (ch === '\\') out += '\\\\'
    else if (ch === '"' || isControl(code)) out += `\\x${code.toString(16).padStart(2, '0')}`
    else out += ch
  }
  return `"${out}"`
}

function printValue(v: MarkerValue): string {
  return v.kind === 'variable' ? v.name : quote(v.value)
}

/**
 * Canonical text: canonical variable names, double-quoted strings, single spaces, `and`/`or`
 * flattened, parentheses only around an `or` inside an `and`. Parsing it gives an equal tree.
 */
export function markerToString(m: Marker): string {
  switch (m.kind) {
    case 'compare':
      return `${printValue(m.left)} ${m.op} ${printValue(m.right)}`
    case 'and':
      return m.items
        .map((i) => (i.kind === 'or' ? `(${markerToString(i)})` : markerToString(i)))
        .join(' and ')
    case 'or':
      return m.items.map(markerToString).join(' or ')
  }
}

/** The environment variables a marker reads (canonical names). */
export function markerVariables(m: Marker): Set<MarkerVariable> {
  const found = new Set<MarkerVariable>()
  const walk = (n: Marker): void => {
    if (n.kind !== 'compare') {
      n.items.forEach(walk)
    } else if (n.left.kind === 'variable') {
      found.add(n.left.name)
    } else {
      // With a string on the left, packaging reads the variable named by the right side.
      const key = valueText(n.right)
      if (KNOWN.has(key)) found.add(key as MarkerVariable)
    }
  }
  walk(m)
  return found
}

/** Both hold; `null` means "always" (no marker). */
export function andMarkers(a: Marker | null, b: Marker | null): Marker | null {
  if (a === null) return b
  if (b === null) return a
  return combine('and', [a, b])
}

/** Either holds; `null` means "always" (no marker), so the result is then `null` too. */
export function orMarkers(a: Marker | null, b: Marker | null): Marker | null {
  if (a === null || b === null) return null
  return combine('or', [a, b])
}
