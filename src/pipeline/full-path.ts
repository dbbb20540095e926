// The full path: a variant's deps image built straight from the wheels its lock pins, without
// Docker. Choose the wheel per package and platform, fetch and verify it, group packages into
// layers, install each group's wheels straight into its layer (our installer, pip's layout, no
// staging tree on disk), write each layer once (content-addressed, cached across builds), and
// push: base layers referenced (mounted, or copied across registries), package layers uploaded
// only when missing, then configs, manifests, the index, and the `deps-<variant>-<hash>` tag last.
import { createHash, randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { rename, writeFile } from 'node:fs/promises'
import { FastBuildError } from '../errors.js'
import type { LockedPackage } from '../lock/model.js'
import type { Digest } from '../oci/digest.js'
import { ociPlatform, sortedRecord, type Descriptor, type ImageConfig } from '../oci/image.js'
import {
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
  layerMediaType,
  OCI_INDEX,
  type Compression
} from '../oci/media-types.js'
import type { PlatformPlan, VariantPlan } from '../plan/plan.js'
import type { BlobOutcome, ImageStore } from '../registry/store.js'
import { formatPlatform, type Platform } from '../target.js'
import type { ArtifactCache } from '../cache/artifacts.js'
import type { CacheLayout } from '../cache/layout.js'
import { fetchArtifacts, type FetchItem, type FetchResult } from '../wheels/fetch.js'
import type { IndexConfig } from '../wheels/index.js'
import type { PythonLayout } from '../wheels/install/layout.js'
import { WheelError } from '../wheels/wheel-error.js'
import type { Chosen, WheelProblem } from '../plan/wheel-choice.js'
import { ZipReader } from '../wheels/zip.js'
import { handled, limit, type Limit } from '../util/limit.js'
import type { ResolvedBase } from './base-image.js'
import type { DepsImage, PlatformImage } from './deps-image.js'
import {
  addStats,
  countBlob,
  describeImage,
  emptyStats,
  pushImage,
  type BlobStats,
  type ImageWrite,
  type ManifestWrite
} from '../registry/push.js'
import { appendLayers, type AppendedLayer, type ConfigPatch, type HistoryEntry } from '../oci/image-edit.js'
import { formatBytes } from '../util/format.js'
import { groupSize, planLayers, type LayerCandidate, type LayerGroup } from './layering.js'
import { streamedUpload, type StreamedUpload } from './streamed-upload.js'
import {
  buildLayerFile,
  type LayerPart,
  type ReusedSegment,
  type SegmentRecord,
  DEPS_MTIME,
  layerBlobName,
  type BuiltLayer,
  type LayerMember,
  type LayerMeta
} from './wheel-layer.js'
import {
  PYTHON_LABEL,
  recordedPython,
  verifyInstall,
  type InstalledDist,
  type ResolvedLayout
} from './python-layout.js'

const DEPS_CREATED = new Date(DEPS_MTIME * 1000).toISOString()
/** Part of every cached layer's key: changing how layers are written must not reuse old ones.
 * 3: the descriptor records what each wheel installed where (for the verification).
 * 4: big files of gzip layers carry their wheel's deflate data (oci/layer.ts). */
const LAYER_FORMAT = 5

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
  /**
   * Where packages go on each platform, and what its Python reads (python-layout.ts). May still
   * be on its way (reading the base image) while the wheels download: it is wanted only once
   * they are here.
   */
  readonly layoutFor: (platform: Platform) => ResolvedLayout | Promise<ResolvedLayout>
  /** The project's pyproject.toml, for errors of the layout settings. */
  readonly projectFile?: string
  readonly cache: ArtifactCache
  /** Where installs and built layers are kept between builds. */
  readonly cacheLayout: CacheLayout
  /** The index a registry package's files come from (Poetry locks list no URLs). */
  readonly indexFor: (pkg: LockedPackage) => IndexConfig | null
  readonly mirror: IndexConfig | null
  /** The lock's directory (paths of path-sourced files are relative to it). */
  readonly lockDir: string
  /** Variants (of the whole configuration) that install this wheel on this platform. */
  readonly sharing: (platform: Platform, wheelSha256: string) => readonly string[]
  /** The wheel of each package of a platform, or why there is none (chosen once, by the plan stage). */
  readonly wheelsOf: (p: PlatformPlan) => {
    readonly chosen: readonly Chosen[]
    readonly problems: readonly WheelProblem[]
  }
  readonly maxLayers: number
  readonly heavyBytes: number
  /** How the deps layers are compressed (gzip unless the configuration says zstd). */
  readonly compression?: Compression
  readonly onProgress?: (message: string) => void
  /**
   * Called with the digests of the wheels a build needs that are not in the artifact cache,
   * before they are downloaded: a chance to restore them from elsewhere (the Actions cache).
   * Returns how many it restored; failures are its own business (a warning), never the build's.
   */
  readonly restoreWheels?: (sha256s: readonly string[]) => Promise<number>
  /**
   * Called with the image as soon as it is made, before it is written (`pushed` settles when it
   * is): what goes on top of it can be made and uploaded meanwhile.
   */
  readonly onImage?: (image: DepsImage, pushed: Promise<unknown>) => void
  /**
   * Called once the layers start building (on a later turn of the event loop): the main thread
   * mostly waits on the thread pool then, a time for other work of the variant.
   */
  readonly onLayersBuilding?: () => void
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
  /** Of the packages of a layer built, how many had their files copied from an earlier layer. */
  readonly copied: number
}

