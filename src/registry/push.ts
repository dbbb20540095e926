// One writer for images, as go-containerregistry's remote.Write: every blob first, then each
// platform's manifest, then the index over them, and the tags last, so no tag ever names an image
// that is not complete. The full path (deps images), the fast path (app images) and nothing else
// write images; both hand their edits (oci/image-edit.ts) here.
import type { Digest } from '../oci/digest.js'
import { buildIndex, describeBytes, serialize, type Descriptor } from '../oci/image.js'
import { handled, limit } from '../util/limit.js'
import type { BlobData, BlobOutcome, ImageStore } from './store.js'

export interface BlobStats {
  uploaded: number
  mounted: number
  /** Already present (or referenced from the image below, untouched). */
  skipped: number
  bytesUploaded: number
}

export function emptyStats(): BlobStats {
  return { uploaded: 0, mounted: 0, skipped: 0, bytesUploaded: 0 }
}

/** Count one blob's outcome (and its bytes, when it went up) into `stats`. */
export function countBlob(stats: BlobStats, outcome: BlobOutcome, size: number): void {
  if (outcome === 'uploaded') {
    stats.uploaded++
    stats.bytesUploaded += size
  } else if (outcome === 'mounted') stats.mounted++
  else stats.skipped++
}

/** Add `more` into `stats`. */
export function addStats(stats: BlobStats, more: BlobStats): void {
  stats.uploaded += more.uploaded
  stats.mounted += more.mounted
  stats.skipped += more.skipped
  stats.bytesUploaded += more.bytesUploaded
}

/**
 * A blob this push writes, or one written already (streamed, or pushed while it was built), with
 * what to say about it first.
 */
export type BlobWrite =
  | {
      readonly descriptor: Descriptor
      readonly data: BlobData
      readonly say?: string
      /** Made just now (a config): most likely new to the store (see PutBlobOptions.fresh). */
      readonly fresh?: boolean
      /** false: surely new, put without asking (see PutBlobOptions.ask). */
      readonly ask?: boolean
    }
  | {
      readonly descriptor: Descriptor
      /** Written already, or being written (a layer uploading since it was built). */
      readonly outcome: BlobOutcome | Promise<BlobOutcome>
      readonly say?: string
    }

/** Blobs written at once: they are independent, and each is mostly waiting on the registry. */
const BLOB_WRITES = 4

export interface ManifestWrite {
  /** The blobs it names that are written now (in this order) or were written already. */
  readonly blobs: readonly BlobWrite[]
  readonly bytes: Buffer
  readonly mediaType: string
  /** Its entry's platform in the index. */
  readonly platform?: Descriptor['platform']
}

export interface ImageWrite {
  readonly manifests: readonly ManifestWrite[]
  /** The index over the manifests; null: a single manifest, tagged itself. */
  readonly index: {
    readonly mediaType: string
    readonly annotations?: Readonly<Record<string, string>>
  } | null
}

export interface Pushed {
  /** The digest of what the tags name (the index, or the single manifest). */
  readonly digest: Digest
  readonly mediaType: string
  readonly stats: BlobStats
}

/** What the tags of `image` name: its index over the manifests, or its one manifest. */
function topOf(image: ImageWrite): { readonly bytes: Buffer; readonly mediaType: string } {
  if (image.index) {
    const manifests = image.manifests.map((m) =>
      describeBytes(m.mediaType, m.bytes, m.platform ? { platform: m.platform } : {})
    )
    const { mediaType, annotations } = image.index
    return {
      bytes: serialize(buildIndex({ mediaType, manifests, ...(annotations ? { annotations } : {}) })),
      mediaType
    }
  }
  if (image.manifests.length !== 1)
    throw new Error(`an image without an index has one manifest, not ${image.manifests.length}`)
  return image.manifests[0]!
}

/**
 * What the tags of `image` will name once it is pushed (its digest and media type), known before
 * it is: an image on top of it can be made while it is still being written.
 */
export function describeImage(image: ImageWrite): { readonly digest: Digest; readonly mediaType: string } {
  const top = topOf(image)
  return { digest: describeBytes(top.mediaType, top.bytes).digest, mediaType: top.mediaType }
}

/**
 * Write `image` to `store` under `tags` (none: by digest only). A blob with `say` reports it
 * before it goes up. With `after`, the blobs go up at once but no manifest is written until
 * `after` resolves (the image below is complete), and none at all if it rejects.
 */
export async function pushImage(
  store: ImageStore,
  image: ImageWrite,
  tags: readonly string[],
  onProgress?: (message: string) => void,
  after?: Promise<unknown>
): Promise<Pushed> {
  if (after) handled(after) // awaited once the blobs are up
  const stats = emptyStats()
  const writes = limit(BLOB_WRITES)
  await Promise.all(
    image.manifests
      .flatMap((m) => m.blobs)
      .map((b) =>
        writes(async () => {
          if (b.say) onProgress?.(b.say)
          const outcome =
            'outcome' in b
              ? await b.outcome
              : await store.putBlob(b.descriptor, b.data, {
                  ...(b.fresh ? { fresh: true } : {}),
                  ...(b.ask === false ? { ask: false } : {})
                })
          countBlob(stats, outcome, b.descriptor.size)
        })
      )
  )
  await after
  const put = async (tag: string | null, bytes: Buffer, mediaType: string): Promise<Digest> => {
    const digest = await store.putManifest(tag, bytes, mediaType)
    stats.uploaded++
    stats.bytesUploaded += bytes.length
    return digest
  }
  const top = topOf(image)
  if (image.index) await Promise.all(image.manifests.map((m) => put(null, m.bytes, m.mediaType)))
  let digest: Digest | null = null
  for (const tag of tags) digest = await put(tag, top.bytes, top.mediaType)
  digest ??= await put(null, top.bytes, top.mediaType)
  return { digest, mediaType: top.mediaType, stats }
}
