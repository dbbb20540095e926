// PEP 440 versions and version specifiers, as packaging 26.2 implements them: `Version(...)`,
// `Specifier(...)` and `Specifier.contains(v, prereleases=True)`. Markers need exactly these
// semantics; the rest of fast-build (choosing among locked versions) uses the same code.
//
// Why not @renovatebot/pep440: checked against packaging 26.2 it disagrees where markers
// need exactness: `Specifier(">1.0.dev0").contains("1.0")` (packaging: true), `~=v1.0`
// (packaging never matches: its prefix is built from the raw string), and it accepts specifier
// strings packaging refuses (`==1.0a1.*`), which decides between a version comparison and
// packaging's plain string fallback. So this is a line-by-line port of the parts markers use;
// the differential test runs it against packaging on generated versions and specifiers.
import { MarkerEvaluationError } from './errors.js'

/** Python's `\s` / `str.isspace()` for str patterns (Unicode 14, as in CPython 3.11). */
export const PY_SPACE =
  '\\t\\n\\x0b\\x0c\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000'

const STRIP = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'g')

/** Python `str.strip()` (JavaScript's `trim` also removes U+FEFF and misses U+001C..U+001F, U+0085). */
export function pyStrip(s: string): string {
  return s.replace(STRIP, '')
}

export type PreLetter = 'a' | 'b' | 'rc'

/** A parsed version. Numbers are decimal digit strings without leading zeros (Python ints are unbounded). */
export interface Version {
  readonly epoch: string
  readonly release: readonly string[]
  readonly pre: readonly [PreLetter, string] | null
  readonly post: string | null
  readonly dev: string | null
  /** Local segments: numeric ones without leading zeros, the others lowercased. */
  readonly local: readonly string[] | null
}

/** CPython refuses `int()` of more than 4300 digits (sys.int_info.default_max_str_digits). */
const MAX_INT_DIGITS = 4300

function num(digits: string): string {
  if (digits.length > MAX_INT_DIGITS) {
    throw new MarkerEvaluationError(
      `a version number has ${digits.length} digits; Python refuses integers longer than ${MAX_INT_DIGITS} digits`
    )
  }
  const s = digits.replace(/^0+/, '')
  return s === '' ? '0' : s
}

const isDigits = (s: string): boolean => /^[0-9]+$/.test(s)

function compareNum(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1
  return a < b ? -1 : a > b ? 1 : 0
}

const LETTERS: Record<string, string> = {
  alpha: 'a',
  beta: 'b',
  c: 'rc',
  pre: 'rc',
  preview: 'rc',
  rev: 'post',
  r: 'post'
}

function normalizeLetter(l: string): string {
  const lower = l.toLowerCase()
  return LETTERS[lower] ?? lower
}

const S = `[${PY_SPACE}]`
// packaging's VERSION_PATTERN. It uses possessive quantifiers on CPython >= 3.11.5; none of them
// changes what a full match accepts (nothing after a possessive part needs what it consumed).
const VERSION_RE = new RegExp(
  `^${S}*v?(?:([0-9]+)!)?([0-9]+(?:\\.[0-9]+)*)` +
    `(?:[._-]?(alpha|a|beta|b|preview|pre|c|rc)[._-]?([0-9]+)?)?` +
    `(?:-([0-9]+)|[._-]?(post|rev|r)[._-]?([0-9]+)?)?` +
    `(?:[._-]?(dev)[._-]?([0-9]+)?)?` +
    `(?:\\+([a-z0-9]+(?:[._-][a-z0-9]+)*))?${S}*$`,
  'i'
)

const CACHE_LIMIT = 20_000
const versionCache = new Map<string, Version | null>()

function remember<K, V>(cache: Map<K, V>, key: K, value: V): V {
  if (cache.size >= CACHE_LIMIT) cache.clear()
  cache.set(key, value)
  return value
}

/** `Version(text)`, or null where packaging raises InvalidVersion. */
export function parseVersion(text: string): Version | null {
  const hit = versionCache.get(text)
  if (hit !== undefined || versionCache.has(text)) return hit ?? null
  return remember(versionCache, text, parseVersionUncached(text))
}

