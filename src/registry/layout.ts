// An OCI image-layout directory as a store: `oci-layout`, `index.json` naming tagged manifests
// (annotation org.opencontainers.image.ref.name, which skopeo and podman read as `oci:DIR:TAG`),
// and `blobs/sha256/<hex>`. Blobs are written to a temp file, checked, then renamed, so a blob
// that exists is whole; index.json is rewritten under a lock file by rename.
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  copyFileSync
} from 'node:fs'
import { randomBytes } from 'node:crypto'
import { join, resolve } from 'node:path'
import { FastBuildError } from '../errors.js'
import { digestAlgorithm, digestHex, sha256, type Digest } from '../oci/digest.js'
import { parseDescriptor, type Descriptor } from '../oci/image.js'
import { OCI_INDEX } from '../oci/media-types.js'
import { createReadStream } from 'node:fs'
import { createHash } from 'node:crypto'
import {
  isDigestRef,
  TAG_PATTERN,
  type BlobData,
  type BlobOutcome,
  type BlobStream,
  type ImageStore,
  type StoredManifest
} from './store.js'
import { open as openFile } from 'node:fs/promises'

export const REF_NAME = 'org.opencontainers.image.ref.name'

export class LayoutError extends FastBuildError {}

interface IndexFile {
  schemaVersion: 2
  mediaType?: string
  manifests: Descriptor[]
  [key: string]: unknown
}

export class LayoutStore implements ImageStore {
  readonly name: string
  readonly dir: string

  constructor(dir: string) {
    this.dir = resolve(dir)
    // Absolute, so what the build prints (`pushed oci:DIR:TAG`) works from any directory.
    this.name = `oci:${this.dir}`
  }

  private blobPath(d: Digest): string {
    return join(this.dir, 'blobs', digestAlgorithm(d), digestHex(d))
  }

