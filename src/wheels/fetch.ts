// Getting the exact files a lock pins: find each file's URL (the lock's own, a mirror's, or the
// package index's), download it in parallel while hashing it, check the sha256 the lock pins, and
// keep it in a content-addressed cache. A file enters the cache only under its verified hash (it
// is written to a temporary name and renamed), so a cache hit is whole and right, and costs no
// network. Transient failures (5xx, 429, dropped connections, a request past its deadline) are
// retried from scratch under the tool's one rule (src/net/retry.ts, with the registry client's
// deadline and budget); everything else fails at once with a message that names the package, the
// file, where it came from (credentials and queries removed) and what to do.
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream, statSync } from 'node:fs'
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import * as http from 'node:http'
import * as https from 'node:https'
import { homedir } from 'node:os'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import { FastBuildError, describeError } from '../errors.js'
import type { LockedFile } from '../lock/model.js'
import type { NormalizedName } from '../names.js'
import { watchDeadline } from '../net/deadline.js'
import {
  BOUNDS_HINT,
  DEFAULT_RETRY,
  RetriesExhaustedError,
  TransientHttpError,
  isRetryableStatus,
  netLimits,
  transientFromNetworkError,
  transientFromStatus,
  withRetry,
  type RetryPolicy
} from '../net/retry.js'
import { HttpClient } from '../registry/http.js'
import { PackageIndex, type IndexConfig, type IndexFile, type PackageIndexOptions } from './index.js'
import {
  basicAuthorization,
  credentialEnvNames,
  redactUrl,
  splitUserinfo,
  type CredentialLookup
} from './index-credentials.js'

// ---------------------------------------------------------------------------------------------
// The cache.

const SHA256_HEX = /^[0-9a-f]{64}$/

/** `$FAST_BUILD_CACHE_DIR`, else `$XDG_CACHE_HOME/fast-build`, else `~/.cache/fast-build`. */
export function defaultCacheDir(
  env: Readonly<Record<string, string | undefined>> = process.env,
  home: string = homedir()
): string {
  const explicit = env['FAST_BUILD_CACHE_DIR']
  if (explicit) return resolve(explicit)
  const xdg = env['XDG_CACHE_HOME']
  if (xdg && isAbsolute(xdg)) return join(xdg, 'fast-build')
  return join(home, '.cache', 'fast-build')
}

/**
 * Files by their sha256: `<dir>/sha256/<first two hex digits>/<hex>`. Entries appear only by
 * rename from `<dir>/tmp/`, after their hash was computed, so a present entry is always whole.
 */
export class ArtifactCache {
  readonly dir: string

  constructor(dir: string = defaultCacheDir()) {
    this.dir = resolve(dir)
  }

  pathFor(sha256Hex: string): string {
    const h = sha256Hex.toLowerCase()
    if (!SHA256_HEX.test(h)) throw new FetchError(`not a sha256 digest: ${JSON.stringify(sha256Hex)}`)
    return join(this.dir, 'sha256', h.slice(0, 2), h)
  }

  /** Whether the cache holds the file (and, when `size` is given, with that size). */
  has(sha256Hex: string, size: number | null = null): boolean {
    return this.sizeOf(sha256Hex, size) !== null
  }

  /** The cached file's size, or null when it is not cached (or has another size than `size`). */
  sizeOf(sha256Hex: string, size: number | null = null): number | null {
    try {
      const s = statSync(this.pathFor(sha256Hex))
      return s.isFile() && (size === null || s.size === size) ? s.size : null
    } catch {
      return null
    }
  }

  /** A fresh temporary file name on the cache's file system (the directory exists). */
  async tempPath(): Promise<string> {
    const dir = join(this.dir, 'tmp')
    await mkdir(dir, { recursive: true })
    return join(dir, `${process.pid}-${randomBytes(8).toString('hex')}.part`)
  }

  /**
   * Move `tempPath` into the cache as `sha256Hex`, which must be the hash of its content as
   * computed while it was written (fetchArtifacts does so). Atomic: readers see all or nothing.
   */
  async commit(tempPath: string, sha256Hex: string): Promise<string> {
    const final = this.pathFor(sha256Hex)
    await mkdir(dirname(final), { recursive: true })
    await rename(tempPath, final)
    return final
  }

