// The second stage: which path each variant takes, decided from the registry alone. The tag
// `deps-<variant>-<hash16>` is the truth: present → fast path; absent → full path; named by
// `invalidate` (--rebuild) → full path anyway. Each deps image is looked up once, here; the build
// takes the image found from the decision. A lookup that fails (auth, network, a tag holding an
// image of other platforms) is kept with its error: the variant fails, in the matrix and in the
// build alike, rather than being rebuilt on a guess.
import { ConfigError } from '../errors.js'
import type { Plan, VariantPlan } from '../plan/plan.js'
import type { ImageStore } from '../registry/store.js'
import { depsTag, resolveDepsImage, type DepsImage } from './deps-image.js'

/** fast: the deps image exists; full: it is missing; invalidated: rebuilt whatever exists; failed: see error. */
export type DecisionReason = 'fast' | 'full' | 'invalidated' | 'failed'

export interface Decision {
  readonly variant: string
  readonly hash: string
  readonly shortHash: string
  /** `deps-<variant>-<hash16>`. */
  readonly tag: string
  /** `store:tag`. */
  readonly depsRef: string
  /** The deps image found (fast only). */
  readonly depsImage: DepsImage | null
  readonly reason: DecisionReason
  /** Why the lookup failed (failed only). */
  readonly error: Error | null
}

export function isInvalidated(variant: string, invalidate: readonly string[] | 'all'): boolean {
  return invalidate === 'all' || invalidate.includes(variant)
}

/** Variants named for a rebuild must exist (a typo would rebuild nothing without a word). */
export function checkRebuild(plan: Plan, rebuild: readonly string[] | 'all'): void {
  for (const name of rebuild === 'all' ? [] : rebuild) {
    if (!plan.variants.some((v) => v.name === name)) {
      throw new ConfigError(
        `--rebuild names unknown variant ${JSON.stringify(name)}`,
        {},
        `variants are: ${plan.variants.map((v) => v.name).join(', ')}`
      )
    }
  }
}

/** One variant's decision: its deps image looked up, unless it is to be rebuilt anyway. */
export async function decide(
  v: VariantPlan,
  store: ImageStore,
  invalidate: readonly string[] | 'all'
): Promise<Decision> {
  const tag = depsTag(v.name, v.shortHash)
  const d = { variant: v.name, hash: v.hash, shortHash: v.shortHash, tag, depsRef: `${store.name}:${tag}` }
  if (isInvalidated(v.name, invalidate)) return { ...d, depsImage: null, reason: 'invalidated', error: null }
  try {
    const found = await resolveDepsImage(
      store,
      tag,
      v.platforms.map((p) => p.platform)
    )
    return { ...d, depsImage: found, reason: found ? 'fast' : 'full', error: null }
  } catch (e) {
    return { ...d, depsImage: null, reason: 'failed', error: e instanceof Error ? e : new Error(String(e)) }
  }
}

/** Every planned variant's decision, looked up together, in the plan's order. */
export function resolveVariants(
  plan: Plan,
  store: ImageStore,
  invalidate: readonly string[] | 'all'
): Promise<Decision[]> {
  return Promise.all(plan.variants.map((v) => decide(v, store, invalidate)))
}

/** `strategy.matrix` for the variants that need the full path (an empty `include` when none do). */
export function matrixOf(decisions: readonly Decision[]): {
  include: { variant: string; hash: string }[]
} {
  return {
    include: decisions
      .filter((d) => d.reason === 'full' || d.reason === 'invalidated')
      .map((d) => ({ variant: d.variant, hash: d.shortHash }))
  }
}
