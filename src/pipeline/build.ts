// `fast-build build`: plan (with the base image pinned to its digest, which the hash covers),
// collect the source once and build its layer once, then per variant look up
// `deps-<variant>-<hash>`: present → fast path; absent (or named by --rebuild) → full path (the
// deps image built from wheels), then the fast path on top. Variants are independent: one
// failing does not stop the others.
import { dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { ConfigError, describeError } from '../errors.js'
import type { Compression } from '../oci/media-types.js'
import { buildLayer, type LayerBlob } from '../oci/layer.js'
import {
  planProject,
  type InstallLayout,
  type Plan,
  type PlanOptions,
  type VariantPlan
} from '../plan/plan.js'
import { formatPlatform, type Platform } from '../target.js'
import { chooseWheel } from '../wheels/tags.js'
import { ArtifactCache, defaultCacheDir } from '../wheels/fetch.js'
import { indexConfigFor } from '../wheels/index-credentials.js'
import { indexNameFor, namedIndexes } from '../project/indexes.js'
import type { IndexConfig } from '../wheels/index.js'
import { imagePythonFacts } from './image-python.js'
import type { BasePythonFacts } from './base-python.js'
import {
  PythonLayoutError,
  readRecordedPython,
  recordedPython,
  resolveLayout,
  type RecordedPython,
  type ResolvedLayout
} from './python-layout.js'
import type { PlatformImage } from './deps-image.js'
import { resolveBase, type BaseOptions, type ResolvedBase } from './base-image.js'
import { buildDepsImage, type FullPathPhases, type FullPathResult } from './full-path.js'
import type { BlobOutcome, BlobStream, ImageStore } from '../registry/store.js'
import { TAG_PATTERN } from '../registry/store.js'
import type { AppSettings } from './app-image.js'
import { depsTag, resolveDepsImage } from './deps-image.js'
import { engineOf, type BasePython } from './dockerfile.js'
import { buildDepsWithDockerfile } from './dockerfile-build.js'
import {
  formatBytes,
  pushAppImage,
  type BlobStats,
  type ProjectLayer,
  type RuntimeLayer
} from './fast-path.js'
import { localProjects, projectLayer } from './project-layer.js'
import { attachSbom } from '../sbom/attach.js'
import { cycloneDxSbom } from '../sbom/cyclonedx.js'
import type { Descriptor } from '../oci/image.js'
import { buildEpoch, gitInfo, type GitInfo } from './git.js'
import { hasRuntime, runtimeEntries, runtimeFiles, RUNTIME_MTIME } from './runtime.js'
import { collectSource, localPackagesOf, type SourceTree } from './source.js'

/** fast: deps image found; full: built now, then the fast path; missing: no deps image and the
 * full path was not allowed; failed: see error. */
export type VariantPath = 'fast' | 'full' | 'missing' | 'failed'

export interface VariantResult {
  readonly variant: string
  readonly hash: string
  readonly path: VariantPath
  readonly depsRef: string
  /** `name:tag@digest` of the app image. */
  readonly appRef: string | null
  readonly digest: string | null
  readonly tags: readonly string[]
  readonly blobs: { readonly uploaded: number; readonly mounted: number; readonly skipped: number }
  readonly bytesUploaded: number
  readonly seconds: number
  readonly error: string | null
  /**
   * The SBOM attached to each platform's app image (CycloneDX; found through the referrers API,
   * or its fallback tag when there is one).
   */
  readonly sboms: readonly {
    readonly platform: string
    readonly digest: string
    readonly tag: string | null
  }[]
  /** What the full path did, when it ran. */
  readonly full: {
    readonly layers: number
    readonly layersUploaded: number
    /** Compressed bytes of the layers uploaded (the rest of bytesUploaded: configs, manifests). */
    readonly layerBytesUploaded: number
    readonly layersBuilt: number
    readonly wheels: number
    readonly wheelsDownloaded: number
    /** Wheels restored from the Actions cache instead of downloaded. */
    readonly wheelsRestored: number
    /** Digests of the wheels downloaded (new to this machine's caches). */
    readonly downloadedSha256: readonly string[]
    readonly bytesUploaded: number
    readonly seconds: number
    readonly notes: readonly string[]
    /** Which builder made the deps image, and why the Dockerfile builder when it did. */
    readonly builder: 'wheels' | 'dockerfile'
    readonly builderReason: string | null
    /** Seconds per phase of the wheels builder (null for the Dockerfile builder). */
    readonly phases: FullPathPhases | null
  } | null
}

export interface BuildResult {
  readonly store: string
  readonly revision: string | null
  readonly sourceLayer: {
    readonly digest: string
    readonly size: number
    readonly files: number
    readonly seconds: number
  } | null
  readonly variants: readonly VariantResult[]
}

export interface BuildOptions {
  readonly plan: Plan
  readonly store: ImageStore
  /** Tag templates with {variant}, {sha}, {ref}; default `{variant}-{sha}`. */
  readonly tags?: readonly string[]
  readonly sourceMode?: 'git' | 'walk' | 'auto'
  readonly compression?: Compression
  readonly env?: NodeJS.ProcessEnv
  readonly onProgress?: (variant: string | null, message: string) => void
  /** Variants whose deps image is rebuilt whatever exists ('all' for every one). */
  readonly rebuild?: readonly string[] | 'all'
  /** Build missing deps images (default true); false reports them as missing. */
  readonly fullPath?: boolean
  /** Downloads, installs and built layers are kept here between builds. */
  readonly cacheDir?: string
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

/**
 * The plan with the base image pinned to its digest, which is what variant hashes cover. A
 * reference already pinned (`…@sha256:…`) needs no lookup; otherwise the base image's registry is
 * asked (the build needs it anyway for the full path).
 */
export async function pinBase(
  plan: Plan,
  opts: BaseOptions = {},
  detect: { readonly cacheDir: string | null; readonly onProgress?: (message: string) => void } = {
    cacheDir: null
  }
): Promise<{ plan: Plan; base: ResolvedBase | null }> {
  const reference = plan.variants[0]?.baseImage
  const config = plan.project.config
  // With a base image of its own and no python set, the target python is the base image's: the
  // one its packages must load in (requires-python's lowest would install wheels of another ABI).
  const fromBase =
    config.baseImage !== null &&
    config.python === null &&
    plan.options.python === undefined &&
    config.pythonInBase
  if (!reference || (/@sha256:[a-f0-9]{64}$/.test(reference) && !fromBase)) return { plan, base: null }
  const platforms = uniquePlatforms(plan)
  const base = await resolveBase(reference, platforms, { ...opts, cwd: plan.project.dir })
  let options: PlanOptions = { ...plan.options, baseImage: base.pinned }
  let notes = plan.notes
  if (fromBase) {
    const pi = base.image.platforms[0]!
    const facts = await imagePythonFacts({
      store: base.store,
      manifestDigest: pi.manifestDigest,
      layers: pi.manifest.layers,
      config: pi.config,
      cacheDir: detect.cacheDir,
      what: `base image ${reference} (${formatPlatform(pi.platform)})`,
      ...(detect.onProgress ? { onProgress: detect.onProgress } : {})
    }).catch((e: unknown) => {
      base.store.close?.()
      throw e
    })
    // No Python at all is reported where the layout is decided (with the fix), not here.
    if (facts.python) {
      const v = facts.python.version
      options = { ...options, python: { major: v.major, minor: v.minor, patch: v.patch ?? undefined } }
      notes = [
        ...notes.filter((n) => !n.includes(': the lowest version ')),
        `python ${v.major}.${v.minor}${v.patch !== null ? `.${v.patch}` : ''}: the base image's (${facts.python.executable} in ${reference}); set python under [tool.fast-build] to choose it yourself`
      ]
    }
  }
  let pinned: Plan
  try {
    pinned = planProject(plan.project, plan.lock, options)
  } catch (e) {
    base.store.close?.()
    if (fromBase && e instanceof ConfigError && /requires-python/.test(e.message))
      throw new ConfigError(
        `the base image's ${e.message}`,
        e.location,
        `choose a base image whose Python requires-python allows, or set python under [tool.fast-build] (it must match the base image's)`
      )
    throw e
  }
  return { plan: { ...pinned, notes }, base }
}

/** Where a variant's target python came from, for messages. */
function pythonFrom(plan: Plan): string {
  const c = plan.project.config
  if (plan.options.python) return 'as asked (--python)'
  if (c.python) return 'python under [tool.fast-build]'
  if (c.baseImage !== null && c.pythonInBase) return "the base image's"
  return 'the lowest requires-python allows'
}

function uniquePlatforms(plan: Plan): Platform[] {
  const seen = new Map<string, Platform>()
  for (const v of plan.variants) for (const p of v.platforms) seen.set(formatPlatform(p.platform), p.platform)
  return [...seen.values()]
}

/** Which variants of the whole configuration install each wheel, per platform. */
function sharingOf(plan: Plan): (platform: Platform, sha256: string) => readonly string[] {
  // A plan of every variant already is that; one of some variants is planned again in full.
  const all =
    (plan.options.variants ?? []).length === 0
      ? plan
      : planProject(plan.project, plan.lock, { ...plan.options, variants: [] })
  const map = new Map<string, string[]>()
  for (const v of all.variants) {
    for (const p of v.platforms) {
      for (const e of p.closure.installed) {
        const sha = chooseWheel(e.package.files, p.target)?.file.hashes['sha256']
        if (!sha) continue
        const key = `${formatPlatform(p.platform)}|${sha}`
        map.set(key, [...(map.get(key) ?? []), v.name])
      }
    }
  }
  return (platform, sha) => map.get(`${formatPlatform(platform)}|${sha}`) ?? []
}

/** A variant that ends without an image: nothing pushed, and why. */
function unbuiltResult(
  v: Pick<VariantResult, 'variant' | 'hash' | 'depsRef'>,
  path: 'missing' | 'failed',
  error: string,
  seconds: number
): VariantResult {
  return {
    ...v,
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
function checkRuntime(v: VariantPlan, lockPath: string, install: InstallLayout): void {
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
    const files = runtimeFiles({
      variant: v.name,
      platform: p,
      install: install(p.platform),
      lockPath
    })
    const blob = await buildLayer(runtimeEntries(files), { mtime: RUNTIME_MTIME, compression })
    out.set(formatPlatform(p.platform), { blob, packages: files.requirements.length })
  }
  return out
}

export const DEFAULT_TAG = '{variant}-{sha}'

/** Expand a tag template; the result must be a valid registry tag. */
export function expandTag(template: string, values: { variant: string; sha: string; ref: string }): string {
  const tag = template.replace(/\{(variant|sha|ref)\}/g, (_, k: 'variant' | 'sha' | 'ref') => values[k])
  if (!TAG_PATTERN.test(tag)) {
    throw new ConfigError(
      `tag template ${JSON.stringify(template)} gives ${JSON.stringify(tag)}, which is not a valid tag`,
      { keyPath: 'tags' },
      'tags are letters, digits, "_", "." and "-", at most 128, not starting with "." or "-"'
    )
  }
  return tag
}

/**
 * Each variant must get tags of its own, else the last push wins and the digests reported for the
 * others name images their tags no longer hold.
 */
export function checkDistinctTags(
  templates: readonly string[],
  variants: readonly string[],
  values: (variant: string) => { variant: string; sha: string; ref: string }
): void {
  if (variants.length < 2) return
  for (const t of templates) {
    const owner = new Map<string, string>()
    for (const v of variants) {
      const tag = expandTag(t, values(v))
      const other = owner.get(tag)
      if (other !== undefined) {
        throw new ConfigError(
          `tag template ${JSON.stringify(t)} gives the same tag ${JSON.stringify(tag)} to variants ${other} and ${v}: the last one pushed would take it from the other`,
          { keyPath: 'tags' },
          'put {variant} in every tag template (e.g. "{variant}-{sha}"), or configure one variant'
        )
      }
      owner.set(tag, v)
    }
  }
}

/** A branch or tag name as a tag: `feature/x` → `feature-x`. */
export function refSlug(ref: string): string {
  return (
    ref
      .replace(/^refs\/(heads|tags)\//, '')
      .replace(/[^\w.-]+/g, '-')
      .replace(/^[.-]+/, '')
      .slice(0, 100) || 'ref'
  )
}

function settingsFor(
  plan: Plan,
  v: VariantPlan,
  source: SourceTree,
  git: GitInfo,
  created: string
): AppSettings {
  const c = plan.project.config
  const labels: Record<string, string> = {
    'dev.fast-build.variant': v.name,
    'dev.fast-build.hash': v.hash
  }
  if (git.revision) labels['org.opencontainers.image.revision'] = git.revision
  if (git.sourceUrl) labels['org.opencontainers.image.source'] = git.sourceUrl
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

export async function runBuild(o: BuildOptions): Promise<BuildResult> {
  const env = o.env ?? process.env
  const { store } = o
  const progress = o.onProgress ?? (() => {})
  const rebuild = o.rebuild ?? []
  for (const name of rebuild === 'all' ? [] : rebuild) {
    if (!o.plan.variants.some((v) => v.name === name)) {
      throw new ConfigError(
        `--rebuild names unknown variant ${JSON.stringify(name)}`,
        {},
        `variants are: ${o.plan.variants.map((v) => v.name).join(', ')}`
      )
    }
  }
  const cacheDir = o.cacheDir ?? defaultCacheDir(env)
  const pinned = await pinBase(o.plan, o.base, { cacheDir, onProgress: (m) => progress(null, m) })
  const plan = pinned.plan
  // What pinning learnt (the base image's python) the caller has not printed yet.
  for (const n of plan.notes) if (!o.plan.notes.includes(n)) progress(null, `note: ${n}`)
  let base: Promise<ResolvedBase> | null = pinned.base ? Promise.resolve(pinned.base) : null
  const baseOnce = () =>
    (base ??= resolveBase(plan.variants[0]!.baseImage, uniquePlatforms(plan), {
      ...o.base,
      cwd: plan.project.dir
    }))
  // Where each platform's packages go: what the base image's Python reads (read once per build,
  // and only when a deps image is built).
  const factsOf = (from: ImageStore, pi: PlatformImage, what: string, say: (m: string) => void) =>
    plan.project.config.pythonInBase
      ? imagePythonFacts({
          store: from,
          manifestDigest: pi.manifestDigest,
          layers: pi.manifest.layers,
          config: pi.config,
          cacheDir,
          what: `${what} (${formatPlatform(pi.platform)})`,
          onProgress: say
        })
      : Promise.resolve(null)
  const layoutOf = (
    facts: BasePythonFacts | null,
    python: VariantPlan['python'],
    image: string,
    pi: PlatformImage
  ) =>
    resolveLayout({
      config: plan.project.config,
      python,
      pythonFrom: pythonFrom(plan),
      facts,
      base: image,
      platform: formatPlatform(pi.platform),
      file: plan.project.file
    })
  let layouts: Promise<Map<string, ResolvedLayout>> | null = null
  const layoutsOnce = () =>
    (layouts ??= (async () => {
      const b = await baseOnce()
      const out = new Map<string, ResolvedLayout>()
      for (const pi of b.image.platforms) {
        const platform = formatPlatform(pi.platform)
        const facts = await factsOf(b.store, pi, `base image ${b.reference}`, (m) => progress(null, m))
        const resolved = layoutOf(facts, plan.variants[0]!.python, b.reference, pi)
        progress(null, `${platform}: ${resolved.description}`)
        out.set(platform, resolved)
      }
      return out
    })())
  // The Python of a deps image: recorded in its label by the wheels builder; else (a Dockerfile
  // build, an image of an older fast-build) read from its layers once and kept by digest.
  // A deps image with neither (made elsewhere, with no Python on its PATH) gets no project layer.
  const depsPython = async (
    v: VariantPlan,
    ref: string,
    pi: PlatformImage
  ): Promise<RecordedPython | null> => {
    const recorded = readRecordedPython(pi.config.config?.Labels)
    if (recorded) return recorded
    const platform = formatPlatform(pi.platform)
    const facts = await factsOf(store, pi, `deps image ${ref}`, (m) => progress(v.name, m))
    if (facts && !facts.python) {
      progress(
        v.name,
        `note: deps image ${ref} (${platform}) has no Python on its PATH: the project is not installed as a package there (its code is on PYTHONPATH)`
      )
      return null
    }
    try {
      return recordedPython(layoutOf(facts, v.python, ref, pi))
    } catch (e) {
      // Not ours to refuse: the deps image exists. Its app image just does not install the project.
      if (!(e instanceof PythonLayoutError)) throw e
      progress(v.name, `note: ${e.message}: the project is not installed as a package there`)
      return null
    }
  }
  // The generated Dockerfile installs with the base image's interpreter (and bootstraps pip when
  // it has none): a base without Python, or with another version, fails as the wheels builder
  // would. A Dockerfile of the project's own may bring its Python: there it is only a hint.
  const dockerfilePython = async (v: VariantPlan): Promise<{ python?: BasePython }> => {
    if (v.builder.kind !== 'dockerfile' || !plan.project.config.pythonInBase) return {}
    const own = v.builder.settings.path !== null
    try {
      const m = await layoutsOnce()
      const r = m.get(formatPlatform(v.platforms[0]!.platform))
      return r?.python ? { python: { interpreter: r.layout.interpreter, hasPip: r.python.hasPip } } : {}
    } catch (e) {
      if (own && e instanceof PythonLayoutError) {
        layouts = null
        return {}
      }
      throw e
    }
  }
  // Each app image gets an SBOM of exactly its closure, attached while the image's own manifests
  // and tags are written (a referrer may arrive before its subject: registries accept that, and
  // the fallback tag does not care). An extra: failing to attach it warns.
  type AttachedSbom = VariantResult['sboms'][number]
  const attachSbomOf = (
    v: VariantPlan,
    platform: Platform,
    manifest: Descriptor,
    created: string,
    say: (m: string) => void
  ): Promise<AttachedSbom | null> => {
    const pp = v.platforms.find((x) => x.platform.architecture === platform.architecture)
    if (!pp) return Promise.resolve(null)
    return (async () => {
      const document = cycloneDxSbom({ variant: v, platform: pp, created, name: plan.project.name ?? v.name })
      const a = await attachSbom({ store, subject: manifest, document, created })
      return { platform: formatPlatform(platform), digest: a.descriptor.digest, tag: a.tag }
    })().catch((e: unknown) => {
      say(`warning: the SBOM of ${formatPlatform(platform)} was not attached: ${describeError(e)}`)
      return null
    })
  }
  const sbomsOf = async (
    jobs: readonly Promise<AttachedSbom | null>[],
    say: (m: string) => void
  ): Promise<AttachedSbom[]> => {
    const out = (await Promise.all(jobs)).filter((x): x is AttachedSbom => x !== null)
    if (out.length > 0)
      say(
        `SBOM (CycloneDX) attached${out[0]!.tag ? ` as ${store.name}:${out.map((x) => x.tag).join(', ')}` : ' (referrers API)'}`
      )
    return out
  }
  try {
    const mirrorUrl = o.indexUrl ?? plan.project.config.indexUrl ?? env['FAST_BUILD_INDEX_URL'] ?? null
    let sharing: ReturnType<typeof sharingOf> | null = null
    const indexes = namedIndexes(plan.project)
    const git = await gitInfo(plan.project.dir, env)
    for (const w of git.warnings) progress(null, `warning: ${w}`)
    const epoch = buildEpoch(git, env)
    const created = new Date(epoch * 1000).toISOString()
    const values = (variant: string) => ({
      variant,
      sha: git.tagSha,
      ref: refSlug(env['GITHUB_HEAD_REF'] || env['GITHUB_REF_NAME'] || 'local')
    })
    const templates = o.tags && o.tags.length > 0 ? o.tags : [DEFAULT_TAG]
    // Check every template before any work, so a bad one fails the build up front.
    for (const v of plan.variants) for (const t of templates) expandTag(t, values(v.name))
    checkDistinctTags(templates, o.distinctTagsFor ?? plan.variants.map((v) => v.name), values)

    let source: SourceTree | null = null
    let layer: LayerBlob | null = null
    let layerSeconds = 0
    // The source layer is the same for every variant. It is started at once, so the disk and CPU
    // work runs while the registry is asked about the deps images, and it is uploaded while it is
    // compressed, as docker push streams layers; on any trouble with the stream the bytes kept in
    // memory go up the ordinary, retried way when a variant needs them.
    const localRefs = localPackagesOf(plan, dirname(plan.project.config.lock ?? 'pyproject.toml'))
    const start0 = performance.now()
    const treeJob = collectSource({
      projectDir: plan.project.dir,
      workdir: plan.project.config.workdir,
      localPackages: localRefs,
      mode: o.sourceMode ?? 'auto'
    })
    treeJob.catch(() => undefined)
    /** Set when no variant will use the layer (all failed): its upload is dropped without a word. */
    let abandoned = false
    const layerJob = (async () => {
      const start = start0
      const tree = await treeJob
      source = tree
      progress(null, `source: ${tree.files} files, ${formatBytes(tree.bytes)}`)
      // The upload session opens while the first blocks are tarred and compressed.
      const opening = store.beginBlob?.().catch(() => null) ?? Promise.resolve(null)
      let streaming: BlobStream | null | undefined
      const onChunk = async (chunk: Buffer) => {
        if (streaming === undefined) streaming = await opening
        if (streaming && abandoned) {
          await streaming.abort().catch(() => undefined)
          streaming = null
        }
        if (!streaming) return
        try {
          await streaming.write(chunk)
        } catch {
          await streaming.abort().catch(() => undefined)
          streaming = null
        }
      }
      const blob = await buildLayer(tree.entries, {
        mtime: epoch,
        compression: o.compression ?? 'gzip',
        onChunk
      })
      layer = blob
      let uploaded: BlobOutcome | null = null
      if (streaming === undefined) streaming = await opening
      if (streaming) {
        const s: BlobStream = streaming
        uploaded = await s
          .commit({ mediaType: blob.mediaType, digest: blob.digest, size: blob.size })
          .catch(async (e: unknown) => {
            if (!abandoned)
              progress(
                null,
                `streamed upload of the source layer failed (${describeError(e)}); it goes up again`
              )
            await s.abort().catch(() => undefined)
            return null
          })
      }
      layerSeconds = (performance.now() - start) / 1000
      progress(
        null,
        `source layer ${blob.digest.slice(7, 19)}: ${formatBytes(blob.size)} in ${layerSeconds.toFixed(2)} s`
      )
      return { source: tree, layer: blob, uploaded }
    })()
    // Failures surface where a variant awaits the layer (or before a full path), never as an
    // unhandled rejection.
    let layerFailure: unknown = null
    layerJob.catch((e: unknown) => {
      layerFailure = e
    })
    const ensureLayer = () => layerJob

    // The project's own layer (its metadata and commands), by the Python it installs for.
    let projects: ReturnType<typeof localProjects> | null = null
    const projectLayers = new Map<string, Promise<ProjectLayer | null>>()
    const projectLayerFor = (tree: SourceTree, python: RecordedPython, what: string) => {
      if (!projects) {
        projects = localProjects(plan, tree, localRefs)
        for (const n of projects.notes) progress(null, `note: ${n}`)
      }
      const key = JSON.stringify(python)
      let job = projectLayers.get(key)
      if (!job) {
        const p = projects.projects
        job = projectLayer({
          projects: p,
          python,
          compression: o.compression ?? 'gzip',
          what,
          file: plan.project.file
        }).then(({ layer, notes }) => {
          for (const n of notes) progress(null, `note: ${n}`)
          return layer
        })
        projectLayers.set(key, job)
      }
      return job
    }

    const results: VariantResult[] = []
    let layerCounted = false
    for (const v of plan.variants) {
      const start = performance.now()
      const tag = depsTag(v.name, v.shortHash)
      const depsRef = `${store.name}:${tag}`
      const base0 = { variant: v.name, hash: v.hash, depsRef }
      // A variant that ends without an image: nothing pushed, and why.
      const unbuilt = (path: 'missing' | 'failed', error: string): VariantResult =>
        unbuiltResult(base0, path, error, (performance.now() - start) / 1000)
      try {
        // Checked now, before any deps image is built (a package pip cannot install at start fails
        // the variant early); written once the deps image says where its Python reads packages.
        checkRuntime(v, plan.lock.path, plan.install)
        const wanted = rebuild === 'all' || rebuild.includes(v.name)
        let deps = wanted
          ? null
          : await resolveDepsImage(
              store,
              tag,
              v.platforms.map((p) => p.platform)
            )
        let full: FullPathResult | null = null
        let fullSeconds = 0
        if (!deps && o.fullPath === false) {
          progress(v.name, `deps image ${depsRef} is missing: the full path (building it) is needed`)
          results.push(
            unbuilt(
              'missing',
              `deps image ${depsRef} is missing: full path needed (build the deps image for hash ${v.shortHash})`
            )
          )
          continue
        }
        if (!deps) {
          // The source is checked before any deps image is built: a link that leaves the tree or
          // a file that cannot be shipped fails the variant now, not after minutes of full path
          // (the tree is listed in a moment; the fast path never waits for it here, and the layer
          // goes on compressing while deps images build). A layer that already failed (an
          // unreadable file) fails it too.
          await treeJob
          if (layerFailure !== null) throw layerFailure
          progress(
            v.name,
            wanted ? `rebuilding deps image ${depsRef}` : `deps image ${depsRef} is missing: full path`
          )
          const fullStart = performance.now()
          const mirror: IndexConfig | null = mirrorUrl ? indexConfigFor(mirrorUrl, 'mirror', env) : null
          if (v.builder.kind === 'dockerfile')
            progress(
              v.name,
              `Dockerfile builder (${engineOf(v.builder.settings.command)}): ${v.builder.reason}`
            )
          full =
            v.builder.kind === 'dockerfile'
              ? await buildDepsWithDockerfile(v, v.builder.settings, tag, {
                  plan,
                  store,
                  base: (await baseOnce()).pinned,
                  workDir: join(cacheDir, 'work'),
                  env,
                  mirror,
                  cache: new ArtifactCache(join(cacheDir, 'artifacts')),
                  ...(await dockerfilePython(v)),
                  onProgress: (m) => progress(v.name, m)
                })
              : await buildDepsImage(v, tag, {
                  store,
                  base: await baseOnce(),
                  layoutFor: await layoutsOnce().then((m) => (p: Platform) => m.get(formatPlatform(p))!),
                  projectFile: plan.project.file,
                  cache: new ArtifactCache(join(cacheDir, 'artifacts')),
                  workDir: join(cacheDir, 'work'),
                  indexFor: (pkg) =>
                    pkg.source.kind === 'registry' && pkg.source.url
                      ? indexConfigFor(
                          pkg.source.url,
                          pkg.source.name ?? indexNameFor(indexes, pkg.source.url),
                          env
                        )
                      : null,
                  mirror,
                  lockDir: join(plan.project.dir, dirname(plan.project.config.lock ?? 'pyproject.toml')),
                  sharing: (sharing ??= sharingOf(plan)),
                  maxLayers: o.maxLayers ?? plan.project.config.maxLayers,
                  heavyBytes: plan.project.config.heavyPackageMb * 1024 * 1024,
                  ...(o.restoreWheels ? { restoreWheels: o.restoreWheels } : {}),
                  onProgress: (m) => progress(v.name, m)
                })
          fullSeconds = (performance.now() - fullStart) / 1000
          for (const n of full.notes) progress(v.name, `note: ${n}`)
          deps = full.image
          progress(
            v.name,
            `deps image ${depsRef} pushed (${deps.digest.slice(0, 19)}), ${formatBytes(full.stats.bytesUploaded)} uploaded in ${fullSeconds.toFixed(1)} s`
          )
        }
        if (!full) progress(v.name, `deps image ${depsRef} found (${deps.digest.slice(0, 19)}): fast path`)
        const pythons = new Map<string, RecordedPython | null>()
        for (const pi of deps.platforms)
          pythons.set(formatPlatform(pi.platform), await depsPython(v, deps.ref, pi))
        const runtime = await runtimeLayers(v, o.compression ?? 'gzip', plan.lock.path, (p) => {
          const py = pythons.get(formatPlatform(p))
          return py ? installOf(py) : plan.install
        })
        const { source: src, layer: lay, uploaded } = await ensureLayer()
        // The streamed upload counts for the first variant that uses the layer.
        const layerOutcome = layerCounted ? undefined : (uploaded ?? undefined)
        layerCounted ||= uploaded !== null
        const tags = templates.map((t) => expandTag(t, values(v.name)))
        const projectByPlatform = new Map<string, ProjectLayer | null>()
        for (const pi of deps.platforms) {
          const platform = formatPlatform(pi.platform)
          const py = pythons.get(platform)
          projectByPlatform.set(
            platform,
            py ? await projectLayerFor(src, py, `app image of ${v.name} (${platform})`) : null
          )
        }
        const sbomJobs: Promise<AttachedSbom | null>[] = []
        const pushed = await pushAppImage({
          store,
          deps,
          layer: lay,
          settings: {
            ...settingsFor(plan, v, src, git, created),
            labels: {
              ...settingsFor(plan, v, src, git, created).labels,
              'org.opencontainers.image.base.digest': deps.digest,
              'org.opencontainers.image.base.name': deps.ref
            }
          },
          tags,
          ...(layerOutcome ? { layerOutcome } : {}),
          ...(runtime
            ? { runtime: (platform: Platform) => runtime.get(formatPlatform(platform)) ?? null }
            : {}),
          project: (platform: Platform) => projectByPlatform.get(formatPlatform(platform)) ?? null,
          onManifest: (platform, manifest) =>
            sbomJobs.push(attachSbomOf(v, platform, manifest, created, (m) => progress(v.name, m))),
          onProgress: (m) => progress(v.name, m)
        })
        const stats: BlobStats = pushed.stats
        const sboms = await sbomsOf(sbomJobs, (m) => progress(v.name, m))
        results.push({
          ...base0,
          path: full ? 'full' : 'fast',
          appRef: `${store.name}:${tags[0]}@${pushed.digest}`,
          digest: pushed.digest,
          tags,
          blobs: { uploaded: stats.uploaded, mounted: stats.mounted, skipped: stats.skipped },
          bytesUploaded: stats.bytesUploaded,
          seconds: (performance.now() - start) / 1000,
          error: null,
          sboms,
          full: full
            ? {
                layers: full.layers.length,
                layersUploaded: full.layers.filter((l) => l.outcome === 'uploaded').length,
                layerBytesUploaded: full.layers
                  .filter((l) => l.outcome === 'uploaded')
                  .reduce((n, l) => n + l.size, 0),
                layersBuilt: full.layers.filter((l) => l.built).length,
                wheels: full.wheels.total,
                wheelsDownloaded: full.wheels.downloaded,
                wheelsRestored: full.wheels.restored,
                downloadedSha256: full.wheels.downloadedSha256,
                bytesUploaded: full.stats.bytesUploaded,
                seconds: fullSeconds,
                notes: full.notes,
                builder: v.builder.kind,
                builderReason: v.builder.kind === 'dockerfile' ? v.builder.reason : null,
                phases: full.phases ?? null
              }
            : null
        })
        progress(
          v.name,
          `pushed ${store.name}:${tags.join(', ')} (${pushed.digest.slice(0, 19)}), ${formatBytes(stats.bytesUploaded)} uploaded`
        )
      } catch (e) {
        results.push(unbuilt('failed', describeError(e)))
        progress(v.name, `failed: ${describeError(e)}`)
      }
    }
    // Variants that did not plan (a declared conflict, a stale selection) fail here too, so every
    // variant asked for has a result.
    for (const f of plan.failed ?? []) {
      progress(f.name, `failed: ${describeError(f.error)}`)
      results.push(
        unbuiltResult({ variant: f.name, hash: '', depsRef: '' }, 'failed', describeError(f.error), 0)
      )
    }
    if (!results.some((r) => r.digest !== null)) {
      // Nobody needs the source layer: stop its upload quietly and let it settle before returning.
      abandoned = true
      await layerJob.catch(() => undefined)
    }
    const l = layer as LayerBlob | null
    const s = source as SourceTree | null
    return {
      store: store.name,
      revision: git.revision,
      sourceLayer: l && s ? { digest: l.digest, size: l.size, files: s.files, seconds: layerSeconds } : null,
      variants: results
    }
  } finally {
    // The base image's registry connection (kept for the full path) is closed whatever happened.
    if (base)
      await base.then(
        (b) => b.store.close?.(),
        () => undefined
      )
  }
}