  /** Remove temporary files older than `maxAgeMs` (left by runs that were killed). Best effort. */
  async pruneTemp(maxAgeMs = 24 * 3600_000): Promise<void> {
    const dir = join(this.dir, 'tmp')
    let names: string[]
    try {
      names = await readdir(dir)
    } catch {
      return
    }
    const before = Date.now() - maxAgeMs
    for (const name of names) {
      const p = join(dir, name)
      try {
        if ((await stat(p)).mtimeMs < before) await rm(p, { force: true })
      } catch {
        // Another run may have just renamed or removed it.
      }
    }
  }

  /** Store bytes; returns their sha256 and cache path. */
  async put(data: Uint8Array): Promise<{ sha256: string; path: string }> {
    const sha256 = createHash('sha256').update(data).digest('hex')
    if (this.has(sha256)) return { sha256, path: this.pathFor(sha256) }
    const temp = await this.tempPath()
    await writeFile(temp, data)
    return { sha256, path: await this.commit(temp, sha256) }
  }
}

// ---------------------------------------------------------------------------------------------
// Types.

/** One file to fetch: a file of a locked package, and the index its package comes from. */
export interface FetchItem {
  readonly name: NormalizedName
  readonly version: string | null
  readonly file: LockedFile
  /** The package's registry source; null for direct URL and path sources. */
  readonly index: IndexConfig | null
}

export type FetchEvent =
  /** Already in the cache: no network. */
  | { readonly kind: 'cached'; readonly item: FetchItem; readonly path: string; readonly size: number }
  /** A download (or local copy) begins; `total` is the size the lock records, when it does. */
  | { readonly kind: 'start'; readonly item: FetchItem; readonly url: string; readonly total: number | null }
  /** Bytes so far, about every MiB; `total` from Content-Length or the lock. */
  | {
      readonly kind: 'progress'
      readonly item: FetchItem
      readonly bytes: number
      readonly total: number | null
    }
  /** A transient failure; the download starts over after `delayMs`. */
  | {
      readonly kind: 'retry'
      readonly item: FetchItem
      readonly attempt: number
      readonly delayMs: number
      readonly reason: string
    }
  /** Verified and in the cache. */
  | {
      readonly kind: 'done'
      readonly item: FetchItem
      readonly path: string
      readonly bytes: number
      readonly ms: number
    }

export interface FetchOptions {
  readonly cache: ArtifactCache
  /** Downloads at once (default 8). */
  readonly concurrency?: number
  /**
   * When set, every registry file (an item with an `index`) is looked up by file name in this
   * index instead of the lock's URL or the package's index; its hash is still checked against the
   * lock. For mirrors and air-gapped runners.
   */
  readonly mirror?: IndexConfig | null
  readonly onProgress?: (event: FetchEvent) => void
  /** Client for index pages (default: one for this call). */
  readonly http?: HttpClient
  readonly retry?: RetryPolicy
  /** What `file.path` of path sources is relative to: the lock's directory (default the working directory). */
  readonly baseDir?: string
  /**
   * Each request's deadline (src/net/deadline.ts): nothing received for this long, or slower than
   * a trickle past it, and the download is retried. Default FAST_BUILD_REQUEST_TIMEOUT_S (30 s).
   */
  readonly requestTimeoutMs?: number
  /** The former name of requestTimeoutMs (used when that is not given). */
  readonly idleTimeoutMs?: number
  /** Where index credentials are looked up (environment, netrc). */
  readonly credentials?: CredentialLookup
}

export interface FetchResult {
  readonly item: FetchItem
  /** The verified file, in the cache. */
  readonly path: string
  readonly sha256: string
  readonly size: number
  /** True when it was in the cache before this call. */
  readonly cached: boolean
}

/** A file could not be fetched. */
export class FetchError extends FastBuildError {}

/** A file's sha256 is not the one the lock pins. */
export class HashMismatchError extends FetchError {
  constructor(
    readonly project: NormalizedName,
    readonly version: string | null,
    readonly filename: string,
    readonly expected: string,
    readonly actual: string,
    /** Where the file came from (URL redacted, or a path). */
    readonly from: string,
    /** 'download': the bytes were hashed; 'listing': the index lists another hash. */
    readonly by: 'download' | 'listing' = 'download'
  ) {
    const what = `${label(project, version)}: ${filename}`
    super(
      by === 'download'
        ? `${what} from ${from} has sha256 ${actual}, but the lock pins sha256 ${expected}`
        : `${what}: the index ${from} lists sha256 ${actual}, but the lock pins sha256 ${expected}`,
      {},
      `${by === 'download' ? 'the download was discarded. ' : ''}If the package was re-published, re-lock; ` +
        'otherwise the index (or mirror) serves a different file than the one the lock was made from: ' +
        'check the package source and the mirror'
    )
  }
}

