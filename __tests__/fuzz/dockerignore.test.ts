// Property-based tests of the `.dockerignore` matcher: any file parses or is refused with a
// SourceError naming its line; matching any path gives an answer (our patterns compile to regular
// expressions, and a pattern must not make a match blow up); and the rules every pattern obeys
// hold for random names: a literal name excludes itself and everything below it, `!` brings it
// back, an escaped name matches only itself, the spelling of a path (`./a//b/`) does not matter.
import { describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import { cleanPath, isExcluded, parseDockerignore } from '../../src/pipeline/dockerignore.js'
import { SourceError } from '../../src/pipeline/errors.js'

const runs = (n: number) => Math.max(1, Math.round(n * Number(process.env['FAST_BUILD_FUZZ_SCALE'] ?? 1)))

const PIECES = [
  '*',
  '**',
  '?',
  '/',
  '.',
  '..',
  '!',
  '#',
  '\\',
  '[',
  ']',
  '^',
  '-',
  'a',
  'b',
  'z',
  '.py',
  'src',
  ' ',
  '\t',
  '[a-z]',
  '[^/]',
  '[[:alpha:]]',
  '\\d',
  '\\*',
  '{',
  '}',
  '$',
  '(',
  '|',
  '+',
  'é',
  '\r'
]

const line = fc
  .array(
    fc.oneof(
      { weight: 5, arbitrary: fc.constantFrom(...PIECES) },
      fc.string({ maxLength: 2, unit: 'binary' })
    ),
    {
      maxLength: 8
    }
  )
  .map((p) => p.join(''))

const file = fc.array(line, { maxLength: 6 }).map((lines) => lines.join('\n'))

/** A name segment with characters that mean something in patterns (but no `/`). */
const segment = fc
  .array(
    fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom('a', 'b', 'x', '.', '-', '_', '1') },
      fc.constantFrom('*', '?', '[', ']', '\\', '!', '#', ' ', 'é', '^')
    ),
    {
      minLength: 1,
      maxLength: 6
    }
  )
  .map((c) => c.join(''))
  .filter((s) => s !== '.' && s !== '..')

const relPath = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join('/'))

/** A name whose every character is plain: no wildcard, escape, class, comment or negation. */
const plainSegment = fc
  .array(fc.constantFrom('a', 'b', 'x', '-', '_', '1', 'é'), { minLength: 1, maxLength: 6 })
  .map((c) => c.join(''))
const plainPath = fc.array(plainSegment, { minLength: 1, maxLength: 4 }).map((s) => s.join('/'))

describe('.dockerignore on random input', () => {
  it('any file: parsed, or a SourceError naming a line of it; any path: an answer', () => {
    fc.assert(
      fc.property(file, fc.array(relPath, { maxLength: 5 }), (text, paths) => {
        let ignore
        try {
          ignore = parseDockerignore(text, 'svc/.dockerignore')
        } catch (e) {
          if (!(e instanceof SourceError)) throw e
          expect(e.location.file).toBe('svc/.dockerignore')
          expect(e.location.line).toBeGreaterThanOrEqual(1)
          expect(e.location.line).toBeLessThanOrEqual(text.split('\n').length)
          return
        }
        expect(isExcluded(ignore, '.')).toBe(false)
        expect(isExcluded(ignore, '')).toBe(false)
        for (const p of paths) {
          const answer = isExcluded(ignore, p)
          expect(typeof answer).toBe('boolean')
          // The spelling of a path does not change the answer.
          expect(isExcluded(ignore, `./${p}`)).toBe(answer)
          expect(isExcluded(ignore, `${p}/`)).toBe(answer)
          expect(isExcluded(ignore, p.replace(/\//g, '//'))).toBe(answer)
        }
      }),
      { numRuns: runs(1500) }
    )
  })

  it('cleanPath is idempotent', () => {
    fc.assert(
      fc.property(fc.oneof(relPath, line), (p) => {
        expect(cleanPath(cleanPath(p))).toBe(cleanPath(p))
      }),
      { numRuns: runs(500) }
    )
  })

  it('a literal name excludes itself and what is below it; `!name` brings it back', () => {
    fc.assert(
      fc.property(plainPath, plainSegment, (name, below) => {
        const ignore = parseDockerignore(`${name}\n`)
        expect(isExcluded(ignore, name)).toBe(true)
        expect(isExcluded(ignore, `${name}/${below}`)).toBe(true)
        expect(isExcluded(ignore, `${name}${below}`)).toBe(false)
        const back = parseDockerignore(`${name}\n!${name}\n`)
        expect(isExcluded(back, name)).toBe(false)
        expect(isExcluded(back, `${name}/${below}`)).toBe(false)
      }),
      { numRuns: runs(300) }
    )
  })

  it('a name with every special character escaped matches that name only', () => {
    fc.assert(
      fc.property(relPath, relPath, (name, other) => {
        // `^` too: Docker's matcher leaves it to Go's regexp, where it is an anchor.
        const escaped = name.replace(/[*?[\]\\^]/g, '\\$&')
        // A leading `#` or `!` would make a comment or an exception: escape it too.
        const pattern = /^[#!]/.test(escaped) ? `\\${escaped}` : escaped
        let ignore
        try {
          ignore = parseDockerignore(pattern)
        } catch (e) {
          // Trimming can leave an escape without its character (`a\ ` → `a\`): refused, ours.
          expect(e).toBeInstanceOf(SourceError)
          return
        }
        if (ignore.patterns.length === 0) return // all whitespace
        if (name.trim() !== name || name.split('/').some((s) => s.trim() !== s)) return // trimmed
        expect(isExcluded(ignore, name)).toBe(true)
        if (cleanPath(other) !== cleanPath(name) && !cleanPath(other).startsWith(`${cleanPath(name)}/`))
          expect(isExcluded(ignore, other)).toBe(false)
      }),
      { numRuns: runs(500) }
    )
  })

  it('star-heavy patterns on long names: the answer of a plain wildcard matcher, found without backtracking', () => {
    // A reference for `*` and `?` within one name (dynamic programming, no regular expression).
    const glob = (pattern: string, name: string): boolean => {
      let row = [true, ...Array.from(name, () => false)]
      for (const pc of pattern) {
        const next = [pc === '*' && row[0]!]
        for (let j = 1; j <= name.length; j++)
          next[j] = pc === '*' ? next[j - 1]! || row[j]! : row[j - 1]! && (pc === '?' || pc === name[j - 1])
        row = next
      }
      return row[name.length]!
    }
    const pattern = fc
      .array(fc.constantFrom('*', 'a', 'b', '?'), { minLength: 1, maxLength: 14 })
      .map((c) => c.join(''))
      .filter((p) => !p.includes('**'))
    const name = fc
      .array(fc.constantFrom('a', 'a', 'a', 'b'), { minLength: 1, maxLength: 120 })
      .map((c) => c.join(''))
    fc.assert(
      fc.property(pattern, name, (p, n) => {
        expect(isExcluded(parseDockerignore(p), n)).toBe(glob(p, n))
      }),
      { numRuns: runs(400) }
    )
  })

  it('`*` excludes every top-level name and `**` every path', () => {
    fc.assert(
      fc.property(relPath, (p) => {
        expect(isExcluded(parseDockerignore('**'), p)).toBe(true)
        // `*` matches the first segment; its parent rule takes everything below.
        expect(isExcluded(parseDockerignore('*'), p)).toBe(true)
      }),
      { numRuns: runs(300) }
    )
  })
})