  /** Create the layout files when missing; refuse a directory that is something else. */
  init(): void {
    // A layout this creates gets a `.gitignore` of `*`: one made inside a checkout (`--store
    // oci:./images`) then never shows in git status nor ships with git-tracked source.
    const created = !existsSync(this.dir)
    mkdirSync(join(this.dir, 'blobs', 'sha256'), { recursive: true })
    if (created) writeFileSync(join(this.dir, '.gitignore'), '*\n')
    const marker = join(this.dir, 'oci-layout')
    if (existsSync(marker)) {
      const v = (JSON.parse(readFileSync(marker, 'utf8')) as { imageLayoutVersion?: string })
        .imageLayoutVersion
      if (v !== '1.0.0')
        throw new LayoutError(`${marker}: unsupported imageLayoutVersion ${JSON.stringify(v)}`)
    } else {
      writeFileSync(marker, JSON.stringify({ imageLayoutVersion: '1.0.0' }))
    }
    if (!existsSync(join(this.dir, 'index.json')))
      this.writeIndex({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] })
  }

  private readIndex(): IndexFile {
    const path = join(this.dir, 'index.json')
    if (!existsSync(path)) return { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }
    let o: IndexFile
    try {
      o = JSON.parse(readFileSync(path, 'utf8')) as IndexFile
    } catch (e) {
      throw new LayoutError(
        `${path} is not valid JSON: ${(e as Error).message}`,
        { file: path },
        'restore or delete the layout directory'
      )
    }
    if (!Array.isArray(o.manifests)) throw new LayoutError(`${path}: no manifests list`, { file: path })
    o.manifests = o.manifests.map((m, i) => parseDescriptor(m, `${path} manifests[${i}]`))
    return o
  }

  private writeIndex(index: IndexFile): void {
    const path = join(this.dir, 'index.json')
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`
    writeFileSync(tmp, JSON.stringify(index))
    renameSync(tmp, path)
  }

  /** Run `f` holding index.json.lock (bounded wait; a lock older than a minute is stale). */
  private async locked<T>(f: () => T): Promise<T> {
    const lock = join(this.dir, 'index.json.lock')
    const deadline = Date.now() + 30_000
    for (;;) {
      try {
        closeSync(openSync(lock, 'wx'))
        break
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
        try {
          if (Date.now() - statSync(lock).mtimeMs > 60_000) rmSync(lock, { force: true })
        } catch {
          // gone already
        }
        if (Date.now() > deadline)
          throw new LayoutError(
            `${lock} is held by another build for over 30 s`,
            { file: lock },
            'remove the lock file if no other fast-build is running'
          )
        await new Promise((r) => setTimeout(r, 20))
      }
    }
    try {
      return f()
    } finally {
      rmSync(lock, { force: true })
    }
  }

  async blobExists(digest: Digest): Promise<boolean> {
    return existsSync(this.blobPath(digest))
  }

  async putBlob(desc: Descriptor, data: BlobData): Promise<BlobOutcome> {
    this.init()
    const path = this.blobPath(desc.digest)
    if (existsSync(path)) return 'exists'
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`
    try {
      let got: Digest
      if (Buffer.isBuffer(data)) {
        got = sha256(data)
        if (got === desc.digest) writeFileSync(tmp, data)
      } else {
        copyFileSync(data.file, tmp)
        got = await fileDigest(tmp)
      }
      if (got !== desc.digest)
        throw new LayoutError(`blob content does not match ${desc.digest} (it is ${got})`)
      renameSync(tmp, path)
    } finally {
      rmSync(tmp, { force: true })
    }
    return 'uploaded'
  }

  /** A streamed blob: written to a temp file, renamed into place by `commit` once checked. */
  async beginBlob(): Promise<BlobStream> {
    this.init()
    const tmp = join(this.dir, 'blobs', 'sha256', `upload.${randomBytes(6).toString('hex')}.tmp`)
    const file = await openFile(tmp, 'w')
    const hash = createHash('sha256')
    let closed = false
    const close = async () => {
      if (!closed) {
        closed = true
        await file.close()
      }
    }
    return {
      write: async (chunk) => {
        hash.update(chunk)
        await file.write(chunk)
      },
      commit: async (desc) => {
        await close()
        const got = `sha256:${hash.digest('hex')}`
        if (got !== desc.digest) {
          rmSync(tmp, { force: true })
          throw new LayoutError(`streamed blob is ${got}, not ${desc.digest}`)
        }
        if (existsSync(this.blobPath(desc.digest))) {
          rmSync(tmp, { force: true })
          return 'exists'
        }
        renameSync(tmp, this.blobPath(desc.digest))
        return 'uploaded'
      },
      abort: async () => {
        await close()
        rmSync(tmp, { force: true })
      }
    }
  }

  async openBlob(digest: Digest): Promise<{ file: string }> {
    const path = this.blobPath(digest)
    if (!existsSync(path)) throw new LayoutError(`${this.name}: blob ${digest} is missing`, { file: path })
    return { file: path }
  }

  async getBlob(digest: Digest): Promise<Buffer> {
    const path = this.blobPath(digest)
    if (!existsSync(path)) throw new LayoutError(`${this.name}: blob ${digest} is missing`, { file: path })
    const bytes = readFileSync(path)
    if (sha256(bytes) !== digest)
      throw new LayoutError(`${path} does not hold ${digest} (corrupted layout)`, { file: path })
    return bytes
  }

  async getManifest(ref: string): Promise<StoredManifest | null> {
    const index = this.readIndex()
    let desc: Descriptor | undefined
    if (isDigestRef(ref)) {
      desc = index.manifests.find((m) => m.digest === ref)
      if (!desc && !existsSync(this.blobPath(ref as Digest))) return null
    } else {
      desc = index.manifests.find((m) => m.annotations?.[REF_NAME] === ref)
      if (!desc) return null
    }
    const digest = (desc?.digest ?? ref) as Digest
    const bytes = await this.getBlob(digest)
    const declared = (JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType
    return { bytes, mediaType: desc?.mediaType ?? declared ?? '', digest }
  }

  async putManifest(tag: string | null, bytes: Buffer, mediaType: string): Promise<Digest> {
    if (tag !== null && !TAG_PATTERN.test(tag)) throw new LayoutError(`invalid tag ${JSON.stringify(tag)}`)
    const digest = sha256(bytes)
    await this.putBlob({ mediaType, digest, size: bytes.length }, bytes)
    if (tag !== null) {
      await this.locked(() => {
        const index = this.readIndex()
        index.manifests = [
          ...index.manifests.filter((m) => m.annotations?.[REF_NAME] !== tag),
          { mediaType, digest, size: bytes.length, annotations: { [REF_NAME]: tag } }
        ]
        this.writeIndex(index)
      })
    }
    return digest
  }

  /**
   * An image layout has no referrers API: a manifest with a `subject` is found only by reading
   * every manifest, which skopeo, podman and umoci do not do. Referring artifacts are tagged.
   */
  async supportsReferrers(): Promise<boolean> {
    return false
  }

  async listTags(): Promise<string[]> {
    return this.readIndex()
      .manifests.map((m) => m.annotations?.[REF_NAME])
      .filter((t): t is string => typeof t === 'string')
      .sort()
  }
}

function fileDigest(path: string): Promise<Digest> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256')
    createReadStream(path)
      .on('data', (c) => h.update(c))
      .on('end', () => resolve(`sha256:${h.digest('hex')}` as Digest))
      .on('error', reject)
  })
}
