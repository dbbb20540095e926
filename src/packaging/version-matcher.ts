// Version constraints from PEP 440 specifiers and Poetry's constraint syntax, as predicates.
// They only choose among packages a lock already pinned (several versions of one name), so an
// unreadable constraint matches everything rather than failing the plan.
import { specifierSetContains } from '../pep440.js'

export interface VersionMatcher {
  /** The constraint as written, for messages. */
  readonly text: string
  matches(version: string): boolean
}

const ANY: VersionMatcher = { text: '*', matches: () => true }

/** A PEP 440 specifier set (`>=1.2,<2`). Empty means any version. */
export function pep440Matcher(specifier: string): VersionMatcher | null {
  const text = specifier.trim()
  if (text === '' || text === '*') return null
  return {
    text,
    // An invalid version or specifier cannot rule a candidate out (see above).
    matches: (v) => {
      try {
        return specifierSetContains(text, v) ?? true
      } catch {
        return true
      }
    }
  }
}

/**
 * Poetry's constraint syntax (poetry-core `parse_constraint`): `||` alternatives of comma- or
 * space-separated clauses; `^` caret and `~` tilde ranges; `1.2.*` wildcards; a bare version is
 * an exact pin.
 */
export function poetryMatcher(constraint: string): VersionMatcher | null {
  const text = constraint.trim()
  if (text === '' || text === '*') return null
  const alternatives = poetryToPep440(text)
  if (alternatives === null) return ANY // unreadable: match all, see above
  if (alternatives.some((a) => a.length === 0)) return null
  const matchers = alternatives.map((a) => pep440Matcher(a.join(','))!)
  return { text, matches: (v) => matchers.some((m) => m.matches(v)) }
}

/**
 * A Poetry constraint as alternatives (OR) of PEP 440 clauses (AND); an empty alternative
 * means any version. Null when a clause cannot be read.
 */
export function poetryToPep440(constraint: string): string[][] | null {
  const alternatives: string[][] = []
  for (const alt of constraint.trim().split(/\s*\|\|?\s*/)) {
    const clauses = alt
      .trim()
      .replace(/([<>=!~^]+)\s+(?=\d)/g, '$1') // ">= 1.0" → ">=1.0"
      .split(/\s*,\s*|\s+/)
      .filter((c) => c !== '')
    const pep: string[] = []
    for (const clause of clauses) {
      const converted = poetryClause(clause)
      if (converted === null) return null
      if (converted !== '') pep.push(...converted.split(','))
    }
    alternatives.push(pep)
  }
  return alternatives
}

function release(v: string): number[] | null {
  const m = /^v?(\d+(?:\.\d+)*)/.exec(v)
  return m ? m[1]!.split('.').map(Number) : null
}

/** One Poetry clause → an equivalent PEP 440 clause ('' for any, null when unreadable). */
function poetryClause(clause: string): string | null {
  if (clause === '*' || clause === 'x' || clause === 'X') return ''
  if (clause.startsWith('^')) {
    const v = clause.slice(1)
    const r = release(v)
    if (!r) return null
    const [major = 0, minor = 0] = r
    let upper: string
    if (major > 0 || r.length === 1) upper = `${major + 1}.0.0`
    else if (minor > 0 || r.length === 2) upper = `0.${minor + 1}.0`
    else upper = `0.0.${(r[2] ?? 0) + 1}`
    return `>=${v},<${upper}`
  }
  if (clause.startsWith('~=')) return clause
  if (clause.startsWith('~')) {
    const v = clause.slice(1)
    const r = release(v)
    if (!r) return null
    const upper = r.length === 1 ? `${r[0]! + 1}.0.0` : `${r[0]}.${r[1]! + 1}.0`
    return `>=${v},<${upper}`
  }
  if (/^(==|!=|>=|<=|>|<|===)/.test(clause)) return clause
  if (clause.startsWith('=')) return `=${clause}`
  // "1.2.*" / "1.2.x" wildcard, or a bare version meaning exactly that version.
  const wildcard = clause.replace(/\.[xX]$/, '.*')
  if (release(wildcard)) return `==${wildcard}`
  return null
}