function label(name: string, version: string | null): string {
  return version ? `${name} ${version}` : name
}

function itemLabel(item: FetchItem): string {
  return label(item.name, item.version)
}

/** The sha256 the lock pins for the item, lowercase; null when it pins none. */
export function pinnedSha256(file: LockedFile): string | null {
  const h = file.hashes['sha256']
  return h && SHA256_HEX.test(h.toLowerCase()) ? h.toLowerCase() : null
}

// ---------------------------------------------------------------------------------------------
// Fetching.

const PROGRESS_STEP = 1024 * 1024
const MAX_REDIRECTS = 10
const REDIRECTS = new Set([301, 302, 303, 307, 308])

interface Run {
  readonly opts: FetchOptions
  readonly cache: ArtifactCache
  readonly retry: RetryPolicy
  readonly timeoutMs: number
  readonly agents: { readonly http: http.Agent; readonly https: https.Agent }
  readonly indexes: Map<string, PackageIndex>
  readonly http: HttpClient
  readonly emit: (e: FetchEvent) => void
}

/**
 * Fetch every item into the cache, `concurrency` at a time; results in the order of `items`. Items
 * with the same sha256 are fetched once. Before any network, every item must pin a sha256. On a
 * failure no further downloads start; the ones running finish, and the failure is thrown (several:
 * one FetchError listing them).
 */
export async function fetchArtifacts(
  items: readonly FetchItem[],
  opts: FetchOptions
): Promise<FetchResult[]> {
  const unpinned = items.filter((i) => pinnedSha256(i.file) === null)
  if (unpinned.length > 0) throw unpinnedError(unpinned)

  await opts.cache.pruneTemp()
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? 8))
  const ownHttp = opts.http === undefined
  const run: Run = {
    opts,
    cache: opts.cache,
    retry: opts.retry ?? DEFAULT_RETRY,
    timeoutMs: opts.requestTimeoutMs ?? opts.idleTimeoutMs ?? netLimits().requestTimeoutMs,
    agents: {
      http: new http.Agent({ keepAlive: true, maxSockets: concurrency }),
      https: new https.Agent({ keepAlive: true, maxSockets: concurrency })
    },
    indexes: new Map(),
    http:
      opts.http ??
      new HttpClient({
        requestTimeoutMs: opts.requestTimeoutMs ?? opts.idleTimeoutMs ?? netLimits().requestTimeoutMs
      }),
    emit: (e) => {
      try {
        opts.onProgress?.(e)
      } catch {
        // A progress printer that throws must not break a download.
      }
    }
  }

  // One job per distinct sha256.
  const jobs = new Map<string, { item: FetchItem; sha256: string }>()
  for (const item of items) {
    const sha256 = pinnedSha256(item.file)!
    if (!jobs.has(sha256)) jobs.set(sha256, { item, sha256 })
  }
  const done = new Map<string, Omit<FetchResult, 'item'>>()
  const queue = [...jobs.values()]
  const errors: unknown[] = []
  let next = 0
  const worker = async () => {
    while (errors.length === 0 && next < queue.length) {
      const job = queue[next++]!
      try {
        done.set(job.sha256, await fetchOne(run, job.item, job.sha256))
      } catch (e) {
        errors.push(e)
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker))
  } finally {
    run.agents.http.destroy()
    run.agents.https.destroy()
    if (ownHttp) run.http.close()
  }
  if (errors.length === 1) throw errors[0]
  if (errors.length > 1) {
    const skipped = queue.length - next
    throw new FetchError(
      `${errors.length} files could not be fetched${skipped > 0 ? ` (${skipped} more not attempted)` : ''}:\n` +
        errors.map((e) => `  - ${describeError(e).replace(/\n/g, '\n    ')}`).join('\n')
    )
  }
  return items.map((item) => ({ item, ...done.get(pinnedSha256(item.file)!)! }))
}