function parseVersionUncached(text: string): Version | null {
  // packaging's fast path for digits and dots only (the empty string included).
  if (/^[0-9.]*$/.test(text)) {
    const parts = text.split('.')
    if (parts.includes('')) return null
    return { epoch: '0', release: parts.map(num), pre: null, post: null, dev: null, local: null }
  }
  const m = VERSION_RE.exec(text)
  if (!m) return null
  const [, epoch, release, preL, preN, postN1, postL, postN2, devL, devN, local] = m
  return {
    epoch: epoch ? num(epoch) : '0',
    release: release!.split('.').map(num),
    pre: preL ? [normalizeLetter(preL) as PreLetter, num(preN ?? '0')] : null,
    post: postL ? num(postN2 ?? '0') : postN1 ? num(postN1) : null,
    dev: devL ? num(devN ?? '0') : null,
    local: local
      ? local.split(/[._-]/).map((part) => (/^[0-9]+$/.test(part) ? num(part) : part.toLowerCase()))
      : null
  }
}

export function isPrerelease(v: Version): boolean {
  return v.dev !== null || v.pre !== null
}

/** `str(Version)`: the normalized form; `trimZeros` is canonicalize_version's strip_trailing_zero. */
export function versionToString(v: Version, trimZeros = false): string {
  let release = v.release
  if (trimZeros) {
    let i = release.length
    while (i > 1 && release[i - 1] === '0') i--
    release = release.slice(0, i)
  }
  let s = release.join('.')
  if (v.epoch !== '0') s = `${v.epoch}!${s}`
  if (v.pre) s += v.pre[0] + v.pre[1]
  if (v.post !== null) s += `.post${v.post}`
  if (v.dev !== null) s += `.dev${v.dev}`
  if (v.local !== null) s += `+${v.local.join('.')}`
  return s
}

function trimmedLength(release: readonly string[]): number {
  let i = release.length
  while (i > 0 && release[i - 1] === '0') i--
  return i
}

const PRE_RANK: Record<PreLetter, number> = { a: 0, b: 1, rc: 2 }

/** packaging's `_cmpkey` suffix: (pre rank, pre n, post rank, post n, dev rank, dev n). */
function suffix(v: Version): [number, string, number, string, number, string] {
  const preRank = v.pre ? PRE_RANK[v.pre[0]] : v.post === null && v.dev !== null ? -1 : 3
  return [
    preRank,
    v.pre ? v.pre[1] : '0',
    v.post === null ? 0 : 1,
    v.post ?? '0',
    v.dev === null ? 1 : 0,
    v.dev ?? '0'
  ]
}

/** PEP 440 ordering, exactly as packaging's `_cmpkey` tuples compare. */
export function compareVersions(a: Version, b: Version): number {
  let c = compareNum(a.epoch, b.epoch)
  if (c) return c
  const la = trimmedLength(a.release)
  const lb = trimmedLength(b.release)
  for (let i = 0; i < Math.min(la, lb); i++) {
    c = compareNum(a.release[i]!, b.release[i]!)
    if (c) return c
  }
  if (la !== lb) return la < lb ? -1 : 1
  const sa = suffix(a)
  const sb = suffix(b)
  for (let i = 0; i < 6; i++) {
    const x = sa[i]!
    const y = sb[i]!
    c = typeof x === 'number' ? x - (y as number) : compareNum(x, y as string)
    if (c) return c < 0 ? -1 : 1
  }
  if (a.local === null || b.local === null) return a.local === b.local ? 0 : a.local === null ? -1 : 1
  for (let i = 0; i < Math.min(a.local.length, b.local.length); i++) {
    const x = a.local[i]!
    const y = b.local[i]!
    const xn = isDigits(x)
    const yn = isDigits(y)
    // Strings sort before numbers; numbers numerically; strings by code point.
    c = xn && yn ? compareNum(x, y) : xn !== yn ? (xn ? 1 : -1) : x < y ? -1 : x > y ? 1 : 0
    if (c) return c
  }
  return a.local.length === b.local.length ? 0 : a.local.length < b.local.length ? -1 : 1
}

