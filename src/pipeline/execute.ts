// The third stage: build what the decisions say. The source is collected once and its layer built
// once (started at once, see source-layer.ts); per variant, the deps image found is used as it is
// (fast path), or built (full path: the builder the plan chose, deps-builder.ts) and then used;
// the app image goes on top (app-build.ts). Variants are independent: one failing does not stop
// the others.
import { performance } from 'node:perf_hooks'
import { describeError } from '../errors.js'
import type { Compression } from '../oci/media-types.js'
import type { VariantPlan } from '../plan/plan.js'
import type { ImageStore } from '../registry/store.js'
import { formatBytes } from '../util/format.js'
import { handled } from '../util/limit.js'
import { ArtifactCache } from '../cache/artifacts.js'
import { CacheLayout, defaultCacheDir } from '../cache/layout.js'
import {
  buildAppImage,
  checkRuntime,
  prepareSboms,
  projectLayers,
  type AppBuildContext
} from './app-build.js'
import type { BaseOptions } from './base-image.js'
import { depsBuilderFor, type DepsBuildContext, type DepsHooks } from './deps-builder.js'
import type { DepsImage } from './deps-image.js'
import type { FastPathResult } from './fast-path.js'
import type { FullPathResult } from './full-path.js'
import { buildEpoch, gitInfo } from './git.js'
import type { BuildPlan } from './plan-stage.js'
import { PythonSites } from './python-sites.js'
import type { Decision } from './resolve.js'
import type { BuildResult, VariantResult } from './results.js'
import { startSourceLayer } from './source-layer.js'
import { checkDistinctTags, DEFAULT_TAG, expandTag, refSlug } from './tags.js'

export interface ExecuteOptions {
  readonly store: ImageStore
  /** Tag templates with {variant}, {sha}, {ref}; default `{variant}-{sha}`. */
  readonly tags?: readonly string[]
  readonly sourceMode?: 'git' | 'walk' | 'auto'
  /** How the layers are compressed (default: compression under [tool.fast-build]). */
  readonly compression?: Compression
  readonly env?: NodeJS.ProcessEnv
  readonly onProgress?: (variant: string | null, message: string) => void
  /** Build missing deps images (default true); false reports them as missing. */
  readonly fullPath?: boolean
  /** Downloads, installs and built layers are kept here between builds. */
  readonly cacheDir?: string
  /**
   * The build's one artifact cache (default: the cache directory's); the action passes the one its
   * Actions cache restores wheels into.
   */
  readonly artifacts?: ArtifactCache
  /** Fetch every registry file from this index instead (a mirror); overrides [tool.fast-build] index-url. */
  readonly indexUrl?: string | null
  /** Credentials and retries for the base image's registry. */
  readonly base?: BaseOptions
  /** Overrides max-layers of [tool.fast-build] (the action's input). */
  readonly maxLayers?: number
  /**
   * Variants whose tags must differ (default: those built now). The action names every configured
   * variant: the jobs of a fan-out each build one, with the same templates.
   */
  readonly distinctTagsFor?: readonly string[]
  /** See FullPathContext.restoreWheels: the Actions cache restores wheels through it. */
  readonly restoreWheels?: (sha256s: readonly string[]) => Promise<number>
}

/** What every variant of one build shares. */
interface VariantContext {
  readonly app: AppBuildContext
  readonly deps: DepsBuildContext
  readonly fullPath: boolean
  /** A variant's tags, expanded. */
  readonly tagsOf: (variant: string) => string[]
  readonly projectLayerFor: ReturnType<typeof projectLayers>
  readonly progress: (variant: string | null, message: string) => void
}

type Unbuilt = Pick<VariantResult, 'variant' | 'hash' | 'depsRef'>

