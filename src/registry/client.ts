// A client for the OCI distribution spec, for one repository: HEAD/GET/PUT of blobs and
// manifests, cross-repository mounts, monolithic and chunked uploads, tag listing. Every
// operation retries transient failures as a whole (an upload restarts with a new session) under
// the tool's one rule (src/net/retry.ts): each request has a deadline, each operation a time
// budget, and an operation that runs out of either fails with a temporary RegistryError naming
// the host and what it waited for. Auth failures say which credential was used and what was
// asked for.
import { FastBuildError } from '../errors.js'
import { parseDigest, sha256, type Digest } from '../oci/digest.js'
import { parseManifest, type Descriptor } from '../oci/image.js'
import { ACCEPT_ANY_MANIFEST, OCI_INDEX } from '../oci/media-types.js'
import { redactUrl, TransientHttpError, UnknownHostError } from '../net/errors.js'
import { HttpClient, throwIfTransient, type HttpResponse, type RequestBody } from '../net/http.js'
import { DEFAULT_RETRY, RetriesExhaustedError, withRetry, type RetryPolicy } from '../net/retry.js'
import { describeCredential, ANONYMOUS, type Credential } from './credentials.js'
import { errorText, RegistryAuth, RegistryAuthError, scopeFor, type Access } from './auth.js'
import { RegistryError } from './errors.js'
import { handled } from '../util/limit.js'
import {
  isDigestRef,
  TAG_PATTERN,
  type BlobData,
  type BlobOutcome,
  type PutBlobOptions,
  type BlobStream,
  type ImageStore,
  type StoredManifest
} from './store.js'
import { randomBytes } from 'node:crypto'
import { mkdirSync, renameSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface RegistryRef {
  /** `host[:port]` as used in URLs (`registry-1.docker.io` for Docker Hub). */
  readonly host: string
  readonly repository: string
}

const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/

/**
 * An image reference (`host/repository[:tag][@digest]`) that does not parse. Not named
 * `ReferenceError`, which is JavaScript's own and would be shadowed wherever this is imported.
 */
export class ImageReferenceError extends FastBuildError {}

/**
 * `ghcr.io/acme/app`, `127.0.0.1:5000/demo`, `python` (Docker Hub, library/python). A tag or
 * digest suffix is returned apart.
 */
export function parseImageReference(
  text: string,
  where = 'image'
): RegistryRef & { tag: string | null; digest: Digest | null } {
  let rest = text.trim()
  let digest: Digest | null = null
  const at = rest.indexOf('@')
  if (at >= 0) {
    digest = parseDigest(rest.slice(at + 1), `${where} ${JSON.stringify(text)}`)
    rest = rest.slice(0, at)
  }
  let tag: string | null = null
  const colon = rest.lastIndexOf(':')
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    if (!TAG_PATTERN.test(tag))
      throw new ImageReferenceError(
        `${where}: ${JSON.stringify(text)} has an invalid tag ${JSON.stringify(tag)}`
      )
  }
  const slash = rest.indexOf('/')
  const first = slash < 0 ? '' : rest.slice(0, slash)
  let host: string
  let repository: string
  if (slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    host = first
    repository = rest.slice(slash + 1)
  } else {
    host = 'docker.io'
    repository = slash < 0 ? `library/${rest}` : rest
  }
  if (host === 'docker.io' || host === 'index.docker.io') host = 'registry-1.docker.io'
  if (!REPOSITORY.test(repository)) {
    throw new ImageReferenceError(
      `${where}: ${JSON.stringify(text)} is not an image reference`,
      {},
      'write it as host/repository, e.g. ghcr.io/acme/app or 127.0.0.1:5000/demo'
    )
  }
  return { host, repository, tag, digest }
}