const withoutLocal = (v: Version): Version => (v.local === null ? v : { ...v, local: null })

// ---------------------------------------------------------------------------------------------
// Specifier

export type SpecifierOperator = '~=' | '==' | '!=' | '<=' | '>=' | '<' | '>' | '==='

export interface Specifier {
  readonly operator: SpecifierOperator
  /** The version text after the operator, stripped (not normalized: `==3.8.*` keeps its `.*`). */
  readonly version: string
}

const PRE = '(?:[-_.]?(?:alpha|beta|preview|pre|a|b|c|rc)[-_.]?[0-9]*)?'
const POST = '(?:-[0-9]+|[-_.]?(?:post|rev|r)[-_.]?[0-9]*)?'
const DEV = '(?:[-_.]?dev[-_.]?[0-9]*)?'
const LOCAL = '(?:\\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?'

/** packaging's `Specifier._specifier_regex_str` (compiled with IGNORECASE). */
export const SPECIFIER_PATTERN =
  `(?:===${S}*[^${PY_SPACE};)]*` +
  `|(?:==|!=)${S}*v?(?:[0-9]+!)?[0-9]+(?:\\.[0-9]+)*(?:\\.\\*|${PRE}${POST}${DEV}${LOCAL})?` +
  `|~=${S}*v?(?:[0-9]+!)?[0-9]+(?:\\.[0-9]+)+${PRE}${POST}${DEV}` +
  `|(?:<=|>=|<|>)${S}*v?(?:[0-9]+!)?[0-9]+(?:\\.[0-9]+)*${PRE}${POST}${DEV})`

const SPECIFIER_RE = new RegExp(`^${S}*${SPECIFIER_PATTERN}${S}*$`, 'i')

const specifierCache = new Map<string, Specifier | null>()

/** `Specifier(text)`, or null where packaging raises InvalidSpecifier. */
export function parseSpecifier(text: string): Specifier | null {
  const hit = specifierCache.get(text)
  if (hit !== undefined || specifierCache.has(text)) return hit ?? null
  let spec: Specifier | null = null
  if (SPECIFIER_RE.test(text)) {
    const s = pyStrip(text)
    const len = s.startsWith('===') ? 3 : /^(?:~=|==|!=|<=|>=)/.test(s) ? 2 : 1
    spec = { operator: s.slice(0, len) as SpecifierOperator, version: pyStrip(s.slice(len)) }
  }
  return remember(specifierCache, text, spec)
}

export function specifierToString(s: Specifier): string {
  return s.operator + s.version
}

/** `Specifier.contains(item, prereleases=True)`. */
export function specifierContains(spec: Specifier, item: string): boolean {
  const prospective = parseVersion(item)
  if (spec.operator === '===') return item.toLowerCase() === spec.version.toLowerCase()
  if (prospective === null) return false
  switch (spec.operator) {
    case '~=':
      return compareCompatible(prospective, spec.version)
    case '==':
      return compareEqual(prospective, spec.version)
    case '!=':
      return !compareEqual(prospective, spec.version)
    case '<=':
      return compareVersions(withoutLocal(prospective), requireVersion(spec.version)) <= 0
    case '>=':
      return compareVersions(withoutLocal(prospective), requireVersion(spec.version)) >= 0
    case '<':
      return compareLessThan(prospective, requireVersion(spec.version))
    case '>':
      return compareGreaterThan(prospective, requireVersion(spec.version))
  }
}

function requireVersion(text: string): Version {
  const v = parseVersion(text)
  if (v === null) throw new MarkerEvaluationError(`${JSON.stringify(text)} is not a valid version`)
  return v
}

