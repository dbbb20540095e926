// A variant's app image on its deps image (found, or built just now): the run-time layer when the
// variant has run-time packages, the project's own layer (its metadata and commands, by the
// Python the deps image has), the source layer, and an SBOM of exactly its closure per platform.
import { dirname } from 'node:path'
import { describeError } from '../errors.js'
import type { Descriptor } from '../oci/image.js'
import { buildLayer } from '../oci/layer.js'
import type { Compression } from '../oci/media-types.js'
import type { InstallLayout, Plan, PlatformPlan, VariantPlan } from '../plan/plan.js'
import type { ImageStore } from '../registry/store.js'
import { attachSbom } from '../sbom/attach.js'
import { cycloneDxSbom, sbomBytes } from '../sbom/cyclonedx.js'
import { formatPlatform, type Platform } from '../target.js'
import type { AppSettings } from './app-image.js'
import type { DepsImage } from './deps-image.js'
import { pushAppImage, type FastPathResult, type ProjectLayer, type RuntimeLayer } from './fast-path.js'
import type { GitInfo } from './git.js'
import { localProjects, projectLayer } from './project-layer.js'
import type { RecordedPython } from './python-layout.js'
import type { PythonSites } from './python-sites.js'
import { hasRuntime, runtimeEntries, runtimeFiles, RUNTIME_MTIME } from './runtime.js'
import type { SourceJob, SourceLayer } from './source-layer.js'
import type { SourceTree } from './source.js'

/** The SBOM attached to one platform's app image (see VariantResult.sboms). */
export interface AttachedSbom {
  readonly platform: string
  readonly digest: string
  readonly tag: string | null
}

/** What the run-time shim needs of a deps image's recorded Python. */
function installOf(r: RecordedPython): InstallLayout {
  return {
    prefix: dirname(r.scripts),
    sitePackages: r.sitePackages,
    scripts: r.scripts,
    interpreter: r.interpreter
  }
}

/**
 * Whether a variant's run-time packages can be pinned for pip (the requirements the shim installs),
 * before any deps image is built: a package pip cannot install at start fails the variant early.
 * No layer is written; that waits for the deps image's Python (runtimeLayers).
 */
export function checkRuntime(v: VariantPlan, lockPath: string, install: InstallLayout): void {
  if (!hasRuntime(v.platforms)) return
  for (const p of v.platforms) runtimeFiles({ variant: v.name, platform: p, install, lockPath })
}

/**
 * The run-time layer of each platform of a variant (by formatPlatform), or null when the variant
 * has no run-time packages. Small (a shim and a requirements file), so built in memory.
 */
async function runtimeLayers(
  v: VariantPlan,
  compression: Compression,
  lockPath: string,
  install: (platform: Platform) => InstallLayout
): Promise<Map<string, RuntimeLayer> | null> {
  if (!hasRuntime(v.platforms)) return null
  const out = new Map<string, RuntimeLayer>()
  for (const p of v.platforms) {
    const files = runtimeFiles({ variant: v.name, platform: p, install: install(p.platform), lockPath })
    const blob = await buildLayer(runtimeEntries(files), { mtime: RUNTIME_MTIME, compression })
    out.set(formatPlatform(p.platform), { blob, packages: files.requirements.length })
  }
  return out
}

function settingsFor(
  plan: Plan,
  v: VariantPlan,
  deps: DepsImage,
  source: SourceTree,
  git: GitInfo,
  created: string
): AppSettings {
  const c = plan.project.config
  const labels: Record<string, string> = { 'dev.fast-build.variant': v.name, 'dev.fast-build.hash': v.hash }
  if (git.revision) labels['org.opencontainers.image.revision'] = git.revision
  if (git.sourceUrl) labels['org.opencontainers.image.source'] = git.sourceUrl
  labels['org.opencontainers.image.base.digest'] = deps.digest
  labels['org.opencontainers.image.base.name'] = deps.ref
  return {
    workdir: c.workdir,
    env: c.env,
    pythonPath: source.pythonPath,
    entrypoint: c.entrypoint,
    cmd: c.cmd,
    labels,
    created
  }
}

/** What every variant's app image shares in one build. */
export interface AppBuildContext {
  readonly plan: Plan
  readonly store: ImageStore
  readonly sites: PythonSites
  readonly source: SourceJob
  readonly compression: Compression
  readonly git: GitInfo
  /** RFC 3339: the images' `created` (SOURCE_DATE_EPOCH or the commit's time). */
  readonly created: string
  readonly progress: (variant: string | null, message: string) => void
}

/** The project's own layer per Python it installs for, made once per build and Python. */
export function projectLayers(ctx: Omit<AppBuildContext, 'sites'>) {
  let projects: ReturnType<typeof localProjects> | null = null
  const jobs = new Map<string, Promise<ProjectLayer | null>>()
  return (tree: SourceTree, python: RecordedPython, what: string): Promise<ProjectLayer | null> => {
    if (!projects) {
      projects = localProjects(ctx.plan, tree, ctx.source.localRefs)
      for (const n of projects.notes) ctx.progress(null, `note: ${n}`)
    }
    const key = JSON.stringify(python)
    let job = jobs.get(key)
    if (!job) {
      job = projectLayer({
        projects: projects.projects,
        python,
        compression: ctx.compression,
        what,
        file: ctx.plan.project.file
      }).then(({ layer, notes }) => {
        for (const n of notes) ctx.progress(null, `note: ${n}`)
        return layer
      })
      jobs.set(key, job)
    }
    return job
  }
}

/** Whether `p` rejects (once it settles). */
const rejects = (p: Promise<unknown>): Promise<boolean> =>
  p.then(
    () => false,
    () => true
  )

