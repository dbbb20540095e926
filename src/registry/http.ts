// HTTP for the registry client (and the package index): keep-alive connections, bounded bodies,
// and a deadline on every request (src/net/deadline.ts). What is retried, how, and for how long is
// decided once for the whole tool in src/net/retry.ts; this file re-exports it for its callers.
import * as http from 'node:http'
import * as https from 'node:https'
import { createReadStream, createWriteStream } from 'node:fs'
import { createHash } from 'node:crypto'
import type { Readable } from 'node:stream'
import { FastBuildError, type Location } from '../errors.js'
import { DEFAULT_MIN_BYTES_PER_SECOND, watchDeadline } from '../net/deadline.js'
import { netLimits, redactQuery, transientFromNetworkError, type TransientHttpError } from '../net/retry.js'

export {
  DEFAULT_RETRY,
  isRetryable,
  isRetryableStatus,
  parseRetryAfter,
  RetriesExhaustedError,
  TransientHttpError,
  withRetry,
  type RetryPolicy
} from '../net/retry.js'

export interface HttpResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: Buffer
  readonly url: string
}

export type RequestBody = Buffer | { readonly file: string; readonly start?: number; readonly end?: number }

export interface RequestOptions {
  readonly method: string
  readonly url: string
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: RequestBody
  /** Cap on the response body; larger responses are an error (we never pull layers). */
  readonly maxBody?: number
}

export interface DownloadResult {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  /** The body of a non-200 answer (for its error text). */
  readonly body: Buffer
  /** `sha256:<hex>` of what was written (200 only). */
  readonly digest: string | null
  readonly size: number
}

export interface StreamingRequest {
  write(chunk: Buffer): Promise<void>
  end(): Promise<HttpResponse>
  abort(): void
}

export interface HttpOptions {
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
}

/** A registry said no, or could not be reached. `temporary` failures may go away by running again. */
export class RegistryError extends FastBuildError {
  readonly temporary: boolean

  constructor(message: string, location: Location = {}, hint?: string, temporary = false) {
    super(message, location, hint)
    this.temporary = temporary
  }
}

/** The registry's host name does not resolve (a typo, or no network to it). */
export class UnknownHostError extends RegistryError {}

function headersOf(res: http.IncomingMessage): Record<string, string> {
  const h: Record<string, string> = {}
  for (const [k, v] of Object.entries(res.headers))
    if (v !== undefined) h[k] = Array.isArray(v) ? v.join(', ') : v
  return h
}

export class HttpClient {
  private readonly agents = {
    http: new http.Agent({ keepAlive: true, maxSockets: 8 }),
    https: new https.Agent({ keepAlive: true, maxSockets: 8 })
  }

  constructor(private readonly opts: HttpOptions = {}) {}

  close(): void {
    this.agents.http.destroy()
    this.agents.https.destroy()
  }

  /** The per-request deadline in effect (an option, else the environment's, read now). */
  get requestTimeoutMs(): number {
    return this.opts.requestTimeoutMs ?? this.opts.idleTimeoutMs ?? netLimits().requestTimeoutMs
  }