function unpinnedError(items: readonly FetchItem[]): FetchError {
  const shown = items.slice(0, 5).map((i) => {
    const algos = Object.keys(i.file.hashes)
    return `${itemLabel(i)} (${i.file.name}${algos.length > 0 ? `: only ${algos.join(', ')}` : ': no hash'})`
  })
  const more = items.length > 5 ? ` and ${items.length - 5} more` : ''
  return new FetchError(
    `the lock pins no sha256 for ${items.length === 1 ? 'a file' : `${items.length} files`}: ${shown.join(', ')}${more}`,
    {},
    'fast-build installs only files it can verify: re-lock with hashes (Poetry, uv and pylock record sha256 by default)'
  )
}

function indexFor(run: Run, config: IndexConfig): PackageIndex {
  const key = `${config.name ?? ''}\n${config.url}`
  let index = run.indexes.get(key)
  if (!index) {
    const o: PackageIndexOptions = {
      retry: run.retry,
      ...(run.opts.credentials ? { credentials: run.opts.credentials } : {})
    }
    index = new PackageIndex(config, run.http, o)
    run.indexes.set(key, index)
  }
  return index
}

/** Where to get a file: a URL and who may authorize requests to it, or a local path. */
type Origin =
  | { readonly kind: 'url'; readonly url: string; readonly authorize: (url: string) => string | null }
  | { readonly kind: 'path'; readonly path: string }

async function locate(run: Run, item: FetchItem, sha256: string): Promise<Origin> {
  const { file } = item
  if (file.path !== null) {
    const base = run.opts.baseDir ?? process.cwd()
    return { kind: 'path', path: isAbsolute(file.path) ? file.path : resolve(base, file.path) }
  }
  const viaIndex = async (config: IndexConfig): Promise<Origin> => {
    const index = indexFor(run, config)
    const listed = await index.get(item.name, file.name)
    checkListing(item, sha256, listed, index.url)
    return asOrigin(listed.url, (u) => index.authorizationFor(u))
  }
  if (run.opts.mirror && item.index !== null) return viaIndex(run.opts.mirror)
  if (file.url !== null) {
    // A lock URL may carry its own userinfo (pylock allows it); it is used for that origin only.
    const split = splitUserinfo(file.url)
    const own =
      split.username !== null
        ? basicAuthorization({ username: split.username, password: split.password ?? '' })
        : null
    const index = item.index && item.index.url !== '' ? indexFor(run, item.index) : null
    return asOrigin(split.url, (u) => {
      if (own !== null && sameOrigin(u, split.url)) return own
      return index ? index.authorizationFor(u) : null
    })
  }
  if (item.index !== null && item.index.url !== '') return viaIndex(item.index)
  throw new FetchError(
    `${itemLabel(item)}: the lock gives no URL for ${file.name} and no index to find it on`,
    {},
    'set a mirror index (every registry file is then looked up there by name), or re-lock so the lock records the index'
  )
}

function asOrigin(url: string, authorize: (url: string) => string | null): Origin {
  if (url.startsWith('file:')) return { kind: 'path', path: fileURLToPath(url) }
  return { kind: 'url', url, authorize }
}

function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin
  } catch {
    return false
  }
}

/** An index that lists a different sha256 than the lock pins serves another file: stop before downloading. */
function checkListing(item: FetchItem, expected: string, listed: IndexFile, indexUrl: string): void {
  const actual = listed.hashes['sha256']
  if (actual !== undefined && actual !== expected) {
    throw new HashMismatchError(
      item.name,
      item.version,
      item.file.name,
      expected,
      actual,
      indexUrl,
      'listing'
    )
  }
}

async function fetchOne(run: Run, item: FetchItem, sha256: string): Promise<Omit<FetchResult, 'item'>> {
  const cachedSize = run.cache.sizeOf(sha256, item.file.size)
  if (cachedSize !== null) {
    const path = run.cache.pathFor(sha256)
    run.emit({ kind: 'cached', item, path, size: cachedSize })
    return { path, sha256, size: cachedSize, cached: true }
  }
  const origin = await locate(run, item, sha256)
  const started = Date.now()
  const from = origin.kind === 'url' ? redactUrl(origin.url) : origin.path
  run.emit({ kind: 'start', item, url: from, total: item.file.size })
  let lastStep = 0
  const onBytes = (bytes: number, total: number | null) => {
    const step = Math.floor(bytes / PROGRESS_STEP)
    if (step > lastStep || (total !== null && bytes === total)) {
      lastStep = step
      run.emit({ kind: 'progress', item, bytes, total: total ?? item.file.size })
    }
  }
  const temp = await run.cache.tempPath()
  try {
    const got =
      origin.kind === 'path'
        ? await copyLocal(item, origin.path, temp, onBytes)
        : await downloadWithRetry(run, item, origin, temp, (bytes, total) => {
            if (bytes === 0) lastStep = 0
            onBytes(bytes, total)
          })
    if (got.sha256 !== sha256) {
      throw new HashMismatchError(item.name, item.version, item.file.name, sha256, got.sha256, from)
    }
    const path = await run.cache.commit(temp, sha256)
    run.emit({ kind: 'done', item, path, bytes: got.bytes, ms: Date.now() - started })
    return { path, sha256, size: got.bytes, cached: false }
  } finally {
    await rm(temp, { force: true })
  }
}

