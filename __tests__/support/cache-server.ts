// A stand-in for the GitHub Actions cache service (the "v2" service that @actions/cache uses when
// ACTIONS_CACHE_SERVICE_V2 is set), on 127.0.0.1, for tests. It speaks the wire protocol that the
// real @actions/cache client (6.x) speaks, so saveCache / restoreCache / isFeatureAvailable run
// unmodified against it:
//
//   Twirp, JSON, POST <base>/twirp/github.actions.results.api.v1.CacheService/<Method>
//     Authorization: Bearer <ACTIONS_RUNTIME_TOKEN>, Content-Type: application/json
//     CreateCacheEntry          {key, version}                  → {ok, signed_upload_url, message}
//     FinalizeCacheEntryUpload  {key, version, size_bytes:"N"}  → {ok, entry_id:"N", message}
//     GetCacheEntryDownloadURL  {key, restore_keys?, version}   → {ok, signed_download_url, matched_key}
//     Errors are Twirp errors: HTTP status + {"code": "...", "msg": "..."}; an existing key+version
//     is 409 {"code":"already_exists","msg":"cache entry with the same key, version, and scope
//     already exists"}, as GitHub answers.
//
//   Azure Blob Storage (what the signed URLs point at; the client uses @azure/storage-blob to
//   upload, and either plain HTTP or the SDK to download, see `blobEndpoint`):
//     PUT  <blob>?<sas>                    Put Blob (x-ms-blob-type: BlockBlob), single shot
//     PUT  <blob>?<sas>&comp=block&blockid=<b64>  Put Block (staged)
//     PUT  <blob>?<sas>&comp=blocklist     Put Block List (XML <BlockList><Latest>id</Latest>…)
//     HEAD <blob>?<sas>                    Get Blob Properties
//     GET  <blob>?<sas>                    Get Blob, whole or ranged (x-ms-range / Range → 206)
//     Errors are Azure storage errors: status, x-ms-error-code and an XML <Error> body.
//
// Semantics, as GitHub documents them: an entry is scoped by version (the client hashes the paths
// and the compression method into it); it is visible only once finalized; a lookup tries the key
// exactly, then the key as a prefix, then each restore key exactly and as a prefix, the most
// recently created entry winning among prefix matches. Creating an entry for a key+version that
// exists (finalized, or reserved and not yet finalized) fails with 409 already_exists.
//
// Blob URLs are path-style as Azurite's (`http://127.0.0.1:PORT/<account>/<container>/<blob>?sv=…
// &sig=…`) by default. With a 127.0.0.1 URL @actions/cache downloads with one plain GET through
// @actions/http-client; on GitHub (`*.blob.core.windows.net`) it uses the Azure SDK instead (HEAD,
// then ranged GETs in 4 MiB pieces, bounded by SEGMENT_DOWNLOAD_TIMEOUT_MINS). `blobEndpoint:
// 'azure'` reproduces that: the signed URLs name `<account>.blob.core.windows.net` and `env`
// carries HTTP_PROXY pointing at this server (the SDK honours it; this server answers the proxied,
// absolute-form requests itself), with NO_PROXY keeping loopback traffic direct.
//
// Faults (first rule with uses left wins), for one Twirp method, one blob operation, or a group:
//   { kind: 'status', status: 503 }          answer with that status (a Twirp / storage error body)
//   { kind: 'drop' }                         cut the connection without an answer
//   { kind: 'drop', afterBytes: N }          GET Blob: send headers and N body bytes, then cut
//   { kind: 'stall' }                        read the request, never answer (until close/dropStalled)
//   { kind: 'stall', afterBytes: N }         GET Blob: send headers and N body bytes, then nothing
//   { kind: 'delay', ms: 500 }               answer normally after a while
//
// What bounds a stalled request in @actions/cache 6.3.0 (the stand-in itself never times one out):
//   Twirp call      @actions/http-client's 3 min socket timeout, then retried: 5 attempts with
//                   3 s ×1.5 back-off, so ~15 min (500/502/503/504 are retried the same way; a
//                   reset connection is not retried at all; 429 is not retried)
//   upload          nothing: the Azure SDK sets no client-side timeout on Put Blob / Block / List
//   download, plain (127.0.0.1 URLs): 5 s without traffic once the headers arrived; before the
//                   headers 3 min, retried once after 5 s
//   download, SDK (blobEndpoint 'azure', GitHub): each 128 MiB segment is bounded by
//                   SEGMENT_DOWNLOAD_TIMEOUT_MINS (else options.segmentTimeoutInMs, default 10 min);
//                   the HEAD before it is not bounded; options.timeoutInMs only becomes the
//                   server-side `timeout=` query parameter
//
// Everything is in memory and bounded (total stored bytes, entry count, request log); the
// server listens on 127.0.0.1 only; close() destroys every open socket, stalled ones included.
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { listenOnLoopback } from './process.js'
import type { CacheStore } from './github-api.js'

