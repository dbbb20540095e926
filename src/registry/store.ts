// One interface for where images live: a registry repository or an OCI image-layout directory.
import type { Digest } from '../oci/digest.js'
import type { Descriptor } from '../oci/image.js'

/** A blob's bytes: in memory, or a file to stream from (large layers). */
export type BlobData = Buffer | { readonly file: string }

export type BlobOutcome = 'exists' | 'mounted' | 'uploaded'

export interface StoredManifest {
  readonly bytes: Buffer
  readonly mediaType: string
  readonly digest: Digest
}

/**
 * A blob written while it is produced (its digest known only at the end), as `docker push`
 * streams layers. `commit` checks whether the blob was there already (then the bytes sent are
 * dropped) and otherwise completes the upload under the digest.
 */
export interface BlobStream {
  write(chunk: Buffer): Promise<void>
  /**
   * Finish the blob as `desc`. `ask` (default true): ask first whether the store has it, and
   * drop the stream if so ('exists'); without, the store is given what was sent.
   */
  commit(desc: Descriptor, opts?: { readonly ask?: boolean }): Promise<BlobOutcome>
  abort(): Promise<void>
}

export interface PutBlobOptions {
  /** Another repository of the same registry to mount the blob from. */
  readonly mountFrom?: string
  /**
   * The blob was just made (a config, an SBOM, a layer built in this run) and is most likely
   * not there: a remote store opens the upload while it checks, instead of after.
   */
  readonly fresh?: boolean
  /**
   * false: put without asking whether the store has it. For a blob that names bytes this run
   * sent without asking (a deps config listing a layer streamed as it was rebuilt from the one
   * before: see BlobStream.commit's `ask`): the store cannot have it, and the question would be
   * a round trip on the way to the manifest. Default true.
   */
  readonly ask?: boolean
}

export interface ImageStore {
  /** How to name it in messages and references: `host/repo` or `oci:/path`. */
  readonly name: string
  blobExists(digest: Digest): Promise<boolean>
  /**
   * Make the blob present: skip it when it is there, mount it from `mountFrom` (another
   * repository of the same registry) when possible, else upload it. Verifies the digest.
   */
  putBlob(desc: Descriptor, data: BlobData, opts?: PutBlobOptions): Promise<BlobOutcome>
  /** A small blob (a config), checked against its digest. */
  getBlob(digest: Digest): Promise<Buffer>
  /** A manifest or index by tag or digest; null when there is none. */
  getManifest(ref: string): Promise<StoredManifest | null>
  /** Store a manifest, under `tag` when given (else by digest only); returns its digest. */
  putManifest(tag: string | null, bytes: Buffer, mediaType: string): Promise<Digest>
  listTags(): Promise<string[]>
  /** Start a streamed blob write, where the store supports it. */
  beginBlob?(): Promise<BlobStream>
  /** A blob's bytes as a file to read (downloaded and checked when the store is remote). */
  openBlob(digest: Digest): Promise<{ readonly file: string }>
  /**
   * Where cross-repository mounts are possible: the registry host and repository. Two stores
   * with the same host can mount each other's blobs.
   */
  readonly mountable?: { readonly host: string; readonly repository: string }
  /** Mount a blob from another repository of the same registry; false when the registry declined. */
  mountBlob?(desc: Descriptor, fromRepository: string): Promise<boolean>
  /**
   * Whether the store answers the referrers API (OCI distribution 1.1, `GET /v2/<name>/referrers/
   * <digest>`) for `subject`: then a manifest whose `subject` names it is found without a tag.
   * Absent, or false: artifacts that refer to an image are also tagged (src/sbom/attach.ts).
   */
  supportsReferrers?(subject: Digest): Promise<boolean>
  /**
   * Open `count` upload sessions now, for fresh blobs (PutBlobOptions.fresh) and streams still
   * being made: each then needs no session of its own. Where a session is a round trip (a registry).
   */
  openUploads?(count: number): void
  /** Close the sessions openUploads opened that no upload took. */
  dropUploads?(): Promise<void>
  /**
   * Read the image `ref` (a tag an earlier build wrote) in the background, where that spares
   * round trips: the blobs it names are there (a registry keeps a manifest's blobs), so
   * blobExists answers for them without asking. Nothing happens when it is not there.
   */
  recallImage?(ref: string): void
}

/** Tags as registries accept them (distribution's reference grammar). */
export const TAG_PATTERN = /^[\w][\w.-]{0,127}$/

export function isDigestRef(ref: string): boolean {
  return /^sha256:[a-f0-9]{64}$/.test(ref)
}
