// The fast path: the deps image exists, so the app image is its layers plus one source layer (and,
// for a variant with run-time packages, the small run-time layer before it: runtime.ts). Only
// those layers (unless already there), the configs and the manifests are written; the deps
// layers are referenced, never pulled. Blobs always go before the manifests naming them,
// and the tagged manifest (or index) goes last, so no tag ever points at an incomplete image.
import { buildIndex, serialize, type Descriptor } from '../oci/image.js'
import { layerMediaType, OCI_INDEX, DOCKER_MANIFEST_LIST, isIndexType } from '../oci/media-types.js'
import type { LayerBlob } from '../oci/layer.js'
import type { Digest } from '../oci/digest.js'
import type { Platform } from '../target.js'
import type { BlobOutcome, ImageStore } from '../registry/store.js'
import { appImage, type AppSettings } from './app-image.js'
import type { DepsImage } from './deps-image.js'
import { formatBytes } from '../util/format.js'

/** Re-exported for older importers; the home of it is util/format.ts. */
export { formatBytes }

export interface BlobStats {
  uploaded: number
  mounted: number
  /** Already present (or referenced from the deps image, untouched). */
  skipped: number
  bytesUploaded: number
}

export function emptyStats(): BlobStats {
  return { uploaded: 0, mounted: 0, skipped: 0, bytesUploaded: 0 }
}

/** A platform's run-time layer blob (runtime.ts), and how many packages its shim installs. */
export interface RuntimeLayer {
  readonly blob: LayerBlob
  readonly packages: number
}

/** A platform's project layer blob (project-install.ts). */
export interface ProjectLayer {
  readonly blob: LayerBlob
  readonly distributions: readonly string[]
  readonly scripts: number
}

export interface FastPathResult {
  readonly digest: Digest
  readonly mediaType: string
  readonly tags: readonly string[]
  readonly stats: BlobStats
  /** Each platform's manifest (what an SBOM's `subject` names). */
  readonly platforms: readonly { readonly platform: Platform; readonly manifest: Descriptor }[]
}

/** Count one blob's outcome (and its bytes, when it went up) into `stats`. */
export function countBlob(stats: BlobStats, outcome: BlobOutcome, size: number): void {
  if (outcome === 'uploaded') {
    stats.uploaded++
    stats.bytesUploaded += size
  } else if (outcome === 'mounted') stats.mounted++
  else stats.skipped++
}