export const TWIRP_SERVICE = 'github.actions.results.api.v1.CacheService'

export type TwirpMethod = 'CreateCacheEntry' | 'FinalizeCacheEntryUpload' | 'GetCacheEntryDownloadURL'
export type BlobOperation = 'PutBlob' | 'PutBlock' | 'PutBlockList' | 'GetBlob' | 'GetBlobProperties'
export type CacheEndpoint = TwirpMethod | BlobOperation

const TWIRP_METHODS: readonly TwirpMethod[] = [
  'CreateCacheEntry',
  'FinalizeCacheEntryUpload',
  'GetCacheEntryDownloadURL'
]

export type CacheFault =
  /** Answer with this status (Twirp: a JSON Twirp error; blob: an XML storage error), headers, body. */
  | {
      readonly kind: 'status'
      readonly status: number
      readonly headers?: Record<string, string>
      readonly body?: string
    }
  /** Cut the connection without answering; for GET Blob with `afterBytes`, after the headers and that many body bytes. */
  | { readonly kind: 'drop'; readonly afterBytes?: number }
  /** Read the request and never answer; for GET Blob with `afterBytes`, send the headers and that many body bytes first. */
  | { readonly kind: 'stall'; readonly afterBytes?: number }
  /** Wait `ms`, then answer normally. */
  | { readonly kind: 'delay'; readonly ms: number }

export interface CacheFaultRule {
  /** The endpoints it applies to: a Twirp method, a blob operation, 'twirp', 'blob' (default: all). */
  readonly endpoint?: CacheEndpoint | 'twirp' | 'blob' | readonly (CacheEndpoint | 'twirp' | 'blob')[]
  readonly fault: CacheFault
  /** Apply to this many matching requests (default: every one). */
  readonly times?: number
  /** Let this many matching requests through first (default 0). */
  readonly skip?: number
}

/** What the runtime token allows, as GitHub scopes it (the `ac` claim; Permission 1 read, 2 write). */
export type CacheAccess = 'read-write' | 'read' | 'write' | 'none'

export interface CacheServerOptions {
  /** 'path' (default): `http://127.0.0.1:PORT/<account>/<container>/<blob>`; 'azure': `http://<account>.blob.core.windows.net/…` through HTTP_PROXY. */
  readonly blobEndpoint?: 'path' | 'azure'
  readonly faults?: readonly CacheFaultRule[]
  /** Default 'read-write'. Read denied: GetCacheEntryDownloadURL is 403 "cache read denied: …"; write denied: CreateCacheEntry is {ok:false, message:"cache write denied: …"}. */
  readonly access?: CacheAccess
  /** Bytes kept in memory (blobs and staged blocks), default 1 GiB; least recently used entries are evicted first. */
  readonly maxTotalBytes?: number
  /** Entries kept, default 1000 (least recently used evicted). */
  readonly maxEntries?: number
  /** A reservation that is not finalized within this time stops blocking its key (default: never). */
  readonly pendingTtlMs?: number
  /** Lifetime of signed URLs (default 1 h); a blob request after it is 403 AuthenticationFailed. */
  readonly sasTtlMs?: number
  /** Requests kept in the log (default 2000, oldest dropped). */
  readonly maxLoggedRequests?: number
  readonly account?: string
  readonly container?: string
}

export interface CacheEntryInfo {
  readonly id: number
  readonly key: string
  readonly version: string
  /** Bytes of the committed blob (0 until uploaded). */
  readonly size: number
  readonly createdAt: Date
  readonly finalized: boolean
}

export interface CacheRequest {
  /** 1-based. */
  readonly seq: number
  readonly method: string
  readonly endpoint: CacheEndpoint | 'unknown'
  /** Path and query, with `sig` redacted. */
  readonly path: string
  key?: string
  version?: string
  restoreKeys?: string[]
  /** x-ms-range or Range. */
  readonly range?: string
  /** The fault applied, if any. */
  fault?: CacheFault['kind']
  /** A status, 'drop', 'stall', 'pending' (in progress) or 'aborted' (client went away first). */
  outcome: number | 'drop' | 'stall' | 'pending' | 'aborted'
  /** Request body bytes received. */
  requestBytes: number
}

export interface CacheServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string
  /** The bearer token the server accepts (also in `env`). */
  readonly token: string
  /** Everything to put in process.env or a child's environment. */
  readonly env: Record<string, string>
  /** Newest last. */
  entries(): CacheEntryInfo[]
  /** The stored archive of a finalized entry (a copy), or undefined. */
  blob(key: string, version?: string): Buffer | undefined
  /** Every request, oldest first (bounded; tests may empty it); entries update as requests complete. */
  readonly requests: CacheRequest[]
  requestsTo(endpoint: CacheEndpoint): CacheRequest[]
  setFaults(rules: readonly CacheFaultRule[]): void
  /** Cut every stalled request's connection; returns how many. */
  dropStalled(): number
  /** Remove one entry (finalized or not) by its id, as deleting it through the REST API does; false if unknown. */
  deleteEntry(id: number): boolean
  /** Forget every entry (the request log stays). */
  clear(): void
  close(): Promise<void>
}

