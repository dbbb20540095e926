// Finding a variant's deps image (`deps-<variant>-<hash>`) and the manifest and config for each
// platform the variant builds, with clear errors when the tag names something else.
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
import type { ImageStore } from '../registry/store.js'
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

/** The deps image for these platforms, or null when the tag does not exist. */
export async function resolveDepsImage(
  store: ImageStore,
  tag: string,
  platforms: readonly Platform[]
): Promise<DepsImage | null> {
  const ref = `${store.name}:${tag}`
  const top = await store.getManifest(tag)
  if (!top) return null
  const parsed = parseManifest(top.bytes, top.mediaType, `deps image ${ref}`)
  const configOf = async (m: ImageManifest, what: string) => {
    const config = parseConfig(await store.getBlob(m.config.digest), `config of ${what}`)
    if (config.rootfs.diff_ids.length !== m.layers.length) {
      throw new DepsImageError(
        `${what}: its config has ${config.rootfs.diff_ids.length} diff_ids for ${m.layers.length} layers`,
        {},
        'rebuild the deps image (--rebuild)'
      )
    }
    return config
  }

  if (parsed.kind === 'manifest') {
    if (platforms.length > 1) {
      throw new DepsImageError(
        `deps image ${ref} is a single-platform image, but the variant builds ${platforms.map(formatPlatform).join(', ')}`,
        {},
        'rebuild the deps image for all platforms (--rebuild), or build one platform'
      )
    }
    const config = await configOf(parsed.manifest, `deps image ${ref}`)
    const want = platforms[0]!
    if (!platformMatches(config, want)) {
      throw new DepsImageError(
        `deps image ${ref} is for ${describePlatform(config)}, not ${formatPlatform(want)}`,
        {},
        'the tag holds an image of another platform; rebuild it (--rebuild) or fix platforms in [tool.fast-build]'
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

  const entries = parsed.index.manifests
  const found: PlatformImage[] = []
  for (const want of platforms) {
    const entry = entries.find((e) => e.platform && platformMatches(e.platform, want))
    if (!entry) {
      const have = entries.filter((e) => e.platform).map((e) => describePlatform(e.platform!))
      throw new DepsImageError(
        `deps image ${ref} has no ${formatPlatform(want)} image (it has ${have.join(', ') || 'no platform entries'})`,
        {},
        'rebuild the deps image for this platform (--rebuild)'
      )
    }
    const child = await store.getManifest(entry.digest)
    if (!child)
      throw new DepsImageError(
        `deps image ${ref}: its ${formatPlatform(want)} manifest ${entry.digest} is missing`,
        {},
        'rebuild the deps image (--rebuild)'
      )
    const p = parseManifest(child.bytes, entry.mediaType, `deps image ${ref} (${formatPlatform(want)})`)
    if (p.kind !== 'manifest') throw new DepsImageError(`deps image ${ref}: nested indexes are not supported`)
    const config = await configOf(p.manifest, `deps image ${ref} (${formatPlatform(want)})`)
    found.push({
      platform: want,
      indexEntry: entry,
      manifest: p.manifest,
      manifestDigest: parseDigest(entry.digest),
      config
    })
  }
  return { ref, digest: top.digest, mediaType: parsed.mediaType, isIndex: true, platforms: found }
}
