// Every real lock in the corpus plans without error for its natural variants: main only, each
// extra, each group; on linux/amd64 and linux/arm64; python from requires-python.
import { describe, expect, it } from '@jest/globals'
import { readLock } from '../../src/lock/index.js'
import { normalizeGroup, type NormalizedName } from '../../src/names.js'
import type { VariantSpec } from '../../src/project/config.js'
import { readProject } from '../../src/project/pyproject.js'
import { planProject } from '../../src/plan/plan.js'
import { parsePlatform } from '../../src/target.js'
import { corpusCaseNames, materializeCorpusCase } from '../support/corpus.js'

const MAIN = 'main' as NormalizedName
const platforms = [parsePlatform('linux/amd64'), parsePlatform('linux/arm64')]

function naturalVariants(
  groups: readonly NormalizedName[],
  extras: readonly NormalizedName[]
): VariantSpec[] {
  const v = (name: string, g: NormalizedName[], e: NormalizedName[]): VariantSpec => ({
    name,
    groups: g,
    extras: e,
    members: []
  })
  return [
    v('main', [MAIN], []),
    ...extras.map((e) => v(`extra-${e}`, [MAIN], [e])),
    ...groups.filter((g) => g !== MAIN).map((g) => v(`group-${g}`, [MAIN, g], []))
  ]
}

describe.each(corpusCaseNames())('corpus %s', (name) => {
  it('plans every natural variant on amd64 and arm64', () => {
    const c = materializeCorpusCase(name)
    const project = readProject(c.projectDir)
    const { lock } = readLock(project)
    const groups = [...new Set([...lock.roots.flatMap((r) => r.groupNames), ...project.groups.keys()])].map(
      normalizeGroup
    )
    const extras = [...new Set([...lock.roots.flatMap((r) => r.extraNames), ...project.extras.keys()])].map(
      normalizeGroup
    )
    const variants = naturalVariants(groups, extras)
    const plan = planProject({ ...project, config: { ...project.config, variants } }, lock, { platforms })
    expect(plan.failed.map((f) => f.error.message)).toEqual([])
    expect(plan.variants.map((v) => v.name)).toEqual(variants.map((v) => v.name))
    for (const v of plan.variants) {
      expect(v.hash).toMatch(/^[0-9a-f]{64}$/)
      for (const p of v.platforms) {
        // A name appears once per closure.
        const names = p.closure.installed.map((e) => e.package.name)
        expect(new Set(names).size).toBe(names.length)
      }
    }
    const main = plan.variants[0]!
    // Locks with registry packages install something for main (tiny-workspace has only local ones).
    if (lock.packages.some((p) => p.source.kind === 'registry')) {
      expect(main.platforms[0]!.closure.installed.length).toBeGreaterThan(0)
    }
  })
})
