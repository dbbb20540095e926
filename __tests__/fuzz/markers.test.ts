// Property-based tests of the PEP 508 marker and requirement parsers: any text (random, or a real
// corpus marker mutated) parses or is refused with a MarkerSyntaxError that points into the text;
// what parses evaluates to a boolean or a MarkerEvaluationError (both ours, located when the
// parse was); printing and re-parsing gives the same tree. Inputs are short, runs are quick.
import { describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import { FastBuildError, MarkerSyntaxError } from '../../src/errors.js'
import {
  evaluateMarker,
  markerToString,
  MarkerEvaluationError,
  parseMarker,
  parseRequirement,
  withExtras
} from '../../src/markers/index.js'
import { corpusStrings } from '../support/markerCorpus.js'
import { baseEnvironments } from '../support/markerEnvironments.js'

const runs = (n: number) => Math.max(1, Math.round(n * Number(process.env['FAST_BUILD_FUZZ_SCALE'] ?? 1)))

const { markers: MARKERS, requirements: REQUIREMENTS } = corpusStrings()
const ENVS = baseEnvironments()
  .slice(0, 14)
  .flatMap((e) => [e.env, withExtras(e.env, ['a', 'test'])])

const PIECES = [
  'python_version',
  'python_full_version',
  'os_name',
  'os.name',
  'sys_platform',
  'platform_machine',
  'platform_release',
  'implementation_name',
  'extra',
  'extras',
  'dependency_groups',
  '"3.11"',
  "'3'",
  '"linux"',
  '"x86_64"',
  '"a"',
  '""',
  '"3.*"',
  '"1.0+local"',
  '==',
  '!=',
  '<',
  '<=',
  '>',
  '>=',
  '~=',
  '===',
  ' in ',
  ' not in ',
  ' and ',
  ' or ',
  '(',
  ')',
  ' ',
  '\t',
  '\\',
  '"\\x41"',
  '"\\N{DASH}"',
  '"\\u00e9"',
  ';',
  '@',
  '[',
  ']',
  ',',
  'é',
  '\n'
]

/** Text from marker-like pieces and arbitrary characters, at most ~60 characters. */
const markerText = fc
  .array(
    fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...PIECES) },
      fc.string({ maxLength: 3, unit: 'binary' })
    ),
    {
      maxLength: 12
    }
  )
  .map((parts) => parts.join(''))

/** A real marker with a few characters inserted, deleted or replaced. */
const mutatedMarker = fc
  .tuple(
    fc.constantFrom(...MARKERS),
    fc.array(
      fc.tuple(
        fc.nat(),
        fc.nat({ max: 2 }),
        fc.oneof(fc.constantFrom(...PIECES), fc.string({ maxLength: 2 }))
      ),
      {
        minLength: 1,
        maxLength: 3
      }
    )
  )
  .map(([m, edits]) =>
    edits.reduce((s, [at, kind, text]) => {
      const i = at % (s.length + 1)
      return kind === 0
        ? s.slice(0, i) + text + s.slice(i)
        : kind === 1
          ? s.slice(0, i) + s.slice(i + 1)
          : s.slice(0, i) + text + s.slice(i + 1)
    }, m)
  )

/** Parses, evaluates everywhere and round-trips `text`, allowing only our own errors. */
function exercise(text: string): void {
  const at = { file: 'uv.lock', keyPath: 'package[0].dependencies[0].marker' }
  let m
  try {
    m = parseMarker(text, at)
  } catch (e) {
    if (!(e instanceof MarkerSyntaxError)) throw e
    expect(e.location).toMatchObject(at)
    // The column points into the text (or just past its end).
    expect(e.location.column).toBeGreaterThanOrEqual(1)
    expect(e.location.column).toBeLessThanOrEqual([...text].length + 1)
    return
  }
  const printed = markerToString(m)
  expect(markerToString(parseMarker(printed))).toBe(printed)
  for (const env of ENVS) {
    try {
      expect(typeof evaluateMarker(m, env)).toBe('boolean')
    } catch (e) {
      if (!(e instanceof MarkerEvaluationError)) throw e
      // Evaluated from a located marker: the error names where it was written.
      expect(e.location).toMatchObject(at)
    }
  }
}

describe('marker parser and evaluator on random input', () => {
  it('pieces of markers: parsed or refused with a located MarkerSyntaxError; evaluation is ours too', () => {
    fc.assert(fc.property(markerText, exercise), { numRuns: runs(1500) })
  })

  it('corpus markers mutated', () => {
    fc.assert(fc.property(mutatedMarker, exercise), { numRuns: runs(1000) })
  })

  it('requirements (corpus ones mutated, and pieces): parsed or refused with our error', () => {
    const mutatedRequirement = fc
      .tuple(
        fc.constantFrom(...REQUIREMENTS),
        fc.nat(),
        fc.oneof(fc.constantFrom(...PIECES), fc.string({ maxLength: 3 }))
      )
      .map(([r, at, text]) => r.slice(0, at % (r.length + 1)) + text + r.slice(at % (r.length + 1)))
    fc.assert(
      fc.property(fc.oneof(mutatedRequirement, markerText), (text) => {
        try {
          const req = parseRequirement(text, { file: 'pyproject.toml', keyPath: 'project.dependencies[0]' })
          if (req.marker)
            for (const env of ENVS.slice(0, 4)) {
              try {
                evaluateMarker(req.marker, env)
              } catch (e) {
                if (!(e instanceof MarkerEvaluationError)) throw e
                expect(e.location.file).toBe('pyproject.toml')
              }
            }
        } catch (e) {
          if (!(e instanceof FastBuildError)) throw e
        }
      }),
      { numRuns: runs(1000) }
    )
  })
})
