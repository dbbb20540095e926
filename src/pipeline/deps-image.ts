// Finding an image (a variant's deps image `deps-<variant>-<hash>`, or a base image) and the
// manifest and config for each platform a variant builds, with clear errors when the reference
// names something else.
import { FastBuildError } from '../errors.js'
import { parseDigest, type Digest } from '../oci/digest.js'
import {
  describePlatform,
  parseConfig,
  parseManifest,
  platformMatches,
  type Descriptor,
  type ImageConfig,
  type ImageManifest
} from '../oci/image.js'
import type { ImageStore, StoredManifest } from '../registry/store.js'
import { formatPlatform, type Platform } from '../target.js'

export class DepsImageError extends FastBuildError {}

export function depsTag(variant: string, shortHash: string): string {
  return `deps-${variant}-${shortHash}`
}

export interface PlatformImage {
  readonly platform: Platform
  /** The platform entry of the deps index, when the deps image is an index. */
  readonly indexEntry: Descriptor | null
  readonly manifest: ImageManifest
  readonly manifestDigest: Digest
  readonly config: ImageConfig
}

export interface DepsImage {
  /** `store:tag`, for messages and labels. */
  readonly ref: string
  readonly digest: Digest
  readonly mediaType: string
  readonly isIndex: boolean
  readonly platforms: readonly PlatformImage[]
}

/** What is being resolved, for messages: its kind and what to do when it does not fit. */
export interface ImageKind {
  readonly what: string
  readonly fix: string
}

const DEPS: ImageKind = { what: 'deps image', fix: 'rebuild the deps image (--rebuild)' }

/** The deps image for these platforms, or null when the tag does not exist. */
export function resolveDepsImage(
  store: ImageStore,
  tag: string,
  platforms: readonly Platform[]
): Promise<DepsImage | null> {
  return resolveImage(store, tag, platforms, DEPS)
}

/** The config of one manifest, checked to list as many diff_ids as it has layers. */
async function configOf(
  store: ImageStore,
  m: ImageManifest,
  what: string,
  kind: ImageKind
): Promise<ImageConfig> {
  const config = parseConfig(await store.getBlob(m.config.digest), `config of ${what}`)
  if (config.rootfs.diff_ids.length !== m.layers.length) {
    throw new DepsImageError(
      `${what}: its config has ${config.rootfs.diff_ids.length} diff_ids for ${m.layers.length} layers`,
      {},
      kind.fix
    )
  }
  return config
}

/** A single-platform image: the one platform asked for, or a clear refusal. */
async function singleImage(
  store: ImageStore,
  ref: string,
  top: StoredManifest,
  parsed: { manifest: ImageManifest; mediaType: string },
  platforms: readonly Platform[],
  kind: ImageKind
): Promise<DepsImage> {
  if (platforms.length > 1) {
    throw new DepsImageError(
      `${kind.what} ${ref} is a single-platform image, but the variant builds ${platforms.map(formatPlatform).join(', ')}`,
      {},
      `${kind.fix}, or build one platform`
    )
  }
  const config = await configOf(store, parsed.manifest, `${kind.what} ${ref}`, kind)
  const want = platforms[0]!
  if (!platformMatches(config, want)) {
    throw new DepsImageError(
      `${kind.what} ${ref} is for ${describePlatform(config)}, not ${formatPlatform(want)}`,
      {},
      `the reference holds an image of another platform: ${kind.fix}, or fix platforms in [tool.fast-build]`
    )
  }
  return {
    ref,
    digest: top.digest,
    mediaType: parsed.mediaType,
    isIndex: false,
    platforms: [
      { platform: want, indexEntry: null, manifest: parsed.manifest, manifestDigest: top.digest, config }
    ]
  }
}

/** Each platform asked for, from an index's entries (each must be there). */
async function indexPlatforms(
  store: ImageStore,
  ref: string,
  entries: readonly Descriptor[],
  platforms: readonly Platform[],
  kind: ImageKind
): Promise<PlatformImage[]> {
  const found: PlatformImage[] = []
  for (const want of platforms) {
    const entry = entries.find((e) => e.platform && platformMatches(e.platform, want))
    if (!entry) {
      const have = entries.filter((e) => e.platform).map((e) => describePlatform(e.platform!))
      throw new DepsImageError(
        `${kind.what} ${ref} has no ${formatPlatform(want)} image (it has ${have.join(', ') || 'no platform entries'})`,
        {},
        kind.fix
      )
    }
    const child = await store.getManifest(entry.digest)
    if (!child)
      throw new DepsImageError(
        `${kind.what} ${ref}: its ${formatPlatform(want)} manifest ${entry.digest} is missing`,
        {},
        kind.fix
      )
    const p = parseManifest(child.bytes, entry.mediaType, `${kind.what} ${ref} (${formatPlatform(want)})`)
    if (p.kind !== 'manifest')
      throw new DepsImageError(`${kind.what} ${ref}: nested indexes are not supported`)
    const config = await configOf(store, p.manifest, `${kind.what} ${ref} (${formatPlatform(want)})`, kind)
    found.push({
      platform: want,
      indexEntry: entry,
      manifest: p.manifest,
      manifestDigest: parseDigest(entry.digest),
      config
    })
  }
  return found
}

/** An image by tag or digest in a store, for these platforms; null when the reference does not exist. */
export async function resolveImage(
  store: ImageStore,
  tag: string,
  platforms: readonly Platform[],
  kind: ImageKind
): Promise<DepsImage | null> {
  const ref = tag.startsWith('sha256:') ? `${store.name}@${tag}` : `${store.name}:${tag}`
  const top = await store.getManifest(tag)
  if (!top) return null
  const parsed = parseManifest(top.bytes, top.mediaType, `${kind.what} ${ref}`)
  if (parsed.kind === 'manifest') return singleImage(store, ref, top, parsed, platforms, kind)
  const found = await indexPlatforms(store, ref, parsed.index.manifests, platforms, kind)
  return { ref, digest: top.digest, mediaType: parsed.mediaType, isIndex: true, platforms: found }
}