/** A variant that ends without an image: nothing pushed, and why. */
function unbuiltResult(
  v: Unbuilt,
  path: 'missing' | 'failed',
  error: string,
  seconds: number
): VariantResult {
  return {
    variant: v.variant,
    hash: v.hash,
    depsRef: v.depsRef,
    path,
    appRef: null,
    digest: null,
    tags: [],
    blobs: { uploaded: 0, mounted: 0, skipped: 0 },
    bytesUploaded: 0,
    seconds,
    error,
    sboms: [],
    full: null
  }
}

/** What the full path did, as reported. */
function fullReport(v: VariantPlan, full: FullPathResult, seconds: number): VariantResult['full'] {
  const uploaded = full.layers.filter((l) => l.outcome === 'uploaded')
  return {
    layers: full.layers.length,
    layersUploaded: uploaded.length,
    layerBytesUploaded: uploaded.reduce((n, l) => n + l.size, 0),
    layersBuilt: full.layers.filter((l) => l.built).length,
    packagesCopied: full.layers.reduce((n, l) => n + l.copied, 0),
    wheels: full.wheels.total,
    wheelsDownloaded: full.wheels.downloaded,
    wheelsRestored: full.wheels.restored,
    downloadedSha256: full.wheels.downloadedSha256,
    bytesUploaded: full.stats.bytesUploaded,
    seconds,
    notes: full.notes,
    builder: v.builder.kind,
    builderReason: v.builder.kind === 'dockerfile' ? v.builder.reason : null,
    phases: full.phases ?? null
  }
}

/** The full path: the deps image built by the variant's builder, after the source is checked. */
async function buildDeps(
  ctx: VariantContext,
  v: VariantPlan,
  d: Decision,
  hooks: DepsHooks
): Promise<{ result: FullPathResult; seconds: number }> {
  const say = (m: string) => ctx.progress(v.name, m)
  // The source is checked before any deps image is built: a link that leaves the tree or a file
  // that cannot be shipped fails the variant now, not after minutes of full path (the tree is
  // listed in a moment; the fast path never waits for it here, and the layer goes on compressing
  // while deps images build). A layer that already failed (an unreadable file) fails it too.
  const source = ctx.app.source
  await source.tree
  if (source.failure() !== null) throw source.failure()
  say(
    d.reason === 'invalidated'
      ? `rebuilding deps image ${d.depsRef}`
      : `deps image ${d.depsRef} is missing: full path`
  )
  const start = performance.now()
  const result = await depsBuilderFor(v, ctx.deps).build(v, d.tag, say, hooks)
  const seconds = (performance.now() - start) / 1000
  for (const n of result.notes) say(`note: ${n}`)
  say(
    `deps image ${d.depsRef} pushed (${result.image.digest.slice(0, 19)}), ${formatBytes(result.stats.bytesUploaded)} uploaded in ${seconds.toFixed(1)} s`
  )
  return { result, seconds }
}

/** A variant that got its image: what was pushed (keys in the order the JSON output shows them). */
function builtResult(
  d: Decision,
  pushed: FastPathResult,
  tags: readonly string[],
  rest: Pick<VariantResult, 'sboms' | 'full' | 'seconds'>,
  store: ImageStore
): VariantResult {
  const { stats } = pushed
  return {
    variant: d.variant,
    hash: d.hash,
    depsRef: d.depsRef,
    path: rest.full ? 'full' : 'fast',
    appRef: `${store.name}:${tags[0]}@${pushed.digest}`,
    digest: pushed.digest,
    tags,
    blobs: { uploaded: stats.uploaded, mounted: stats.mounted, skipped: stats.skipped },
    bytesUploaded: stats.bytesUploaded,
    seconds: rest.seconds,
    error: null,
    sboms: rest.sboms,
    full: rest.full
  }
}

