import { describe, expect, it } from '@jest/globals'
import { reasonsFor, summaryRow, summaryTable } from '../../src/github/summary.js'
import type { PlanJson } from '../../src/plan/plan.js'

type V = PlanJson['variants'][number]

const variant = (hash: string, packages: [string, string][], baseImage = 'python@sha256:aa'): V => ({
  name: 'ml',
  hash,
  python: '3.12',
  baseImage,
  groups: ['main'],
  extras: ['ml'],
  platforms: [
    {
      platform: 'linux/amd64',
      packages: packages.map(([name, version]) => ({ name, version, source: 'pypi' }))
    }
  ],
  local: [],
  runtime: []
})

describe('reasonsFor', () => {
  const before = variant('h1', [
    ['torch', '2.5.1'],
    ['numpy', '2.1.0']
  ])
  it('says what changed since the last build of the variant', () => {
    const after = variant('h2', [
      ['torch', '2.6.0'],
      ['numpy', '2.1.0'],
      ['einops', '0.8.0']
    ])
    expect(reasonsFor('full', before, after)).toEqual(['+ einops 0.8.0', 'torch 2.5.1 → 2.6.0'])
  })
  it('names a new base image, an invalidation, a first build, a deps image gone from the registry', () => {
    expect(
      reasonsFor(
        'full',
        before,
        variant(
          'h3',
          [
            ['torch', '2.5.1'],
            ['numpy', '2.1.0']
          ],
          'python@sha256:bb'
        )
      )
    ).toEqual(['base image python@sha256:aa → python@sha256:bb'])
    expect(reasonsFor('invalidated', before, before)).toEqual(['invalidated (invalidate input)'])
    expect(reasonsFor('full', null, before)).toEqual(['no earlier build of this variant in the cache'])
    expect(reasonsFor('full', before, before)).toEqual(['deps image missing from the registry'])
    expect(reasonsFor('fast', before, before)).toEqual(['deps image found'])
  })
})

describe('summary rows', () => {
  it('escapes what it shows and joins reasons with line breaks', () => {
    const row = summaryRow(
      { variant: 'ml', reason: 'full', depsRef: 'r:deps-ml-h', error: null },
      ['torch 2.5 → 2.6', '<b>x</b>'],
      null
    )
    expect(row).toMatchObject({ path: 'full (planned)', image: 'r:deps-ml-h', uploaded: '–' })
    const table = summaryTable([row])
    expect(table[0]!.map((c) => c.data)).toEqual([
      'variant',
      'path',
      'why',
      'image',
      'layers',
      'uploaded',
      'seconds'
    ])
    expect(table[1]![2]!.data).toBe('torch 2.5 → 2.6<br>&lt;b&gt;x&lt;/b&gt;')
  })
})
