// Getting the exact files a lock pins: find each file's URL (the lock's own, a mirror's, or the
// package index's), download it in parallel while hashing it, check the sha256 the lock pins, and
// keep it in a content-addressed cache. A file enters the cache only under its verified hash (it
// is written to a temporary name and renamed), so a cache hit is whole and right, and costs no
// network. Pages and files come through the tool's one HTTP client (src/net/http.ts: deadlines,
// redirects with credentials only for their origin); transient failures (5xx, 429, dropped
// connections, a request past its deadline) are retried from scratch under the one retry rule
// (src/net/retry.ts); everything else fails at once with a message that names the package, the
// file, where it came from (credentials and queries removed) and what to do.
import { createReadStream } from 'node:fs'
import { rm, stat } from 'node:fs/promises'
import { isAbsolute, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ArrivedArtifact, ArtifactCache } from '../cache/artifacts.js'
import { FastBuildError, describeError } from '../errors.js'
import { hashIntoFile } from '../util/file-sink.js'
import type { LockedFile } from '../lock/model.js'
import type { NormalizedName } from '../names.js'
import { HttpError, TransientHttpError, UnknownHostError } from '../net/errors.js'
import { HttpClient, throwIfTransient } from '../net/http.js'
import {
  BOUNDS_HINT,
  DEFAULT_RETRY,
  RetriesExhaustedError,
  netLimits,
  withRetry,
  type RetryPolicy
} from '../net/retry.js'
import {
  basicAuthorization,
  credentialEnvNames,
  redactUrl,
  splitUserinfo,
  type CredentialLookup
} from '../packaging/index-credentials.js'
import { PackageIndex, type IndexConfig, type IndexFile, type PackageIndexOptions } from './index.js'

const SHA256_HEX = /^[0-9a-f]{64}$/

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

interface Run {
  readonly opts: FetchOptions
  readonly cache: ArtifactCache
  readonly retry: RetryPolicy
  /** Each download's deadline, when the caller set one apart from its client's. */
  readonly timeoutMs: number | undefined
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

  // Leftovers of killed runs are removed meanwhile (files a day old: never one written now).
  const pruned = opts.cache.pruneTemp().catch(() => undefined)
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? 8))
  const ownHttp = opts.http === undefined
  const run: Run = {
    opts,
    cache: opts.cache,
    retry: opts.retry ?? DEFAULT_RETRY,
    timeoutMs: opts.requestTimeoutMs ?? opts.idleTimeoutMs,
    indexes: new Map(),
    // Index pages and files share one pool; as many connections as downloads run at once.
    http:
      opts.http ??
      new HttpClient({
        requestTimeoutMs: opts.requestTimeoutMs ?? opts.idleTimeoutMs ?? netLimits().requestTimeoutMs,
        maxSockets: concurrency
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
    if (ownHttp) run.http.close()
    await pruned
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
  // Being fetched already (ahead of the build that needs it, or for another variant): that
  // download serves this one too. One that fails leaves this one to try on its own, and to report
  // its own failure.
  const arriving = run.cache.arriving(sha256)
  if (arriving) {
    const waited = Date.now()
    const got = await arriving.catch(() => null)
    if (got) {
      run.emit({ kind: 'done', item, path: got.path, bytes: got.size, ms: Date.now() - waited })
      return { path: got.path, sha256, size: got.size, cached: false }
    }
  }
  const got = await run.cache.track(sha256, download(run, item, sha256))
  return { path: got.path, sha256, size: got.size, cached: false }
}

/** The file from where the lock (or the mirror) says, checked and committed to the cache. */
async function download(run: Run, item: FetchItem, sha256: string): Promise<ArrivedArtifact> {
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
    return { path, size: got.bytes }
  } finally {
    await rm(temp, { force: true })
  }
}

interface Hashed {
  readonly bytes: number
  readonly sha256: string
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
  return hashIntoFile(createReadStream(path, { highWaterMark: 1024 * 1024 }), temp, onBytes, size)
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
      async () => {
        const res = await run.http.download(
          {
            url: origin.url,
            headers: { accept: '*/*' },
            maxRedirects: MAX_REDIRECTS,
            authorize: origin.authorize,
            onBytes,
            ...(run.timeoutMs !== undefined ? { timeoutMs: run.timeoutMs } : {})
          },
          temp
        )
        throwIfTransient(res)
        if (res.status !== 200 || res.sha256 === null)
          throw new HttpError(`GET ${redactUrl(res.url)}: ${res.status}`, {
            what: `GET ${redactUrl(res.url)}`,
            status: res.status,
            host: URL.canParse(res.url) ? new URL(res.url).host : null
          })
        return { bytes: res.size, sha256: res.sha256 }
      },
      run.retry,
      (e, delayMs, attempt) => run.emit({ kind: 'retry', item, attempt, delayMs, reason: e.message })
    )
  } catch (e) {
    throw describeDownloadFailure(item, origin.url, e)
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

/** A download that failed, as a FetchError naming the package, the file and the URL (redacted). */
function describeDownloadFailure(item: FetchItem, url: string, e: unknown): Error {
  const what = `${itemLabel(item)}: cannot download ${item.file.name} from ${redactUrl(url)}`
  if (e instanceof RetriesExhaustedError || e instanceof TransientHttpError) {
    return new FetchError(
      `${what}: ${e.message}`,
      {},
      `the server or the network is failing: run again later (files already fetched stay in the cache), or set a reachable mirror index; ${BOUNDS_HINT}`
    )
  }
  if (e instanceof UnknownHostError) {
    return new FetchError(
      `${what}: ${e.host ?? 'the host'} does not resolve (no such host)`,
      {},
      'check the network and DNS; on a runner without access to that host, set a mirror index that has the files'
    )
  }
  if (e instanceof HttpError && e.status !== null && (e.status < 300 || e.status >= 400)) {
    const at = e.what !== null && e.what !== `GET ${redactUrl(url)}` ? ` at ${e.what.slice(4)}` : ''
    if (e.status === 404 || e.status === 410) {
      return new FetchError(
        `${what}: the server answered ${e.status} (not found)${at}`,
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
  if (e instanceof FastBuildError) return new FetchError(`${what}: ${e.message}`, {}, e.hint)
  return new FetchError(`${what}: ${(e as Error).message}`)
}
