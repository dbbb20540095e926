// The full path: a variant's deps image built straight from the wheels its lock pins, without
// Docker. Choose the wheel per package and platform, fetch and verify it, install it with our
// installer into its own staging directory, group packages into layers, write each layer once
// (content-addressed, cached across builds), and push: base layers referenced (mounted, or
// copied across registries), package layers uploaded only when missing, then configs, manifests,
// the index, and the `deps-<variant>-<hash>` tag last.
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { FastBuildError } from '../errors.js'
import type { LockedPackage } from '../lock/model.js'
import { sourceLabel } from '../lock/model.js'
import type { Digest } from '../oci/digest.js'
import type { LayerEntry } from '../oci/entry.js'
import {
  buildIndex,
  buildManifest,
  configMediaTypeFor,
  describeBytes,
  ociPlatform,
  serialize,
  sortedRecord,
  type Descriptor,
  type ImageConfig
} from '../oci/image.js'
import { buildLayer } from '../oci/layer.js'
import { DOCKER_MANIFEST_LIST, layerMediaType, OCI_INDEX } from '../oci/media-types.js'
import type { VariantPlan } from '../plan/plan.js'
import type { BlobOutcome, ImageStore } from '../registry/store.js'
import { formatPlatform, type Platform, type Target } from '../target.js'
import { fetchArtifacts, type ArtifactCache, type FetchItem } from '../wheels/fetch.js'
import type { IndexConfig } from '../wheels/index.js'
import { installWheel, WheelError, type InstalledWheel, type PythonLayout } from '../wheels/install.js'
import { chooseWheel } from '../wheels/tags.js'
import type { ResolvedBase } from './base-image.js'
import { resolveDepsImage, type DepsImage } from './deps-image.js'
import { emptyStats, formatBytes, type BlobStats } from './fast-path.js'
import { planLayers, type LayerCandidate } from './layering.js'

/** Deps layers carry one fixed time, so the same wheels give the same layer on every commit. */
export const DEPS_MTIME = 315532800 // 1980-01-01T00:00:00Z
const DEPS_CREATED = new Date(DEPS_MTIME * 1000).toISOString()
/** Part of every cached layer's key: changing how layers are written must not reuse old ones. */
const LAYER_FORMAT = 1

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
  readonly layout: PythonLayout
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

export interface FullPathResult {
  readonly image: DepsImage
  readonly stats: BlobStats
  readonly layers: readonly LayerReport[]
  readonly notes: readonly string[]
  readonly wheels: { readonly total: number; readonly downloaded: number; readonly bytesDownloaded: number }
}

interface Chosen {
  readonly pkg: LockedPackage
  readonly file: LockedPackage['files'][number]
  readonly sha256: string
}

/** The wheel of each installed package on one target, or the reasons the variant cannot use wheels. */
export function chooseWheels(
  packages: readonly LockedPackage[],
  target: Target
): {
  chosen: Chosen[]
  problems: { name: string; version: string | null; platform: string; reason: string }[]
} {
  const chosen: Chosen[] = []
  const problems: { name: string; version: string | null; platform: string; reason: string }[] = []
  const platform = formatPlatform(target.platform)
  for (const pkg of packages) {
    const problem = (reason: string) =>
      problems.push({ name: pkg.name, version: pkg.version, platform, reason })
    if (pkg.source.kind === 'git') {
      problem(`git source ${sourceLabel(pkg.source)}: it has to be built`)
      continue
    }
    const wheel = chooseWheel(pkg.files, target)
    if (!wheel) {
      const sdists = pkg.files.filter((f) => f.kind === 'sdist').map((f) => f.name)
      if (sdists.length) problem(`only a source distribution (${sdists.join(', ')})`)
      else if (pkg.files.length === 0) problem(`the lock lists no files for it (${sourceLabel(pkg.source)})`)
      else
        problem(
          `no wheel for ${platform} / python ${target.python.major}.${target.python.minor} among ${pkg.files.length} files`
        )
      continue
    }
    const sha256 = wheel.file.hashes['sha256']
    if (!sha256) {
      problem(`the lock pins no sha256 for ${wheel.file.name}`)
      continue
    }
    chosen.push({ pkg, file: wheel.file, sha256 })
  }
  return { chosen, problems }
}

