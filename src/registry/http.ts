// HTTP for the registry client: keep-alive connections, bounded bodies and timeouts, and the
// retry policy: only 408/429/5xx and dropped connections are retried, with backoff that honours
// Retry-After; everything else (auth, not found, bad requests) fails at once.
import * as http from 'node:http'
import * as https from 'node:https'
import { createReadStream, createWriteStream } from 'node:fs'
import { createHash } from 'node:crypto'
import type { Readable } from 'node:stream'
import { FastBuildError } from '../errors.js'

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
  /** No bytes for this long on a connection: give up on that attempt. */
  readonly idleTimeoutMs?: number
  readonly userAgent?: string
}

/** A registry said no, or could not be reached. `temporary` failures are worth retrying. */
export class RegistryError extends FastBuildError {
  readonly temporary: boolean = false
}

/** The registry's host name does not resolve (a typo, or no network to it). */
export class UnknownHostError extends RegistryError {}

/** An HTTP failure worth retrying (a dropped connection, a 5xx, a 429). */
export class TransientHttpError extends RegistryError {
  override readonly temporary = true

  constructor(
    message: string,
    readonly retryAfterMs: number | null = null
  ) {
    super(message)
  }
}

const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504])

export function isRetryableStatus(status: number): boolean {
  return RETRY_STATUS.has(status) || (status >= 500 && status < 600)
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | null {
  if (!value) return null
  const seconds = Number(value.trim())
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const date = Date.parse(value)
  return Number.isNaN(date) ? null : Math.max(0, date - now)
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

  /**
   * A request whose body is written piece by piece (chunked transfer encoding), for streaming a
   * blob while it is being produced. `end` finishes the body and waits for the answer.
   */
  stream(o: Omit<RequestOptions, 'body'>): StreamingRequest {
    const url = new URL(o.url)
    const mod = url.protocol === 'https:' ? https : http
    const agent = url.protocol === 'https:' ? this.agents.https : this.agents.http
    const headers: Record<string, string> = {
      'user-agent': this.opts.userAgent ?? 'fast-build',
      ...o.headers
    }
    let failure: Error | null = null
    let resolveResponse!: (r: HttpResponse) => void
    let rejectResponse!: (e: Error) => void
    const response = new Promise<HttpResponse>((res, rej) => {
      resolveResponse = res
      rejectResponse = rej
    })
    response.catch(() => undefined)
    const req = mod.request(url, { method: o.method, headers, agent }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const h: Record<string, string> = {}
        for (const [k, v] of Object.entries(res.headers))
          if (v !== undefined) h[k] = Array.isArray(v) ? v.join(', ') : v
        resolveResponse({ status: res.statusCode ?? 0, headers: h, body: Buffer.concat(chunks), url: o.url })
      })
      res.on('error', (e) => rejectResponse(transient(o, e)))
    })
    const idle = this.opts.idleTimeoutMs ?? 60_000
    req.setTimeout(idle, () =>
      req.destroy(new TransientHttpError(`${o.method} ${redactUrl(o.url)}: no progress for ${idle / 1000} s`))
    )
    req.on('error', (e) => {
      failure = transient(o, e)
      rejectResponse(failure)
    })
    return {
      write: (chunk) =>
        new Promise<void>((resolve, reject) => {
          if (failure) return reject(failure)
          if (req.write(chunk)) resolve()
          else req.once('drain', () => (failure ? reject(failure) : resolve()))
        }),
      end: () => {
        if (failure) return Promise.reject(failure)
        req.end()
        return response
      },
      abort: () => {
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
    const url = new URL(o.url)
    const mod = url.protocol === 'https:' ? https : http
    const agent = url.protocol === 'https:' ? this.agents.https : this.agents.http
    const idle = this.opts.idleTimeoutMs ?? 60_000
    return new Promise<DownloadResult>((resolve, reject) => {
      let settled = false
      const fail = (e: Error) => {
        if (settled) return
        settled = true
        req.destroy()
        reject(e)
      }
      const req = mod.request(
        url,
        {
          method: 'GET',
          headers: { 'user-agent': this.opts.userAgent ?? 'fast-build', ...o.headers },
          agent
        },
        (res) => {
          const headers: Record<string, string> = {}
          for (const [k, v] of Object.entries(res.headers))
            if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v
          const status = res.statusCode ?? 0
          if (status !== 200) {
            const chunks: Buffer[] = []
            res.on('data', (c: Buffer) => chunks.length < 64 && chunks.push(c))
            res.on('end', () => {
              settled = true
              resolve({ status, headers, body: Buffer.concat(chunks), digest: null, size: 0 })
            })
            res.on('error', (e) => fail(transient({ method: 'GET', url: o.url }, e)))
            return
          }
          const out = createWriteStream(file)
          const hash = createHash('sha256')
          let size = 0
          res.on('data', (c: Buffer) => {
            hash.update(c)
            size += c.length
          })
          res.on('error', (e) => fail(transient({ method: 'GET', url: o.url }, e)))
          res.on('aborted', () =>
            fail(transient({ method: 'GET', url: o.url }, new Error('response aborted')))
          )
          out.on('error', (e) => fail(e))
          out.on('finish', () => {
            if (settled) return
            settled = true
            resolve({ status, headers, body: Buffer.alloc(0), digest: `sha256:${hash.digest('hex')}`, size })
          })
          res.pipe(out)
        }
      )
      req.setTimeout(idle, () =>
        fail(new TransientHttpError(`GET ${redactUrl(o.url)}: no data for ${idle / 1000} s`))
      )
      req.on('error', (e) => fail(transient({ method: 'GET', url: o.url }, e)))
      req.end()
    })
  }

  request(o: RequestOptions): Promise<HttpResponse> {
    const url = new URL(o.url)
    const mod = url.protocol === 'https:' ? https : http
    const agent = url.protocol === 'https:' ? this.agents.https : this.agents.http
    const headers: Record<string, string> = {
      'user-agent': this.opts.userAgent ?? 'fast-build',
      ...o.headers
    }
    let body: Readable | Buffer | null = null
    if (o.body !== undefined) {
      if (Buffer.isBuffer(o.body)) {
        body = o.body
        headers['content-length'] = String(o.body.length)
      } else {
        const { file, start, end } = o.body
        body = createReadStream(file, {
          ...(start !== undefined ? { start } : {}),
          ...(end !== undefined ? { end } : {})
        })
        if (headers['content-length'] === undefined) throw new Error('streamed bodies need a content-length')
      }
    } else if (o.method === 'PUT' || o.method === 'POST' || o.method === 'PATCH') {
      headers['content-length'] = '0'
    }
    const idle = this.opts.idleTimeoutMs ?? 60_000
    const maxBody = o.maxBody ?? 16 * 1024 * 1024

    return new Promise<HttpResponse>((resolve, reject) => {
      let settled = false
      const fail = (e: Error) => {
        if (settled) return
        settled = true
        req.destroy()
        reject(e)
      }
      const req = mod.request(url, { method: o.method, headers, agent }, (res) => {
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
          const h: Record<string, string> = {}
          for (const [k, v] of Object.entries(res.headers))
            if (v !== undefined) h[k] = Array.isArray(v) ? v.join(', ') : v
          resolve({ status: res.statusCode ?? 0, headers: h, body: Buffer.concat(chunks), url: o.url })
        })
        res.on('error', (e) => fail(transient(o, e)))
        res.on('aborted', () => fail(transient(o, new Error('response aborted'))))
      })
      req.setTimeout(idle, () =>
        fail(new TransientHttpError(`${o.method} ${redactUrl(o.url)}: no response for ${idle / 1000} s`))
      )
      req.on('error', (e) => fail(transient(o, e)))
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
  const dropped = [
    'ECONNRESET',
    'EPIPE',
    'ETIMEDOUT',
    'ECONNABORTED',
    'EAI_AGAIN',
    'ECONNREFUSED',
    'UND_ERR_SOCKET',
    'ERR_STREAM_PREMATURE_CLOSE'
  ]
  if ((code && dropped.includes(code)) || /socket hang up|aborted|premature/i.test(e.message)) {
    return new TransientHttpError(
      `${o.method} ${redactUrl(o.url)}: connection dropped (${code ?? e.message})`
    )
  }
  return e
}

/** URLs in messages lose their query (upload session state, tokens in some registries). */
export function redactUrl(url: string): string {
  const q = url.indexOf('?')
  return q === -1 ? url : `${url.slice(0, q)}?…`
}

export interface RetryPolicy {
  readonly attempts: number
  readonly baseDelayMs: number
  readonly maxDelayMs: number
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseDelayMs: 250, maxDelayMs: 20_000 }

/**
 * Run `op`, retrying transient failures with exponential backoff (and jitter), or after the
 * server's Retry-After when it gives one (capped by maxDelayMs). `onRetry` reports each retry.
 */
export async function withRetry<T>(
  op: (attempt: number) => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY,
  onRetry?: (e: TransientHttpError, delayMs: number, attempt: number) => void
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await op(attempt)
    } catch (e) {
      if (!(e instanceof TransientHttpError) || attempt >= policy.attempts) throw e
      const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1))
      const delay = Math.min(policy.maxDelayMs, e.retryAfterMs ?? backoff * (0.5 + Math.random() / 2))
      onRetry?.(e, delay, attempt)
      await new Promise((r) => setTimeout(r, delay))
    }
  }
}
