// The one HTTP client of fast-build: registries, their token services, package indexes and wheel
// downloads all go through it. What it gives every request:
//
//   - keep-alive connections, a pool per client (`maxSockets` at once per host);
//   - a deadline (src/net/deadline.ts): no progress for FAST_BUILD_REQUEST_TIMEOUT_S, or a trickle
//     past it, ends the request as a TransientHttpError;
//   - failures as the errors of src/net/errors.ts: a connection that dropped is a TransientHttpError
//     (src/net/retry.ts says which are worth retrying), a host that does not resolve an
//     UnknownHostError; messages show URLs without userinfo or query;
//   - redirects followed when asked (GET and HEAD), with the Authorization header asked for again at
//     each hop, so a credential goes only where the caller says it belongs.
//
// Three ways to send: `request` (the answer buffered, bounded), `download` (the answer streamed to a
// file while its sha256 is computed, with progress), and `stream` (a body written piece by piece,
// for a blob uploaded while it is produced). Statuses are answers, not errors: the caller decides,
// and `throwIfTransient` applies the one retry rule to them. Retrying itself is the caller's
// (withRetry in src/net/retry.ts), around whatever unit is worth starting over.
import * as http from 'node:http'
import * as https from 'node:https'
import { createReadStream } from 'node:fs'
import type { Readable } from 'node:stream'
import { FastBuildError } from '../errors.js'
import { hashIntoFile } from '../util/file-sink.js'
import { DEFAULT_MIN_BYTES_PER_SECOND, watchDeadline } from './deadline.js'
import { HttpError, TransientHttpError, UnknownHostError, hostOf, redactUrl } from './errors.js'
import { isRetryableStatus, netLimits, transientFromNetworkError, transientFromStatus } from './retry.js'

export interface HttpResponse {
  readonly method: string
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: Buffer
  /** The URL that answered (the last one, after redirects). */
  readonly url: string
}

export type RequestBody = Buffer | { readonly file: string; readonly start?: number; readonly end?: number }

export interface Follow {
  /**
   * Redirects to follow (301, 302, 303, 307 and 308 with a Location, for GET and HEAD); default 0:
   * a redirect is returned as the answer. One more is an HttpError, as is one to a URL that is not
   * http(s) (a `file://` answer must never be read from the local disk).
   */
  readonly maxRedirects?: number
  /**
   * The Authorization header for a URL, asked for the first URL and again for each redirect's
   * (null: none). Credentials go this way, never in a URL's userinfo, which is taken out.
   */
  readonly authorize?: (url: string) => string | null
}

export interface RequestOptions extends Follow {
  readonly method: string
  readonly url: string
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: RequestBody
  /** Cap on the answer's body; a larger one is an error (default 16 MiB: blobs are downloaded). */
  readonly maxBody?: number
  /** This request's deadline, in place of the client's. */
  readonly timeoutMs?: number
}

export interface DownloadOptions extends Follow {
  readonly url: string
  readonly headers?: Readonly<Record<string, string>>
  /** This request's deadline, in place of the client's. */
  readonly timeoutMs?: number
  /** Bytes written so far, and the total the server announced (Content-Length), from 0 at the start. */
  readonly onBytes?: (bytes: number, total: number | null) => void
}

export interface DownloadResult {
  readonly method: 'GET'
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  /** The (small) body of an answer other than 200, for its error text; empty for a 200. */
  readonly body: Buffer
  /** Lowercase hex sha256 of what was written (200 only). */
  readonly sha256: string | null
  readonly size: number
  /** The URL that answered (the last one, after redirects). */
  readonly url: string
}

export interface StreamingRequest {
  write(chunk: Buffer): Promise<void>
  end(): Promise<HttpResponse>
  abort(): void
}

export interface HttpClientOptions {
  /**
   * The per-request deadline (src/net/deadline.ts): nothing moved for this long while waiting on
   * the network, or slower than `minBytesPerSecond` past it. Default netLimits().requestTimeoutMs
   * (FAST_BUILD_REQUEST_TIMEOUT_S, 30 s), read per request.
   */
  readonly requestTimeoutMs?: number
  /** The former name of requestTimeoutMs (used when that is not given). */
  readonly idleTimeoutMs?: number
  readonly minBytesPerSecond?: number
  readonly userAgent?: string
  /** Connections at once per host (default 8: a registry's and an index's own limits are near it). */
  readonly maxSockets?: number
}

