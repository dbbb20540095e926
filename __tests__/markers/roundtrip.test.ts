// markerToString prints what parseMarker reads back to the same meaning, on every corpus
// marker in every test environment, and on generated trees (values with quotes, backslashes,
// control characters and any Unicode).
import { describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import {
  evaluateMarker,
  MarkerEvaluationError,
  markerToString,
  parseMarker,
  type Marker,
  type MarkerEnvironment,
  type MarkerOperator,
  type MarkerValue,
  type MarkerVariable
} from '../../src/markers/index.js'
import { corpusStrings } from '../support/markerCorpus.js'
import { baseEnvironments, withExtrasChoices } from '../support/markerEnvironments.js'

const environments = withExtrasChoices(baseEnvironments(), [
  { name: 'none', extras: [], groups: [] },
  { name: 'ml', extras: ['ml'], groups: [] },
  {
    name: 'several',
    extras: ['ml', 'dev', 'extra-11-pydantic-ai-mcp-tasks', 'group-11-pydantic-ai-dev', 'torch', 'cuda'],
    groups: ['dev']
  }
]).map((e) => e.env)

function outcomes(m: Marker, envs: MarkerEnvironment[]): string {
  return envs
    .map((env) => {
      try {
        return evaluateMarker(m, env) ? 'T' : 'F'
      } catch (e) {
        if (e instanceof MarkerEvaluationError) return 'E'
        throw e
      }
    })
    .join('')
}

describe('markerToString round trip', () => {
  it('keeps the meaning of every corpus marker in every environment', () => {
    const markers = corpusStrings().markers.map((text) => parseMarker(text))
    expect(markers.length).toBeGreaterThan(300)
    for (const m of markers) {
      const printed = markerToString(m)
      const again = parseMarker(printed)
      expect(outcomes(again, environments)).toBe(outcomes(m, environments))
      expect(again).toEqual(m)
      expect(markerToString(again)).toBe(printed)
    }
  })

  const VARIABLES: MarkerVariable[] = [
    'python_version',
    'python_full_version',
    'os_name',
    'sys_platform',
    'platform_machine',
    'implementation_name',
    'extra',
    'extras'
  ]
  const OPS: MarkerOperator[] = ['<', '<=', '!=', '==', '>=', '>', '~=', '===', 'in', 'not in']
  const stringArb = fc.oneof(
    fc.constantFrom('3.8', '3.11.*', 'linux', 'x86_64', 'ml', '"', "'", '\\', '\\x41', '\t', '\n', '\0', ''),
    fc.string({ unit: 'binary', maxLength: 12 })
  )
  const valueArb: fc.Arbitrary<MarkerValue> = fc.oneof(
    fc.constantFrom(...VARIABLES).map((name) => ({ kind: 'variable' as const, name })),
    stringArb.map((value) => ({ kind: 'string' as const, value }))
  )
  /** The parser turns the other side of an `extra` comparison into a normalized name. */
  const text = (v: MarkerValue): string => (v.kind === 'variable' ? v.name : v.value)
  const extraName = (v: MarkerValue): MarkerValue => ({
    kind: 'string',
    value: text(v)
      .toLowerCase()
      .replace(/[-_.]+/g, '-')
  })
  function asParsed(left: MarkerValue, right: MarkerValue): { left: MarkerValue; right: MarkerValue } {
    if (left.kind === 'variable' && left.name === 'extra') return { left, right: extraName(right) }
    if (right.kind === 'variable' && right.name === 'extra') return { left: extraName(left), right }
    return { left, right }
  }
  const { tree } = fc.letrec<{ tree: Marker }>((tie) => ({
    tree: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc
        .record({ left: valueArb, op: fc.constantFrom(...OPS), right: valueArb })
        .map((c): Marker => ({ kind: 'compare', ...asParsed(c.left, c.right), op: c.op })),
      fc
        .record({
          kind: fc.constantFrom('and' as const, 'or' as const),
          items: fc.array(tie('tree'), { minLength: 2, maxLength: 3 })
        })
        .map((n): Marker => n)
    )
  }))

  it('reads back generated trees with the same meaning, and prints them identically again', () => {
    const envs = environments.slice(0, 6)
    fc.assert(
      fc.property(tree, (m) => {
        const printed = markerToString(m)
        const again = parseMarker(printed)
        expect(markerToString(again)).toBe(printed)
        expect(outcomes(again, envs)).toBe(outcomes(m, envs))
      }),
      { seed: 508, numRuns: 3000 }
    )
  })

  it('keeps every string value exactly', () => {
    fc.assert(
      fc.property(stringArb, (value) => {
        const m = parseMarker(
          markerToString({
            kind: 'compare',
            left: { kind: 'variable', name: 'os_name' },
            op: '==',
            right: { kind: 'string', value }
          })
        )
        expect(m).toEqual({
          kind: 'compare',
          left: { kind: 'variable', name: 'os_name' },
          op: '==',
          right: { kind: 'string', value }
        })
      }),
      { seed: 685, numRuns: 3000 }
    )
  })
})
