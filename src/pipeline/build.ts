// `fast-build build` in one call, the stages in order: plan (once, with the base image pinned to
// its digest, which the hash covers: plan-stage.ts), resolve (per variant, look up
// `deps-<variant>-<hash>` once: resolve.ts), execute (fast path where the deps image exists, full
// path and then the fast path where it does not: execute.ts). The CLI and the action hand in what
// they have made already (the plan stage's plan, the decisions) so nothing is asked twice.
import type { Plan } from '../plan/plan.js'
import { defaultCacheDir } from '../cache/layout.js'
import { executeBuild, type ExecuteOptions } from './execute.js'
import { pinPlan, type BuildPlan } from './plan-stage.js'
import { checkRebuild, resolveVariants, type Decision } from './resolve.js'
import type { BuildResult } from './results.js'

export interface BuildOptions extends ExecuteOptions {
  /**
   * The plan stage's plan; or a plan made without it, whose base image is pinned here (which
   * plans it again: callers that plan for a build use planBuild).
   */
  readonly plan: BuildPlan | Plan
  /** Variants whose deps image is rebuilt whatever exists ('all' for every one). */
  readonly rebuild?: readonly string[] | 'all'
  /** The resolve stage's decisions, when made already (else looked up here, once). */
  readonly decisions?: readonly Decision[]
}

function isBuildPlan(p: BuildPlan | Plan): p is BuildPlan {
  return 'wheelsOf' in p
}

export async function runBuild(o: BuildOptions): Promise<BuildResult> {
  const progress = o.onProgress ?? (() => {})
  const rebuild = o.rebuild ?? []
  const given = o.plan
  checkRebuild(isBuildPlan(given) ? given.plan : given, rebuild)
  const cacheDir = o.cacheDir ?? defaultCacheDir(o.env ?? process.env)
  const planned = isBuildPlan(given)
    ? given
    : await pinPlan(given, {
        ...(o.base ? { base: o.base } : {}),
        cacheDir,
        onProgress: (m) => progress(null, m)
      })
  // What pinning learnt (the base image's python) the caller has not printed yet.
  if (!isBuildPlan(given))
    for (const n of planned.plan.notes) if (!given.notes.includes(n)) progress(null, `note: ${n}`)
  // The lookups run while the build starts on the source layer.
  const decisions = o.decisions ?? resolveVariants(planned.plan, o.store, rebuild)
  return executeBuild(planned, decisions, { ...o, cacheDir })
}
