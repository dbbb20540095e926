// Which path each variant takes, decided from the registry alone: the tag `deps-<variant>-<hash16>`
// is the truth. Present → fast path; absent → full path; named by `invalidate` → full path anyway.
import type { Plan } from '../plan/plan.js'
import type { ImageStore } from '../registry/store.js'
import { depsTag, resolveDepsImage } from './deps-image.js'

export type Decision = 'fast' | 'full' | 'invalidated'

export interface VariantDecision {
  readonly variant: string
  readonly hash: string
  readonly shortHash: string
  readonly decision: Decision
  readonly depsRef: string
}

export function isInvalidated(variant: string, invalidate: readonly string[] | 'all'): boolean {
  return invalidate === 'all' || invalidate.includes(variant)
}

export async function decideVariants(
  plan: Plan,
  store: ImageStore,
  invalidate: readonly string[] | 'all'
): Promise<VariantDecision[]> {
  return Promise.all(
    plan.variants.map(async (v) => {
      const tag = depsTag(v.name, v.shortHash)
      const base = { variant: v.name, hash: v.hash, shortHash: v.shortHash, depsRef: `${store.name}:${tag}` }
      if (isInvalidated(v.name, invalidate)) return { ...base, decision: 'invalidated' as const }
      // A tag that exists but does not fit (another platform) needs the full path too; the build
      // says why.
      const found = await resolveDepsImage(
        store,
        tag,
        v.platforms.map((p) => p.platform)
      ).catch(() => null)
      return { ...base, decision: found ? ('fast' as const) : ('full' as const) }
    })
  )
}

/** `strategy.matrix` for the variants that need the full path (an empty `include` when none do). */
export function matrixOf(decisions: readonly VariantDecision[]): {
  include: { variant: string; hash: string }[]
} {
  return {
    include: decisions
      .filter((d) => d.decision !== 'fast')
      .map((d) => ({ variant: d.variant, hash: d.shortHash }))
  }
}
