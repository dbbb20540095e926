// The resolve stage: one lookup per variant, in the plan's order; an invalidated variant is not
// looked up; a lookup that fails keeps its error (the matrix leaves the variant out, the build
// fails it with that error), never turning into "full".
import { describe, expect, it } from '@jest/globals'
import { RegistryError } from '../../src/registry/errors.js'
import { depsTag } from '../../src/pipeline/deps-image.js'
import { checkRebuild, matrixOf, resolveVariants } from '../../src/pipeline/resolve.js'
import { runBuild } from '../../src/pipeline/build.js'
import { uvProject, VARIANTS_CONFIG } from '../support/fixtures.js'
import { MemoryStore, putImage } from '../support/memory-store.js'
import { planDir } from '../support/project.js'

/** A store whose lookups of one tag fail as an unreachable or refusing registry would. */
class FailingStore extends MemoryStore {
  constructor(private readonly failing: string) {
    super()
  }
  override async getManifest(ref: string) {
    if (ref === this.failing) throw new RegistryError(`GET manifest ${ref}: 401 unauthorized`)
    return super.getManifest(ref)
  }
}

function planned() {
  const base = `registry.invalid/python@sha256:${'ab'.repeat(32)}`
  const dir = uvProject({
    config: VARIANTS_CONFIG.replace('[tool.fast-build]', `[tool.fast-build]\nbase-image = "${base}"`)
  })
  return planDir(dir, { variants: ['base', 'ml'], platforms: [{ os: 'linux', architecture: 'amd64' }] })
}

describe('resolveVariants', () => {
  it('looks each deps image up once: found, missing, invalidated', async () => {
    const plan = planned()
    const [base, ml] = plan.variants
    const store = new MemoryStore()
    await putImage(store, depsTag(base!.name, base!.shortHash), [{ arch: 'amd64' }])
    store.calls.length = 0
    const decisions = await resolveVariants(plan, store, [])
    expect(decisions.map((d) => [d.variant, d.reason])).toEqual([
      ['base', 'fast'],
      ['ml', 'full']
    ])
    expect(decisions[0]!.depsImage?.platforms).toHaveLength(1)
    expect(store.callsOf('getManifest')).toEqual([
      depsTag('base', base!.shortHash),
      depsTag('ml', ml!.shortHash)
    ])
    expect(matrixOf(decisions).include.map((i) => i.variant)).toEqual(['ml'])

    store.calls.length = 0
    const again = await resolveVariants(plan, store, ['base'])
    expect(again.map((d) => d.reason)).toEqual(['invalidated', 'full'])
    expect(store.callsOf('getManifest')).toEqual([depsTag('ml', ml!.shortHash)])
  })

  it('keeps a failed lookup as an error: out of the matrix, and the build fails the variant with it', async () => {
    const plan = planned()
    const ml = plan.variants[1]!
    const store = new FailingStore(depsTag('ml', ml.shortHash))
    const decisions = await resolveVariants(plan, store, [])
    expect(decisions.map((d) => d.reason)).toEqual(['full', 'failed'])
    expect(decisions[1]!.error?.message).toMatch(/401 unauthorized/)
    expect(matrixOf(decisions).include.map((i) => i.variant)).toEqual(['base'])

    const result = await runBuild({ plan, store, decisions, fullPath: false })
    expect(result.variants.map((v) => [v.variant, v.path])).toEqual([
      ['base', 'missing'],
      ['ml', 'failed']
    ])
    expect(result.variants[1]!.error).toMatch(/401 unauthorized/)
  })

  it('refuses a rebuild of a variant that is not planned', () => {
    expect(() => checkRebuild(planned(), ['nope'])).toThrow(/--rebuild names unknown variant "nope"/)
  })
})