/** Each build's SBOM documents, by variant and platform (see sbomDocument). */
const documents = new WeakMap<AppBuildContext, Map<string, Buffer>>()

/**
 * The SBOM document of a variant's image for one platform, made once: it depends on the plan
 * alone, not on the images, so prepareSboms can make it before they exist.
 */
function sbomDocument(ctx: AppBuildContext, v: VariantPlan, pp: PlatformPlan): Buffer {
  let made = documents.get(ctx)
  if (!made) documents.set(ctx, (made = new Map()))
  const key = `${v.name}\n${formatPlatform(pp.platform)}`
  let doc = made.get(key)
  if (!doc) {
    doc = sbomBytes(
      cycloneDxSbom({ variant: v, platform: pp, created: ctx.created, name: ctx.plan.project.name ?? v.name })
    )
    made.set(key, doc)
  }
  return doc
}

/**
 * Make a variant's SBOM documents now, while its deps image is built: a few milliseconds of
 * work each, which would otherwise stand between the deps image's last layer and its manifests.
 */
export function prepareSboms(ctx: AppBuildContext, v: VariantPlan): void {
  try {
    for (const pp of v.platforms) sbomDocument(ctx, v, pp)
  } catch {
    // Made again when the SBOM is attached, which reports the failure (as a warning).
  }
}

/**
 * Each app image gets an SBOM of exactly its closure, attached while the image's own manifests
 * and tags are written (a referrer may arrive before its subject: registries accept that, and
 * the fallback tag does not care). An extra: failing to attach it warns.
 */
function attachSbomOf(
  ctx: AppBuildContext,
  v: VariantPlan,
  platform: Platform,
  manifest: Descriptor,
  say: (m: string) => void,
  after: Promise<unknown> | undefined
): Promise<AttachedSbom | null> {
  const pp = v.platforms.find((x) => x.platform.architecture === platform.architecture)
  if (!pp) return Promise.resolve(null)
  const { created } = ctx
  return (async () => {
    const document = sbomDocument(ctx, v, pp)
    // Its blobs go up at once; the artifact waits for the deps image below the app image.
    const a = await attachSbom({
      store: ctx.store,
      subject: manifest,
      document,
      created,
      ...(after ? { after } : {})
    })
    return { platform: formatPlatform(platform), digest: a.descriptor.digest, tag: a.tag }
  })().catch(async (e: unknown) => {
    // A deps image that failed to be written fails the variant, which says so: no SBOM either.
    if (after && (await rejects(after))) return null
    say(`warning: the SBOM of ${formatPlatform(platform)} was not attached: ${describeError(e)}`)
    return null
  })
}

async function sbomsOf(
  store: ImageStore,
  jobs: readonly Promise<AttachedSbom | null>[],
  say: (m: string) => void
): Promise<AttachedSbom[]> {
  const out = (await Promise.all(jobs)).filter((x): x is AttachedSbom => x !== null)
  if (out.length > 0)
    say(
      `SBOM (CycloneDX) attached${out[0]!.tag ? ` as ${store.name}:${out.map((x) => x.tag).join(', ')}` : ' (referrers API)'}`
    )
  return out
}

/** Each platform's deps image Python (by formatPlatform), and the run-time layers it makes. */
async function pythonsOf(ctx: AppBuildContext, v: VariantPlan, deps: DepsImage) {
  const pythons = new Map<string, RecordedPython | null>()
  for (const pi of deps.platforms)
    pythons.set(formatPlatform(pi.platform), await ctx.sites.depsPython(v, deps.ref, pi))
  const runtime = await runtimeLayers(v, ctx.compression, ctx.plan.lock.path, (p) => {
    const py = pythons.get(formatPlatform(p))
    return py ? installOf(py) : ctx.plan.install
  })
  return { pythons, runtime }
}

/**
 * Push the variant's app image on `deps` under `tags`; the pushed image and its SBOMs. With
 * `after`, `deps` is still being written: see AppImageArgs.after.
 */
export async function buildAppImage(
  ctx: AppBuildContext,
  projectLayerFor: ReturnType<typeof projectLayers>,
  v: VariantPlan,
  deps: DepsImage,
  tags: readonly string[],
  after?: Promise<unknown>
): Promise<{ pushed: FastPathResult; sboms: AttachedSbom[] }> {
  const say = (m: string) => ctx.progress(v.name, m)
  const { pythons, runtime } = await pythonsOf(ctx, v, deps)
  const src: SourceLayer = await ctx.source.layer
  const layerOutcome = ctx.source.takeOutcome(src.uploaded)
  const project = new Map<string, ProjectLayer | null>()
  for (const pi of deps.platforms) {
    const platform = formatPlatform(pi.platform)
    const py = pythons.get(platform)
    project.set(
      platform,
      py ? await projectLayerFor(src.source, py, `app image of ${v.name} (${platform})`) : null
    )
  }
  const sbomJobs: Promise<AttachedSbom | null>[] = []
  const pushed = await pushAppImage({
    store: ctx.store,
    deps,
    layer: src.layer,
    settings: settingsFor(ctx.plan, v, deps, src.source, ctx.git, ctx.created),
    tags,
    ...(layerOutcome ? { layerOutcome } : {}),
    ...(runtime ? { runtime: (platform: Platform) => runtime.get(formatPlatform(platform)) ?? null } : {}),
    project: (platform: Platform) => project.get(formatPlatform(platform)) ?? null,
    onManifest: (platform, manifest) => sbomJobs.push(attachSbomOf(ctx, v, platform, manifest, say, after)),
    onProgress: say,
    ...(after ? { after } : {})
  })
  return { pushed, sboms: await sbomsOf(ctx.store, sbomJobs, say) }
}