/** One variant: its deps image as decided (found, built, or missing), then its app image. */
async function executeVariant(ctx: VariantContext, v: VariantPlan, d: Decision): Promise<VariantResult> {
  const start = performance.now()
  const seconds = () => (performance.now() - start) / 1000
  const { plan, store } = ctx.app
  const say = (m: string) => ctx.progress(v.name, m)
  try {
    // Checked now, before any deps image is built (a package pip cannot install at start fails
    // the variant early); written once the deps image says where its Python reads packages.
    checkRuntime(v, plan.lock.path, plan.install)
    // A lookup that failed fails the variant (never a rebuild on a guess).
    if (d.error) throw d.error
    if (!d.depsImage && !ctx.fullPath) {
      say(`deps image ${d.depsRef} is missing: the full path (building it) is needed`)
      const error = `deps image ${d.depsRef} is missing: full path needed (build the deps image for hash ${v.shortHash})`
      return unbuiltResult(d, 'missing', error, seconds())
    }
    const tags = ctx.tagsOf(v.name)
    // Each platform's app image has two new blobs (its config, its SBOM): their upload sessions
    // are opened while the image is made (see the finally below for those left over).
    store.openUploads?.(v.platforms.length * 2)
    // A deps image built now is handed over before it is written: the app image is made and its
    // blobs go up meanwhile (its manifests wait for the deps image's).
    // (Set in a callback: typed by `as`, so that the compiler does not take it for null below.)
    let early = null as ReturnType<typeof buildAppImage> | null
    let full: Awaited<ReturnType<typeof buildDeps>> | null = null
    if (!d.depsImage) {
      // The image these tags name now (the previous build's) holds most of the layers about to
      // be checked, all but those of the packages that changed: read once, it spares a HEAD each.
      for (const t of tags) store.recallImage?.(t)
      try {
        full = await buildDeps(ctx, v, d, {
          onImage: (image, written) => {
            // From the next turn of the event loop: the deps image's last uploads are sent first,
            // not held back by the app image's own work (its config).
            early = handled(
              new Promise<void>((next) => setImmediate(next)).then(() =>
                buildAppImage(ctx.app, ctx.projectLayerFor, v, image, tags, written)
              )
            )
          },
          // Its SBOMs are made while the layers build, in the main thread's idle time there
          // rather than on the way to a download or to the manifests.
          onLayersBuilding: () => prepareSboms(ctx.app, v)
        })
      } catch (e) {
        // Its uploads end before the variant's failure is reported (and the store is closed).
        await early?.catch(() => undefined)
        throw e
      }
    }
    const deps: DepsImage = d.depsImage ?? full!.result.image
    if (!full) say(`deps image ${d.depsRef} found (${deps.digest.slice(0, 19)}): fast path`)
    const { pushed, sboms } = await (early ?? buildAppImage(ctx.app, ctx.projectLayerFor, v, deps, tags))
    const result = builtResult(
      d,
      pushed,
      tags,
      { sboms, seconds: seconds(), full: full ? fullReport(v, full.result, full.seconds) : null },
      store
    )
    say(
      `pushed ${store.name}:${tags.join(', ')} (${pushed.digest.slice(0, 19)}), ${formatBytes(pushed.stats.bytesUploaded)} uploaded`
    )
    return result
  } catch (e) {
    say(`failed: ${describeError(e)}`)
    return unbuiltResult(d, 'failed', describeError(e), seconds())
  } finally {
    // Upload sessions opened ahead (here and by the full path) that no blob took are closed.
    await store.dropUploads?.()
  }
}

/** The tags of each variant (templates checked before any work, so a bad one fails up front). */
function tagsOf(o: ExecuteOptions, planned: BuildPlan, sha: string, env: NodeJS.ProcessEnv) {
  const values = (variant: string) => ({
    variant,
    sha,
    ref: refSlug(env['GITHUB_HEAD_REF'] || env['GITHUB_REF_NAME'] || 'local')
  })
  const templates = o.tags && o.tags.length > 0 ? o.tags : [DEFAULT_TAG]
  const { variants } = planned.plan
  for (const v of variants) for (const t of templates) expandTag(t, values(v.name))
  checkDistinctTags(templates, o.distinctTagsFor ?? variants.map((v) => v.name), values)
  return (variant: string) => templates.map((t) => expandTag(t, values(variant)))
}

