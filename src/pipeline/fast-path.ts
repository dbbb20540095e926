// The fast path: the deps image exists, so the app image is its layers plus one source layer (and,
// for a variant with run-time packages, the small run-time layer before it: runtime.ts; and the
// project's own layer: project-install.ts). Only those layers (unless already there), the configs
// and the manifests are written; the deps layers are referenced, never pulled. The image is an
// edit of the deps image (app-image.ts), written by the one image writer (registry/push.ts):
// blobs, manifests, the index, the tags last, so no tag ever points at an incomplete image.
import type { Descriptor } from '../oci/image.js'
import { layerMediaType, OCI_INDEX, DOCKER_MANIFEST_LIST } from '../oci/media-types.js'
import type { LayerBlob } from '../oci/layer.js'
import type { Digest } from '../oci/digest.js'
import type { Platform } from '../target.js'
import type { BlobOutcome, ImageStore } from '../registry/store.js'
import { pushImage, type BlobStats, type BlobWrite, type ManifestWrite } from '../registry/push.js'
import { appImage, type AppSettings, type SourceLayerRef } from './app-image.js'
import type { DepsImage, PlatformImage } from './deps-image.js'
import { formatBytes } from '../util/format.js'

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

export interface AppImageArgs {
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
  /**
   * The deps image is still being written (made just now by the full path): the blobs go up
   * meanwhile, the manifests and tags only once this resolves (none if it rejects).
   */
  readonly after?: Promise<unknown>
}

/** A layer blob as one manifest family lists it. */
function layerRef(blob: LayerBlob, manifestType: string): SourceLayerRef {
  return {
    digest: blob.digest,
    size: blob.size,
    mediaType: layerMediaType(manifestType, blob.compression),
    diffId: blob.diffId,
    files: blob.entries
  }
}

/** One platform's app image, and the blobs it needs written (each blob once per push). */
function platformWrite(
  args: AppImageArgs,
  p: PlatformImage,
  written: Set<Digest>
): { write: ManifestWrite; manifest: Descriptor } {
  const type = p.manifest.mediaType
  const runtime = args.runtime?.(p.platform) ?? null
  const project = args.project?.(p.platform) ?? null
  const layer = layerRef(args.layer, type)
  const runtimeRef = runtime ? { ...layerRef(runtime.blob, type), packages: runtime.packages } : null
  const projectRef = project
    ? { ...layerRef(project.blob, type), distributions: project.distributions, scripts: project.scripts }
    : null
  const image = appImage({
    depsManifest: p.manifest,
    depsManifestDigest: p.manifestDigest,
    depsConfig: p.config,
    depsRef: args.deps.ref,
    layer,
    runtime: runtimeRef,
    project: projectRef,
    settings: args.settings
  })
  args.onManifest?.(p.platform, image.manifestDescriptor)
  const blobs: BlobWrite[] = []
  const add = (blob: LayerBlob, mediaType: string, say: string, outcome?: BlobOutcome) => {
    // The same bytes carry the media type of the manifest family they are listed in.
    if (written.has(blob.digest)) return
    written.add(blob.digest)
    const descriptor = { mediaType, digest: blob.digest, size: blob.size }
    blobs.push(
      outcome ? { descriptor, outcome, say } : { descriptor, data: blob.data ?? { file: blob.file! }, say }
    )
  }
  const l = args.layer
  add(l, layer.mediaType, `source layer ${l.digest.slice(7, 19)} (${formatBytes(l.size)})`, args.layerOutcome)
  if (runtime) {
    const r = runtime.blob
    add(
      r,
      runtimeRef!.mediaType,
      `run-time layer ${r.digest.slice(7, 19)} (${runtime.packages} packages, ${formatBytes(r.size)})`
    )
  }
  if (project) {
    const b = project.blob
    add(
      b,
      projectRef!.mediaType,
      `project layer ${b.digest.slice(7, 19)} (${project.distributions.join(', ')}, ${formatBytes(b.size)})`
    )
  }
  blobs.push({ descriptor: image.configDescriptor, data: image.configBytes, fresh: true })
  const write: ManifestWrite = {
    blobs,
    bytes: image.manifestBytes,
    mediaType: image.manifestDescriptor.mediaType,
    ...(p.indexEntry?.platform ? { platform: p.indexEntry.platform } : {})
  }
  return { write, manifest: image.manifestDescriptor }
}

export async function pushAppImage(args: AppImageArgs): Promise<FastPathResult> {
  const { deps } = args
  const written = new Set<Digest>()
  const images = deps.platforms.map((p) => platformWrite(args, p, written))
  const mediaType = deps.mediaType === DOCKER_MANIFEST_LIST ? DOCKER_MANIFEST_LIST : OCI_INDEX
  const pushed = await pushImage(
    args.store,
    {
      manifests: images.map((i) => i.write),
      index: deps.isIndex
        ? {
            mediaType,
            ...(mediaType === OCI_INDEX
              ? {
                  annotations: {
                    'org.opencontainers.image.base.digest': deps.digest,
                    'org.opencontainers.image.base.name': deps.ref
                  }
                }
              : {})
          }
        : null
    },
    args.tags,
    args.onProgress,
    args.after
  )
  // The deps layers are referenced as they are; the registry checks they exist when the
  // manifest is pushed.
  const stats = {
    ...pushed.stats,
    skipped: pushed.stats.skipped + deps.platforms.reduce((n, p) => n + p.manifest.layers.length, 0)
  }
  const platforms = deps.platforms.map((p, i) => ({ platform: p.platform, manifest: images[i]!.manifest }))
  return { digest: pushed.digest, mediaType: pushed.mediaType, tags: args.tags, stats, platforms }
}