  private open(
    o: { method: string; url: string; headers: Record<string, string> },
    idle?: () => boolean
  ): { req: http.ClientRequest; expired: () => TransientHttpError | null; stop: () => void } {
    const url = new URL(o.url)
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
        timeoutMs: this.requestTimeoutMs,
        minBytesPerSecond: this.opts.minBytesPerSecond ?? DEFAULT_MIN_BYTES_PER_SECOND,
        ...(idle ? { idle } : {})
      },
      (e) => (expired = e)
    )
    return { req, expired: () => expired, stop: () => deadline.stop() }
  }

  private headers(extra: Readonly<Record<string, string>> | undefined): Record<string, string> {
    return { 'user-agent': this.opts.userAgent ?? 'fast-build', ...extra }
  }

  /**
   * A request whose body is written piece by piece (chunked transfer encoding), for streaming a
   * blob while it is being produced. `end` finishes the body and waits for the answer. The deadline
   * runs only while the network is what is waited for (a write not yet flushed, or after `end`).
   */
  stream(o: Omit<RequestOptions, 'body'>): StreamingRequest {
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
      { method: o.method, url: o.url, headers: this.headers(o.headers) },
      () => !ended && draining === 0
    )
    const fail = (e: Error) => {
      if (failure) return
      failure = expired() ?? transient(o, e)
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

  /**
   * GET a body straight to a file (blobs can be gigabytes), hashing it on the way. A non-200
   * answer is returned with its (small) body and nothing written.
   */
  download(
    o: { url: string; headers?: Readonly<Record<string, string>> },
    file: string
  ): Promise<DownloadResult> {
    return new Promise<DownloadResult>((resolve, reject) => {
      let settled = false
      const { req, expired, stop } = this.open({
        method: 'GET',
        url: o.url,
        headers: this.headers(o.headers)
      })
      const fail = (e: Error) => {
        if (settled) return
        settled = true
        stop()
        req.destroy()
        reject(expired() ?? transient({ method: 'GET', url: o.url }, e))
      }
      req.on('response', (res) => {
        const headers = headersOf(res)
        const status = res.statusCode ?? 0
        if (status !== 200) {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.length < 64 && chunks.push(c))
          res.on('end', () => {
            if (settled) return
            settled = true
            stop()
            resolve({ status, headers, body: Buffer.concat(chunks), digest: null, size: 0 })
          })
          res.on('error', (e) => fail(e))
          return
        }
        const out = createWriteStream(file)
        const hash = createHash('sha256')
        let size = 0
        res.on('data', (c: Buffer) => {
          hash.update(c)
          size += c.length
        })
        res.on('error', (e) => fail(e))
        res.on('aborted', () => fail(new Error('response aborted')))
        out.on('error', (e) => fail(e))
        out.on('finish', () => {
          if (settled) return
          if (!res.complete) return fail(new Error('response aborted'))
          settled = true
          stop()
          resolve({ status, headers, body: Buffer.alloc(0), digest: `sha256:${hash.digest('hex')}`, size })
        })
        res.pipe(out)
      })
      req.on('error', (e) => fail(e))
      req.end()
    })
  }

  request(o: RequestOptions): Promise<HttpResponse> {
    const headers = this.headers(o.headers)
    let body: Readable | Buffer | null = null
    if (o.body !== undefined) {
      if (Buffer.isBuffer(o.body)) {
        body = o.body
        headers['content-length'] = String(o.body.length)
      } else {
        const { file, start, end } = o.body
        if (headers['content-length'] === undefined) throw new Error('streamed bodies need a content-length')
        body = createReadStream(file, {
          ...(start !== undefined ? { start } : {}),
          ...(end !== undefined ? { end } : {})
        })
      }
    } else if (o.method === 'PUT' || o.method === 'POST' || o.method === 'PATCH') {
      headers['content-length'] = '0'
    }
    const maxBody = o.maxBody ?? 16 * 1024 * 1024

    return new Promise<HttpResponse>((resolve, reject) => {
      let settled = false
      const { req, expired, stop } = this.open({ method: o.method, url: o.url, headers })
      const fail = (e: Error) => {
        if (settled) return
        settled = true
        stop()
        req.destroy()
        if (body !== null && !Buffer.isBuffer(body)) body.destroy()
        reject(e instanceof FastBuildError ? e : (expired() ?? transient(o, e)))
      }
      req.on('response', (res) => {
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (c: Buffer) => {
          size += c.length
          if (size > maxBody)
            fail(new FastBuildError(`${o.method} ${redactUrl(o.url)}: response larger than ${maxBody} bytes`))
          else chunks.push(c)
        })
        res.on('end', () => {
          if (settled) return
          settled = true
          stop()
          resolve({
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
      if (body === null) req.end()
      else if (Buffer.isBuffer(body)) req.end(body)
      else {
        body.on('error', (e) => fail(e))
        body.pipe(req)
      }
    })
  }
}

function transient(o: Pick<RequestOptions, 'method' | 'url'>, e: Error): Error {
  const code = (e as NodeJS.ErrnoException).code
  if (code === 'ENOTFOUND') {
    return new UnknownHostError(
      `cannot reach ${new URL(o.url).host}: no such host`,
      {},
      'check the registry name (image input or [tool.fast-build] image)'
    )
  }
  return transientFromNetworkError(e, o.method, o.url) ?? e
}

/** URLs in messages lose their query (upload session state, tokens in some registries). */
export const redactUrl = redactQuery