/**
 * Seconds per phase of one deps image build. `fetch`, `sizes`, `layers` and `manifests` follow each
 * other (wall time); `layers` ends when the last layer is built, and `manifests` (configs,
 * manifests, the tag) includes the uploads still running then. Builds and uploads overlap, so
 * `layerBuild` (inflate, tar, deflate: summed over the layers, two at a time), `upload` (summed
 * over the blobs) and `baseBlobs` (placing the base image's blobs, alongside the builds) are busy
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

/** How to fetch a chosen wheel (what the lock says, and the index it came from). */
function fetchItemOf(ctx: Pick<FullPathContext, 'indexFor'>, c: Chosen): FetchItem {
  return { name: c.pkg.name, version: c.pkg.version, file: fileLocation(c), index: ctx.indexFor(c.pkg) }
}

/** At most this many wheels are fetched ahead of the deps image lookup (see prefetchWheels)... */
const PREFETCH_WHEELS = 3
/** ...each at most this big, as the lock says (a lock without sizes: none fetched ahead). */
const PREFETCH_BYTES = 32 * 1024 * 1024

/**
 * Start fetching the few wheels of a variant this machine lacks, while its deps image is still
 * being looked up, when the machine has (nearly) all the others: that is a bump after a build
 * here, whose deps image is then most likely missing, and whose rebuild waits first of all for
 * those wheels. If the image is found after all, those few downloads (bounded above) were for
 * nothing but the cache. The fetch belongs to the artifact cache (ArtifactCache.arriving: the
 * build's own fetch of those wheels waits for it); a failure is the build's to meet, when it
 * fetches them itself.
 */
export function prefetchWheels(
  v: VariantPlan,
  ctx: Pick<FullPathContext, 'wheelsOf' | 'cache' | 'indexFor' | 'mirror' | 'lockDir'>
): void {
  const unique = new Map<string, Chosen>()
  for (const p of v.platforms) {
    const { chosen, problems } = ctx.wheelsOf(p)
    if (problems.length > 0) return
    for (const c of chosen) unique.set(c.sha256, c)
  }
  const missing = [...unique.values()].filter(
    (c) => !ctx.cache.has(c.sha256) && !ctx.cache.arriving(c.sha256)
  )
  if (missing.length === 0 || missing.length > PREFETCH_WHEELS) return
  if (unique.size - missing.length < 4 * missing.length) return
  if (missing.some((c) => c.file.size === null || c.file.size > PREFETCH_BYTES)) return
  handled(
    fetchArtifacts(
      missing.map((c) => fetchItemOf(ctx, c)),
      { cache: ctx.cache, mirror: ctx.mirror, baseDir: ctx.lockDir }
    )
  )
}

/** The unpacked size recorded by an earlier build (kept in the Actions cache's layer index). */
function knownSize(sha256: string, paths: CacheLayout): number | null {
  const memo = paths.unpackedSize(sha256)
  if (!existsSync(memo)) return null
  const text = readFileSync(memo, 'utf8')
  const n = Number(text)
  return text !== '' && Number.isSafeInteger(n) && n >= 0 ? n : null
}

/**
 * Bytes a wheel unpacks to (its zip directory's sizes): what layering weighs packages by. Kept
 * under the work directory by the wheel's digest, so a rebuild does not read every wheel again.
 */
