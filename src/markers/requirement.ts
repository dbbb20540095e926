// PEP 508 dependency specifiers (`name[extras] specifier ; marker`, `name @ url ; marker`),
// parsed with the grammar of packaging 26.2 (`_parse_requirement`), which also accepts the
// parenthesized form Poetry writes: `name (>=1.0,<2.0) ; python_version < "3.10"`.
import type { Location } from '../errors.js'
import { normalizeName, type NormalizedName } from '../names.js'
import { locateMarker, markerToString, parseMarkerExpression, type Marker } from './marker.js'
import { parseSpecifier, pyStrip, specifierToString } from '../pep440.js'
import { Tokenizer } from './tokenizer.js'

export interface Requirement {
  readonly name: NormalizedName
  /** The name as written. */
  readonly displayName: string
  /** Normalized, sorted, without duplicates. */
  readonly extras: readonly NormalizedName[]
  /**
   * The PEP 440 specifier set: each specifier as operator + version without spaces, joined by
   * commas in the order written; '' when there is none.
   */
  readonly specifier: string
  readonly url: string | null
  readonly marker: Marker | null
}

function parseExtras(tz: Tokenizer): string[] {
  const open = tz.position
  if (tz.take('LEFT_BRACKET') === null) return []
  tz.ws()
  const extras: string[] = []
  const first = tz.take('IDENTIFIER')
  if (first !== null) {
    extras.push(first)
    for (;;) {
      tz.ws()
      if (tz.peek('IDENTIFIER') !== null) tz.fail('expected a comma between extra names')
      if (tz.take('COMMA') === null) break
      tz.ws()
      const next = tz.take('IDENTIFIER')
      if (next === null) tz.fail("expected an extra name after ','")
      extras.push(next)
    }
  }
  tz.ws()
  if (tz.take('RIGHT_BRACKET') === null)
    tz.fail(`expected ']' to close the '[' opened at column ${tz.column(open)}`)
  return extras
}

/** `version_many`, optionally in parentheses; returns the raw text as packaging does. */
function parseSpecifierText(tz: Tokenizer): string {
  const open = tz.position
  const paren = tz.take('LEFT_PARENTHESIS') !== null
  tz.ws()
  let text = ''
  for (let spec = tz.take('SPECIFIER'); spec !== null; spec = tz.take('SPECIFIER')) {
    text += spec
    if (tz.peek('VERSION_PREFIX_TRAIL') !== null) {
      tz.fail("'.*' can only follow == or !=", tz.position, 'write ==X.* or !=X.* for prefix matching')
    }
    if (tz.peek('VERSION_LOCAL_LABEL_TRAIL') !== null) {
      tz.fail('a local version label (+...) can only follow == or !=')
    }
    tz.ws()
    if (tz.take('COMMA') === null) break
    text += ','
    tz.ws()
  }
  tz.ws()
  if (paren && tz.take('RIGHT_PARENTHESIS') === null) {
    tz.fail(`expected ')' to close the '(' opened at column ${tz.column(open)}`)
  }
  return text
}

function parseRequirementMarker(tz: Tokenizer, expected: string): Marker {
  if (tz.take('SEMICOLON') === null) tz.fail(`expected ${expected} or the end of the requirement`)
  const marker = parseMarkerExpression(tz)
  tz.ws()
  return marker
}

function normalizeSpecifiers(tz: Tokenizer, text: string, start: number): string {
  // packaging's SpecifierSet(text): split on commas, strip, drop empty parts.
  const parts: string[] = []
  for (const raw of text.split(',')) {
    const part = pyStrip(raw)
    if (part === '') continue
    const spec = parseSpecifier(part)
    if (spec === null) tz.fail(`invalid version specifier '${part}'`, start)
    parts.push(specifierToString(spec))
  }
  return parts.join(',')
}

const CACHE_LIMIT = 10_000
const cache = new Map<string, Requirement>()

/**
 * Parses a PEP 508 requirement. Errors are MarkerSyntaxErrors with the 1-based column of the
 * offending character, merged into `at`; with `at`, its marker also names it when evaluating
 * it fails (see locateMarker).
 */
export function parseRequirement(text: string, at?: Location): Requirement {
  const req = cache.get(text) ?? parseUncached(text, at)
  return at === undefined || req.marker === null
    ? req
    : Object.freeze({ ...req, marker: locateMarker(req.marker, at) })
}

function parseUncached(text: string, at: Location | undefined): Requirement {
  const tz: Tokenizer = new Tokenizer(text, at)
  tz.ws()
  const displayName = tz.take('IDENTIFIER')
  if (displayName === null) tz.fail('expected a package name at the start of the requirement')
  tz.ws()
  const extras = parseExtras(tz)
  tz.ws()

  let rawSpecifier = ''
  let specifierStart = 0
  let url: string | null = null
  let marker: Marker | null = null
  if (tz.take('AT') !== null) {
    tz.ws()
    url = tz.take('URL')
    if (url === null) tz.fail("expected a URL after '@'")
    if (!tz.atEnd()) {
      if (tz.take('WS') === null) tz.fail('expected whitespace after the URL')
      if (!tz.atEnd()) marker = parseRequirementMarker(tz, "';' (after the URL and a space)")
    }
  } else {
    specifierStart = tz.position
    rawSpecifier = parseSpecifierText(tz)
    tz.ws()
    if (!tz.atEnd()) {
      marker = parseRequirementMarker(
        tz,
        rawSpecifier ? "',' (within the version specifier), ';' (before a marker)" : "';' (before a marker)"
      )
    }
  }
  if (!tz.atEnd()) tz.fail("expected 'and', 'or' or the end of the requirement")
  const specifier = normalizeSpecifiers(tz, rawSpecifier, specifierStart)

  const req: Requirement = Object.freeze({
    name: normalizeName(displayName),
    displayName,
    extras: Object.freeze([...new Set(extras.map(normalizeName))].sort()),
    specifier,
    url,
    marker
  })
  if (cache.size >= CACHE_LIMIT) cache.clear()
  cache.set(text, req)
  return req
}

/** `name[extras]specifier`, ` @ url`, `; marker`, spaced as packaging prints requirements. */
export function formatRequirement(r: Requirement): string {
  let s = r.displayName
  if (r.extras.length > 0) s += `[${r.extras.join(',')}]`
  s += r.specifier
  if (r.url !== null) s += ` @ ${r.url}`
  if (r.marker !== null) s += `${r.url !== null ? ' ' : ''}; ${markerToString(r.marker)}`
  return s
}