/** `_version_split`: epoch first, then the dot parts, with `1rc1` split into `1`, `rc1`. */
function versionSplit(version: string): string[] {
  const bang = version.lastIndexOf('!')
  const result = [bang < 0 ? '0' : version.slice(0, bang) || '0']
  for (const item of version.slice(bang + 1).split('.')) {
    const m = /^([0-9]+)((?:a|b|c|rc)[0-9]+)$/.exec(item)
    if (m) result.push(m[1]!, m[2]!)
    else result.push(item)
  }
  return result
}

function numericPrefixLength(split: readonly string[]): number {
  let n = 0
  while (n < split.length && isDigits(split[n]!)) n++
  return n
}

function canonicalizeVersionText(text: string): string {
  const v = parseVersion(text)
  return v === null ? text : versionToString(v)
}

function compareEqual(prospective: Version, spec: string): boolean {
  if (spec.endsWith('.*')) {
    const splitSpec = versionSplit(canonicalizeVersionText(spec.slice(0, -2)))
    const specNumeric = numericPrefixLength(splitSpec)
    let split = versionSplit(versionToString(withoutLocal(prospective)))
    const numeric = numericPrefixLength(split)
    if (specNumeric > numeric) {
      split = [
        ...split.slice(0, numeric),
        ...Array<string>(specNumeric - numeric).fill('0'),
        ...split.slice(numeric)
      ]
    }
    const shortened = split.slice(0, splitSpec.length)
    return shortened.length === splitSpec.length && shortened.every((p, i) => p === splitSpec[i])
  }
  const specVersion = requireVersion(spec)
  const p = specVersion.local !== null ? prospective : withoutLocal(prospective)
  return compareVersions(p, specVersion) === 0
}

const isSuffix = (segment: string): boolean => /^(?:dev|a|b|rc|post)/.test(segment)

function compareCompatible(prospective: Version, spec: string): boolean {
  const parts = versionSplit(spec)
  let n = 0
  while (n < parts.length && !isSuffix(parts[n]!)) n++
  // packaging's `_version_join(components[:-1])` fails to unpack an empty list.
  if (n <= 1) throw new MarkerEvaluationError(`cannot take the release prefix of ~=${spec}`)
  const prefix = parts.slice(0, n - 1)
  const prefixText = `${prefix[0]}!${prefix.slice(1).join('.')}.*`
  return (
    compareVersions(withoutLocal(prospective), requireVersion(spec)) >= 0 &&
    compareEqual(prospective, prefixText)
  )
}

function compareLessThan(prospective: Version, spec: Version): boolean {
  if (compareVersions(prospective, spec) >= 0) return false
  // "<V MUST NOT allow a pre-release of V unless V is itself a pre-release."
  if (!isPrerelease(spec) && isPrerelease(prospective)) {
    const earliest: Version = { ...spec, dev: '0', local: null }
    if (compareVersions(prospective, earliest) >= 0) return false
  }
  return true
}

function compareGreaterThan(prospective: Version, spec: Version): boolean {
  if (compareVersions(prospective, spec) <= 0) return false
  // ">V MUST NOT allow a post-release of V unless V is itself a post-release."
  if (spec.post === null && prospective.post !== null) {
    const base: Version = { ...prospective, post: null, dev: null, local: null }
    if (compareVersions(base, spec) === 0) return false
  }
  // ">V MUST NOT match a local version of V."
  if (prospective.local !== null && compareVersions(withoutLocal(prospective), spec) === 0) return false
  return true
}

/**
 * `SpecifierSet(text).contains(item, prereleases=True)`: every comma-separated specifier holds
 * (an empty set holds for any version). Null when a part is not a valid specifier.
 */
export function specifierSetContains(text: string, item: string): boolean | null {
  for (const part of text.split(',')) {
    if (pyStrip(part) === '') continue
    const spec = parseSpecifier(part)
    if (spec === null) return null
    if (!specifierContains(spec, item)) return false
  }
  return true
}

/** Versions equal under PEP 440 (`1.0 == 1.0.0`, `1.0+local` differs from `1.0`); false if either is invalid. */
export function versionsEqual(a: string, b: string): boolean {
  const x = parseVersion(a)
  const y = parseVersion(b)
  return x !== null && y !== null && compareVersions(x, y) === 0
}
