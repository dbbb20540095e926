// The builders of a deps image behind one interface: the wheels builder (full-path.ts, no daemon)
// and the Dockerfile builder (dockerfile-build.ts, docker buildx or buildah). The plan says which
// one a variant takes (VariantPlan.builder); the build asks for it here and calls `build`.
import { dirname, join } from 'node:path'
import type { Compression } from '../oci/media-types.js'
import type { LockedPackage } from '../lock/model.js'
import type { VariantPlan } from '../plan/plan.js'
import { indexConfigFor } from '../packaging/index-credentials.js'
import { indexNameFor, namedIndexes } from '../project/package-indexes.js'
import type { ImageStore } from '../registry/store.js'
import { formatPlatform, type Platform } from '../target.js'
import type { ArtifactCache } from '../cache/artifacts.js'
import type { CacheLayout } from '../cache/layout.js'
import type { IndexConfig } from '../wheels/index.js'
import { engineOf } from './dockerfile.js'
import { buildDepsWithDockerfile } from './dockerfile-build.js'
import { buildDepsImage, prefetchWheels, type FullPathContext, type FullPathResult } from './full-path.js'
import type { BuildPlan } from './plan-stage.js'
import type { PythonSites } from './python-sites.js'
import { handled } from '../util/limit.js'

export interface DepsBuilder {
  /** `wheels`, or `dockerfile`. */
  readonly kind: VariantPlan['builder']['kind']
  /**
   * Build the variant's deps image and push it as `tag`; the image as pushed. A builder that
   * makes the image before it writes it hands it to `onImage` then (see FullPathContext.onImage);
   * one that builds layers says when (`onLayersBuilding`).
   */
  build(
    v: VariantPlan,
    tag: string,
    say: (message: string) => void,
    hooks?: DepsHooks
  ): Promise<FullPathResult>
  /** Start fetching what a build of `v` would wait for first, when it is likely needed (prefetchWheels). */
  prefetch?(v: VariantPlan): void
}

/** What the caller of a deps build is told along the way (see FullPathContext). */
export type DepsHooks = Pick<FullPathContext, 'onImage' | 'onLayersBuilding'>

/** What both builders need of the build. */
export interface DepsBuildContext {
  readonly planned: BuildPlan
  readonly store: ImageStore
  readonly sites: PythonSites
  /** Where built layers and what else outlives a build are kept (the cache directory). */
  readonly cache: CacheLayout
  /** The build's one artifact cache (downloads), shared with the Actions cache. */
  readonly artifacts: ArtifactCache
  readonly env: NodeJS.ProcessEnv
  /** How the deps layers are compressed. */
  readonly compression: Compression
  /** Every registry file from this index instead (a mirror), when set. */
  readonly mirrorUrl: string | null
  /** Overrides max-layers of [tool.fast-build]. */
  readonly maxLayers?: number
  /** See FullPathContext.restoreWheels. */
  readonly restoreWheels?: (sha256s: readonly string[]) => Promise<number>
}

function mirrorOf(ctx: DepsBuildContext): IndexConfig | null {
  return ctx.mirrorUrl ? indexConfigFor(ctx.mirrorUrl, 'mirror', ctx.env) : null
}

export function wheelsBuilder(ctx: DepsBuildContext): DepsBuilder {
  const { plan } = ctx.planned
  const indexes = namedIndexes(plan.project)
  // Where wheels come from: the same for a build and for a fetch ahead of one.
  const fetching = {
    wheelsOf: ctx.planned.wheelsOf,
    cache: ctx.artifacts,
    indexFor: (pkg: LockedPackage) =>
      pkg.source.kind === 'registry' && pkg.source.url
        ? indexConfigFor(pkg.source.url, pkg.source.name ?? indexNameFor(indexes, pkg.source.url), ctx.env)
        : null,
    mirror: mirrorOf(ctx),
    lockDir: join(plan.project.dir, dirname(plan.project.config.lock ?? 'pyproject.toml'))
  }
  return {
    kind: 'wheels',
    prefetch: (v) => prefetchWheels(v, fetching),
    build: async (v, tag, say, hooks = {}) => {
      // The base image's Python is found (read from its layers, on a first build) while the
      // wheels download; a failure there still fails the build, once the layout is wanted.
      const layouts = handled(ctx.sites.baseLayouts())
      return buildDepsImage(v, tag, {
        store: ctx.store,
        base: await ctx.sites.baseImage(),
        layoutFor: async (p: Platform) => (await layouts).get(formatPlatform(p))!,
        ...fetching,
        projectFile: plan.project.file,
        cacheLayout: ctx.cache,
        sharing: ctx.planned.sharing,
        maxLayers: ctx.maxLayers ?? plan.project.config.maxLayers,
        heavyBytes: plan.project.config.heavyPackageMb * 1024 * 1024,
        compression: ctx.compression,
        ...(ctx.restoreWheels ? { restoreWheels: ctx.restoreWheels } : {}),
        ...hooks,
        onProgress: say
      })
    }
  }
}

export function dockerfileBuilder(ctx: DepsBuildContext): DepsBuilder {
  return {
    kind: 'dockerfile',
    build: async (v, tag, say) => {
      if (v.builder.kind !== 'dockerfile')
        throw new Error(`variant ${v.name} is not planned for the Dockerfile builder`)
      say(`Dockerfile builder (${engineOf(v.builder.settings.command)}): ${v.builder.reason}`)
      return buildDepsWithDockerfile(v, v.builder.settings, tag, {
        plan: ctx.planned.plan,
        store: ctx.store,
        base: (await ctx.sites.baseImage()).pinned,
        workDir: ctx.cache.work,
        env: ctx.env,
        mirror: mirrorOf(ctx),
        cache: ctx.artifacts,
        ...(await ctx.sites.dockerfilePython(v)),
        onProgress: say
      })
    }
  }
}

/** The builder the plan chose for the variant. */
export function depsBuilderFor(v: VariantPlan, ctx: DepsBuildContext): DepsBuilder {
  return v.builder.kind === 'dockerfile' ? dockerfileBuilder(ctx) : wheelsBuilder(ctx)
}
