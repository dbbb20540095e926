// The full path: a variant's deps image built straight from the wheels its lock pins, without
// Docker. Choose the wheel per package and platform, fetch and verify it, group packages into
// layers, install each group's wheels straight into its layer (our installer, pip's layout, no
// staging tree on disk), write each layer once (content-addressed, cached across builds), and
// push: base layers referenced (mounted, or copied across registries), package layers uploaded
// only when missing, then configs, manifests, the index, and the `deps-<variant>-<hash>` tag last.
import { createHash, randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { FastBuildError } from '../errors.js'
import type { LockedPackage } from '../lock/model.js'
import type { Digest } from '../oci/digest.js'
import type { LayerEntry } from '../oci/entry.js'
import {
  buildIndex,
  buildManifest,
  configMediaTypeFor,
  describeBytes,
  ociPlatform,
  parseManifest,
  serialize,
  sortedRecord,
  type Descriptor,
  type ImageConfig
} from '../oci/image.js'
import { buildLayer, type LayerBlob } from '../oci/layer.js'
import { DOCKER_MANIFEST_LIST, layerMediaType, OCI_INDEX } from '../oci/media-types.js'
import type { VariantPlan } from '../plan/plan.js'
import type { BlobOutcome, ImageStore } from '../registry/store.js'
import { formatPlatform, type Platform } from '../target.js'
import { fetchArtifacts, type ArtifactCache, type FetchItem, type FetchResult } from '../wheels/fetch.js'
import type { IndexConfig } from '../wheels/index.js'
import {
  WheelError,
  wheelLayerEntries,
  type PythonLayout,
  type WheelLayerEntries
} from '../wheels/install.js'
import { chooseWheels, type Chosen } from './wheel-choice.js'
import { ZipReader } from '../wheels/zip.js'
import { handled, limit } from '../util/limit.js'
import type { ResolvedBase } from './base-image.js'
import type { DepsImage, PlatformImage } from './deps-image.js'
import { countBlob, emptyStats, formatBytes, type BlobStats } from './fast-path.js'
import { planLayers, type LayerCandidate } from './layering.js'
import {
  installedDist,
  PYTHON_LABEL,
  recordedPython,
  verifyInstall,
  type InstalledDist,
  type ResolvedLayout
} from './python-layout.js'

/** Deps layers carry one fixed time, so the same wheels give the same layer on every commit. */
export const DEPS_MTIME = 315532800 // 1980-01-01T00:00:00Z
const DEPS_CREATED = new Date(DEPS_MTIME * 1000).toISOString()
/** Part of every cached layer's key: changing how layers are written must not reuse old ones.
 * 3: the descriptor records what each wheel installed where (for the verification). */
const LAYER_FORMAT = 3

/** Packages the wheels builder cannot install, and why; the variant needs another builder. */
export class WheelsUnavailableError extends FastBuildError {
  constructor(
    readonly variant: string,
    readonly problems: readonly { name: string; version: string | null; platform: string; reason: string }[]
  ) {
    super(
      `the wheels builder cannot build variant ${variant}: ${problems.length} package${problems.length === 1 ? ' has' : 's have'} no wheel to install\n` +
        problems.map((p) => `  - ${p.name} ${p.version ?? ''} (${p.platform}): ${p.reason}`).join('\n'),
      {},
      'build this variant with the Dockerfile builder (builder = "dockerfile"), or lock versions that publish wheels for these platforms'
    )
  }
}

export interface FullPathContext {
  readonly store: ImageStore
  readonly base: ResolvedBase
  /** Where packages go on each platform, and what its Python reads (python-layout.ts). */
  readonly layoutFor: (platform: Platform) => ResolvedLayout
  /** The project's pyproject.toml, for errors of the layout settings. */
  readonly projectFile?: string
  readonly cache: ArtifactCache
  /** Where installs and built layers are kept between builds. */
  readonly workDir: string
  /** The index a registry package's files come from (Poetry locks list no URLs). */
  readonly indexFor: (pkg: LockedPackage) => IndexConfig | null
  readonly mirror: IndexConfig | null
  /** The lock's directory (paths of path-sourced files are relative to it). */
  readonly lockDir: string
  /** Variants (of the whole configuration) that install this wheel on this platform. */
  readonly sharing: (platform: Platform, wheelSha256: string) => readonly string[]
  readonly maxLayers: number
  readonly heavyBytes: number
  readonly onProgress?: (message: string) => void
  /**
   * Called with the digests of the wheels a build needs that are not in the artifact cache,
   * before they are downloaded: a chance to restore them from elsewhere (the Actions cache).
   * Returns how many it restored; failures are its own business (a warning), never the build's.
   */
  readonly restoreWheels?: (sha256s: readonly string[]) => Promise<number>
}

export interface LayerReport {
  readonly platform: string
  readonly label: string
  readonly packages: number
  readonly digest: Digest
  readonly size: number
  readonly outcome: BlobOutcome
  /** Built in this run (false: taken from the layer cache). */
  readonly built: boolean
}

/**
 * Seconds per phase of one deps image build. `fetch`, `sizes`, `layers` and `manifests` follow each
 * other (wall time); within `layers`, builds and uploads overlap, so `layerBuild` (inflate, tar,
 * deflate: summed over the layers, two at a time) and `upload` (summed over the blobs) are busy
 * times that can add up to more than `layers`.
 */
export interface FullPathPhases {
  readonly choose: number
  readonly fetch: number
  readonly sizes: number
  readonly layers: number
  readonly layerBuild: number
  readonly upload: number
  readonly baseBlobs: number
  readonly manifests: number
  readonly total: number
}

export interface FullPathResult {
  readonly image: DepsImage
  readonly stats: BlobStats
  readonly layers: readonly LayerReport[]
  readonly notes: readonly string[]
  /** Where the time went, in seconds (see FullPathPhases); the wheels builder's only. */
  readonly phases?: FullPathPhases
  readonly wheels: {
    readonly total: number
    /** Read from the artifact cache or the lock's index because a layer had to be built. */
    readonly fetched: number
    readonly downloaded: number
    readonly bytesDownloaded: number
    /** Restored by `restoreWheels` (the Actions cache). */
    readonly restored: number
    /** Their digests (for saving them elsewhere). */
    readonly downloadedSha256: readonly string[]
  }
}

/** A path-sourced wheel (`source = { path = "wheels/x.whl" }`) is listed by file name alone. */
function fileLocation(c: Chosen): Chosen['file'] {
  const f = c.file
  if (f.path === null && f.url === null && c.pkg.source.kind === 'file')
    return { ...f, path: c.pkg.source.path }
  return f
}

/**
 * Bytes a wheel unpacks to (its zip directory's sizes): what layering weighs packages by. Kept
 * under the work directory by the wheel's digest, so a rebuild does not read every wheel again.
 */
/** The unpacked size recorded by an earlier build (kept in the Actions cache's layer index). */
function knownSize(sha256: string, workDir: string): number | null {
  const memo = join(workDir, 'unpacked-size', sha256)
  if (!existsSync(memo)) return null
  const text = readFileSync(memo, 'utf8')
  const n = Number(text)
  return text !== '' && Number.isSafeInteger(n) && n >= 0 ? n : null
}

async function unpackedSize(
  path: string,
  filename: string,
  sha256: string,
  workDir: string
): Promise<number> {
  const known = knownSize(sha256, workDir)
  if (known !== null) return known
  const memo = join(workDir, 'unpacked-size', sha256)
  const zip = await ZipReader.open(path).catch((e: unknown) => {
    if (e instanceof WheelError) throw new WheelError(e.message, filename, e.hint ?? '', e.entry)
    throw e
  })
  let size: number
  try {
    size = zip.entries.reduce((n, e) => n + e.size, 0)
  } finally {
    await zip.close()
  }
  mkdirSync(join(workDir, 'unpacked-size'), { recursive: true })
  // Written aside and renamed, so a concurrent build never reads half a number.
  const tmp = `${memo}.${randomBytes(4).toString('hex')}.tmp`
  writeFileSync(tmp, String(size))
  renameSync(tmp, memo)
  return size
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

function layoutKey(layout: PythonLayout): string {
  return createHash('sha256').update(JSON.stringify(layout)).digest('hex').slice(0, 16)
}

/** A wheel going into a layer: the verified file in the artifact cache and its own name. */
interface LayerMember {
  readonly sha256: string
  readonly path: string
  readonly filename: string
  /** `name version`, for messages. */
  readonly label: string
}

/** Name the wheel (not its path in the artifact cache, which is by digest) in an installer error. */
function namingWheel(m: LayerMember): (e: unknown) => never {
  return (e) => {
    if (e instanceof WheelError)
      throw new WheelError(`${m.label}: ${e.message}`, m.filename, e.hint ?? '', e.entry)
    throw e
  }
}

/**
 * The installed files of these wheels as layer entries, with every parent directory (each layer
 * carries its own). Where two wheels of one layer install the same path, the later one wins, as
 * when pip installs them in that order.
 */
function layerEntries(wheels: readonly WheelLayerEntries[]): LayerEntry[] {
  const files = new Map<string, LayerEntry>()
  for (const w of wheels) for (const e of w.entries) files.set(e.path, e)
  const dirs = new Set<string>()
  for (const path of files.keys())
    for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) dirs.add(path.slice(0, i))
  return [...files.values(), ...[...dirs].map((d): LayerEntry => ({ type: 'dir', path: d }))]
}

interface BuiltLayer {
  readonly digest: Digest
  readonly diffId: Digest
  readonly size: number
  /** The compressed layer on disk; null when only its descriptor is known (the registry has it). */
  readonly file: string | null
  readonly built: boolean
  readonly dists: readonly InstalledDist[]
}

interface LayerMeta {
  readonly digest: Digest
  readonly diffId: Digest
  readonly size: number
  /** What each wheel of the layer installed where: checked against the interpreter's sys.path. */
  readonly dists: readonly InstalledDist[]
}

/** The layer cache's key for a layer of these wheels: everything that makes its bytes. */
function layerKeyOf(sha256s: readonly string[], layout: PythonLayout): string {
  return createHash('sha256')
    .update(
      JSON.stringify({
        format: LAYER_FORMAT,
        layout: layoutKey(layout),
        mtime: DEPS_MTIME,
        wheels: [...sha256s].sort()
      })
    )
    .digest('hex')
}

/**
 * What the layer cache knows of a layer: its descriptor (`<key>.json`, a few bytes, kept in the
 * Actions cache's layer index), and the compressed layer itself when this machine built it.
 */
function knownLayer(key: string, workDir: string): { meta: LayerMeta; file: string | null } | null {
  const meta = join(workDir, 'layers', `${key}.json`)
  if (!existsSync(meta)) return null
  let m: LayerMeta
  try {
    m = JSON.parse(readFileSync(meta, 'utf8')) as LayerMeta
  } catch {
    return null // a torn or foreign file: build the layer again
  }
  if (
    typeof m.digest !== 'string' ||
    typeof m.diffId !== 'string' ||
    typeof m.size !== 'number' ||
    !Array.isArray(m.dists)
  )
    return null
  const blob = join(workDir, 'layers', `${key}.tar.gz`)
  return { meta: m, file: existsSync(blob) && statSync(blob).size === m.size ? blob : null }
}

/** The layer of these wheels, installed straight into it (nothing is written but the compressed layer). */
async function buildLayerFile(
  key: string,
  members: readonly LayerMember[],
  layout: PythonLayout,
  workDir: string
): Promise<BuiltLayer> {
  const dir = join(workDir, 'layers')
  mkdirSync(dir, { recursive: true })
  const blob = join(dir, `${key}.tar.gz`)
  const tmp = `${blob}.${randomBytes(4).toString('hex')}.tmp`
  try {
    const wheels: WheelLayerEntries[] = []
    let layer: LayerBlob
    try {
      for (const m of members)
        wheels.push(await wheelLayerEntries(m.path, layout, { filename: m.filename }).catch(namingWheel(m)))
      // Errors found while the layer is written (a RECORD hash) name the wheel too.
      layer = await buildLayer(layerEntries(wheels), {
        mtime: DEPS_MTIME,
        compression: 'gzip',
        file: tmp
      }).catch((e: unknown) => {
        const m = e instanceof WheelError ? members.find((x) => x.path === e.location.file) : undefined
        return m ? namingWheel(m)(e) : Promise.reject(e)
      })
    } finally {
      await Promise.all(wheels.map((w) => w.close()))
    }
    renameSync(tmp, blob)
    // The descriptor last, written aside and renamed: a reader never sees half of it.
    const meta: LayerMeta = {
      digest: layer.digest,
      diffId: layer.diffId,
      size: layer.size,
      dists: wheels.map((w) =>
        installedDist(
          w.name,
          w.version,
          w.entries.map((e) => e.path),
          layout
        )
      )
    }
    const metaTmp = `${tmp}.json`
    writeFileSync(metaTmp, JSON.stringify(meta))
    renameSync(metaTmp, join(dir, `${key}.json`))
    return { ...meta, file: blob, built: true }
  } finally {
    rmSync(tmp, { force: true })
  }
}

/** Make the base image's blobs present in the target: mount within a registry, copy otherwise. */
async function placeBaseBlobs(
  ctx: FullPathContext,
  descriptors: readonly Descriptor[],
  stats: BlobStats
): Promise<void> {
  const { store } = ctx
  const source = ctx.base.store
  const sameRegistry = store.mountable && source.mountable && store.mountable.host === source.mountable.host
  for (const d of descriptors) {
    if (await store.blobExists(d.digest)) {
      countBlob(stats, 'exists', d.size)
      continue
    }
    if (sameRegistry && store.mountBlob && (await store.mountBlob(d, source.mountable!.repository))) {
      countBlob(stats, 'mounted', d.size)
      continue
    }
    ctx.onProgress?.(
      `copying base layer ${d.digest.slice(7, 19)} (${formatBytes(d.size)}) from ${source.name}`
    )
    const data = await source.openBlob(d.digest)
    countBlob(stats, await store.putBlob(d, data), d.size)
  }
}

export async function buildDepsImage(
  variant: VariantPlan,
  tag: string,
  ctx: FullPathContext
): Promise<FullPathResult> {
  const progress = ctx.onProgress ?? (() => {})
  const t0 = performance.now()
  const since = (t: number) => (performance.now() - t) / 1000
  const busy = { fetch: 0, layerBuild: 0, upload: 0, baseBlobs: 0 }
  const notes: string[] = []

  // 1. A wheel for every package on every platform, or a precise refusal.
  const perPlatform = variant.platforms.map((p) => ({
    plan: p,
    ...chooseWheels(
      p.closure.installed.map((e) => e.package),
      p.target
    )
  }))
  const problems = perPlatform.flatMap((p) => p.problems)
  if (problems.length > 0) throw new WheelsUnavailableError(variant.name, problems)
  const choose = since(t0)

  // 2. Sizes (what layering weighs packages by): known from earlier builds, else read from the
  // wheel, which is then fetched (verified against the lock; cached by sha256).
  const unique = new Map<string, Chosen>()
  for (const p of perPlatform) for (const c of p.chosen) unique.set(c.sha256, c)
  progress(`${plural(unique.size, 'wheel')} to install`)
  const wheelPath = new Map<string, string>()
  let downloaded: FetchResult[] = []
  let restored = 0
  const fetchWheels = async (shas: readonly string[]): Promise<void> => {
    const wanted = shas.filter((sha) => !wheelPath.has(sha))
    if (wanted.length === 0) return
    const start = performance.now()
    try {
      await fetchWanted(wanted)
    } finally {
      busy.fetch += since(start)
    }
  }
  const fetchWanted = async (wanted: readonly string[]): Promise<void> => {
    const missing = wanted.filter((sha) => !ctx.cache.has(sha))
    if (missing.length > 0 && ctx.restoreWheels) {
      const n = await ctx.restoreWheels(missing).catch(() => 0)
      if (n > 0) progress(`restored ${plural(n, 'wheel')} from the cache`)
      restored += n
    }
    const items: FetchItem[] = wanted.map((sha) => {
      const c = unique.get(sha)!
      return { name: c.pkg.name, version: c.pkg.version, file: fileLocation(c), index: ctx.indexFor(c.pkg) }
    })
    // Big downloads (torch is ~200 MB) say when they start and end; retries always say why.
    const BIG = 16 * 1024 * 1024
    const fetched = await fetchArtifacts(items, {
      cache: ctx.cache,
      mirror: ctx.mirror,
      baseDir: ctx.lockDir,
      onProgress: (e) => {
        if (e.kind === 'start' && (e.total ?? 0) >= BIG)
          progress(`downloading ${e.item.file.name} (${formatBytes(e.total!)})`)
        else if (e.kind === 'done' && e.bytes >= BIG)
          progress(`downloaded ${e.item.file.name} in ${(e.ms / 1000).toFixed(1)} s`)
        else if (e.kind === 'retry')
          progress(`${e.item.file.name}: ${e.reason}; retrying in ${(e.delayMs / 1000).toFixed(1)} s`)
      }
    })
    for (const f of fetched) wheelPath.set(f.sha256, f.path)
    const now = fetched.filter((f) => !f.cached)
    downloaded = [...downloaded, ...now]
    if (now.length) {
      progress(
        `downloaded ${plural(now.length, 'wheel')} (${formatBytes(now.reduce((n, f) => n + f.size, 0))}), ${fetched.length - now.length} from the cache`
      )
    }
  }
  const tSizes = performance.now()
  const sizes = new Map<string, number>()
  for (const sha of unique.keys()) {
    const n = knownSize(sha, ctx.workDir)
    if (n !== null) sizes.set(sha, n)
  }
  await fetchWheels([...unique.keys()].filter((sha) => !sizes.has(sha)))
  await Promise.all(
    [...unique.keys()]
      .filter((sha) => !sizes.has(sha))
      .map(async (sha) =>
        sizes.set(sha, await unpackedSize(wheelPath.get(sha)!, unique.get(sha)!.file.name, sha, ctx.workDir))
      )
  )
  const sizesAndFetch = since(tSizes)
  const tLayers = performance.now()
  const fetchBeforeLayers = busy.fetch

  // 3. Plan the layers of every platform.
  const platforms = perPlatform.map(({ plan: p, chosen }) => {
    const platform = formatPlatform(p.platform)
    const baseImage = ctx.base.image.platforms.find(
      (b) => b.platform.architecture === p.platform.architecture
    )!
    const resolved = ctx.layoutFor(p.platform)
    const budget = ctx.maxLayers - baseImage.manifest.layers.length - 1
    if (budget < 1 && chosen.length > 0) {
      throw new FastBuildError(
        `base image ${ctx.base.reference} has ${baseImage.manifest.layers.length} layers, which leaves no room under max-layers ${ctx.maxLayers}`,
        {},
        'raise max-layers under [tool.fast-build] (Docker refuses images past about 125 layers)'
      )
    }
    const candidates: LayerCandidate[] = chosen.map((c) => ({
      key: c.sha256,
      name: c.pkg.name,
      version: c.pkg.version,
      installedSize: sizes.get(c.sha256)!,
      variants: ctx.sharing(p.platform, c.sha256)
    }))
    const layering = planLayers(candidates, { budget, heavyBytes: ctx.heavyBytes })
    notes.push(...layering.notes.map((n) => `${platform}: ${n}`))
    return { p, platform, baseImage, layering, resolved }
  })

  // 4. What each layer needs. Nothing when the layer cache knows it: the compressed layer is
  // here, or only its descriptor is (the Actions cache keeps descriptors, not layers) and the
  // registry has the blob, checked now, since a cache is a hint and the registry the truth.
  // Otherwise its wheels, all fetched together, and a build.
  interface LayerJob {
    readonly key: string
    readonly known: { meta: LayerMeta; file: string | null } | null
    inRegistry: boolean
  }
  const jobs = new Map<string, LayerJob>()
  const jobOf = (shas: readonly string[], layout: PythonLayout): LayerJob => {
    const key = layerKeyOf(shas, layout)
    let job = jobs.get(key)
    if (!job) {
      job = { key, known: knownLayer(key, ctx.workDir), inRegistry: false }
      jobs.set(key, job)
    }
    return job
  }
  const groupShas = (g: { packages: readonly LayerCandidate[] }) => g.packages.map((c) => c.key)
  for (const { layering, resolved } of platforms)
    for (const g of layering.groups) jobOf(groupShas(g), resolved.layout)
  await Promise.all(
    [...jobs.values()]
      .filter((j) => j.known && !j.known.file)
      .map(async (j) => {
        j.inRegistry = await ctx.store.blobExists(j.known!.meta.digest)
      })
  )
  const ready = (j: LayerJob) => j.known !== null && (j.known.file !== null || j.inRegistry)
  const buildShas = new Set<string>()
  for (const { layering, resolved } of platforms)
    for (const g of layering.groups)
      if (!ready(jobOf(groupShas(g), resolved.layout))) for (const sha of groupShas(g)) buildShas.add(sha)
  await fetchWheels([...buildShas])

  // 5. Two layers are built at once: each inflates, hashes and tars on this thread while its
  // compression runs on the thread pool, so both cores stay busy. Pushes overlap the builds.
  const layerLimit = limit(2)
  const pushLimit = limit(2)
  const member = (sha: string): LayerMember => {
    const c = unique.get(sha)!
    return {
      sha256: sha,
      path: wheelPath.get(sha)!,
      filename: c.file.name,
      label: `${c.pkg.name} ${c.pkg.version ?? ''}`.trim()
    }
  }
  // A layer shared by two platforms (pure wheels) is built once.
  const layers = new Map<string, Promise<BuiltLayer>>()
  const layerFor = (shas: readonly string[], layout: PythonLayout): Promise<BuiltLayer> => {
    const job = jobOf(shas, layout)
    let built = layers.get(job.key)
    if (!built) {
      built = ready(job)
        ? Promise.resolve({ ...job.known!.meta, file: job.known!.file, built: false })
        : handled(
            layerLimit(async () => {
              const start = performance.now()
              try {
                return await buildLayerFile(job.key, shas.map(member), layout, ctx.workDir)
              } finally {
                busy.layerBuild += since(start)
              }
            })
          )
      layers.set(job.key, built)
    }
    return built
  }

  // 6. Per platform: base blobs, layers, config, manifest.
  const stats = emptyStats()
  const reports: LayerReport[] = []
  const children: Descriptor[] = []
  let single: { bytes: Buffer; mediaType: string } | null = null
  // What was pushed, as the fast path needs it (no need to read it back from the store).
  const pushedImages: PlatformImage[] = []
  for (const { p, platform, baseImage, layering, resolved } of platforms) {
    const tBase = performance.now()
    await placeBaseBlobs(ctx, baseImage.manifest.layers, stats)
    busy.baseBlobs += since(tBase)
    const manifestType = baseImage.manifest.mediaType
    const mediaType = layerMediaType(manifestType, 'gzip')
    const pushed = layering.groups.map((group, i) =>
      handled(
        layerFor(
          group.packages.map((c) => c.key),
          resolved.layout
        ).then((built) =>
          pushLimit(async () => {
            const desc: Descriptor = { mediaType, digest: built.digest, size: built.size }
            const tUp = performance.now()
            const outcome: BlobOutcome = built.file
              ? await ctx.store.putBlob(desc, { file: built.file })
              : 'exists'
            busy.upload += since(tUp)
            progress(
              `${platform}: layer ${i + 1}/${layering.groups.length} ${group.label}: ${formatBytes(built.size)}${built.built ? '' : ' (cached)'}, ${outcome}`
            )
            return { built, desc, outcome }
          })
        )
      )
    )
    const layerDescriptors: Descriptor[] = []
    const diffIds: Digest[] = []
    const history: NonNullable<ImageConfig['history']> = []
    const dists: InstalledDist[] = []
    for (const [i, group] of layering.groups.entries()) {
      const { built, desc, outcome } = await pushed[i]!
      dists.push(...built.dists)
      countBlob(stats, outcome, built.size)
      reports.push({
        platform,
        label: group.label,
        packages: group.packages.length,
        digest: built.digest,
        size: built.size,
        outcome,
        built: built.built
      })
      layerDescriptors.push(desc)
      diffIds.push(built.diffId)
      const names = group.packages.map((c) => `${c.name}==${c.version ?? '?'}`)
      history.push({
        created: DEPS_CREATED,
        created_by: `fast-build: ${names.length > 12 ? `${names.slice(0, 12).join(' ')} …and ${names.length - 12} more` : names.join(' ')}`,
        comment: 'fast-build'
      })
    }
    // The image must work before it gets a config, a manifest or a tag: every package where the
    // base image's Python reads, every script's interpreter present.
    verifyInstall({
      dists,
      layout: resolved.layout,
      resolved,
      what: `deps image of ${variant.name} (${platform})`,
      ...(ctx.projectFile ? { file: ctx.projectFile } : {})
    })
    const baseConfig = baseImage.config
    const config: ImageConfig = {
      ...baseConfig,
      created: DEPS_CREATED,
      config: {
        ...(baseConfig.config ?? {}),
        Labels: sortedRecord({
          ...(baseConfig.config?.Labels ?? {}),
          'dev.fast-build.variant': variant.name,
          'dev.fast-build.hash': variant.hash,
          'org.opencontainers.image.base.name': ctx.base.reference,
          'org.opencontainers.image.base.digest': ctx.base.image.digest,
          [PYTHON_LABEL]: JSON.stringify(recordedPython(resolved))
        })
      },
      rootfs: { type: 'layers', diff_ids: [...baseConfig.rootfs.diff_ids, ...diffIds] },
      history: [...(baseConfig.history ?? []), ...history]
    }
    const configBytes = serialize(config)
    const configDesc = describeBytes(configMediaTypeFor(manifestType), configBytes)
    countBlob(stats, await ctx.store.putBlob(configDesc, configBytes), configBytes.length)
    const manifest = serialize(
      buildManifest({
        mediaType: manifestType,
        config: configDesc,
        layers: [...baseImage.manifest.layers, ...layerDescriptors]
      })
    )
    const manifestDesc = describeBytes(manifestType, manifest)
    const parsed = parseManifest(manifest, manifestType, `deps image ${ctx.store.name}:${tag}`)
    if (parsed.kind !== 'manifest') throw new Error('unreachable: a manifest was written')
    let indexEntry: Descriptor | null = null
    if (variant.platforms.length > 1) {
      await ctx.store.putManifest(null, manifest, manifestType)
      stats.uploaded++
      stats.bytesUploaded += manifest.length
      indexEntry = { ...manifestDesc, platform: baseImage.indexEntry?.platform ?? ociPlatform(p.platform) }
      children.push(indexEntry)
    } else {
      single = { bytes: manifest, mediaType: manifestType }
    }
    pushedImages.push({
      platform: p.platform,
      indexEntry,
      manifest: parsed.manifest,
      manifestDigest: manifestDesc.digest,
      config
    })
  }

  const layersWall = since(tLayers)
  const tTop = performance.now()
  // 7. The tagged manifest or index, last: only a complete image ever has the tag.
  const top =
    single ??
    (() => {
      const mediaType = ctx.base.image.mediaType === DOCKER_MANIFEST_LIST ? DOCKER_MANIFEST_LIST : OCI_INDEX
      return { bytes: serialize(buildIndex({ mediaType, manifests: children })), mediaType }
    })()
  await ctx.store.putManifest(tag, top.bytes, top.mediaType)
  stats.uploaded++
  stats.bytesUploaded += top.bytes.length

  const image: DepsImage = {
    ref: `${ctx.store.name}:${tag}`,
    digest: describeBytes(top.mediaType, top.bytes).digest,
    mediaType: top.mediaType,
    isIndex: single === null,
    platforms: pushedImages
  }
  const fetchInLayers = busy.fetch - fetchBeforeLayers
  const r2 = (n: number) => Math.round(n * 1000) / 1000
  const phases: FullPathPhases = {
    choose: r2(choose),
    fetch: r2(busy.fetch),
    sizes: r2(Math.max(0, sizesAndFetch - fetchBeforeLayers)),
    layers: r2(Math.max(0, layersWall - fetchInLayers - busy.baseBlobs)),
    layerBuild: r2(busy.layerBuild),
    upload: r2(busy.upload),
    baseBlobs: r2(busy.baseBlobs),
    manifests: r2(since(tTop)),
    total: r2(since(t0))
  }
  return {
    image,
    stats,
    layers: reports,
    notes,
    phases,
    wheels: {
      total: unique.size,
      fetched: wheelPath.size,
      downloaded: downloaded.length,
      bytesDownloaded: downloaded.reduce((n, f) => n + f.size, 0),
      restored,
      downloadedSha256: downloaded.map((f) => f.sha256)
    }
  }
}
