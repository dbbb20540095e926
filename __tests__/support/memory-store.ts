// An image store held in memory, behind the same ImageStore interface as the registry client and
// the OCI layout: unit tests of the fast path, the app image and the full path's pushes need a
// place that holds blobs and tags, not a registry process. It checks what a registry checks
// (digests, tag grammar, manifests naming only present blobs) and records every call in order,
// so a test can count lookups and see that tags are written last.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { digestHex, sha256, type Digest } from '../../src/oci/digest.js'
import type { Descriptor } from '../../src/oci/image.js'
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST } from '../../src/oci/media-types.js'
import {
  isDigestRef,
  TAG_PATTERN,
  type BlobData,
  type BlobOutcome,
  type BlobStream,
  type ImageStore,
  type StoredManifest
} from '../../src/registry/store.js'
import { tarFiles } from './oci-layout.js'
import { tempDir } from './project.js'

/** One call on the store, in the order made: `getManifest deps-base-0123`, `putManifest latest`… */
export interface StoreCall {
  readonly op: keyof ImageStore
  /** The digest, tag or repository the call names. */
  readonly ref: string
}

/**
 * Repositories of one registry host: stores made here can mount each other's blobs, as
 * repositories of one registry do.
 */
export class MemoryRegistry {
  private readonly repositories = new Map<string, MemoryStore>()

  constructor(readonly host = 'memory.test') {}

  repository(name: string, opts: { referrers?: boolean } = {}): MemoryStore {
    let store = this.repositories.get(name)
    if (!store) {
      store = new MemoryStore(`${this.host}/${name}`, { ...opts, registry: this, repository: name })
      this.repositories.set(name, store)
    }
    return store
  }

  /** A blob of another repository, for a mount. */
  blobOf(repository: string, digest: Digest): Buffer | undefined {
    return this.repositories.get(repository)?.blobs.get(digest)
  }
}

export class MemoryStore implements ImageStore {
  readonly blobs = new Map<Digest, Buffer>()
  readonly manifests = new Map<Digest, { bytes: Buffer; mediaType: string }>()
  readonly tags = new Map<string, Digest>()
  readonly calls: StoreCall[] = []
  readonly mountable?: { readonly host: string; readonly repository: string }
  private readonly registry: MemoryRegistry | null
  private readonly referrers: boolean
  private fileDir: string | null = null

  constructor(
    readonly name = 'memory.test/app',
    opts: { referrers?: boolean; registry?: MemoryRegistry; repository?: string } = {}
  ) {
    this.referrers = opts.referrers ?? false
    this.registry = opts.registry ?? null
    if (opts.registry && opts.repository)
      this.mountable = { host: opts.registry.host, repository: opts.repository }
  }

  /** The calls of one kind, by what they named: `store.callsOf('getManifest')`. */
  callsOf(op: StoreCall['op']): string[] {
    return this.calls.filter((c) => c.op === op).map((c) => c.ref)
  }

  private record(op: StoreCall['op'], ref: string): void {
    this.calls.push({ op, ref })
  }

  async blobExists(digest: Digest): Promise<boolean> {
    this.record('blobExists', digest)
    return this.blobs.has(digest)
  }

  async putBlob(desc: Descriptor, data: BlobData): Promise<BlobOutcome> {
    this.record('putBlob', desc.digest)
    if (this.blobs.has(desc.digest)) return 'exists'
    this.storeBlob(desc, Buffer.isBuffer(data) ? data : readFileSync(data.file))
    return 'uploaded'
  }

  private storeBlob(desc: Descriptor, bytes: Buffer): void {
    const got = sha256(bytes)
    if (got !== desc.digest) throw new Error(`${this.name}: blob content is ${got}, not ${desc.digest}`)
    if (bytes.length !== desc.size)
      throw new Error(`${this.name}: blob ${desc.digest} has ${bytes.length} bytes, not ${desc.size}`)
    this.blobs.set(desc.digest, bytes)
  }

  async beginBlob(): Promise<BlobStream> {
    this.record('beginBlob', '')
    const chunks: Buffer[] = []
    return {
      write: async (chunk) => {
        chunks.push(Buffer.from(chunk))
      },
      commit: async (desc) => {
        this.record('putBlob', desc.digest)
        if (this.blobs.has(desc.digest)) return 'exists'
        this.storeBlob(desc, Buffer.concat(chunks))
        return 'uploaded'
      },
      abort: async () => {
        chunks.length = 0
      }
    }
  }