async function unpackedSize(
  path: string,
  filename: string,
  sha256: string,
  paths: CacheLayout
): Promise<number> {
  const known = knownSize(sha256, paths)
  if (known !== null) return known
  const memo = paths.unpackedSize(sha256)
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
  mkdirSync(paths.unpackedSizes, { recursive: true })
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

/** A layer cache key: the hash of what makes the bytes, with the layer format and layout. */
function cacheKey(layout: PythonLayout, fields: Record<string, unknown>): string {
  const made = { format: LAYER_FORMAT, layout: layoutKey(layout), mtime: DEPS_MTIME, ...fields }
  return createHash('sha256').update(JSON.stringify(made)).digest('hex')
}

/** The layer cache's key for a layer of these wheels: everything that makes its bytes. */
function layerKeyOf(sha256s: readonly string[], layout: PythonLayout, compression: Compression): string {
  return cacheKey(layout, {
    wheels: [...sha256s].sort(),
    // Absent for gzip, so the keys of layers cached before zstd existed stay valid.
    ...(compression === 'gzip' ? {} : { compression })
  })
}

/** The key of a wheel's segment (for a layout and compression): where the segment index points. */
function segmentKeyOf(sha256: string, layout: PythonLayout, compression: Compression): string {
  return cacheKey(layout, { wheel: sha256, compression })
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0

/** Where an earlier layer holds a wheel's files: that layer (as the layer cache knows it) and the record. */
interface SegmentSource {
  readonly layerKey: string
  readonly known: KnownLayer
  readonly record: SegmentRecord
}

/**
 * The segment of an earlier layer that holds this wheel's files, found through the segment index
 * and checked against that layer's descriptor. Anything torn or foreign is passed over (the wheel
 * is installed instead).
 */
function segmentSource(
  sha256: string,
  layout: PythonLayout,
  compression: Compression,
  paths: CacheLayout,
  known: (key: string) => KnownLayer | null
): SegmentSource | null {
  const index = paths.segmentIndex(segmentKeyOf(sha256, layout, compression))
  if (!existsSync(index)) return null
  let layerKey: unknown
  try {
    layerKey = (JSON.parse(readFileSync(index, 'utf8')) as { layer?: unknown }).layer
  } catch {
    return null
  }
  if (typeof layerKey !== 'string' || !/^[0-9a-f]{64}$/.test(layerKey)) return null
  const layer = known(layerKey)
  if (!layer || !Array.isArray(layer.meta.segments)) return null
  const r = layer.meta.segments.find((x) => x?.wheel === sha256)
  if (
    !r ||
    !isCount(r.offset) ||
    !isCount(r.length) ||
    !isCount(r.crc32) ||
    !isCount(r.tarSize) ||
    r.offset + r.length > layer.meta.size ||
    !Array.isArray(r.paths) ||
    !r.paths.every((p: unknown) => typeof p === 'string') ||
    typeof r.dist?.name !== 'string'
  )
    return null
  return { layerKey, known: layer, record: r }
}

/** The segment to copy, from the layer blob in `file`. */
function reusedSegment(r: SegmentRecord, file: string): ReusedSegment {
  return {
    copy: { file, offset: r.offset, length: r.length, crc32: r.crc32, tarSize: r.tarSize },
    paths: r.paths,
    dist: r.dist
  }
}

/** Point each wheel's segment index at the layer that now holds its files. */
async function recordSegments(
  layerKey: string,
  segments: readonly SegmentRecord[],
  layout: PythonLayout,
  compression: Compression,
  paths: CacheLayout
): Promise<void> {
  // On the thread pool: a bucket's dozens of small files, written one by one on the main
  // thread, held up the requests that finish a bump's image.
  await Promise.all(
    segments.map(async (s) => {
      const index = paths.segmentIndex(segmentKeyOf(s.wheel, layout, compression))
      // Written aside and renamed, so a concurrent build never reads half of it.
      const tmp = `${index}.${randomBytes(4).toString('hex')}.tmp`
      await writeFile(tmp, JSON.stringify({ layer: layerKey }))
      await rename(tmp, index)
    })
  )
}

/**
 * The compression a deps layer under this manifest family gets: Docker schema 2 manifests carry
 * gzip layers only, so on a base image with such a manifest the deps layers stay gzip.
 */
export function effectiveCompression(manifestType: string, wanted: Compression): Compression {
  return manifestType === DOCKER_MANIFEST ? 'gzip' : wanted
}

/**
 * What the layer cache knows of a layer: its descriptor (`<key>.json`: its digests, what it
 * installs and where each wheel's segment lies; kept in the Actions cache's layer index), and the
 * compressed layer itself when this machine built it.
 */
type KnownLayer = { readonly meta: LayerMeta; readonly file: string | null }

function knownLayer(key: string, compression: Compression, paths: CacheLayout): KnownLayer | null {
  const meta = paths.layerDescriptor(key)
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
  const blob = paths.layerBlob(layerBlobName(key, compression))
  return { meta: m, file: existsSync(blob) && statSync(blob).size === m.size ? blob : null }
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

/** The history entry of a deps layer: the packages it installs. */
function historyOf(packages: readonly LayerCandidate[]): HistoryEntry {
  const names = packages.map((c) => `${c.name}==${c.version ?? '?'}`)
  return {
    created: DEPS_CREATED,
    created_by: `fast-build: ${names.length > 12 ? `${names.slice(0, 12).join(' ')} …and ${names.length - 12} more` : names.join(' ')}`,
    comment: 'fast-build'
  }
}

/** The deps image's config, besides its layers: the base image's, with its labels added. */
function depsConfigPatch(
  variant: VariantPlan,
  base: ResolvedBase,
  baseConfig: ImageConfig,
  resolved: ResolvedLayout
): ConfigPatch {
  return {
    created: DEPS_CREATED,
    config: {
      ...(baseConfig.config ?? {}),
      Labels: sortedRecord({
        ...(baseConfig.config?.Labels ?? {}),
        'dev.fast-build.variant': variant.name,
        'dev.fast-build.hash': variant.hash,
        'org.opencontainers.image.base.name': base.reference,
        'org.opencontainers.image.base.digest': base.image.digest,
        [PYTHON_LABEL]: JSON.stringify(recordedPython(resolved))
      })
    }
  }
}

/** Seconds spent on each kind of work of one build, summed (see FullPathPhases). */
interface Busy {
  fetch: number
  layerBuild: number
  upload: number
  baseBlobs: number
}

const since = (t: number) => (performance.now() - t) / 1000

/** Big downloads (torch is ~200 MB) say when they start and end; retries always say why. */
const BIG_DOWNLOAD = 16 * 1024 * 1024

/** The wheels of one deps image: fetched (verified against the lock, cached by sha256) when needed. */
class WheelSet {
  /** By sha256: one entry per distinct wheel across the platforms. */
  readonly unique = new Map<string, Chosen>()
  /** Where each fetched wheel is (in the artifact cache). */
  readonly paths = new Map<string, string>()
  downloaded: FetchResult[] = []
  restored = 0

  constructor(
    private readonly ctx: FullPathContext,
    chosen: Iterable<Chosen>,
    private readonly busy: Busy,
    private readonly progress: (message: string) => void
  ) {
    for (const c of chosen) this.unique.set(c.sha256, c)
  }

  /** These wheels, fetched unless they are here already. */
  async fetch(shas: readonly string[]): Promise<void> {
    const wanted = shas.filter((sha) => !this.paths.has(sha))
    if (wanted.length === 0) return
    const start = performance.now()
    try {
      await this.fetchWanted(wanted)
    } finally {
      this.busy.fetch += since(start)
    }
  }

  private async fetchWanted(wanted: readonly string[]): Promise<void> {
    const { ctx, progress } = this
    const missing = wanted.filter((sha) => !ctx.cache.has(sha))
    if (missing.length > 0 && ctx.restoreWheels) {
      const n = await ctx.restoreWheels(missing).catch(() => 0)
      if (n > 0) progress(`restored ${plural(n, 'wheel')} from the cache`)
      this.restored += n
    }
    const shaOf = new Map<FetchItem, string>()
    const items: FetchItem[] = wanted.map((sha) => {
      const item = fetchItemOf(ctx, this.unique.get(sha)!)
      shaOf.set(item, sha)
      return item
    })
    // Biggest first (the lock gives most sizes): the downloads end with small files in flight,
    // not with scipy or torch alone on one connection.
    const bySize = [...items].sort((a, b) => (b.file.size ?? 0) - (a.file.size ?? 0))
    const fetched = await fetchArtifacts(bySize, {
      cache: ctx.cache,
      mirror: ctx.mirror,
      baseDir: ctx.lockDir,
      onProgress: (e) => {
        // A wheel just downloaded is measured now, while the others still download.
        if (e.kind === 'done') this.measure(shaOf.get(e.item)!, e.path)
        if (e.kind === 'start' && (e.total ?? 0) >= BIG_DOWNLOAD)
          progress(`downloading ${e.item.file.name} (${formatBytes(e.total!)})`)
        else if (e.kind === 'done' && e.bytes >= BIG_DOWNLOAD)
          progress(`downloaded ${e.item.file.name} in ${(e.ms / 1000).toFixed(1)} s`)
        else if (e.kind === 'retry')
          progress(`${e.item.file.name}: ${e.reason}; retrying in ${(e.delayMs / 1000).toFixed(1)} s`)
      }
    })
    for (const f of fetched) this.paths.set(f.sha256, f.path)
    const now = fetched.filter((f) => !f.cached)
    this.downloaded = [...this.downloaded, ...now]
    if (now.length) {
      progress(
        `downloaded ${plural(now.length, 'wheel')} (${formatBytes(now.reduce((n, f) => n + f.size, 0))}), ${fetched.length - now.length} from the cache`
      )
    }
  }

  /** Unpacked sizes being read (from each wheel's zip directory), by digest. */
  private readonly measuring = new Map<string, Promise<number>>()

  /** The wheel's unpacked size, read once (a download's end starts it; `sizes` waits for it). */
  private measure(sha: string, path: string): Promise<number> {
    let n = this.measuring.get(sha)
    if (!n) {
      n = handled(unpackedSize(path, this.unique.get(sha)!.file.name, sha, this.ctx.cacheLayout))
      this.measuring.set(sha, n)
    }
    return n
  }

  /**
   * Sizes (what layering weighs packages by): known from earlier builds, else read from the
   * wheel, which is then fetched.
   */
  async sizes(): Promise<Map<string, number>> {
    const sizes = new Map<string, number>()
    for (const sha of this.unique.keys()) {
      const n = knownSize(sha, this.ctx.cacheLayout)
      if (n !== null) sizes.set(sha, n)
    }
    const unknown = [...this.unique.keys()].filter((sha) => !sizes.has(sha))
    await this.fetch(unknown)
    await Promise.all(
      unknown.map(async (sha) => sizes.set(sha, await this.measure(sha, this.paths.get(sha)!)))
    )
    return sizes
  }

  member(sha: string): LayerMember {
    const c = this.unique.get(sha)!
    return {
      sha256: sha,
      path: this.paths.get(sha)!,
      filename: c.file.name,
      label: `${c.pkg.name} ${c.pkg.version ?? ''}`.trim()
    }
  }

  report(): FullPathResult['wheels'] {
    const downloaded = this.downloaded
    return {
      total: this.unique.size,
      fetched: this.paths.size,
      downloaded: downloaded.length,
      bytesDownloaded: downloaded.reduce((n, f) => n + f.size, 0),
      restored: this.restored,
      downloadedSha256: downloaded.map((f) => f.sha256)
    }
  }
}

/** One platform of the deps image: its base image, its layers as planned, where they install. */
interface PlatformLayering {
  readonly p: PlatformPlan
  readonly platform: string
  readonly baseImage: PlatformImage
  readonly layering: ReturnType<typeof planLayers>
  readonly resolved: ResolvedLayout
  readonly compression: Compression
}

/** Plan the layers of one platform, within what max-layers leaves after the base image's. */
function layeringOf(
  ctx: FullPathContext,
  p: PlatformPlan,
  chosen: readonly Chosen[],
  sizes: ReadonlyMap<string, number>,
  notes: string[],
  resolved: ResolvedLayout
): PlatformLayering {
  const platform = formatPlatform(p.platform)
  const baseImage = ctx.base.image.platforms.find((b) => b.platform.architecture === p.platform.architecture)!
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
  const wanted = ctx.compression ?? 'gzip'
  const compression = effectiveCompression(baseImage.manifest.mediaType, wanted)
  if (compression !== wanted)
    notes.push(
      `${platform}: deps layers are gzip, not ${wanted}: base image ${ctx.base.reference} has a Docker schema 2 manifest, which has no zstd layers`
    )
  return { p, platform, baseImage, layering, resolved, compression }
}

interface LayerJob {
  readonly key: string
  readonly compression: Compression
  readonly known: KnownLayer | null
  inRegistry: boolean
  /** Wheels of a layer to build whose files an earlier layer here holds, by sha256. */
  readonly segments: Map<string, ReusedSegment>
}

const groupShas = (g: { packages: readonly LayerCandidate[] }) => g.packages.map((c) => c.key)

/**
 * A layer as LayerJobs gives it: one built now may have gone up as it was written. `streamed`
 * hands that upload over once (a layer two platforms share is uploaded once).
 */
type LayerBuilt = BuiltLayer & {
  readonly streamed?: () => StreamedUpload | null
  /** It went up as it was written, a stream the store is not asked about (its bytes are new). */
  readonly streams?: boolean
}

/**
 * A layer rebuilt from the one before (a bump) whose wheels install at most this much streams as
 * it is written: the upload is done when the build is, which is what a bump waits for. A bigger
 * one goes up from its file, in chunks retried one by one (a stream that fails is sent again
 * whole).
 */
const STREAMED_LAYER_BYTES = 64 * 1024 * 1024

/**
 * The layers of one deps image, each made once: nothing to do when the layer cache knows it (the
 * compressed layer is here, or only its descriptor is, as the Actions cache keeps descriptors, and
 * the registry has the blob, checked, since a cache is a hint and the registry the truth);
 * otherwise its wheels, all fetched together, and a build. Two layers are built at once: each
 * inflates, hashes and tars on this thread while its compression runs on the thread pool.
 */
class LayerJobs {
  private readonly jobs = new Map<string, LayerJob>()
  private readonly layers = new Map<string, Promise<LayerBuilt>>()
  private readonly layerLimit = limit(2)
  private readonly records: Promise<void>[] = []
  /**
   * Each layer descriptor read once: every wheel of a bucket to rebuild names the same layer
   * before, whose descriptor lists every file of the bucket (tens of KB of JSON).
   */
  private readonly descriptors = new Map<string, KnownLayer | null>()

  constructor(
    private readonly ctx: FullPathContext,
    private readonly wheels: WheelSet,
    private readonly busy: Busy,
    private readonly progress: (message: string) => void
  ) {}

  private jobOf(shas: readonly string[], layout: PythonLayout, compression: Compression): LayerJob {
    const key = layerKeyOf(shas, layout, compression)
    let job = this.jobs.get(key)
    if (!job) {
      job = {
        key,
        compression,
        known: this.known(key, compression),
        inRegistry: false,
        segments: new Map()
      }
      this.jobs.set(key, job)
    }
    return job
  }

  private known(key: string, compression: Compression): KnownLayer | null {
    const id = `${key} ${compression}`
    if (!this.descriptors.has(id))
      this.descriptors.set(id, knownLayer(key, compression, this.ctx.cacheLayout))
    return this.descriptors.get(id)!
  }

  private ready(j: LayerJob): boolean {
    return j.known !== null && (j.known.file !== null || j.inRegistry)
  }

  /** What every layer needs, found out, and the wheels of the layers to build fetched. */
  async prepare(platforms: readonly PlatformLayering[]): Promise<void> {
    const each = (f: (shas: string[], job: LayerJob, layout: PythonLayout) => void) => {
      for (const { layering, resolved, compression } of platforms)
        for (const g of layering.groups)
          f(groupShas(g), this.jobOf(groupShas(g), resolved.layout, compression), resolved.layout)
    }
    each(() => undefined)
    await Promise.all(
      [...this.jobs.values()]
        .filter((j) => j.known && !j.known.file)
        .map(async (j) => {
          j.inRegistry = await this.ctx.store.blobExists(j.known!.meta.digest)
        })
    )
    // A layer to build copies what earlier layers hold of its wheels; only the rest are fetched.
    const sources: { sha: string; job: LayerJob; source: SegmentSource | null }[] = []
    each((shas, job, layout) => {
      if (this.ready(job)) return
      for (const sha of shas)
        sources.push({
          sha,
          job,
          source: segmentSource(sha, layout, job.compression, this.ctx.cacheLayout, (key) =>
            this.known(key, job.compression)
          )
        })
    })
    const blobs = new Map<string, Promise<string | null>>()
    await Promise.all(
      sources.map(async ({ sha, job, source }) => {
        if (!source) return
        let file = blobs.get(source.layerKey)
        if (!file) blobs.set(source.layerKey, (file = this.layerBlob(source)))
        const at = await file
        if (at) job.segments.set(sha, reusedSegment(source.record, at))
      })
    )
    const copied = sources.filter(({ sha, job }) => job.segments.has(sha)).length
    if (copied > 0)
      this.progress(`${plural(copied, 'package')} to copy from earlier layers, not install again`)
    await this.wheels.fetch(sources.filter(({ sha, job }) => !job.segments.has(sha)).map(({ sha }) => sha))
  }

  /**
   * An earlier layer's blob, to copy segments from: here when this machine built it; else read
   * from the store, which has it when the deps image before this one was pushed there (a runner
   * keeps only the descriptors, in the Actions cache). One compressed layer costs less to read
   * than its wheels cost to fetch and install. Null when neither has it.
   */
  private async layerBlob(source: SegmentSource): Promise<string | null> {
    if (source.known.file) return source.known.file
    const { digest, size } = source.known.meta
    try {
      if (!(await this.ctx.store.blobExists(digest))) return null
      const start = performance.now()
      const { file } = await this.ctx.store.openBlob(digest)
      this.busy.fetch += since(start)
      this.progress(
        `read layer ${digest.slice(7, 19)} (${formatBytes(size)}) from ${this.ctx.store.name} to copy from`
      )
      return file
    } catch {
      return null // the wheels are installed instead
    }
  }

  /** How many layers prepare() found are to build (each built once, whatever shares it). */
  toBuild(): number {
    return [...this.jobs.values()].filter((j) => !this.ready(j)).length
  }

  /** Once the segment indexes of the layers built are written. */
  async recorded(): Promise<void> {
    await Promise.all(this.records)
  }

  /**
   * The layer of these wheels (a layer shared by two platforms, of pure wheels, is built once).
   * `stream`: small enough to go up as it is written, which it does when it is built copying from
   * the layer before (see STREAMED_LAYER_BYTES).
   */
  layerFor(
    shas: readonly string[],
    layout: PythonLayout,
    compression: Compression,
    stream = false
  ): Promise<LayerBuilt> {
    const job = this.jobOf(shas, layout, compression)
    let built = this.layers.get(job.key)
    if (!built) {
      built = this.ready(job)
        ? Promise.resolve({ ...job.known!.meta, file: job.known!.file, built: false })
        : handled(
            this.layerLimit(async () => {
              const start = performance.now()
              try {
                const parts = shas.map((sha): LayerPart => ({
                  sha256: sha,
                  // A wheel whose segment cannot be copied after all is fetched then.
                  wheel: async () => {
                    await this.wheels.fetch([sha])
                    return this.wheels.member(sha)
                  },
                  segment: job.segments.get(sha) ?? null
                }))
                const paths = this.ctx.cacheLayout
                // Streamed only when it copies from the layer before (a bump): its bytes are then
                // surely new to the registry, which need not be asked. A layer built from nothing
                // (an empty cache) may well be there already: asked first, it is not sent twice.
                let upload =
                  stream && job.segments.size > 0
                    ? streamedUpload(this.ctx.store, 'a deps layer', { ask: false })
                    : null
                const built = await buildLayerFile(
                  job.key,
                  parts,
                  layout,
                  compression,
                  paths,
                  upload?.onChunk
                ).catch(async (e: unknown) => {
                  // The build failed: so does what was streamed of it.
                  await upload?.abort()
                  throw e
                })
                if (upload && !built.teed) {
                  // Written again after a first try failed: not what was streamed.
                  await upload.abort()
                  upload = null
                }
                // Where each wheel's segment is serves the next build: written once this layer's
                // upload is under way (before the image is done: see recorded()).
                this.records.push(
                  handled(
                    new Promise<void>((next) => setImmediate(next)).then(() =>
                      recordSegments(job.key, built.segments, layout, compression, paths)
                    )
                  )
                )
                return {
                  ...built,
                  streams: upload !== null,
                  streamed: () => {
                    const u = upload
                    upload = null
                    return u
                  }
                }
              } finally {
                this.busy.layerBuild += since(start)
              }
            })
          )
      this.layers.set(job.key, built)
    }
    return built
  }
}

/** Indexes of the groups, the one that installs most first (ties in layer order). */
function biggestFirst(groups: readonly LayerGroup[]): number[] {
  const bytes = groups.map(groupSize)
  return groups.map((_, i) => i).sort((a, b) => bytes[b]! - bytes[a]! || a - b)
}

/** What one platform's layers became: built, listed for its manifest and config, uploading. */
interface PlatformLayers {
  readonly added: AppendedLayer[]
  readonly dists: InstalledDist[]
  /** Each layer's upload (its outcome), in layer order: the manifest waits for them, not the config. */
  readonly uploads: { readonly descriptor: Descriptor; readonly outcome: Promise<BlobOutcome> }[]
  /** The reports, once the uploads are done. */
  readonly reports: () => Promise<LayerReport[]>
  /** A layer streamed without asking (LayerBuilt.streams): the config that lists it is new too. */
  newLayer: boolean
}

/**
 * One platform's base blobs placed and layers built, each pushed as it is built (two pushes at a
 * time, overlapping the builds). Returns once every layer is built and the base blobs are in
 * place: the config can be written while the last layers still upload.
 */
async function pushPlatformLayers(
  ctx: FullPathContext,
  pl: PlatformLayering,
  layers: LayerJobs,
  o: {
    readonly pushLimit: Limit
    readonly busy: Busy
    readonly stats: BlobStats
    readonly progress: (m: string) => void
    /** The upload of each layer blob this image sends, by digest (platforms share layers). */
    readonly sent: Map<Digest, Promise<BlobOutcome>>
  }
): Promise<PlatformLayers> {
  const { platform, baseImage, layering, resolved, compression } = pl
  // The base image's blobs are placed while the layers build (only the manifest needs them).
  const tBase = performance.now()
  const base = handled(
    placeBaseBlobs(ctx, baseImage.manifest.layers, o.stats).finally(() => (o.busy.baseBlobs += since(tBase)))
  )
  const mediaType = layerMediaType(baseImage.manifest.mediaType, compression)
  // Layers are built biggest first (they wait for a slot in this order): the last layer to start
  // is then a small one, not scipy or torch alone on a core while everything else is done.
  const built: Promise<LayerBuilt>[] = []
  const uploaded: Promise<BlobOutcome>[] = []
  for (const i of biggestFirst(layering.groups)) {
    const group = layering.groups[i]!
    const stream = !!ctx.store.beginBlob && groupSize(group) <= STREAMED_LAYER_BYTES
    built[i] = handled(layers.layerFor(groupShas(group), resolved.layout, compression, stream))
    uploaded[i] = handled(
      built[i].then(async (b) => {
        const desc: Descriptor = { mediaType, digest: b.digest, size: b.size }
        let tUp = performance.now()
        const done = (outcome: BlobOutcome): BlobOutcome => {
          o.busy.upload += since(tUp)
          o.progress(
            `${platform}: layer ${i + 1}/${layering.groups.length} ${group.label}: ${formatBytes(b.size)}${b.built ? (b.reused ? ` (${b.reused} of ${group.packages.length} packages copied from an earlier layer)` : '') : ' (cached)'}, ${outcome}`
          )
          return outcome
        }
        if (!b.file) return done('exists')
        // A layer another platform's image shares goes up once: the others wait for it.
        const earlier = o.sent.get(desc.digest)
        if (earlier) {
          await earlier
          return done('exists')
        }
        const sending = (async (): Promise<BlobOutcome> => {
          // A cached layer the registry has is only asked about: the upload slots are for bytes
          // (behind a dozen such questions, a layer just built would wait a round trip each).
          if (!b.built && (await ctx.store.blobExists(desc.digest))) return 'exists'
          // Streamed as it was built: only finished here (else it goes up from its file).
          const streamed = b.streamed?.()
          if (streamed) {
            tUp = performance.now()
            const outcome = await streamed.commit(desc, o.progress)
            if (outcome) return outcome
          }
          return o.pushLimit(async () => {
            tUp = performance.now()
            return ctx.store.putBlob(desc, { file: b.file! }, { fresh: b.built })
          })
        })()
        o.sent.set(desc.digest, handled(sending))
        return done(await sending)
      })
    )
  }
  const out: PlatformLayers = {
    added: [],
    dists: [],
    uploads: [],
    newLayer: false,
    reports: async () =>
      Promise.all(
        layering.groups.map(async (group, i) => {
          const b = await built[i]!
          return {
            platform,
            label: group.label,
            packages: group.packages.length,
            digest: b.digest,
            size: b.size,
            outcome: await uploaded[i]!,
            built: b.built,
            copied: b.reused ?? 0
          }
        })
      )
  }
  const listed = async () => {
    for (const [i, group] of layering.groups.entries()) {
      const b = await built[i]!
      const descriptor: Descriptor = { mediaType, digest: b.digest, size: b.size }
      if (b.streams) out.newLayer = true
      out.dists.push(...b.dists)
      out.uploads.push({ descriptor, outcome: uploaded[i]! })
      out.added.push({ descriptor, diffId: b.diffId, history: historyOf(group.packages) })
    }
  }
  // A base blob that cannot be placed fails the image at once, not after the builds.
  await Promise.all([base, listed()])
  return out
}

/**
 * One platform's deps image: verified first (every package where the base image's Python reads,
 * every script's interpreter present: the image must work before it gets a config, a manifest or
 * a tag), then its config and manifest as an edit of the base image.
 */
function platformImage(
  variant: VariantPlan,
  ctx: FullPathContext,
  pl: PlatformLayering,
  layers: PlatformLayers,
  isIndex: boolean
): { write: ManifestWrite; image: PlatformImage } {
  const { p, baseImage, resolved } = pl
  verifyInstall({
    dists: layers.dists,
    layout: resolved.layout,
    resolved,
    what: `deps image of ${variant.name} (${pl.platform})`,
    ...(ctx.projectFile ? { file: ctx.projectFile } : {})
  })
  const edited = appendLayers(
    { manifest: baseImage.manifest, config: baseImage.config },
    layers.added,
    depsConfigPatch(variant, ctx.base, baseImage.config, resolved)
  )
  const platformEntry = baseImage.indexEntry?.platform ?? ociPlatform(p.platform)
  return {
    write: {
      // The config goes up while the layers finish uploading; the manifest waits for all of them.
      blobs: [
        {
          descriptor: edited.configDescriptor,
          data: edited.configBytes,
          fresh: true,
          // Its diff_ids name a layer the store cannot have: no question before it goes up.
          ...(layers.newLayer ? { ask: false } : {})
        },
        ...layers.uploads
      ],
      bytes: edited.manifestBytes,
      mediaType: edited.manifestDescriptor.mediaType,
      ...(isIndex ? { platform: platformEntry } : {})
    },
    // What was pushed, as the fast path needs it (no need to read it back from the store).
    image: {
      platform: p.platform,
      indexEntry: isIndex ? { ...edited.manifestDescriptor, platform: platformEntry } : null,
      manifest: edited.manifest,
      manifestDigest: edited.manifestDescriptor.digest,
      config: edited.config
    }
  }
}

/** Where the time went (wall clock marks of the phases, and the busy times). */
function phasesOf(
  t: {
    t0: number
    choose: number
    sizesAndFetch: number
    fetchBeforeLayers: number
    layersWall: number
    tTop: number
  },
  busy: Busy
): FullPathPhases {
  const fetchInLayers = busy.fetch - t.fetchBeforeLayers
  const r2 = (n: number) => Math.round(n * 1000) / 1000
  return {
    choose: r2(t.choose),
    fetch: r2(busy.fetch),
    sizes: r2(Math.max(0, t.sizesAndFetch - t.fetchBeforeLayers)),
    layers: r2(Math.max(0, t.layersWall - fetchInLayers)),
    layerBuild: r2(busy.layerBuild),
    upload: r2(busy.upload),
    baseBlobs: r2(busy.baseBlobs),
    manifests: r2(since(t.tTop)),
    total: r2(since(t.t0))
  }
}

export async function buildDepsImage(
  variant: VariantPlan,
  tag: string,
  ctx: FullPathContext
): Promise<FullPathResult> {
  const progress = ctx.onProgress ?? (() => {})
  const t0 = performance.now()
  const busy: Busy = { fetch: 0, layerBuild: 0, upload: 0, baseBlobs: 0 }
  const notes: string[] = []

  // 1. A wheel for every package on every platform, or a precise refusal.
  const perPlatform = variant.platforms.map((p) => ({ plan: p, ...ctx.wheelsOf(p) }))
  const problems = perPlatform.flatMap((p) => p.problems)
  if (problems.length > 0) throw new WheelsUnavailableError(variant.name, problems)
  const choose = since(t0)

  // 2. Sizes, fetching the wheels whose size no earlier build recorded.
  const wheels = new WheelSet(
    ctx,
    perPlatform.flatMap((p) => p.chosen),
    busy,
    progress
  )
  progress(`${plural(wheels.unique.size, 'wheel')} to install`)
  const tSizes = performance.now()
  const sizes = await wheels.sizes()
  const sizesAndFetch = since(tSizes)
  const tLayers = performance.now()
  const fetchBeforeLayers = busy.fetch

  // 3. The layers of every platform, planned; 4. what each needs (wheels fetched for those built).
  const resolved = await Promise.all(perPlatform.map(({ plan: p }) => ctx.layoutFor(p.platform)))
  const platforms = perPlatform.map(({ plan: p, chosen }, i) =>
    layeringOf(ctx, p, chosen, sizes, notes, resolved[i]!)
  )
  const layers = new LayerJobs(ctx, wheels, busy, progress)
  await layers.prepare(platforms)
  // Every layer built and every config is a new blob: their upload sessions are opened now, so
  // that each goes up as soon as it is made (on a bump, the one layer built is the critical path).
  // Those no upload takes (a layer the registry had after all) the build's owner drops
  // (ImageStore.dropUploads).
  ctx.store.openUploads?.(layers.toBuild() + platforms.length)
  // 5. Per platform: base blobs, layers (built and pushed), its config and manifest.
  const stats = emptyStats()
  const reports: LayerReport[] = []
  const writes: ManifestWrite[] = []
  const images: PlatformImage[] = []
  const isIndex = variant.platforms.length > 1
  const pushLimit = limit(2)
  // Fires once the loop below has set the first platform's layer builds going.
  if (ctx.onLayersBuilding) setImmediate(ctx.onLayersBuilding)
  const sent = new Map<Digest, Promise<BlobOutcome>>()
  const platformReports: (() => Promise<LayerReport[]>)[] = []
  for (const pl of platforms) {
    const pushed = await pushPlatformLayers(ctx, pl, layers, { pushLimit, busy, stats, progress, sent })
    platformReports.push(pushed.reports)
    const { write, image } = platformImage(variant, ctx, pl, pushed, isIndex)
    writes.push(write)
    images.push(image)
  }
  const layersWall = since(tLayers)
  const tTop = performance.now()

  // 6. Configs, manifests, the index, and the tag last: only a complete image ever has the tag.
  const indexType = ctx.base.image.mediaType === DOCKER_MANIFEST_LIST ? DOCKER_MANIFEST_LIST : OCI_INDEX
  const write: ImageWrite = { manifests: writes, index: isIndex ? { mediaType: indexType } : null }
  const image: DepsImage = {
    ref: `${ctx.store.name}:${tag}`,
    ...describeImage(write),
    isIndex,
    platforms: images
  }
  const pushing = pushImage(ctx.store, write, [tag])
  ctx.onImage?.(image, pushing)
  const pushed = await pushing
  await layers.recorded()
  addStats(stats, pushed.stats)
  for (const r of platformReports) reports.push(...(await r()))
  const phases = phasesOf({ t0, choose, sizesAndFetch, fetchBeforeLayers, layersWall, tTop }, busy)
  return { image, stats, layers: reports, notes, phases, wheels: wheels.report() }
}