export interface RegistryClientOptions {
  readonly credential?: Credential
  readonly http?: HttpClient
  /** Each operation's attempts, backoff and time budget (default: 6 attempts, FAST_BUILD_RETRY_BUDGET_S). */
  readonly retry?: RetryPolicy
  /** Each request's deadline when the client makes its own HttpClient (default FAST_BUILD_REQUEST_TIMEOUT_S). */
  readonly requestTimeoutMs?: number
  /** Speak plain HTTP (default only for localhost and 127.0.0.0/8). */
  readonly insecure?: boolean
  /** Blobs larger than this go up in PATCH chunks of this size. */
  readonly chunkSize?: number
  /** Told about every retry (for progress output). */
  readonly onRetry?: (message: string, delayMs: number) => void
}

const DEFAULT_CHUNK = 64 * 1024 * 1024

/** At most this many platform images of an index are read by recallImage. */
const RECALLED_PLATFORMS = 16

export function isLoopback(host: string): boolean {
  const h = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '')
  return h === 'localhost' || h === '::1' || /^127\./.test(h)
}

export class RegistryClient implements ImageStore {
  readonly name: string
  private readonly base: string
  private readonly http: HttpClient
  private readonly ownsHttp: boolean
  private readonly auth: RegistryAuth
  private readonly retry: RetryPolicy
  private readonly chunkSize: number
  /**
   * Blobs the repository is known to hold: found by HEAD, put, or named by a manifest read from
   * it. Asked about again, they need no round trip.
   */
  private readonly present = new Set<Digest>()
  /** Earlier images being read for their blobs (recallImage): blobExists waits for them. */
  private recalling: Promise<void> | null = null
  /** Upload sessions opened ahead (openUploads), taken by fresh blobs first come. */
  private readonly ahead: Promise<string | null>[] = []

  constructor(
    readonly ref: RegistryRef,
    private readonly opts: RegistryClientOptions = {}
  ) {
    this.name = `${ref.host}/${ref.repository}`
    const insecure = opts.insecure ?? isLoopback(ref.host)
    this.base = `${insecure ? 'http' : 'https'}://${ref.host}`
    this.ownsHttp = !opts.http
    this.http =
      opts.http ??
      new HttpClient(opts.requestTimeoutMs !== undefined ? { requestTimeoutMs: opts.requestTimeoutMs } : {})
    this.retry = opts.retry ?? DEFAULT_RETRY
    this.chunkSize = opts.chunkSize ?? DEFAULT_CHUNK
    const credential = opts.credential ?? ANONYMOUS
    this.auth = new RegistryAuth(this.http, ref.host, credential, {
      fix:
        credential.kind === 'anonymous'
          ? `log in first (docker login ${ref.host}, or docker/login-action), or give registry-username and registry-password`
          : `check the credentials for ${ref.host} (registry-username / registry-password, or docker login ${ref.host})`
    })
  }

  /** Another repository of the same registry, sharing connections and credentials. */
  sibling(repository: string): RegistryClient {
    return new RegistryClient({ host: this.ref.host, repository }, { ...this.opts, http: this.http })
  }

  close(): void {
    if (this.ownsHttp) this.http.close()
  }

  private url(path: string): string {
    return `${this.base}/v2/${this.ref.repository}/${path}`
  }

  /**
   * One request with auth: a 401 is answered by authenticating (once) and trying again.
   * Retryable statuses become TransientHttpError; the caller decides about retrying.
   */
  private async send(
    method: string,
    url: string,
    o: {
      access: Access
      scopes?: string[]
      headers?: Record<string, string>
      body?: () => RequestBody
      maxBody?: number
    }
  ): Promise<HttpResponse> {
    const scopes = [scopeFor(this.ref.repository, o.access), ...(o.scopes ?? [])]
    for (let attempt = 0; attempt < 2; attempt++) {
      const headers: Record<string, string> = { ...o.headers }
      const authorization = await this.auth.header(scopes)
      if (authorization) headers['authorization'] = authorization
      const res = await this.http.request({
        method,
        url,
        headers,
        ...(o.body ? { body: o.body() } : {}),
        ...(o.maxBody ? { maxBody: o.maxBody } : {})
      })
      if (res.status === 401 && attempt === 0) {
        this.auth.learn(res)
        this.auth.forget()
        continue
      }
      if (res.status === 401 || res.status === 403) {
        // With Basic auth a second 401 means the user or password is wrong; otherwise the
        // credential was accepted but lacks the access asked for.
        const wrongCredential = res.status === 401 && this.auth.scheme === 'basic'
        throw new RegistryAuthError(
          `${this.ref.host} refused ${method} on ${this.ref.repository} (${res.status}${errorText(res)}) with ${describeCredential(this.auth.credential)}; asked for ${scopes.join(' ')}`,
          {},
          wrongCredential
            ? this.auth.fix
            : o.access === 'push'
              ? `the credential needs push access to ${this.name} (for GHCR: a token with packages: write)`
              : `the credential needs pull access to ${this.name}`
        )
      }
      throwIfTransient(res, () => errorText(res))
      return res
    }
    throw new Error('unreachable')
  }

