// An SBOM attached to the image it describes, as an OCI artifact (image-spec 1.1): an image
// manifest whose `artifactType` says what it is, whose config is the empty descriptor, whose one
// layer is the document, and whose `subject` is the app image's platform manifest. A registry with
// the referrers API (distribution-spec 1.1) lists it under the subject by itself; elsewhere (a
// registry without it, such as distribution 2.8, and every OCI image layout) it is also tagged
// `sha256-<hex of the subject>.sbom`, the tag cosign uses for SBOMs, so that a client that knows
// the image's digest finds its SBOM. Only the ImageStore interface is used.
import { FastBuildError } from '../errors.js'
import { digestHex, sha256, type Digest } from '../oci/digest.js'
import { parseManifest, serialize, type Descriptor, type OciPlatform } from '../oci/image.js'
import { OCI_MANIFEST } from '../oci/media-types.js'
import type { ImageStore } from '../registry/store.js'
import { CYCLONEDX_JSON, sbomBytes, type CycloneDxBom } from './cyclonedx.js'

export class SbomError extends FastBuildError {}

/** The empty descriptor's media type and content (image-spec 1.1, "Guidance for an empty descriptor"). */
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json'
export const EMPTY_JSON = Buffer.from('{}', 'utf8')
export const EMPTY_DESCRIPTOR: Descriptor = {
  mediaType: OCI_EMPTY,
  digest: sha256(EMPTY_JSON),
  size: EMPTY_JSON.length
}

const CREATED = 'org.opencontainers.image.created'
const TITLE = 'org.opencontainers.image.title'

/** The fallback tag of the SBOM of `subject`: `sha256-<hex>.sbom`. */
export function sbomTag(subject: Digest): string {
  return `sha256-${digestHex(subject)}.sbom`
}

/** The artifact manifest for a document (pure): its bytes and the one blob it adds besides `{}`. */
export function sbomArtifact(args: {
  /** The image the document describes: its manifest's digest, media type and size. */
  readonly subject: Pick<Descriptor, 'mediaType' | 'digest' | 'size'>
  readonly document: Buffer
  /** ISO 8601, the build's time (as the document's timestamp). */
  readonly created: string
  readonly mediaType?: string
}): { manifest: Buffer; layer: Descriptor } {
  const mediaType = args.mediaType ?? CYCLONEDX_JSON
  const layer: Descriptor = {
    mediaType,
    digest: sha256(args.document),
    size: args.document.length,
    // What `oras pull` names the file.
    annotations: { [TITLE]: 'sbom.cdx.json' }
  }
  const manifest = serialize({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: mediaType,
    config: EMPTY_DESCRIPTOR,
    layers: [layer],
    // Only what identifies the subject: a platform or annotations there would add nothing.
    subject: { mediaType: args.subject.mediaType, digest: args.subject.digest, size: args.subject.size },
    annotations: { [CREATED]: args.created }
  })
  return { manifest, layer }
}

export interface AttachedSbom {
  /** The artifact manifest. */
  readonly descriptor: Descriptor
  /** `sha256-<hex>.sbom` when the artifact was tagged; null when the referrers API lists it. */
  readonly tag: string | null
  /** True when the store answers the referrers API (the artifact is found through it). */
  readonly referrers: boolean
}

/**
 * Push `document` as an artifact referring to `subject`, which must be in `store` already (or be
 * on its way: see `after`). The same document and subject give the same artifact, so attaching
 * again changes nothing.
 */
export async function attachSbom(args: {
  readonly store: ImageStore
  readonly subject: Pick<Descriptor, 'mediaType' | 'digest' | 'size'>
  readonly document: CycloneDxBom | Buffer
  readonly created: string
  /**
   * The subject is still being written: the blobs go up at once, the artifact's manifest only
   * once this resolves (and not at all if it rejects, which rejects the attach).
   */
  readonly after?: Promise<unknown>
}): Promise<AttachedSbom> {
  const { store, subject } = args
  const document = Buffer.isBuffer(args.document) ? args.document : sbomBytes(args.document)
  const { manifest, layer } = sbomArtifact({ subject, document, created: args.created })
  // Independent requests, at once: the empty config (there after the first SBOM), the document
  // (new with each image), and whether the referrers API answers.
  const [, , answers] = await Promise.all([
    store.putBlob(EMPTY_DESCRIPTOR, EMPTY_JSON),
    store.putBlob(layer, document, { fresh: true }),
    store.supportsReferrers?.(subject.digest)
  ])
  // A store that does not say (an ImageStore without the method) is treated as one without the
  // API: a tag too many costs nothing, an SBOM nobody can find defeats the purpose.
  const referrers = answers ?? false
  const tag = referrers ? null : sbomTag(subject.digest)
  await args.after
  const digest = await store.putManifest(tag, manifest, OCI_MANIFEST)
  return {
    descriptor: { mediaType: OCI_MANIFEST, digest, size: manifest.length },
    tag,
    referrers
  }
}

/**
 * The manifests an SBOM can refer to for an image pushed to `store` (by tag or digest): each
 * platform's manifest of an index, with its platform, or the one manifest of a single-platform
 * image (platform null: the caller knows which it built).
 */
export async function imageSubjects(
  store: ImageStore,
  ref: string
): Promise<{ descriptor: Descriptor; platform: OciPlatform | null }[]> {
  const got = await store.getManifest(ref)
  if (!got)
    throw new SbomError(
      `${store.name}: no image ${ref} to attach an SBOM to`,
      {},
      'attach the SBOM after the image is pushed, naming the pushed digest'
    )
  const parsed = parseManifest(got.bytes, got.mediaType, `${store.name}@${ref}`)
  if (parsed.kind === 'manifest')
    return [
      {
        descriptor: { mediaType: parsed.mediaType, digest: got.digest, size: got.bytes.length },
        platform: null
      }
    ]
  return parsed.index.manifests
    .filter((d) => d.platform && d.platform.os !== 'unknown')
    .map((d) => ({
      descriptor: { mediaType: d.mediaType, digest: d.digest, size: d.size },
      platform: d.platform!
    }))
}