/** A path-sourced wheel (`source = { path = "wheels/x.whl" }`) is listed by file name alone. */
function fileLocation(c: Chosen): Chosen['file'] {
  const f = c.file
  if (f.path === null && f.url === null && c.pkg.source.kind === 'file')
    return { ...f, path: c.pkg.source.path }
  return f
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

function layoutKey(layout: PythonLayout): string {
  return createHash('sha256').update(JSON.stringify(layout)).digest('hex').slice(0, 16)
}

/** Install a wheel into its own staging directory, once: a finished one is reused by later builds. */
async function installOnce(
  wheelFile: string,
  filename: string,
  label: string,
  sha256: string,
  layout: PythonLayout,
  workDir: string
): Promise<InstalledWheel> {
  const dir = join(workDir, 'installed', layoutKey(layout), sha256)
  const marker = join(dir, '.fast-build-installed.json')
  if (existsSync(marker)) {
    const saved = JSON.parse(readFileSync(marker, 'utf8')) as Omit<InstalledWheel, 'files'> & {
      files: { path: string; size: number; executable: boolean }[]
    }
    return {
      ...saved,
      files: saved.files.map((f) => ({ ...f, diskPath: join(dir, 'root', f.path) }))
    } as InstalledWheel
  }
  const tmp = `${dir}.${randomBytes(4).toString('hex')}.tmp`
  rmSync(tmp, { recursive: true, force: true })
  mkdirSync(join(tmp, 'root'), { recursive: true })
  try {
    // The cache names files by digest; the installer needs the wheel's own name (its tags).
    const installed = await installWheel(wheelFile, layout, join(tmp, 'root'), { filename }).catch(
      (e: unknown) => {
        // The installer names the file it read (in the artifact cache by digest); name the wheel.
        if (e instanceof WheelError)
          throw new WheelError(`${label}: ${e.message}`, filename, e.hint ?? '', e.entry)
        throw e
      }
    )
    const summary = {
      ...installed,
      files: installed.files.map((f) => ({ path: f.path, size: f.size, executable: f.executable }))
    }
    writeFileSync(join(tmp, '.fast-build-installed.json'), JSON.stringify(summary))
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(join(dir, '..'), { recursive: true })
    renameSync(tmp, dir)
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
  return installOnce(wheelFile, filename, label, sha256, layout, workDir)
}

/** Every directory above the files, as entries (each layer carries its own parents). */
function withParents(files: readonly InstalledWheel['files'][number][]): LayerEntry[] {
  const dirs = new Set<string>()
  const entries: LayerEntry[] = []
  for (const f of files) {
    for (let i = f.path.indexOf('/'); i !== -1; i = f.path.indexOf('/', i + 1)) dirs.add(f.path.slice(0, i))
    entries.push({
      type: 'file',
      path: f.path,
      executable: f.executable,
      size: f.size,
      diskPath: f.diskPath,
      content: () => readFileSync(f.diskPath)
    })
  }
  for (const d of dirs) entries.push({ type: 'dir', path: d })
  return entries
}

interface BuiltLayer {
  readonly digest: Digest
  readonly diffId: Digest
  readonly size: number
  readonly file: string
  readonly built: boolean
}

/** A layer of these installed wheels, from the cache when it was built before. */
async function layerOf(
  members: readonly { sha256: string; installed: InstalledWheel }[],
  layout: PythonLayout,
  workDir: string
): Promise<BuiltLayer> {
  const key = createHash('sha256')
    .update(
      JSON.stringify({
        format: LAYER_FORMAT,
        layout: layoutKey(layout),
        mtime: DEPS_MTIME,
        wheels: members.map((m) => m.sha256).sort()
      })
    )
    .digest('hex')
  const dir = join(workDir, 'layers')
  mkdirSync(dir, { recursive: true })
  const meta = join(dir, `${key}.json`)
  const blob = join(dir, `${key}.tar.gz`)
  if (existsSync(meta) && existsSync(blob)) {
    const m = JSON.parse(readFileSync(meta, 'utf8')) as { digest: Digest; diffId: Digest; size: number }
    if (statSync(blob).size === m.size) return { ...m, file: blob, built: false }
  }
  const tmp = `${blob}.${randomBytes(4).toString('hex')}.tmp`
  try {
    const layer = await buildLayer(withParents(members.flatMap((m) => m.installed.files)), {
      mtime: DEPS_MTIME,
      compression: 'gzip',
      file: tmp
    })
    renameSync(tmp, blob)
    writeFileSync(meta, JSON.stringify({ digest: layer.digest, diffId: layer.diffId, size: layer.size }))
    return { digest: layer.digest, diffId: layer.diffId, size: layer.size, file: blob, built: true }
  } finally {
    rmSync(tmp, { force: true })
  }
}

function count(stats: BlobStats, outcome: BlobOutcome, size: number): void {
  if (outcome === 'uploaded') {
    stats.uploaded++
    stats.bytesUploaded += size
  } else if (outcome === 'mounted') stats.mounted++
  else stats.skipped++
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
      count(stats, 'exists', d.size)
      continue
    }
    if (sameRegistry && store.mountBlob && (await store.mountBlob(d, source.mountable!.repository))) {
      count(stats, 'mounted', d.size)
      continue
    }
    ctx.onProgress?.(
      `copying base layer ${d.digest.slice(7, 19)} (${formatBytes(d.size)}) from ${source.name}`
    )
    const data = await source.openBlob(d.digest)
    count(stats, await store.putBlob(d, data), d.size)
  }
}