interface Entry {
  id: number
  key: string
  version: string
  createdAt: number
  lastUsed: number
  finalized: boolean
  blobName: string
  blob: Buffer | null
  etag: string
  modifiedAt: number
  staged: Map<string, Buffer>
  reservedBytes: number
}

// Twirp error codes → HTTP status (twirp.ServerHTTPStatusFromErrorCode), and the reverse for faults.
const TWIRP_STATUS: Record<string, number> = {
  canceled: 408,
  invalid_argument: 400,
  malformed: 400,
  deadline_exceeded: 408,
  not_found: 404,
  bad_route: 404,
  already_exists: 409,
  permission_denied: 403,
  unauthenticated: 401,
  resource_exhausted: 429,
  failed_precondition: 412,
  aborted: 409,
  out_of_range: 400,
  unimplemented: 501,
  internal: 500,
  unavailable: 503,
  data_loss: 500
}

function twirpCodeFor(status: number): string {
  if (status === 500) return 'internal'
  if (status === 503) return 'unavailable'
  for (const [code, s] of Object.entries(TWIRP_STATUS)) if (s === status) return code
  return status >= 500 ? 'internal' : 'invalid_argument'
}

const STORAGE_ERROR_CODE: Record<number, string> = {
  400: 'InvalidInput',
  403: 'AuthenticationFailed',
  404: 'BlobNotFound',
  409: 'Conflict',
  412: 'ConditionNotMet',
  413: 'RequestBodyTooLarge',
  416: 'InvalidRange',
  500: 'InternalError',
  503: 'ServerBusy'
}

const base64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url')