  async getBlob(digest: Digest): Promise<Buffer> {
    this.record('getBlob', digest)
    const bytes = this.blobs.get(digest) ?? this.manifests.get(digest)?.bytes
    if (!bytes) throw new Error(`${this.name}: blob ${digest} is missing`)
    return bytes
  }

  async openBlob(digest: Digest): Promise<{ file: string }> {
    this.record('openBlob', digest)
    const bytes = this.blobs.get(digest)
    if (!bytes) throw new Error(`${this.name}: blob ${digest} is missing`)
    this.fileDir ??= tempDir('fast-build-memory-store-')
    const file = join(this.fileDir, digestHex(digest))
    writeFileSync(file, bytes)
    return { file }
  }

  async getManifest(ref: string): Promise<StoredManifest | null> {
    this.record('getManifest', ref)
    const digest = isDigestRef(ref) ? (ref as Digest) : this.tags.get(ref)
    const found = digest && this.manifests.get(digest)
    return found ? { ...found, digest: digest! } : null
  }

  async putManifest(tag: string | null, bytes: Buffer, mediaType: string): Promise<Digest> {
    this.record('putManifest', tag ?? '')
    if (tag !== null && !TAG_PATTERN.test(tag))
      throw new Error(`${this.name}: invalid tag ${JSON.stringify(tag)}`)
    // A registry refuses a manifest that names a blob or child manifest it does not have.
    const parsed = JSON.parse(bytes.toString('utf8')) as {
      config?: Descriptor
      layers?: Descriptor[]
      manifests?: Descriptor[]
    }
    for (const d of [...(parsed.config ? [parsed.config] : []), ...(parsed.layers ?? [])])
      if (!this.blobs.has(d.digest)) throw new Error(`${this.name}: manifest names missing blob ${d.digest}`)
    for (const d of parsed.manifests ?? [])
      if (!this.manifests.has(d.digest))
        throw new Error(`${this.name}: index names missing manifest ${d.digest}`)
    const digest = sha256(bytes)
    this.manifests.set(digest, { bytes, mediaType })
    if (tag !== null) this.tags.set(tag, digest)
    return digest
  }

  async listTags(): Promise<string[]> {
    this.record('listTags', '')
    return [...this.tags.keys()].sort()
  }

  async mountBlob(desc: Descriptor, fromRepository: string): Promise<boolean> {
    this.record('mountBlob', fromRepository)
    const bytes = this.registry?.blobOf(fromRepository, desc.digest)
    if (!bytes) return false
    this.blobs.set(desc.digest, bytes)
    return true
  }

  async supportsReferrers(): Promise<boolean> {
    return this.referrers
  }
}

/** One platform of an image made by putImage: its architecture, files (one layer) and env. */
export interface ImagePlatform {
  readonly arch: 'amd64' | 'arm64'
  readonly files?: Record<string, string>
  readonly env?: readonly string[]
}

/**
 * An image written by hand into a store under `tag` (one gzip layer of `files` per platform, as
 * oci-layout.ts writes them, independent of src/oci): one platform gives a manifest, several (or
 * `index`) an OCI index with platform entries. Returns the digest the tag names.
 */
export async function putImage(
  store: ImageStore,
  tag: string,
  platforms: readonly ImagePlatform[],
  opts: { index?: boolean } = {}
): Promise<Digest> {
  const put = async (mediaType: string, bytes: Buffer): Promise<Descriptor> => {
    const desc = { mediaType, digest: sha256(bytes), size: bytes.length }
    await store.putBlob(desc, bytes)
    return desc
  }
  const manifests: Descriptor[] = []
  for (const p of platforms) {
    const tar = tarFiles(p.files ?? { 'etc/os-release': 'ID=test\n' })
    const layer = await put(OCI_LAYER_GZIP, gzipSync(tar))
    const config = await put(
      OCI_CONFIG,
      Buffer.from(
        JSON.stringify({
          architecture: p.arch,
          os: 'linux',
          config: { Env: ['PATH=/usr/local/bin:/usr/bin:/bin', ...(p.env ?? [])] },
          rootfs: { type: 'layers', diff_ids: [sha256(tar)] }
        })
      )
    )
    const bytes = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer] })
    )
    const platform = { architecture: p.arch, os: 'linux', ...(p.arch === 'arm64' ? { variant: 'v8' } : {}) }
    if (platforms.length === 1 && !opts.index) return store.putManifest(tag, bytes, OCI_MANIFEST)
    const digest = await store.putManifest(null, bytes, OCI_MANIFEST)
    manifests.push({ mediaType: OCI_MANIFEST, digest, size: bytes.length, platform })
  }
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }))
  return store.putManifest(tag, index, OCI_INDEX)
}