const REDIRECTS = new Set([301, 302, 303, 307, 308])
const DEFAULT_MAX_BODY = 16 * 1024 * 1024

/**
 * Throw the TransientHttpError of a retryable status (408, 429, 5xx but 501/505), so the caller's
 * withRetry tries again; other answers pass. `detail` is the server's error text, if any: a
 * function when it costs something to find (a body parsed for every answer, most of them fine).
 */
export function throwIfTransient(
  res: Pick<HttpResponse, 'method' | 'status' | 'headers' | 'url'>,
  detail: string | (() => string) = ''
): void {
  if (isRetryableStatus(res.status))
    throw transientFromStatus(
      res.method,
      res.url,
      res.status,
      res.headers['retry-after'],
      typeof detail === 'string' ? detail : detail()
    )
}

function headersOf(res: http.IncomingMessage): Record<string, string> {
  const h: Record<string, string> = {}
  for (const [k, v] of Object.entries(res.headers))
    if (v !== undefined) h[k] = Array.isArray(v) ? v.join(', ') : v
  return h
}

/** An error of the network (or of Node) for `method url` as one of ours, or as it is. */
function asHttpError(e: Error, method: string, url: string): Error {
  if (e instanceof FastBuildError) return e
  if ((e as NodeJS.ErrnoException).code === 'ENOTFOUND') {
    const host = hostOf(url) ?? url
    return new UnknownHostError(
      `cannot reach ${host}: no such host`,
      { what: `${method} ${redactUrl(url)}`, host },
      'check the host name, and the network and DNS from here'
    )
  }
  return transientFromNetworkError(e, method, url) ?? e
}

/** The URL of the next hop of a redirect, or null when `status` is not one to follow. */
function redirectTarget(
  method: string,
  url: string,
  status: number,
  headers: Readonly<Record<string, string>>,
  hops: number,
  follow: Follow
): string | null {
  const max = follow.maxRedirects ?? 0
  const location = headers['location']
  if (max === 0 || !REDIRECTS.has(status) || !location || (method !== 'GET' && method !== 'HEAD')) return null
  const what = `${method} ${redactUrl(url)}`
  const info = { what, host: hostOf(url), status }
  if (hops >= max)
    throw new HttpError(
      `${what}: redirected more than ${max} times`,
      info,
      'the server redirects in a loop: check the URL'
    )
  let next: URL
  try {
    next = new URL(location, url)
  } catch {
    throw new HttpError(`${what}: redirected to something that is not a URL`, info)
  }
  if (next.protocol !== 'http:' && next.protocol !== 'https:') {
    throw new HttpError(
      `${what}: redirected to ${redactUrl(next.href)}, which is not http(s)`,
      info,
      'check the URL; a server may only redirect to http(s)'
    )
  }
  return next.href
}

export class HttpClient {
  private readonly agents: { readonly http: http.Agent; readonly https: https.Agent }

  constructor(private readonly opts: HttpClientOptions = {}) {
    const maxSockets = opts.maxSockets ?? 8
    this.agents = {
      http: new http.Agent({ keepAlive: true, maxSockets }),
      https: new https.Agent({ keepAlive: true, maxSockets })
    }
  }

  close(): void {
    this.agents.http.destroy()
    this.agents.https.destroy()
  }

  /** The per-request deadline in effect (an option, else the environment's, read now). */
  get requestTimeoutMs(): number {
    return this.opts.requestTimeoutMs ?? this.opts.idleTimeoutMs ?? netLimits().requestTimeoutMs
  }

  /** Start one request (no body written yet) under its deadline; a URL that is not http(s) is an HttpError. */
  private open(
    o: {
      method: string
      url: string
      headers: Record<string, string>
      timeoutMs?: number | undefined
    },
    idle?: () => boolean
  ): { req: http.ClientRequest; expired: () => TransientHttpError | null; stop: () => void } {
    const url = new URL(o.url)
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new HttpError(`${o.method} ${redactUrl(o.url)}: only http(s):// URLs`, {
        what: `${o.method} ${redactUrl(o.url)}`
      })
    // Credentials travel in headers the caller chose (Follow.authorize), never from userinfo.
    url.username = ''
    url.password = ''
    const secure = url.protocol === 'https:'
    const req = (secure ? https : http).request(url, {
      method: o.method,
      headers: o.headers,
      agent: secure ? this.agents.https : this.agents.http
    })
    let expired: TransientHttpError | null = null
    const deadline = watchDeadline(
      req,
      {
        method: o.method,
        url: o.url,
        timeoutMs: o.timeoutMs ?? this.requestTimeoutMs,
        minBytesPerSecond: this.opts.minBytesPerSecond ?? DEFAULT_MIN_BYTES_PER_SECOND,
        ...(idle ? { idle } : {})
      },
      (e) => (expired = e)
    )
    return { req, expired: () => expired, stop: () => deadline.stop() }
  }