/** What the variants of this build share: the source layer, the Pythons, the builders' context. */
async function variantContext(
  planned: BuildPlan,
  o: ExecuteOptions,
  cacheDir: string,
  sites: PythonSites
): Promise<VariantContext> {
  const { plan } = planned
  const env = o.env ?? process.env
  const progress = o.onProgress ?? (() => {})
  const git = await gitInfo(plan.project.dir, env)
  for (const w of git.warnings) progress(null, `warning: ${w}`)
  const epoch = buildEpoch(git, env)
  const tags = tagsOf(o, planned, git.tagSha, env)
  const compression = o.compression ?? plan.project.config.compression
  const source = startSourceLayer({
    plan,
    store: o.store,
    mode: o.sourceMode ?? 'auto',
    compression,
    epoch,
    progress: (m) => progress(null, m)
  })
  const app: AppBuildContext = {
    plan,
    store: o.store,
    sites,
    source,
    compression,
    git,
    created: new Date(epoch * 1000).toISOString(),
    progress
  }
  const mirrorUrl = o.indexUrl ?? plan.project.config.indexUrl ?? env['FAST_BUILD_INDEX_URL'] ?? null
  const cache = new CacheLayout(cacheDir)
  const deps: DepsBuildContext = {
    planned,
    store: o.store,
    sites,
    cache,
    artifacts: o.artifacts ?? new ArtifactCache(cache.artifacts),
    env,
    mirrorUrl,
    compression,
    ...(o.maxLayers !== undefined ? { maxLayers: o.maxLayers } : {}),
    ...(o.restoreWheels ? { restoreWheels: o.restoreWheels } : {})
  }
  return {
    app,
    deps,
    fullPath: o.fullPath !== false,
    tagsOf: tags,
    projectLayerFor: projectLayers(app),
    progress
  }
}

/**
 * Build every planned variant as decided. `decisions` may still be on their way (the lookups run
 * while the source layer is started).
 */
export async function executeBuild(
  planned: BuildPlan,
  decisions: readonly Decision[] | Promise<readonly Decision[]>,
  o: ExecuteOptions
): Promise<BuildResult> {
  const { plan } = planned
  const progress = o.onProgress ?? (() => {})
  const cacheDir = o.cacheDir ?? defaultCacheDir(o.env ?? process.env)
  const sites = new PythonSites(plan, planned.base, {
    store: o.store,
    ...(o.base ? { baseOptions: o.base } : {}),
    cacheDir,
    progress
  })
  let artifacts: ArtifactCache | null = null
  try {
    const ctx = await variantContext(planned, o, cacheDir, sites)
    artifacts = ctx.deps.artifacts
    // A bump's few new wheels start downloading while the deps images are still looked up.
    if (ctx.fullPath) for (const v of plan.variants) depsBuilderFor(v, ctx.deps).prefetch?.(v)
    const byName = new Map((await decisions).map((d) => [d.variant, d]))
    const results: VariantResult[] = []
    for (const v of plan.variants) results.push(await executeVariant(ctx, v, byName.get(v.name)!))
    // Variants that did not plan (a declared conflict, a stale selection) fail here too, so every
    // variant asked for has a result.
    for (const f of plan.failed ?? []) {
      progress(f.name, `failed: ${describeError(f.error)}`)
      results.push(
        unbuiltResult({ variant: f.name, hash: '', depsRef: '' }, 'failed', describeError(f.error), 0)
      )
    }
    // Nobody needs the source layer: stop its upload quietly and let it settle before returning.
    if (!results.some((r) => r.digest !== null)) await ctx.app.source.abandon()
    return {
      store: o.store.name,
      revision: ctx.app.git.revision,
      sourceLayer: ctx.app.source.summary(),
      variants: results
    }
  } finally {
    // The base image's registry connection (kept for the full path) is closed whatever happened;
    // a download started ahead of a variant that did not need it ends before the build does.
    await Promise.all([sites.close(), artifacts?.settled()])
  }
}