interface Hashed {
  readonly bytes: number
  readonly sha256: string
}

function meter(onBytes: (bytes: number, total: number | null) => void, total: number | null) {
  const hash = createHash('sha256')
  let bytes = 0
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk)
      bytes += chunk.length
      onBytes(bytes, total)
      callback(null, chunk)
    }
  })
  return { stream, result: (): Hashed => ({ bytes, sha256: hash.digest('hex') }), bytes: () => bytes }
}

async function copyLocal(
  item: FetchItem,
  path: string,
  temp: string,
  onBytes: (bytes: number, total: number | null) => void
): Promise<Hashed> {
  let size: number
  try {
    const s = await stat(path)
    if (!s.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' })
    size = s.size
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    throw new FetchError(
      `${itemLabel(item)}: ${item.file.name}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}: ${path}`,
      {},
      item.file.path !== null
        ? 'the lock points at a local file that is not there: build from the directory the lock was made in, or re-lock'
        : 'the local index lists a file that is not there: repair the mirror, or use another index'
    )
  }
  const m = meter(onBytes, size)
  await pipeline(createReadStream(path), m.stream, createWriteStream(temp))
  return m.result()
}

async function downloadWithRetry(
  run: Run,
  item: FetchItem,
  origin: Extract<Origin, { kind: 'url' }>,
  temp: string,
  onBytes: (bytes: number, total: number | null) => void
): Promise<Hashed> {
  try {
    return await withRetry(
      () => downloadOnce(run, origin, origin.url, temp, onBytes, 0),
      run.retry,
      (e, delayMs, attempt) => run.emit({ kind: 'retry', item, attempt, delayMs, reason: e.message })
    )
  } catch (e) {
    throw describeDownloadFailure(run, item, origin.url, e)
  }
}

class StatusFailure extends Error {
  constructor(
    readonly status: number,
    readonly url: string
  ) {
    super(`GET ${redactUrl(url)}: ${status}`)
  }
}

class NoSuchHost extends Error {
  constructor(readonly host: string) {
    super(`no such host: ${host}`)
  }
}

/** What to do about a 401/403: the variables for the index's name, or why the credential failed. */
function downloadAccessHint(item: FetchItem, url: string): string {
  const c = item.index?.credential
  if (c)
    return `the server rejected the credential for ${redactUrl(item.index!.url)}: check the username and password (or token) and their access`
  const name = item.index?.name
  const vars = name
    ? `set ${credentialEnvNames(name).join(', ')}`
    : 'name the index in pyproject.toml ([[tool.uv.index]] or [[tool.poetry.source]]) and set FAST_BUILD_INDEX_<NAME>_USERNAME/_PASSWORD'
  const host = URL.canParse(url) ? new URL(url).hostname : '<host>'
  return `give credentials for the index: ${vars}, put user:password@ in the index URL, or add "machine ${host} login … password …" to ~/.netrc`
}

function describeDownloadFailure(run: Run, item: FetchItem, url: string, e: unknown): Error {
  const what = `${itemLabel(item)}: cannot download ${item.file.name} from ${redactUrl(url)}`
  if (e instanceof StatusFailure) {
    if (e.status === 404 || e.status === 410) {
      return new FetchError(
        `${what}: the server answered ${e.status} (not found)${e.url !== url ? ` at ${redactUrl(e.url)}` : ''}`,
        {},
        'the file is no longer where the lock says: re-lock, or set a mirror index that has it'
      )
    }
    if (e.status === 401 || e.status === 403) {
      return new FetchError(
        `${what}: the server answered ${e.status} (${e.status === 401 ? 'unauthorized' : 'forbidden'})`,
        {},
        downloadAccessHint(item, url)
      )
    }
    return new FetchError(
      `${what}: the server answered ${e.status}`,
      {},
      'check the URL in the lock and the index'
    )
  }
  if (e instanceof NoSuchHost) {
    return new FetchError(
      `${what}: ${e.host} does not resolve (no such host)`,
      {},
      'check the network and DNS; on a runner without access to that host, set a mirror index that has the files'
    )
  }
  if (e instanceof RetriesExhaustedError || e instanceof TransientHttpError) {
    return new FetchError(
      `${what}: ${e.message}`,
      {},
      `the server or the network is failing: run again later (files already fetched stay in the cache), or set a reachable mirror index; ${BOUNDS_HINT}`
    )
  }
  if (e instanceof FastBuildError) return e
  return new FetchError(`${what}: ${(e as Error).message}`)
}

function networkError(e: Error, url: string, expired: TransientHttpError | null): Error {
  if (expired) return expired
  if (e instanceof FastBuildError || e instanceof StatusFailure || e instanceof NoSuchHost) return e
  const code = (e as NodeJS.ErrnoException).code
  if (code === 'ENOTFOUND') return new NoSuchHost(new URL(url).host)
  return transientFromNetworkError(e, 'GET', redactUrl(url)) ?? e
}

function downloadOnce(
  run: Run,
  origin: Extract<Origin, { kind: 'url' }>,
  url: string,
  dest: string,
  onBytes: (bytes: number, total: number | null) => void,
  hops: number
): Promise<Hashed> {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return Promise.reject(new FetchError(`not a URL: ${redactUrl(url)}`))
  }
  if (u.protocol === 'file:') {
    return Promise.reject(new FetchError(`a download redirected to a local file: ${redactUrl(url)}`))
  }
  const secure = u.protocol === 'https:'
  if (!secure && u.protocol !== 'http:') {
    return Promise.reject(
      new FetchError(`cannot download ${redactUrl(url)}: only http(s):// and file:// URLs`)
    )
  }
  const headers: Record<string, string> = { 'user-agent': 'fast-build', accept: '*/*' }
  const auth = origin.authorize(u.href)
  if (auth) headers['authorization'] = auth
  return new Promise<Hashed>((resolvePromise, reject) => {
    let expired: TransientHttpError | null = null
    const req = (secure ? https : http).request(
      u,
      { method: 'GET', headers, agent: secure ? run.agents.https : run.agents.http },
      (res) => {
        const status = res.statusCode ?? 0
        const location = res.headers['location']
        if (REDIRECTS.has(status) && location) {
          res.resume()
          if (hops >= MAX_REDIRECTS) {
            reject(new FetchError(`GET ${redactUrl(url)}: more than ${MAX_REDIRECTS} redirects`))
            return
          }
          let nextUrl: string
          try {
            nextUrl = new URL(location, u).href
          } catch {
            reject(new FetchError(`GET ${redactUrl(url)}: redirect to something that is not a URL`))
            return
          }
          downloadOnce(run, origin, nextUrl, dest, onBytes, hops + 1).then(resolvePromise, reject)
          return
        }
        if (status !== 200) {
          res.resume()
          reject(
            isRetryableStatus(status)
              ? transientFromStatus('GET', redactUrl(url), status, res.headers['retry-after'])
              : new StatusFailure(status, url)
          )
          return
        }
        const length = res.headers['content-length']
        const total = length !== undefined && /^\d+$/.test(length) ? Number(length) : null
        onBytes(0, total)
        const m = meter(onBytes, total)
        pipeline(res, m.stream, createWriteStream(dest)).then(
          () => {
            if (total !== null && m.bytes() !== total) {
              reject(
                new TransientHttpError(
                  `GET ${redactUrl(url)}: the connection ended after ${m.bytes()} of ${total} bytes`,
                  null,
                  'dropped',
                  u.host
                )
              )
            } else resolvePromise(m.result())
          },
          (e: Error) => reject(networkError(e, url, expired))
        )
      }
    )
    const deadline = watchDeadline(
      req,
      { method: 'GET', url: redactUrl(url), timeoutMs: run.timeoutMs },
      (e) => (expired = e)
    )
    req.once('close', () => deadline.stop())
    req.on('error', (e) => reject(networkError(e, url, expired)))
    req.end()
  })
}