  private headers(
    extra: Readonly<Record<string, string>> | undefined,
    url: string,
    follow: Follow = {}
  ): Record<string, string> {
    const h: Record<string, string> = { 'user-agent': this.opts.userAgent ?? 'fast-build', ...extra }
    const auth = follow.authorize?.(url)
    if (auth) h['authorization'] = auth
    return h
  }

  /**
   * A request whose body is written piece by piece (chunked transfer encoding), for streaming a
   * blob while it is being produced. `end` finishes the body and waits for the answer. The deadline
   * runs only while the network is what is waited for (a write not yet flushed, or after `end`).
   */
  stream(o: Omit<RequestOptions, 'body' | keyof Follow>): StreamingRequest {
    let failure: Error | null = null
    let ended = false
    let draining = 0
    const waiters = new Set<(e: Error) => void>()
    let resolveResponse!: (r: HttpResponse) => void
    let rejectResponse!: (e: Error) => void
    const response = new Promise<HttpResponse>((res, rej) => {
      resolveResponse = res
      rejectResponse = rej
    })
    response.catch(() => undefined)
    const { req, expired, stop } = this.open(
      { method: o.method, url: o.url, headers: this.headers(o.headers, o.url), timeoutMs: o.timeoutMs },
      () => !ended && draining === 0
    )
    const fail = (e: Error) => {
      if (failure) return
      failure = expired() ?? asHttpError(e, o.method, o.url)
      stop()
      rejectResponse(failure)
      // A write waiting for 'drain' would wait for ever on a destroyed request.
      for (const w of waiters) w(failure)
      waiters.clear()
    }
    req.on('response', (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        stop()
        resolveResponse({
          method: o.method,
          status: res.statusCode ?? 0,
          headers: headersOf(res),
          body: Buffer.concat(chunks),
          url: o.url
        })
      })
      res.on('error', (e) => fail(e))
      res.on('aborted', () => fail(new Error('response aborted')))
    })
    req.on('error', (e) => fail(e))
    return {
      write: (chunk) =>
        new Promise<void>((resolve, reject) => {
          if (failure) return reject(failure)
          if (req.write(chunk)) return resolve()
          draining++
          const settle = (e: Error | null) => {
            draining--
            waiters.delete(onFail)
            req.off('drain', onDrain)
            if (e) reject(e)
            else resolve()
          }
          const onFail = (e: Error) => settle(e)
          const onDrain = () => settle(null)
          waiters.add(onFail)
          req.once('drain', onDrain)
        }),
      end: () => {
        if (failure) return Promise.reject(failure)
        ended = true
        req.end()
        return response
      },
      abort: () => {
        stop()
        req.destroy()
      }
    }
  }

  /** One request, its answer buffered (up to `maxBody`); redirects followed as `o` asks. */
  async request(o: RequestOptions): Promise<HttpResponse> {
    let url = o.url
    for (let hops = 0; ; hops++) {
      const res = await this.requestOnce(o, url)
      const next = redirectTarget(o.method, url, res.status, res.headers, hops, o)
      if (next === null) return res
      url = next
    }
  }

  private requestOnce(o: RequestOptions, url: string): Promise<HttpResponse> {
    const headers = this.headers(o.headers, url, o)
    let body: Readable | Buffer | null = null
    if (o.body !== undefined) {
      if (Buffer.isBuffer(o.body)) {
        body = o.body
        headers['content-length'] = String(o.body.length)
      } else {
        const { file, start, end } = o.body
        if (headers['content-length'] === undefined) throw new Error('streamed bodies need a content-length')
        // Read in 1 MiB pieces: an upload of a big layer in fs's default 64 kB is sixteen times
        // the reads, writes and callbacks, all on the thread that also builds layers.
        body = createReadStream(file, {
          highWaterMark: 1024 * 1024,
          ...(start !== undefined ? { start } : {}),
          ...(end !== undefined ? { end } : {})
        })
      }
    } else if (o.method === 'PUT' || o.method === 'POST' || o.method === 'PATCH') {
      headers['content-length'] = '0'
    }
    const maxBody = o.maxBody ?? DEFAULT_MAX_BODY
    const what = `${o.method} ${redactUrl(url)}`

    return new Promise<HttpResponse>((resolve, reject) => {
      let settled = false
      const { req, expired, stop } = this.open({ method: o.method, url, headers, timeoutMs: o.timeoutMs })
      const fail = (e: Error) => {
        if (settled) return
        settled = true
        stop()
        req.destroy()
        if (body !== null && !Buffer.isBuffer(body)) body.destroy()
        reject(e instanceof FastBuildError ? e : (expired() ?? asHttpError(e, o.method, url)))
      }
      req.on('response', (res) => {
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (c: Buffer) => {
          size += c.length
          if (size > maxBody)
            fail(
              new HttpError(`${what}: response larger than ${maxBody} bytes`, {
                what,
                host: hostOf(url),
                status: res.statusCode ?? null
              })
            )
          else chunks.push(c)
        })
        res.on('end', () => {
          if (settled) return
          settled = true
          stop()
          resolve({
            method: o.method,
            status: res.statusCode ?? 0,
            headers: headersOf(res),
            body: Buffer.concat(chunks),
            url
          })
        })
        res.on('error', (e) => fail(e))
        res.on('aborted', () => fail(new Error('response aborted')))
      })
      req.on('error', (e) => fail(e))
      if (body === null) req.end()
      else if (Buffer.isBuffer(body)) req.end(body)
      else {
        body.on('error', (e) => fail(e))
        body.pipe(req)
      }
    })
  }

  /**
   * GET a body straight to `file` (blobs and wheels can be gigabytes), hashing it on the way. An
   * answer other than 200 is returned with its (small) body and nothing written; a 200 cut short
   * (fewer bytes than its Content-Length) is a TransientHttpError.
   */
  async download(o: DownloadOptions, file: string): Promise<DownloadResult> {
    let url = o.url
    for (let hops = 0; ; hops++) {
      const res = await this.downloadOnce(o, url, file)
      const next = redirectTarget('GET', url, res.status, res.headers, hops, o)
      if (next === null) return res
      url = next
    }
  }

  private downloadOnce(o: DownloadOptions, url: string, file: string): Promise<DownloadResult> {
    const what = `GET ${redactUrl(url)}`
    return new Promise<DownloadResult>((resolve, reject) => {
      let settled = false
      const { req, expired, stop } = this.open({
        method: 'GET',
        url,
        headers: this.headers(o.headers, url, o),
        timeoutMs: o.timeoutMs
      })
      const done = (r: Omit<DownloadResult, 'method' | 'url'>) => {
        if (settled) return
        settled = true
        stop()
        resolve({ method: 'GET', url, ...r })
      }
      const fail = (e: Error) => {
        if (settled) return
        settled = true
        stop()
        req.destroy()
        reject(expired() ?? asHttpError(e, 'GET', url))
      }
      req.on('response', (res) => {
        const headers = headersOf(res)
        const status = res.statusCode ?? 0
        if (status !== 200) {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.length < 64 && chunks.push(c))
          res.on('end', () => done({ status, headers, body: Buffer.concat(chunks), sha256: null, size: 0 }))
          res.on('error', (e) => fail(e))
          return
        }
        const length = headers['content-length']
        const total = length !== undefined && /^\d+$/.test(length) ? Number(length) : null
        o.onBytes?.(0, total)
        hashIntoFile(res, file, o.onBytes, total).then(
          (got) => {
            const size = got.bytes
            if (!res.complete || (total !== null && size !== total)) {
              fail(
                new TransientHttpError(
                  `${what}: the connection ended after ${size}${total !== null ? ` of ${total}` : ''} bytes`,
                  null,
                  'dropped',
                  hostOf(url),
                  { what, status }
                )
              )
            } else done({ status, headers, body: Buffer.alloc(0), sha256: got.sha256, size })
          },
          (e: Error) => fail(e)
        )
      })
      req.on('error', (e) => fail(e))
      req.end()
    })
  }
}
