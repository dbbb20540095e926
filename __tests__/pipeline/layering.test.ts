// Layer grouping: heavy packages alone, stable buckets, most shared lowest, budget kept.
import { describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import { nameBucket, planLayers, type LayerCandidate } from '../../src/pipeline/layering.js'
import type { NormalizedName } from '../../src/names.js'

const MB = 1024 * 1024
const pkg = (name: string, size: number, variants: string[], version = '1.0'): LayerCandidate => ({
  key: `${name}-${version}`,
  name: name as NormalizedName,
  version,
  installedSize: size,
  variants
})

const ALL = ['base', 'ml', 'dev']
const packages = [
  pkg('numpy', 40 * MB, ALL),
  pkg('torch', 900 * MB, ['ml']),
  pkg('nvidia-cublas-cu12', 500 * MB, ['ml']),
  pkg('requests', 1 * MB, ALL),
  pkg('idna', 0.5 * MB, ALL),
  pkg('certifi', 0.3 * MB, ALL),
  pkg('urllib3', 1 * MB, ALL),
  pkg('pytest', 3 * MB, ['dev']),
  pkg('pluggy', 0.2 * MB, ['dev']),
  pkg('einops', 0.4 * MB, ['ml']),
  pkg('scipy', 120 * MB, ['ml', 'dev'])
]

describe('planLayers', () => {
  const heavyBytes = 64 * MB

  it('gives heavy packages a layer each, and puts the most shared lowest', () => {
    const { groups, notes } = planLayers(packages, { budget: 50, heavyBytes })
    expect(notes).toEqual([])
    const heavy = groups.filter((g) => g.kind === 'heavy').map((g) => g.packages[0]!.name)
    expect(heavy.sort()).toEqual(['nvidia-cublas-cu12', 'scipy', 'torch'])
    const sharing = groups.map((g) => g.packages[0]!.variants.length)
    expect(sharing).toEqual([...sharing].sort((a, b) => b - a))
    // Every package is in exactly one layer.
    expect(groups.flatMap((g) => g.packages.map((p) => p.name)).sort()).toEqual(
      packages.map((p) => p.name).sort()
    )
  })

  it('bumping one small package changes only its own group', () => {
    const before = planLayers(packages, { budget: 50, heavyBytes }).groups
    const bumped = packages.map((p) => (p.name === 'idna' ? pkg('idna', 0.5 * MB, ALL, '3.11') : p))
    const after = planLayers(bumped, { budget: 50, heavyBytes }).groups
    expect(after).toHaveLength(before.length)
    const changed = after.filter((g, i) => JSON.stringify(g) !== JSON.stringify(before[i]))
    expect(changed).toHaveLength(1)
    expect(changed[0]!.packages.map((p) => p.name)).toContain('idna')
  })

  it('groups shared by every variant are the same groups whatever else a variant has', () => {
    const base = planLayers(
      packages.filter((p) => p.variants.includes('base')),
      { budget: 50, heavyBytes }
    ).groups
    const ml = planLayers(
      packages.filter((p) => p.variants.includes('ml')),
      { budget: 50, heavyBytes }
    ).groups
    for (const g of base) expect(ml).toContainEqual(g)
  })

  it('never exceeds the budget; merges smallest neighbours first and says so', () => {
    const { groups, notes } = planLayers(packages, { budget: 4, heavyBytes })
    expect(groups).toHaveLength(4)
    expect(notes[0]).toMatch(/would exceed the layer budget; merged into 4/)
    // The heavy packages survive apart as long as light groups can merge.
    expect(groups.filter((g) => g.kind === 'heavy').length).toBeGreaterThanOrEqual(2)
    expect(groups.flatMap((g) => g.packages).length).toBe(packages.length)
  })

  it('holds the budget for any input (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            name: fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/),
            size: fc.nat(200 * MB),
            v: fc.subarray(ALL, { minLength: 1 })
          }),
          { maxLength: 80 }
        ),
        fc.integer({ min: 1, max: 30 }),
        (items, budget) => {
          const unique = [...new Map(items.map((i) => [i.name, pkg(i.name, i.size, i.v)])).values()]
          const { groups } = planLayers(unique, { budget, heavyBytes })
          expect(groups.length).toBeLessThanOrEqual(budget)
          expect(groups.flatMap((g) => g.packages).length).toBe(unique.length)
        }
      )
    )
  })

  it('buckets are stable numbers', () => {
    expect(nameBucket('numpy', 8)).toBe(nameBucket('numpy', 8))
    expect(
      new Set(['a', 'b', 'c', 'requests', 'numpy', 'idna', 'six', 'attrs'].map((n) => nameBucket(n, 8))).size
    ).toBeGreaterThan(3)
  })
})