  private unexpected(what: string, res: HttpResponse): RegistryError {
    return new RegistryError(`${this.name}: ${what} failed (${res.status}${errorText(res)})`)
  }

  /**
   * Run an operation under the retry rule. When it gives up, the error is a temporary
   * RegistryError: the last failure, how many attempts in how long, the budget, and what to do.
   */
  private async retrying<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await withRetry(op, this.retry, (e, delay) => this.opts.onRetry?.(e.message, delay))
    } catch (e) {
      if (e instanceof RetriesExhaustedError) throw new RegistryError(e.message, {}, e.hint, true)
      // The registry's name is what the user wrote: say where.
      if (e instanceof UnknownHostError)
        throw new UnknownHostError(
          e.message,
          e,
          'check the registry name (image input or [tool.fast-build] image)'
        )
      throw e
    }
  }

  /**
   * Whether the registry answers the referrers API (OCI distribution 1.1, `GET /v2/<name>/referrers/
   * <digest>`) for `subject`: 200 with an image index. One without it answers 404 (distribution 2.8:
   * "404 page not found"); any other answer counts as no, and the caller tags the artifact instead,
   * which every registry finds.
   */
  supportsReferrers(subject: Digest): Promise<boolean> {
    return this.retrying(async () => {
      const res = await this.send('GET', this.url(`referrers/${subject}`), {
        access: 'pull',
        headers: { accept: OCI_INDEX },
        maxBody: 16 * 1024 * 1024
      })
      const type = (res.headers['content-type'] ?? '').split(';')[0]!.trim()
      return res.status === 200 && type === OCI_INDEX
    })
  }

  async ping(): Promise<void> {
    await this.retrying(async () => {
      const res = await this.send('GET', `${this.base}/v2/`, { access: 'pull' })
      if (res.status !== 200) throw this.unexpected('GET /v2/', res)
    })
  }

  async blobExists(digest: Digest): Promise<boolean> {
    if (this.present.has(digest)) return true
    if (this.recalling) {
      await this.recalling
      if (this.present.has(digest)) return true
    }
    const found = await this.retrying(async () => {
      const res = await this.send('HEAD', this.url(`blobs/${digest}`), { access: 'pull' })
      if (res.status === 200) return true
      if (res.status === 404) return false
      throw this.unexpected(`HEAD blob ${digest}`, res)
    })
    if (found) this.present.add(digest)
    return found
  }

  recallImage(ref: string): void {
    // It only ever spares HEADs: an image that cannot be read is no error.
    const read = this.recallBlobs(ref).catch(() => undefined)
    this.recalling = this.recalling ? Promise.all([this.recalling, read]).then(() => undefined) : read
  }

  /** Read `ref` and, for an index, the manifests it lists (getManifest learns their blobs). */
  private async recallBlobs(ref: string): Promise<void> {
    const top = await this.getManifest(ref)
    if (!top) return
    const parsed = parseManifest(top.bytes, top.mediaType, ref)
    if (parsed.kind !== 'index') return
    // Platform images only (attestations are "unknown/unknown"), and a bounded number of them.
    const images = parsed.index.manifests
      .filter((m) => m.platform?.os !== 'unknown')
      .slice(0, RECALLED_PLATFORMS)
    await Promise.all(images.map((m) => this.getManifest(m.digest)))
  }

  /** What a manifest this repository stores names is there (registries keep a manifest's blobs). */
  private learn(bytes: Buffer, mediaType: string): void {
    let parsed: ReturnType<typeof parseManifest>
    try {
      parsed = parseManifest(bytes, mediaType, 'manifest')
    } catch {
      return
    }
    if (parsed.kind !== 'manifest') return
    const { config, layers } = parsed.manifest
    this.present.add(config.digest)
    // A foreign layer (one with `urls`) is fetched from elsewhere, not from the registry.
    for (const l of layers) if (!l.urls) this.present.add(l.digest)
  }

  getBlob(digest: Digest): Promise<Buffer> {
    return this.retrying(async () => {
      const res = await this.send('GET', this.url(`blobs/${digest}`), {
        access: 'pull',
        maxBody: 64 * 1024 * 1024
      })
      if (res.status !== 200) throw this.unexpected(`GET blob ${digest}`, res)
      if (sha256(res.body) !== digest)
        throw new TransientHttpError(`${this.name}: blob ${digest} arrived with other content`)
      return res.body
    })
  }

  async putBlob(desc: Descriptor, data: BlobData, opts: PutBlobOptions = {}): Promise<BlobOutcome> {
    const outcome = await this.placeBlob(desc, data, opts)
    this.present.add(desc.digest)
    return outcome
  }

  private async placeBlob(desc: Descriptor, data: BlobData, opts: PutBlobOptions): Promise<BlobOutcome> {
    if (this.present.has(desc.digest)) return 'exists'
    const size = Buffer.isBuffer(data) ? data.length : statSync(data.file).size
    if (size !== desc.size)
      throw new RegistryError(`blob ${desc.digest}: ${size} bytes given for a descriptor of ${desc.size}`)
    const mountFrom = opts.mountFrom && opts.mountFrom !== this.ref.repository ? opts.mountFrom : null
    // A fresh blob's upload session (one opened ahead, else a new one) is opened while its
    // existence is checked: one round trip less before the bytes go, and a session closed again
    // in the rare case the blob is there.
    let opened: Promise<string | null> | null = null
    if (opts.ask === false && !mountFrom) {
      opened = this.ahead.shift() ?? null
    } else if (opts.fresh && !mountFrom) {
      opened = this.ahead.shift() ?? this.retrying(() => this.startUpload()).catch(() => null)
      const exists = await this.blobExists(desc.digest).catch(async (e: unknown) => {
        await this.closeUpload(opened!)
        throw e
      })
      if (exists) {
        await this.closeUpload(opened)
        return 'exists'
      }
    } else if (await this.blobExists(desc.digest)) return 'exists'
    return this.retrying(async () => {
      let location: string
      // The session opened ahead is used once; a retry opens its own.
      const ahead = opened ? await opened : null
      opened = null
      if (ahead) {
        location = ahead
      } else if (mountFrom) {
        const url = `${this.url('blobs/uploads/')}?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(mountFrom)}`
        const res = await this.send('POST', url, { access: 'push', scopes: [scopeFor(mountFrom, 'pull')] })
        if (res.status === 201) return 'mounted'
        if (res.status !== 202) throw this.unexpected(`mount of ${desc.digest} from ${mountFrom}`, res)
        location = this.location(res)
      } else {
        location = await this.startUpload()
      }
      const part = (start: number, end: number): RequestBody =>
        Buffer.isBuffer(data) ? data.subarray(start, end) : { file: data.file, start, end: end - 1 }
      if (size > this.chunkSize) {
        for (let start = 0; start < size; start += this.chunkSize) {
          const end = Math.min(size, start + this.chunkSize)
          const res = await this.send('PATCH', location, {
            access: 'push',
            headers: {
              'content-type': 'application/octet-stream',
              'content-range': `${start}-${end - 1}`,
              'content-length': String(end - start)
            },
            body: () => part(start, end)
          })
          if (res.status !== 202)
            throw this.unexpected(`uploading bytes ${start}-${end - 1} of ${desc.digest}`, res)
          location = this.location(res)
        }
        const res = await this.send('PUT', withDigest(location, desc.digest), { access: 'push' })
        this.checkPut(res, desc.digest)
      } else {
        const res = await this.send('PUT', withDigest(location, desc.digest), {
          access: 'push',
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
          body: () => part(0, size)
        })
        this.checkPut(res, desc.digest)
      }
      return 'uploaded'
    })
  }

  openUploads(count: number): void {
    for (let i = 0; i < count; i++)
      this.ahead.push(handled(this.retrying(() => this.startUpload()).catch(() => null)))
  }

  async dropUploads(): Promise<void> {
    await Promise.all(this.ahead.splice(0).map((s) => this.closeUpload(s)))
  }

  /** A new upload session: its location. */
  private async startUpload(): Promise<string> {
    const res = await this.send('POST', this.url('blobs/uploads/'), { access: 'push' })
    if (res.status !== 202) throw this.unexpected('starting an upload', res)
    return this.location(res)
  }

  /** Drop an upload session opened ahead and not used (the registry would expire it anyway). */
  private async closeUpload(opened: Promise<string | null>): Promise<void> {
    const location = await opened
    if (location) await this.send('DELETE', location, { access: 'push' }).catch(() => undefined)
  }

  get mountable(): { host: string; repository: string } {
    return { host: this.ref.host, repository: this.ref.repository }
  }

  /** Mount a blob from another repository of this registry; false when the registry declined. */
  async mountBlob(desc: Descriptor, fromRepository: string): Promise<boolean> {
    if (fromRepository === this.ref.repository) return this.blobExists(desc.digest)
    return this.retrying(async () => {
      const url = `${this.url('blobs/uploads/')}?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(fromRepository)}`
      const res = await this.send('POST', url, { access: 'push', scopes: [scopeFor(fromRepository, 'pull')] })
      if (res.status === 201) {
        this.present.add(desc.digest)
        return true
      }
      if (res.status === 202) {
        // Declined: the registry opened an upload session instead; close it.
        await this.send('DELETE', this.location(res), { access: 'push' }).catch(() => undefined)
        return false
      }
      throw this.unexpected(`mount of ${desc.digest} from ${fromRepository}`, res)
    })
  }

  /** Download a blob to a temp file, checked against its digest (base image layers, for copies). */
  async openBlob(digest: Digest): Promise<{ file: string }> {
    const dir = join(tmpdir(), 'fast-build-blobs')
    mkdirSync(dir, { recursive: true })
    const file = join(dir, `${digest.slice(7)}.${process.pid}`)
    // Each download goes to a name of its own and is renamed into place once verified: two reads
    // of one blob at once (two builds in one process) must not write the same file, where one
    // would truncate what the other is reading.
    const part = `${file}.${randomBytes(6).toString('hex')}.part`
    try {
      return await this.openBlobTo(digest, file, part)
    } finally {
      rmSync(part, { force: true })
    }
  }

  private openBlobTo(digest: Digest, file: string, part: string): Promise<{ file: string }> {
    return this.retrying(async () => {
      for (let attempt = 0; attempt < 2; attempt++) {
        const authorization = await this.auth.header([scopeFor(this.ref.repository, 'pull')])
        // Registries may send blob reads to storage elsewhere (a CDN, a signed S3 URL): the
        // registry's token goes to the registry only.
        const res = await this.http.download(
          {
            url: this.url(`blobs/${digest}`),
            maxRedirects: 5,
            authorize: (u) =>
              authorization && new URL(u).origin === new URL(this.base).origin ? authorization : null
          },
          part
        )
        if (res.status === 401 && attempt === 0) {
          this.auth.learn({ ...res, url: this.url(`blobs/${digest}`) })
          this.auth.forget()
          continue
        }
        throwIfTransient(res)
        if (res.status !== 200)
          throw this.unexpected(`GET blob ${digest}`, { ...res, url: this.url(`blobs/${digest}`) })
        if (`sha256:${res.sha256}` !== digest) {
          throw new TransientHttpError(
            `${this.name}: blob ${digest} arrived with other content (sha256:${res.sha256})`
          )
        }
        renameSync(part, file)
        return { file }
      }
      throw new RegistryAuthError(
        `${this.ref.host} refused to serve ${digest} with ${describeCredential(this.auth.credential)}`
      )
    })
  }

  /**
   * Start streaming a blob: one upload session, one PATCH whose body is written as the blob is
   * produced (as `docker push` does), then the PUT with the digest. Not retried: on any failure
   * the caller uploads the bytes it kept with putBlob, which is.
   */
  async beginBlob(): Promise<BlobStream> {
    // A session opened ahead (openUploads) serves a stream as well as a PUT.
    const location = (await this.ahead.shift()) ?? (await this.retrying(() => this.startUpload()))
    const authorization = await this.auth.header([scopeFor(this.ref.repository, 'push')])
    const auth: Record<string, string> = authorization ? { authorization } : {}
    const patch = this.http.stream({
      method: 'PATCH',
      url: location,
      headers: { ...auth, 'content-type': 'application/octet-stream' }
    })
    const cancel = async () => {
      patch.abort()
      // Let the registry drop the session now rather than when it expires.
      await this.http.request({ method: 'DELETE', url: location, headers: auth }).catch(() => undefined)
    }
    return {
      write: (chunk) => patch.write(chunk),
      commit: async (desc, opts) => {
        if ((opts?.ask ?? true) && (await this.blobExists(desc.digest))) {
          await cancel()
          return 'exists'
        }
        const res = await patch.end()
        if (res.status !== 202) throw this.unexpected(`streaming ${desc.digest}`, res)
        const put = await this.send('PUT', withDigest(this.location(res), desc.digest), { access: 'push' })
        this.checkPut(put, desc.digest)
        this.present.add(desc.digest)
        return 'uploaded'
      },
      abort: cancel
    }
  }

  private checkPut(res: HttpResponse, digest: Digest): void {
    if (res.status !== 201) throw this.unexpected(`finishing the upload of ${digest}`, res)
    const got = res.headers['docker-content-digest']
    if (got && got !== digest)
      throw new RegistryError(`${this.name}: uploaded ${digest} but the registry stored ${got}`)
  }

  private location(res: HttpResponse): string {
    const loc = res.headers['location']
    if (!loc) throw new RegistryError(`${this.name}: an upload answer without a Location header`)
    return new URL(loc, this.base).toString()
  }

  getManifest(ref: string): Promise<StoredManifest | null> {
    return this.retrying(async () => {
      const res = await this.send('GET', this.url(`manifests/${ref}`), {
        access: 'pull',
        headers: { accept: ACCEPT_ANY_MANIFEST }
      })
      if (res.status === 404) return null
      if (res.status !== 200) throw this.unexpected(`GET manifest ${ref}`, res)
      const digest = sha256(res.body)
      if (isDigestRef(ref) && digest !== ref)
        throw new TransientHttpError(`${this.name}: manifest ${ref} arrived with other content`)
      const mediaType = (res.headers['content-type'] ?? '').split(';')[0]!.trim()
      this.learn(res.body, mediaType)
      return { bytes: res.body, mediaType, digest }
    })
  }

  putManifest(tag: string | null, bytes: Buffer, mediaType: string): Promise<Digest> {
    const digest = sha256(bytes)
    if (tag !== null && !TAG_PATTERN.test(tag)) throw new RegistryError(`invalid tag ${JSON.stringify(tag)}`)
    const ref = tag ?? digest
    const url = this.url(`manifests/${ref}`)
    let rechecked = false
    return this.retrying(async () => {
      const res = await this.send('PUT', url, {
        access: 'push',
        headers: { 'content-type': mediaType },
        body: () => bytes
      })
      if (res.status === 400 && errorCodes(res).includes('MANIFEST_BLOB_UNKNOWN')) {
        // Concurrent pushes of the same blobs into one repository race in distribution: a blob
        // whose upload got 201 can be unknown to a manifest PUT for a moment. When HEAD finds every
        // blob the manifest names, the PUT is worth one more try; a blob really missing is named.
        if (!rechecked) {
          const count = await this.checkReferenced(bytes, mediaType, ref)
          rechecked = true
          throw new TransientHttpError(
            `PUT ${redactUrl(url)}: 400 MANIFEST_BLOB_UNKNOWN, yet all ${count} blobs it names are there (a registry race)`,
            null,
            'status',
            this.ref.host
          )
        }
        throw new RegistryError(
          `${this.name}: the registry refused manifest ${ref} again with MANIFEST_BLOB_UNKNOWN${errorText(res)}, although HEAD finds every blob it names`,
          {},
          "run again; if it keeps happening, the registry's storage disagrees with itself (check its logs)",
          true
        )
      }
      if (res.status !== 201 && res.status !== 200) throw this.unexpected(`PUT manifest ${ref}`, res)
      const got = res.headers['docker-content-digest']
      if (got && got !== digest)
        throw new RegistryError(`${this.name}: pushed manifest ${digest} but the registry stored ${got}`)
      this.learn(bytes, mediaType)
      return digest
    })
  }

  /**
   * HEAD every blob (or, for an index, every manifest) that `bytes` names, once each, without
   * retries of its own (the operation around it retries). Returns how many were checked; throws a
   * RegistryError naming those that are missing.
   */
  private async checkReferenced(bytes: Buffer, mediaType: string, ref: string): Promise<number> {
    const parsed = parseManifest(bytes, mediaType, `manifest ${ref}`)
    const wanted: { desc: Descriptor; what: string; path: string }[] =
      parsed.kind === 'index'
        ? parsed.index.manifests.map((d, i) => ({
            desc: d,
            what: `manifest ${i + 1} of ${parsed.index.manifests.length}`,
            path: `manifests/${d.digest}`
          }))
        : [
            { desc: parsed.manifest.config, what: 'config', path: `blobs/${parsed.manifest.config.digest}` },
            ...parsed.manifest.layers
              // Foreign layers (with urls) are not in the registry by design.
              .filter((d) => !d.urls?.length)
              .map((d, i, all) => ({
                desc: d,
                what: `layer ${i + 1} of ${all.length}`,
                path: `blobs/${d.digest}`
              }))
          ]
    const missing: string[] = []
    await Promise.all(
      wanted.map(async (w) => {
        const res = await this.send('HEAD', this.url(w.path), {
          access: 'pull',
          ...(parsed.kind === 'index' ? { headers: { accept: ACCEPT_ANY_MANIFEST } } : {})
        })
        if (res.status === 404) missing.push(`${w.what} ${w.desc.digest}`)
        else if (res.status !== 200) throw this.unexpected(`HEAD ${w.path}`, res)
      })
    )
    if (missing.length > 0) {
      throw new RegistryError(
        `${this.name}: the registry refused manifest ${ref} (400 MANIFEST_BLOB_UNKNOWN): it does not have ${missing.sort().join(', ')}`,
        {},
        'run again: the next run uploads what is missing (a concurrent delete or a garbage collection of the repository may have removed it)'
      )
    }
    return wanted.length
  }

  async listTags(): Promise<string[]> {
    const tags: string[] = []
    let url: string | null = `${this.url('tags/list')}?n=1000`
    for (let page = 0; url && page < 1000; page++) {
      const current: string = url
      const res = await this.retrying(() => this.send('GET', current, { access: 'pull' }))
      if (res.status === 404) return []
      if (res.status !== 200) throw this.unexpected('listing tags', res)
      const body = JSON.parse(res.body.toString('utf8')) as { tags?: string[] | null }
      tags.push(...(body.tags ?? []))
      const next = /<([^>]+)>;\s*rel="?next"?/.exec(res.headers['link'] ?? '')
      url = next ? new URL(next[1]!, this.base).toString() : null
    }
    return tags.sort()
  }
}

/** The `code`s of a distribution-style JSON error body (`{"errors":[{"code":…}]}`). */
function errorCodes(res: HttpResponse): string[] {
  try {
    const o = JSON.parse(res.body.toString('utf8')) as { errors?: { code?: unknown }[] }
    return (o.errors ?? []).map((e) => e.code).filter((c): c is string => typeof c === 'string')
  } catch {
    return []
  }
}

function withDigest(location: string, digest: Digest): string {
  const u = new URL(location)
  u.searchParams.set('digest', digest)
  return u.toString()
}