export async function buildDepsImage(
  variant: VariantPlan,
  tag: string,
  ctx: FullPathContext
): Promise<FullPathResult> {
  const progress = ctx.onProgress ?? (() => {})
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

  // 2. Fetch every distinct wheel once (verified against the lock; cached by sha256).
  const unique = new Map<string, Chosen>()
  for (const p of perPlatform) for (const c of p.chosen) unique.set(c.sha256, c)
  const items: FetchItem[] = [...unique.values()].map((c) => ({
    name: c.pkg.name,
    version: c.pkg.version,
    file: fileLocation(c),
    index: ctx.indexFor(c.pkg)
  }))
  progress(`${plural(items.length, 'wheel')} to install`)
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
  const downloaded = fetched.filter((f) => !f.cached)
  if (downloaded.length) {
    progress(
      `downloaded ${plural(downloaded.length, 'wheel')} (${formatBytes(downloaded.reduce((n, f) => n + f.size, 0))}), ${fetched.length - downloaded.length} from the cache`
    )
  }
  const wheelPath = new Map(fetched.map((f) => [f.sha256, f.path]))

  // 3. Install each wheel once into its own staging directory (in parallel, two at a time).
  const installed = new Map<string, InstalledWheel>()
  const queue = [...unique.keys()]
  const installStart = performance.now()
  let fresh = 0
  await Promise.all(
    [0, 1].map(async () => {
      for (let sha = queue.shift(); sha !== undefined; sha = queue.shift()) {
        const c = unique.get(sha)!
        const label = `${c.pkg.name} ${c.pkg.version ?? ''}`.trim()
        const before = existsSync(
          join(ctx.workDir, 'installed', layoutKey(ctx.layout), sha, '.fast-build-installed.json')
        )
        installed.set(
          sha,
          await installOnce(wheelPath.get(sha)!, c.file.name, label, sha, ctx.layout, ctx.workDir)
        )
        if (!before) fresh++
      }
    })
  )
  const installedBytes = [...installed.values()].reduce((n, w) => n + w.installedSize, 0)
  progress(
    `installed ${plural(installed.size, 'wheel')} (${formatBytes(installedBytes)})${fresh < installed.size ? `, ${installed.size - fresh} from the cache` : ''} in ${((performance.now() - installStart) / 1000).toFixed(1)} s`
  )

  // 4–6. Per platform: layers, blobs, config, manifest.
  const stats = emptyStats()
  const reports: LayerReport[] = []
  const children: Descriptor[] = []
  let single: { bytes: Buffer; mediaType: string } | null = null
  for (const { plan: p, chosen } of perPlatform) {
    const platform = formatPlatform(p.platform)
    const baseImage = ctx.base.image.platforms.find(
      (b) => b.platform.architecture === p.platform.architecture
    )!
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
      installedSize: installed.get(c.sha256)!.installedSize,
      variants: ctx.sharing(p.platform, c.sha256)
    }))
    const layering = planLayers(candidates, { budget, heavyBytes: ctx.heavyBytes })
    notes.push(...layering.notes.map((n) => `${platform}: ${n}`))

    await placeBaseBlobs(ctx, baseImage.manifest.layers, stats)

    const manifestType = baseImage.manifest.mediaType
    const layerDescriptors: Descriptor[] = []
    const diffIds: Digest[] = []
    const history: NonNullable<ImageConfig['history']> = []
    for (const [i, group] of layering.groups.entries()) {
      const members = group.packages.map((c) => ({ sha256: c.key, installed: installed.get(c.key)! }))
      const built = await layerOf(members, ctx.layout, ctx.workDir)
      const desc: Descriptor = {
        mediaType: layerMediaType(manifestType, 'gzip'),
        digest: built.digest,
        size: built.size
      }
      const outcome = await ctx.store.putBlob(desc, { file: built.file })
      count(stats, outcome, built.size)
      reports.push({
        platform,
        label: group.label,
        packages: group.packages.length,
        digest: built.digest,
        size: built.size,
        outcome,
        built: built.built
      })
      progress(
        `${platform}: layer ${i + 1}/${layering.groups.length} ${group.label}: ${formatBytes(built.size)}${built.built ? '' : ' (cached)'}, ${outcome}`
      )
      layerDescriptors.push(desc)
      diffIds.push(built.diffId)
      const names = group.packages.map((c) => `${c.name}==${c.version ?? '?'}`)
      history.push({
        created: DEPS_CREATED,
        created_by: `fast-build: ${names.length > 12 ? `${names.slice(0, 12).join(' ')} …and ${names.length - 12} more` : names.join(' ')}`,
        comment: 'fast-build'
      })
    }

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
          'org.opencontainers.image.base.digest': ctx.base.image.digest
        })
      },
      rootfs: { type: 'layers', diff_ids: [...baseConfig.rootfs.diff_ids, ...diffIds] },
      history: [...(baseConfig.history ?? []), ...history]
    }
    const configBytes = serialize(config)
    const configDesc = describeBytes(configMediaTypeFor(manifestType), configBytes)
    count(stats, await ctx.store.putBlob(configDesc, configBytes), configBytes.length)
    const manifest = serialize(
      buildManifest({
        mediaType: manifestType,
        config: configDesc,
        layers: [...baseImage.manifest.layers, ...layerDescriptors]
      })
    )
    if (variant.platforms.length > 1) {
      await ctx.store.putManifest(null, manifest, manifestType)
      stats.uploaded++
      stats.bytesUploaded += manifest.length
      children.push({
        ...describeBytes(manifestType, manifest),
        platform: baseImage.indexEntry?.platform ?? ociPlatform(p.platform)
      })
    } else {
      single = { bytes: manifest, mediaType: manifestType }
    }
  }

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

  const image = await resolveDepsImage(
    ctx.store,
    tag,
    variant.platforms.map((p) => p.platform)
  )
  if (!image)
    throw new FastBuildError(`deps image ${ctx.store.name}:${tag} is missing right after it was pushed`)
  return {
    image,
    stats,
    layers: reports,
    notes,
    wheels: {
      total: fetched.length,
      downloaded: downloaded.length,
      bytesDownloaded: downloaded.reduce((n, f) => n + f.size, 0)
    }
  }
}