/** A JWT shaped like the runner's ACTIONS_RUNTIME_TOKEN (@actions/cache sends it as is and never decodes it). */
function makeRuntimeToken(secret: Buffer, access: CacheAccess): string {
  const now = Math.floor(Date.now() / 1000)
  const permission = { 'read-write': 3, read: 1, write: 2, none: 0 }[access]
  const header = { typ: 'JWT', alg: 'HS256' }
  const claims = {
    nameid: randomUUID(),
    scp: `Actions.GenericRead:00000000-0000-0000-0000-000000000000 Actions.Results:${randomUUID()}:${randomUUID()}`,
    ac: JSON.stringify(permission ? [{ Scope: 'refs/heads/main', Permission: permission }] : []),
    acsl: '10',
    iss: 'vstoken.actions.githubusercontent.com',
    aud: 'vstoken.actions.githubusercontent.com',
    nbf: now - 60,
    exp: now + 6 * 3600
  }
  const unsigned = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`
  return `${unsigned}.${base64url(createHmac('sha256', secret).update(unsigned).digest())}`
}

function parseRange(
  header: string | undefined,
  size: number
): { start: number; end: number } | 'invalid' | null {
  if (!header) return null
  const m = /^bytes=(\d+)-(\d*)$/.exec(header.trim())
  if (!m) return 'invalid'
  const start = Number(m[1])
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)
  if (start >= size || end < start) return 'invalid'
  return { start, end }
}

export async function startCacheServer(options: CacheServerOptions = {}): Promise<CacheServer> {
  const mode = options.blobEndpoint ?? 'path'
  const access = options.access ?? 'read-write'
  const maxTotalBytes = options.maxTotalBytes ?? 1024 * 1024 * 1024
  const maxEntries = options.maxEntries ?? 1000
  const pendingTtlMs = options.pendingTtlMs ?? Infinity
  const sasTtlMs = options.sasTtlMs ?? 3600_000
  const maxLogged = options.maxLoggedRequests ?? 2000
  const account = options.account ?? 'actionscache'
  const container = options.container ?? 'actions-cache'
  const secret = randomBytes(32)
  const token = makeRuntimeToken(secret, access)
  const canRead = access === 'read-write' || access === 'read'
  const canWrite = access === 'read-write' || access === 'write'

  let entries: Entry[] = []
  let nextId = 1
  let etagCounter = 0
  let storedBytes = 0
  const requests: CacheRequest[] = []
  let seq = 0
  let rules = (options.faults ?? []).map((r) => ({ ...r, left: r.times ?? Infinity, skipLeft: r.skip ?? 0 }))
  const sockets = new Set<Socket>()
  const stalled = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  let closed = false
  let base = ''
  const blobHost = `${account}.blob.core.windows.net`

  const newEtag = () => `"0x8DC${(++etagCounter).toString(16).toUpperCase().padStart(12, '0')}"`
  const sign = (perm: string, blobName: string, expiry: string) =>
    createHmac('sha256', secret).update(`${perm}\n${blobName}\n${expiry}`).digest('base64')
  const blobBase = () =>
    mode === 'azure' ? `http://${blobHost}/${container}` : `${base}/${account}/${container}`
  const signedUrl = (perm: 'cw' | 'r', blobName: string) => {
    const expiry = new Date(Date.now() + sasTtlMs).toISOString().replace(/\.\d+Z$/, 'Z')
    const q = new URLSearchParams({
      sv: '2024-11-04',
      se: expiry,
      sr: 'b',
      sp: perm,
      sig: sign(perm, blobName, expiry)
    })
    return `${blobBase()}/${blobName}?${q.toString()}`
  }

  const isLive = (e: Entry) => e.finalized || Date.now() - e.createdAt < pendingTtlMs
  const dropEntry = (e: Entry) => {
    storedBytes -= (e.blob?.length ?? 0) + e.reservedBytes
    e.blob = null
    e.staged.clear()
    e.reservedBytes = 0
    entries = entries.filter((x) => x !== e)
  }
  const entryBytes = (e: Entry) => (e.blob?.length ?? 0) + e.reservedBytes
  /** Make room for `bytes` more, evicting least recently used entries other than `keep`; false if impossible. */
  const makeRoom = (bytes: number, keep: Entry | null): boolean => {
    for (const e of entries.filter((x) => !isLive(x))) dropEntry(e)
    while (storedBytes + bytes > maxTotalBytes) {
      const victim = entries
        .filter((e) => e !== keep && entryBytes(e) > 0)
        .sort((a, b) => a.lastUsed - b.lastUsed)[0]
      if (!victim) return false
      dropEntry(victim)
    }
    return true
  }

  const log = (
    res: ServerResponse,
    r: Omit<CacheRequest, 'seq' | 'outcome' | 'requestBytes'>
  ): CacheRequest => {
    const entry: CacheRequest = { seq: ++seq, outcome: 'pending', requestBytes: 0, ...r }
    res.on('close', () => {
      if (entry.outcome === 'pending') entry.outcome = 'aborted'
    })
    requests.push(entry)
    if (requests.length > maxLogged) requests.splice(0, requests.length - maxLogged)
    return entry
  }

  const pickFault = (endpoint: CacheEndpoint): CacheFault | null => {
    const group = (TWIRP_METHODS as readonly string[]).includes(endpoint) ? 'twirp' : 'blob'
    for (const r of rules) {
      const eps = r.endpoint === undefined ? null : Array.isArray(r.endpoint) ? r.endpoint : [r.endpoint]
      if (eps && !eps.some((e) => e === endpoint || e === group)) continue
      if (r.left <= 0) continue
      if (r.skipLeft > 0) {
        r.skipLeft--
        continue
      }
      r.left--
      return r.fault
    }
    return null
  }

  /** Read the body, keeping at most `limit` bytes (null when it was longer; the rest is drained). */
  const readBody = (req: IncomingMessage, entry: CacheRequest, limit: number): Promise<Buffer | null> =>
    new Promise((resolve) => {
      const chunks: Buffer[] = []
      let n = 0
      let over = false
      req.on('data', (c: Buffer) => {
        n += c.length
        entry.requestBytes = n
        if (n > limit) {
          over = true
          chunks.length = 0
        } else chunks.push(c)
      })
      req.on('end', () => resolve(over ? null : Buffer.concat(chunks)))
      req.on('error', () => resolve(null))
      req.on('aborted', () => resolve(null))
    })

  const stall = (req: IncomingMessage, entry: CacheRequest) => {
    entry.outcome = 'stall'
    stalled.add(req.socket)
    req.resume()
  }
  const drop = (req: IncomingMessage, entry: CacheRequest) => {
    entry.outcome = 'drop'
    req.socket.destroy()
  }

  // ---- Twirp ----

  const twirp = async (req: IncomingMessage, res: ServerResponse, method: string) => {
    const endpoint = (TWIRP_METHODS as readonly string[]).includes(method) ? (method as TwirpMethod) : null
    const entry = log(res, {
      method: req.method ?? 'POST',
      endpoint: endpoint ?? 'unknown',
      path: req.url ?? '/'
    })
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      const text = typeof body === 'string' ? body : JSON.stringify(body)
      entry.outcome = status
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(text)),
        ...headers
      })
      res.end(text)
    }
    const error = (code: string, msg: string) => send(TWIRP_STATUS[code] ?? 500, { code, msg })

    const fault = endpoint ? pickFault(endpoint) : null
    if (fault) entry.fault = fault.kind
    if (fault?.kind === 'drop') return drop(req, entry)
    if (fault?.kind === 'stall') return stall(req, entry)

    const body = await readBody(req, entry, 1024 * 1024)
    if (closed) return
    if (fault?.kind === 'delay') await wait(fault.ms)
    if (closed) return
    if (fault?.kind === 'status') {
      return send(
        fault.status,
        fault.body ?? { code: twirpCodeFor(fault.status), msg: `injected fault: ${fault.status}` },
        fault.headers ?? {}
      )
    }

    if (req.method !== 'POST')
      return error('bad_route', `unsupported method ${req.method} (only POST is allowed)`)
    if (!endpoint) return error('bad_route', `no handler for path "${req.url}"`)
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
      return error('bad_route', `unexpected Content-Type: "${req.headers['content-type'] ?? ''}"`)
    }
    if (req.headers.authorization !== `Bearer ${token}`) return error('unauthenticated', 'invalid token')
    if (body === null) return error('malformed', 'request body too large')
    let input: Record<string, unknown>
    try {
      const parsed: unknown = JSON.parse(body.toString('utf8'))
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('not an object')
      input = parsed as Record<string, unknown>
    } catch (e) {
      return error('malformed', `the json request could not be decoded: ${(e as Error).message}`)
    }
    const key = typeof input.key === 'string' ? input.key : ''
    const version = typeof input.version === 'string' ? input.version : ''
    const restoreKeys = Array.isArray(input.restore_keys)
      ? input.restore_keys.filter((k): k is string => typeof k === 'string')
      : []
    entry.key = key
    entry.version = version
    if (endpoint === 'GetCacheEntryDownloadURL') entry.restoreKeys = restoreKeys
    if (!key) return error('invalid_argument', 'key is required')
    if (!version) return error('invalid_argument', 'version is required')

    for (const e of entries.filter((x) => !isLive(x))) dropEntry(e)

    if (endpoint === 'CreateCacheEntry') {
      if (!canWrite) {
        return send(200, {
          ok: false,
          signed_upload_url: '',
          message: 'cache write denied: the token for this run does not permit cache writes'
        })
      }
      if (entries.some((e) => e.key === key && e.version === version)) {
        return error('already_exists', 'cache entry with the same key, version, and scope already exists')
      }
      while (entries.length >= maxEntries) {
        const victim = [...entries].sort((a, b) => a.lastUsed - b.lastUsed)[0]
        if (!victim) break
        dropEntry(victim)
      }
      const now = Date.now()
      const e: Entry = {
        id: nextId++,
        key,
        version,
        createdAt: now,
        lastUsed: now,
        finalized: false,
        blobName: `${createHash('sha256').update(`${key}\n${version}\n${now}`).digest('hex').slice(0, 32)}-${randomBytes(4).toString('hex')}`,
        blob: null,
        etag: '',
        modifiedAt: now,
        staged: new Map(),
        reservedBytes: 0
      }
      entries.push(e)
      return send(200, { ok: true, signed_upload_url: signedUrl('cw', e.blobName), message: '' })
    }

    if (endpoint === 'FinalizeCacheEntryUpload') {
      const e = entries.find((x) => x.key === key && x.version === version && !x.finalized)
      if (!e) {
        if (entries.some((x) => x.key === key && x.version === version)) {
          return error('already_exists', 'cache entry with the same key, version, and scope already exists')
        }
        return error('not_found', 'cache entry not found')
      }
      if (!e.blob) return error('failed_precondition', 'the cache entry has no uploaded blob')
      const size = Number(input.size_bytes ?? 0)
      if (size !== e.blob.length) {
        return error(
          'invalid_argument',
          `size_bytes ${size} does not match the uploaded size ${e.blob.length}`
        )
      }
      e.finalized = true
      e.lastUsed = Date.now()
      return send(200, { ok: true, entry_id: String(e.id), message: '' })
    }

    // GetCacheEntryDownloadURL
    if (!canRead) {
      return error(
        'permission_denied',
        'cache read denied: the token for this run has no readable cache scopes'
      )
    }
    const visible = entries.filter((e) => e.finalized && e.version === version && e.blob)
    const newest = (list: Entry[]) =>
      list.reduce<Entry | null>((a, b) => (!a || b.createdAt >= a.createdAt ? b : a), null)
    let hit: Entry | null = null
    for (const k of [key, ...restoreKeys]) {
      hit = newest(visible.filter((e) => e.key === k)) ?? newest(visible.filter((e) => e.key.startsWith(k)))
      if (hit) break
    }
    if (!hit) return send(200, { ok: false, signed_download_url: '', matched_key: '' })
    hit.lastUsed = Date.now()
    return send(200, { ok: true, signed_download_url: signedUrl('r', hit.blobName), matched_key: hit.key })
  }

  // ---- Blob storage ----

  const blob = async (req: IncomingMessage, res: ServerResponse, u: URL, blobName: string) => {
    const comp = u.searchParams.get('comp')
    const method = req.method ?? 'GET'
    const endpoint: CacheEndpoint | 'unknown' =
      method === 'PUT'
        ? comp === 'block'
          ? 'PutBlock'
          : comp === 'blocklist'
            ? 'PutBlockList'
            : comp === null
              ? 'PutBlob'
              : 'unknown'
        : method === 'GET' && comp === null
          ? 'GetBlob'
          : method === 'HEAD' && comp === null
            ? 'GetBlobProperties'
            : 'unknown'
    const redacted = new URL(u.href)
    if (redacted.searchParams.has('sig')) redacted.searchParams.set('sig', 'REDACTED')
    const rangeHeader = (req.headers['x-ms-range'] as string | undefined) ?? req.headers.range
    const entry = log(res, {
      method,
      endpoint,
      path: `${redacted.pathname}${redacted.search}`,
      ...(rangeHeader ? { range: rangeHeader } : {})
    })
    const e0 = entries.find((x) => x.blobName === blobName)
    if (e0) {
      entry.key = e0.key
      entry.version = e0.version
    }

    const common = () => ({
      'x-ms-request-id': randomUUID(),
      'x-ms-version': (req.headers['x-ms-version'] as string | undefined) ?? '2025-01-05',
      date: new Date().toUTCString()
    })
    const fail = (status: number, code?: string, message?: string, headers: Record<string, string> = {}) => {
      const errorCode =
        code ?? STORAGE_ERROR_CODE[status] ?? (status >= 500 ? 'InternalError' : 'InvalidInput')
      const text =
        method === 'HEAD'
          ? ''
          : `<?xml version="1.0" encoding="utf-8"?><Error><Code>${errorCode}</Code><Message>${message ?? errorCode}\nRequestId:${randomUUID()}\nTime:${new Date().toISOString()}</Message></Error>`
      entry.outcome = status
      res.writeHead(status, {
        ...common(),
        'x-ms-error-code': errorCode,
        'content-type': 'application/xml',
        'content-length': String(Buffer.byteLength(text)),
        ...headers
      })
      res.end(text)
    }
    const created = (e: Entry, extra: Record<string, string> = {}) => {
      entry.outcome = 201
      res.writeHead(201, {
        ...common(),
        etag: e.etag,
        'last-modified': new Date(e.modifiedAt).toUTCString(),
        'x-ms-request-server-encrypted': 'true',
        'content-length': '0',
        ...extra
      })
      res.end()
    }

    const fault = endpoint === 'unknown' ? null : pickFault(endpoint)
    if (fault) entry.fault = fault.kind
    if (fault?.kind === 'drop' && !(endpoint === 'GetBlob' && fault.afterBytes !== undefined))
      return drop(req, entry)
    if (fault?.kind === 'stall' && !(endpoint === 'GetBlob' && fault.afterBytes !== undefined)) {
      return stall(req, entry)
    }

    // Bodies are only ever blob data; bounded by what may be stored.
    const body = method === 'PUT' ? await readBody(req, entry, maxTotalBytes) : Buffer.alloc(0)
    if (closed) return
    if (fault?.kind === 'delay') await wait(fault.ms)
    if (closed) return
    if (fault?.kind === 'status') {
      if (fault.body !== undefined) {
        entry.outcome = fault.status
        res.writeHead(fault.status, {
          ...common(),
          'content-length': String(Buffer.byteLength(fault.body)),
          ...(fault.headers ?? {})
        })
        return res.end(fault.body)
      }
      return fail(fault.status, undefined, `injected fault: ${fault.status}`, fault.headers ?? {})
    }

    if (endpoint === 'unknown') return fail(400, 'UnsupportedHttpVerb', `unsupported: ${method} comp=${comp}`)
    // Shared access signature: the permission it grants, its expiry, its signature over the blob.
    const sp = u.searchParams.get('sp') ?? ''
    const se = u.searchParams.get('se') ?? ''
    const sig = u.searchParams.get('sig') ?? ''
    const wantPerm = method === 'PUT' ? 'cw' : 'r'
    if (sp !== wantPerm || sig !== sign(sp, blobName, se) || !(Date.parse(se) > Date.now())) {
      return fail(
        403,
        'AuthenticationFailed',
        'Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.'
      )
    }
    const e = entries.find((x) => x.blobName === blobName && isLive(x))
    if (method === 'PUT') {
      // Upload URLs are good for a reservation that is not finalized yet.
      if (!e || e.finalized) return fail(403, 'AuthenticationFailed', 'the upload URL is no longer valid')
      if (body === null) return fail(413, 'RequestBodyTooLarge', 'The request body is too large.')
      const md5 = req.headers['content-md5']
      if (typeof md5 === 'string' && md5 !== createHash('md5').update(body).digest('base64')) {
        return fail(
          400,
          'Md5Mismatch',
          'The MD5 value specified in the request did not match with the MD5 value calculated by the server.'
        )
      }
      if (endpoint === 'PutBlob') {
        if (req.headers['x-ms-blob-type'] !== 'BlockBlob') {
          return fail(
            400,
            'MissingRequiredHeader',
            'An HTTP header that is mandatory for this request is not specified: x-ms-blob-type'
          )
        }
        const previous = entryBytes(e)
        storedBytes -= previous
        e.blob = null
        e.staged.clear()
        e.reservedBytes = 0
        if (!makeRoom(body.length, e)) return fail(413, 'RequestBodyTooLarge', 'The cache stand-in is full.')
        e.blob = body
        storedBytes += body.length
        e.etag = newEtag()
        e.modifiedAt = Date.now()
        return created(e, { 'content-md5': createHash('md5').update(body).digest('base64') })
      }
      if (endpoint === 'PutBlock') {
        const id = u.searchParams.get('blockid') ?? ''
        const decoded = Buffer.from(id, 'base64')
        if (!id || decoded.length === 0 || decoded.length > 64 || decoded.toString('base64') !== id) {
          return fail(
            400,
            'InvalidQueryParameterValue',
            `Value for one of the query parameters specified in the request URI is invalid: blockid`
          )
        }
        const old = e.staged.get(id)
        if (old) {
          e.reservedBytes -= old.length
          storedBytes -= old.length
        }
        if (!makeRoom(body.length, e)) return fail(413, 'RequestBodyTooLarge', 'The cache stand-in is full.')
        e.staged.set(id, body)
        e.reservedBytes += body.length
        storedBytes += body.length
        entry.outcome = 201
        res.writeHead(201, { ...common(), 'x-ms-request-server-encrypted': 'true', 'content-length': '0' })
        return res.end()
      }
      // PutBlockList
      const xml = body.toString('utf8')
      if (!/<BlockList>/.test(xml))
        return fail(400, 'InvalidXmlDocument', 'XML specified is not syntactically valid.')
      const ids = [...xml.matchAll(/<(Latest|Uncommitted|Committed)>([^<]*)<\/\1>/g)]
      const parts: Buffer[] = []
      for (const m of ids) {
        const kind = m[1]
        const id = m[2] ?? ''
        // Only staged blocks: a freshly reserved entry has no committed blocks to reuse.
        const part = kind === 'Committed' ? undefined : e.staged.get(id)
        if (!part) return fail(400, 'InvalidBlockList', 'The specified block list is invalid.')
        parts.push(part)
      }
      const data = Buffer.concat(parts)
      storedBytes -= entryBytes(e)
      e.staged.clear()
      e.reservedBytes = 0
      e.blob = data
      storedBytes += data.length
      e.etag = newEtag()
      e.modifiedAt = Date.now()
      return created(e)
    }

    // GET / HEAD: download URLs are only handed out for finalized entries.
    if (!e || !e.finalized || !e.blob) return fail(404, 'BlobNotFound', 'The specified blob does not exist.')
    e.lastUsed = Date.now()
    const ifMatch = req.headers['if-match']
    if (ifMatch && ifMatch !== '*' && ifMatch !== e.etag) {
      return fail(
        412,
        'ConditionNotMet',
        'The condition specified using HTTP conditional header(s) is not met.'
      )
    }
    const data = e.blob
    const props = {
      ...common(),
      'content-type': 'application/octet-stream',
      etag: e.etag,
      'last-modified': new Date(e.modifiedAt).toUTCString(),
      'accept-ranges': 'bytes',
      'x-ms-blob-type': 'BlockBlob',
      'x-ms-creation-time': new Date(e.createdAt).toUTCString(),
      'x-ms-lease-state': 'available',
      'x-ms-lease-status': 'unlocked',
      'x-ms-server-encrypted': 'true'
    }
    if (method === 'HEAD') {
      entry.outcome = 200
      res.writeHead(200, { ...props, 'content-length': String(data.length) })
      return res.end()
    }
    const range = parseRange(rangeHeader, data.length)
    if (range === 'invalid') {
      return fail(
        416,
        'InvalidRange',
        'The range specified is invalid for the current size of the resource.',
        {
          'content-range': `bytes */${data.length}`
        }
      )
    }
    const slice = range ? data.subarray(range.start, range.end + 1) : data
    const status = range ? 206 : 200
    res.writeHead(status, {
      ...props,
      'content-length': String(slice.length),
      ...(range ? { 'content-range': `bytes ${range.start}-${range.end}/${data.length}` } : {})
    })
    if (fault?.kind === 'drop' || fault?.kind === 'stall') {
      const n = Math.min(fault.afterBytes ?? 0, slice.length)
      const then = () => (fault.kind === 'drop' ? drop(req, entry) : stall(req, entry))
      if (n > 0) res.write(slice.subarray(0, n), then)
      else {
        res.flushHeaders()
        then()
      }
      return
    }
    entry.outcome = status
    res.end(slice)
  }

  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t)
        resolve()
      }, ms)
      timers.add(t)
    })

  const server = createServer((req, res) => {
    let u: URL
    try {
      // Absolute-form targets arrive through HTTP_PROXY (blobEndpoint 'azure').
      u = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`)
    } catch {
      res.writeHead(400, { 'content-length': '0' })
      return res.end()
    }
    const route = async () => {
      const twirpPrefix = `/twirp/${TWIRP_SERVICE}/`
      if (u.hostname !== blobHost && u.pathname.startsWith(twirpPrefix)) {
        return twirp(req, res, u.pathname.slice(twirpPrefix.length))
      }
      const blobPrefix = u.hostname === blobHost ? `/${container}/` : `/${account}/${container}/`
      if ((mode === 'azure') === (u.hostname === blobHost) && u.pathname.startsWith(blobPrefix)) {
        const name = decodeURIComponent(u.pathname.slice(blobPrefix.length))
        if (name && !name.includes('/')) return blob(req, res, u, name)
      }
      const entry = log(res, { method: req.method ?? 'GET', endpoint: 'unknown', path: u.pathname })
      entry.outcome = 404
      res.writeHead(404, { 'content-type': 'text/plain', 'content-length': '9' })
      res.end('not found')
    }
    route().catch((err: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        const text = `stand-in error: ${(err as Error).message}`
        res.writeHead(500, {
          'content-type': 'text/plain',
          'content-length': String(Buffer.byteLength(text))
        })
        res.end(text)
      } else res.destroy()
    })
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => {
      sockets.delete(s)
      stalled.delete(s)
    })
  })
  // Requests are never timed out by the server: a stall lasts until close() or dropStalled().
  server.requestTimeout = 0
  server.headersTimeout = 60_000
  server.keepAliveTimeout = 65_000

  const port = await listenOnLoopback(server)
  base = `http://127.0.0.1:${port}`

  const env: Record<string, string> = {
    ACTIONS_CACHE_SERVICE_V2: 'true',
    // GitHub gives the results URL with a trailing slash; the client resolves /twirp/… against it.
    ACTIONS_RESULTS_URL: `${base}/`,
    ACTIONS_RUNTIME_TOKEN: token,
    // v2 is chosen only for github.com (or *.ghe.com / *.localhost), never for GHES.
    GITHUB_SERVER_URL: 'https://github.com'
  }
  if (mode === 'azure') {
    // The Azure SDK routes every request through HTTPS_PROXY || ALL_PROXY || HTTP_PROXY (upper case
    // first), so the other two are blanked when set; @actions/http-client never proxies loopback.
    for (const name of ['HTTPS_PROXY', 'https_proxy', 'ALL_PROXY', 'all_proxy']) {
      if (process.env[name]) env[name] = ''
    }
    env.HTTP_PROXY = base
    env.http_proxy = base
    const noProxy = (process.env.NO_PROXY ?? process.env.no_proxy ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s && s !== '*' && !blobHost.endsWith(s.replace(/^\*/, '')))
    for (const h of ['127.0.0.1', 'localhost', '::1']) if (!noProxy.includes(h)) noProxy.push(h)
    env.NO_PROXY = noProxy.join(',')
    env.no_proxy = env.NO_PROXY
  }

  return {
    url: base,
    token,
    env,
    entries: () =>
      entries.map((e) => ({
        id: e.id,
        key: e.key,
        version: e.version,
        size: e.blob?.length ?? 0,
        createdAt: new Date(e.createdAt),
        finalized: e.finalized
      })),
    blob: (key, version) => {
      const e = entries
        .filter((x) => x.finalized && x.key === key && (version === undefined || x.version === version))
        .at(-1)
      return e?.blob ? Buffer.from(e.blob) : undefined
    },
    requests,
    requestsTo: (endpoint) => requests.filter((r) => r.endpoint === endpoint),
    setFaults: (next) => {
      rules = next.map((r) => ({ ...r, left: r.times ?? Infinity, skipLeft: r.skip ?? 0 }))
    },
    dropStalled: () => {
      const n = stalled.size
      for (const s of stalled) s.destroy()
      stalled.clear()
      return n
    },
    deleteEntry: (id) => {
      const e = entries.find((x) => x.id === id)
      if (!e) return false
      dropEntry(e)
      return true
    },
    clear: () => {
      entries = []
      storedBytes = 0
    },
    close: async () => {
      if (closed) return
      closed = true
      for (const t of timers) clearTimeout(t)
      timers.clear()
      const done = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeAllConnections()
      for (const s of sockets) s.destroy()
      await done
      entries = []
      storedBytes = 0
    }
  }
}

/**
 * The entries of a cache stand-in as the REST API (`/repos/{o}/{r}/actions/caches`) sees them, for
 * startGitHubApi({ caches }): only finalized entries are listed (GitHub lists committed caches), and
 * deleting one removes it from the cache service too. Every entry is on `ref`: the stand-in's runtime
 * token is scoped to refs/heads/main.
 */
export function restCacheStore(server: CacheServer, ref = 'refs/heads/main'): CacheStore {
  return {
    list: () =>
      server
        .entries()
        .filter((e) => e.finalized)
        .map((e) => ({
          id: e.id,
          key: e.key,
          version: e.version,
          sizeInBytes: e.size,
          createdAt: e.createdAt.toISOString(),
          ref
        })),
    delete: (id) => server.entries().some((e) => e.id === id && e.finalized) && server.deleteEntry(id)
  }
}