export async function pushAppImage(args: {
  readonly store: ImageStore
  readonly deps: DepsImage
  readonly layer: LayerBlob
  readonly settings: AppSettings
  readonly tags: readonly string[]
  /** The source layer was already written (streamed while it was compressed), with this outcome. */
  readonly layerOutcome?: BlobOutcome
  /** The run-time layer for a platform; absent or null: none (the image is as without run-time groups). */
  readonly runtime?: (platform: Platform) => RuntimeLayer | null
  /** The project layer for a platform; absent or null: none. */
  readonly project?: (platform: Platform) => ProjectLayer | null
  /**
   * Called with each platform's manifest as soon as it is known, before it is written: work that
   * only needs its descriptor (the SBOM that refers to it) can run alongside the rest of the push.
   */
  readonly onManifest?: (platform: Platform, manifest: Descriptor) => void
  readonly onProgress?: (message: string) => void
}): Promise<FastPathResult> {
  const { store, deps, layer, settings } = args
  const stats = emptyStats()
  // The deps layers are referenced as they are; the registry checks they exist when the
  // manifest is pushed.
  stats.skipped += deps.platforms.reduce((n, p) => n + p.manifest.layers.length, 0)

  const layerData = layer.data ?? { file: layer.file! }
  const pushedLayer = new Set<Digest>()
  const children: Descriptor[] = []
  let single: { bytes: Buffer; mediaType: string } | null = null
  const platforms: { platform: Platform; manifest: Descriptor }[] = []

  for (const p of deps.platforms) {
    // The same bytes carry the media type of the manifest family they are listed in.
    const mediaType = layerMediaType(p.manifest.mediaType, layer.compression)
    if (!pushedLayer.has(layer.digest)) {
      args.onProgress?.(`source layer ${layer.digest.slice(7, 19)} (${formatBytes(layer.size)})`)
      const outcome =
        args.layerOutcome ??
        (await store.putBlob({ mediaType, digest: layer.digest, size: layer.size }, layerData))
      countBlob(stats, outcome, layer.size)
      pushedLayer.add(layer.digest)
    }
    const runtime = args.runtime?.(p.platform) ?? null
    const runtimeType = runtime ? layerMediaType(p.manifest.mediaType, runtime.blob.compression) : ''
    if (runtime && !pushedLayer.has(runtime.blob.digest)) {
      const r = runtime.blob
      args.onProgress?.(
        `run-time layer ${r.digest.slice(7, 19)} (${runtime.packages} packages, ${formatBytes(r.size)})`
      )
      countBlob(
        stats,
        await store.putBlob(
          { mediaType: runtimeType, digest: r.digest, size: r.size },
          r.data ?? { file: r.file! }
        ),
        r.size
      )
      pushedLayer.add(r.digest)
    }
    const project = args.project?.(p.platform) ?? null
    const projectType = project ? layerMediaType(p.manifest.mediaType, project.blob.compression) : ''
    if (project && !pushedLayer.has(project.blob.digest)) {
      const b = project.blob
      args.onProgress?.(
        `project layer ${b.digest.slice(7, 19)} (${project.distributions.join(', ')}, ${formatBytes(b.size)})`
      )
      countBlob(
        stats,
        await store.putBlob(
          { mediaType: projectType, digest: b.digest, size: b.size },
          b.data ?? { file: b.file! }
        ),
        b.size
      )
      pushedLayer.add(b.digest)
    }
    const image = appImage({
      depsManifest: p.manifest,
      depsManifestDigest: p.manifestDigest,
      depsConfig: p.config,
      depsRef: deps.ref,
      layer: {
        digest: layer.digest,
        size: layer.size,
        mediaType,
        diffId: layer.diffId,
        files: layer.entries
      },
      runtime: runtime
        ? {
            digest: runtime.blob.digest,
            size: runtime.blob.size,
            mediaType: runtimeType,
            diffId: runtime.blob.diffId,
            files: runtime.blob.entries,
            packages: runtime.packages
          }
        : null,
      project: project
        ? {
            digest: project.blob.digest,
            size: project.blob.size,
            mediaType: projectType,
            diffId: project.blob.diffId,
            files: project.blob.entries,
            distributions: project.distributions,
            scripts: project.scripts
          }
        : null,
      settings
    })
    args.onManifest?.(p.platform, image.manifestDescriptor)
    countBlob(stats, await store.putBlob(image.configDescriptor, image.config), image.config.length)
    platforms.push({ platform: p.platform, manifest: image.manifestDescriptor })
    if (deps.isIndex) {
      await store.putManifest(null, image.manifest, image.manifestDescriptor.mediaType)
      stats.uploaded++
      stats.bytesUploaded += image.manifest.length
      children.push({
        ...image.manifestDescriptor,
        ...(p.indexEntry?.platform ? { platform: p.indexEntry.platform } : {})
      })
    } else {
      single = { bytes: image.manifest, mediaType: image.manifestDescriptor.mediaType }
    }
  }

  const top =
    single ??
    (() => {
      const mediaType =
        isIndexType(deps.mediaType) && deps.mediaType === DOCKER_MANIFEST_LIST
          ? DOCKER_MANIFEST_LIST
          : OCI_INDEX
      return {
        bytes: serialize(
          buildIndex({
            mediaType,
            manifests: children,
            ...(mediaType === OCI_INDEX
              ? {
                  annotations: {
                    'org.opencontainers.image.base.digest': deps.digest,
                    'org.opencontainers.image.base.name': deps.ref
                  }
                }
              : {})
          })
        ),
        mediaType
      }
    })()

  let digest: Digest | null = null
  for (const tag of args.tags) {
    digest = await store.putManifest(tag, top.bytes, top.mediaType)
    stats.uploaded++
    stats.bytesUploaded += top.bytes.length
  }
  if (digest === null) {
    digest = await store.putManifest(null, top.bytes, top.mediaType)
    stats.uploaded++
    stats.bytesUploaded += top.bytes.length
  }
  return { digest, mediaType: top.mediaType, tags: args.tags, stats, platforms }
}
