// An HTTP reverse proxy on 127.0.0.1 that injects faults in front of a real server (a registry, a
// token issuer). It forwards method, path, headers and streamed bodies both ways, rewrites `Location`
// (and a `WWW-Authenticate` realm) that point at the upstream so clients keep talking to the proxy,
// and, per request, may instead:
//
//   { kind: 'drop' }                                   destroy the client socket before forwarding
//   { kind: 'drop', phase: 'request', afterBytes: N }  forward N bytes of the request body, then cut both sides
//   { kind: 'drop', phase: 'response' }                forward, then cut before answering (the work is done)
//   { kind: 'drop', phase: 'response', afterBytes: N } forward, send the headers and N body bytes, then cut
//   { kind: 'status', status: 503 }                    answer without forwarding (body drained first)
//   { kind: 'status', status: 429, headers: { 'Retry-After': '1' } }
//   { kind: 'slow', chunkSize: 1024, delayMs: 5 }      forward, deliver the response body in small pieces
//   { kind: 'delay', ms: 500 }                         wait, then forward
//   { kind: 'silent' }                                 read the request, never answer (until the client leaves)
//
// Faults come from rules (first match with uses left wins) or from a policy function:
//
//   proxy.setRules([{ match: { method: 'PUT', path: /\/manifests\// }, fault: { kind: 'status', status: 503 }, times: 2 }])
//   proxy.setPolicy(({ n, method }) => (n === 3 ? { kind: 'drop' } : null))
import {
  Agent,
  createServer,
  request,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse
} from 'node:http'
import type { Socket } from 'node:net'
import { listenOnLoopback, sleep } from './process.js'

export type Fault =
  /**
   * phase 'request' (default): cut the client's connection without forwarding; with `afterBytes`,
   * forward that many request-body bytes first and then cut both sides (a body that ends sooner is
   * forwarded whole, unharmed). phase 'response': forward the whole request, then cut before the
   * client sees anything (the upstream did the work, the answer is lost); with `afterBytes`, send
   * the status, headers and that many body bytes first. A request-phase cut races a client that
   * is still sending: it may see a write error (EPIPE, ECONNRESET) rather than EOF.
   */
  | { kind: 'drop'; phase?: 'request' | 'response'; afterBytes?: number }
  /** Answer with `status` (and `headers`, `body`; default a distribution-style JSON error) without forwarding. */
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  /** Forward, but write the response body in `chunkSize`-byte pieces (default 1024) `delayMs` apart (default 10). */
  | { kind: 'slow'; chunkSize?: number; delayMs?: number }
  /** Wait `ms`, then forward. */
  | { kind: 'delay'; ms: number }
  /**
   * A server that accepts and never answers: the request (and its body) is read and dropped, no
   * byte goes back; the exchange ends when the client gives up (or the proxy closes).
   */
  | { kind: 'silent' }

export interface FaultMatch {
  /** Exact method (case-insensitive), or one of several. */
  method?: string | string[]
  /** Tested against the path with its query string; a string matches as a substring. */
  path?: string | RegExp
}

export interface FaultRule {
  match?: FaultMatch
  fault: Fault
  /** Apply to this many matching requests, then stop (default: every match). */
  times?: number
  /** Let this many matching requests through first (default 0). */
  skip?: number
}

export interface PolicyRequest {
  /** 1-based count of requests the proxy has received, this one included. */
  n: number
  method: string
  /** Path with query string, as the client sent it. */
  path: string
  headers: IncomingHttpHeaders
}

export type FaultPolicy = (req: PolicyRequest) => Fault | null

export type Outcome =
  /** Still in flight. */
  | 'pending'
  /** Forwarded, and the whole response reached the client. */
  | 'ok'
  /** Answered by a `status` fault. */
  | 'status'
  /** Cut by a `drop` fault. */
  | 'dropped'
  /** The client went away before the response was complete. */
  | 'client-closed'
  /** The upstream failed (refused, reset, timed out): 502 if no headers had been sent, else cut. */
  | 'upstream-error'

export interface ProxiedRequest {
  n: number
  method: string
  path: string
  fault: Fault | null
  /** The status the client was sent; null when nothing was. */
  status: number | null
  /** Request body bytes read from the client. */
  requestBytes: number
  /** Response body bytes written to the client. */
  responseBytes: number
  outcome: Outcome
  error?: string
}

export interface FaultProxy {
  /** http://127.0.0.1:PORT */
  url: string
  /** 127.0.0.1:PORT */
  host: string
  upstream: string
  /** Every request so far, oldest first; entries are updated as requests complete. */
  readonly requests: ProxiedRequest[]
  /** Replace the rules (and their use counts). An empty list means no faults. */
  setRules(rules: FaultRule[]): void
  /** Use a function instead of rules; null goes back to the rules. */
  setPolicy(policy: FaultPolicy | null): void
  /** The requests a fault was applied to. */
  faulted(): ProxiedRequest[]
  /** Wait until no request is in flight (at most `timeoutMs`, default 10 s); false on timeout. */
  settled(timeoutMs?: number): Promise<boolean>
  /** Stop listening, cut every connection both ways. Idempotent. */
  close(): Promise<void>
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade'
])

const UPSTREAM_IDLE_MS = 60_000
const DRAIN_LIMIT_MS = 30_000

function matches(m: FaultMatch | undefined, method: string, path: string): boolean {
  if (!m) return true
  if (m.method !== undefined) {
    const methods = (Array.isArray(m.method) ? m.method : [m.method]).map((x) => x.toUpperCase())
    if (!methods.includes(method.toUpperCase())) return false
  }
  if (m.path !== undefined) {
    if (typeof m.path === 'string' ? !path.includes(m.path) : !m.path.test(path)) return false
  }
  return true
}

function registryErrorBody(status: number): string {
  const code =
    status === 429
      ? 'TOOMANYREQUESTS'
      : status === 401
        ? 'UNAUTHORIZED'
        : status >= 500
          ? 'UNAVAILABLE'
          : 'DENIED'
  return JSON.stringify({
    errors: [{ code, message: `fault injected by test proxy (${status})`, detail: null }]
  })
}

/** Resolve after the socket has flushed what was written to it, then destroy it (bounded wait). */
function destroyAfterFlush(socket: Socket | null): void {
  if (!socket) return
  setImmediate(() => {
    if (socket.destroyed) return
    if (socket.writableLength === 0) {
      socket.destroy()
      return
    }
    const timer = setTimeout(() => socket.destroy(), 5_000)
    socket.once('drain', () => {
      clearTimeout(timer)
      socket.destroy()
    })
  })
}

/** Start a fault-injecting proxy on 127.0.0.1 (OS-chosen port) in front of `upstreamUrl`. */
export async function startFaultProxy(upstreamUrl: string): Promise<FaultProxy> {
  const upstream = new URL(upstreamUrl)
  if (upstream.protocol !== 'http:') throw new Error(`fault proxy: only http upstreams (${upstreamUrl})`)
  const upstreamOrigin = upstream.origin
  const agent = new Agent({ keepAlive: true, maxSockets: 64 })
  const requests: ProxiedRequest[] = []
  const inflight = new Set<Promise<void>>()
  const sockets = new Set<Socket>()
  let rules: { rule: FaultRule; seen: number; used: number }[] = []
  let policy: FaultPolicy | null = null
  let count = 0
  let proxyOrigin = ''

  const choose = (req: PolicyRequest): Fault | null => {
    if (policy) return policy(req)
    for (const r of rules) {
      if (!matches(r.rule.match, req.method, req.path)) continue
      r.seen++
      if (r.seen <= (r.rule.skip ?? 0)) continue
      if (r.used >= (r.rule.times ?? Infinity)) continue
      r.used++
      return r.rule.fault
    }
    return null
  }

  const rewriteUrl = (value: string): string =>
    value.startsWith(upstreamOrigin) && /^($|[/?#])/.test(value.slice(upstreamOrigin.length))
      ? proxyOrigin + value.slice(upstreamOrigin.length)
      : value

  const responseHeaders = (raw: string[]): string[] => {
    const out: string[] = []
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i] as string
      let value = raw[i + 1] as string
      const lower = name.toLowerCase()
      if (HOP_BY_HOP.has(lower)) continue
      if (lower === 'location' || lower === 'content-location') value = rewriteUrl(value)
      if (lower === 'www-authenticate') {
        value = value.replace(/realm="([^"]*)"/i, (_m, realm: string) => `realm="${rewriteUrl(realm)}"`)
      }
      out.push(name, value)
    }
    return out
  }

  const handle = async (req: IncomingMessage, res: ServerResponse, entry: ProxiedRequest): Promise<void> => {
    let clientGone = false
    const socket = req.socket
    res.once('close', () => {
      if (!res.writableFinished) clientGone = true
    })
    const fault = entry.fault

    if (fault?.kind === 'delay') {
      const until = Date.now() + fault.ms
      while (!clientGone && Date.now() < until) await sleep(Math.min(20, until - Date.now()))
      if (clientGone) {
        entry.outcome = 'client-closed'
        return
      }
    }

    if (fault?.kind === 'silent') {
      req.on('data', (c: Buffer) => (entry.requestBytes += c.length))
      req.resume()
      await new Promise<void>((resolve) => {
        if (clientGone || socket.destroyed) return resolve()
        res.once('close', () => resolve())
        socket.once('close', () => resolve())
      })
      entry.outcome = 'client-closed'
      return
    }

    if (fault?.kind === 'status') {
      // Read (and discard) the body first, as a load balancer would, so the client sees the answer.
      await drain(req, (n) => (entry.requestBytes += n))
      if (clientGone || socket.destroyed) {
        entry.outcome = 'client-closed'
        return
      }
      const body = req.method === 'HEAD' ? '' : (fault.body ?? registryErrorBody(fault.status))
      res.setHeader('Content-Type', 'application/json')
      for (const [name, value] of Object.entries(fault.headers ?? {})) res.setHeader(name, value)
      res.setHeader('Content-Length', Buffer.byteLength(body))
      res.writeHead(fault.status)
      res.end(body)
      entry.status = fault.status
      entry.responseBytes = Buffer.byteLength(body)
      entry.outcome = 'status'
      await waitClosed(res)
      return
    }

    if (fault?.kind === 'drop' && (fault.phase ?? 'request') === 'request' && !fault.afterBytes) {
      entry.outcome = 'dropped'
      socket.destroy()
      return
    }

    // Forward.
    const headers: IncomingHttpHeaders = {}
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k)) headers[k] = v
    headers.host = upstream.host
    delete headers.expect // Node has already answered `100 Continue` to the client
    const up = request({
      host: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers,
      agent
    })
    up.setTimeout(UPSTREAM_IDLE_MS, () => up.destroy(new Error(`upstream idle for ${UPSTREAM_IDLE_MS} ms`)))
    let upstreamFailed: Error | null = null
    let requestDone = false
    const cutBoth = (): void => {
      up.destroy()
      socket.destroy()
    }
    res.once('close', () => {
      if (!res.writableFinished) up.destroy()
    })

    // Request body: stream, counting; a request-phase drop cuts after `afterBytes`.
    const dropAt =
      fault?.kind === 'drop' && (fault.phase ?? 'request') === 'request' ? (fault.afterBytes ?? 0) : -1
    req.on('data', (chunk: Buffer) => {
      if (dropAt >= 0) {
        const room = dropAt - entry.requestBytes
        if (chunk.length >= room) {
          entry.requestBytes += room
          entry.outcome = 'dropped'
          req.pause()
          if (room <= 0) {
            cutBoth()
          } else {
            up.write(chunk.subarray(0, room), () => cutBoth())
            setTimeout(cutBoth, 1_000).unref()
          }
          return
        }
      }
      entry.requestBytes += chunk.length
      if (!up.write(chunk)) req.pause()
    })
    up.on('drain', () => {
      if (entry.outcome === 'pending') req.resume()
    })
    req.on('end', () => {
      requestDone = true
      if (entry.outcome === 'pending') up.end()
    })
    req.on('error', () => up.destroy())

    const upRes = await new Promise<IncomingMessage | null>((resolve) => {
      up.once('response', resolve)
      up.once('error', (err) => {
        upstreamFailed = err
        resolve(null)
      })
      up.once('close', () => resolve(null))
    })

    if (!upRes) {
      if (entry.outcome !== 'pending') return
      if (clientGone) {
        entry.outcome = 'client-closed'
        return
      }
      entry.outcome = 'upstream-error'
      entry.error = String((upstreamFailed as Error | null)?.message ?? 'upstream closed')
      if (!res.headersSent) {
        const body = JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: `proxy: ${entry.error}` }] })
        res.writeHead(502, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) })
        res.end(body)
        entry.status = 502
      } else {
        socket.destroy()
      }
      return
    }

    // The upstream answered before reading the whole body: discard the rest of it.
    if (!requestDone) {
      req.removeAllListeners('data')
      req.resume()
    }
    upRes.on('error', (err) => {
      upstreamFailed = err
    })

    if (fault?.kind === 'drop' && fault.afterBytes === undefined) {
      // Response-phase drop: the upstream did the work, the client never hears of it.
      entry.outcome = 'dropped'
      upRes.destroy()
      socket.destroy()
      up.destroy()
      return
    }

    res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, responseHeaders(upRes.rawHeaders))
    entry.status = upRes.statusCode ?? 502

    if (fault?.kind === 'drop') {
      // Response-phase drop: headers, then `afterBytes` of the body, then cut.
      const limit = fault.afterBytes ?? 0
      res.flushHeaders()
      for await (const chunk of upRes as AsyncIterable<Buffer>) {
        const room = limit - entry.responseBytes
        if (room <= 0) break
        const part = chunk.subarray(0, room)
        entry.responseBytes += part.length
        res.write(part)
        if (part.length < chunk.length) break
      }
      entry.outcome = 'dropped'
      upRes.destroy()
      destroyAfterFlush(socket)
      up.destroy()
      return
    }

    const chunkSize = fault?.kind === 'slow' ? Math.max(1, fault.chunkSize ?? 1024) : Infinity
    const delayMs = fault?.kind === 'slow' ? (fault.delayMs ?? 10) : 0
    try {
      for await (const chunk of upRes as AsyncIterable<Buffer>) {
        for (let off = 0; off < chunk.length; off += chunkSize) {
          if (clientGone) break
          const part = chunkSize === Infinity ? chunk : chunk.subarray(off, off + chunkSize)
          entry.responseBytes += part.length
          if (!res.write(part)) await waitDrain(res)
          if (delayMs > 0) await sleep(delayMs)
        }
        if (clientGone) break
      }
    } catch (err) {
      upstreamFailed = err as Error
    }
    if (clientGone) {
      upRes.destroy()
      entry.outcome = 'client-closed'
      return
    }
    if (upstreamFailed || !upRes.complete) {
      entry.outcome = 'upstream-error'
      entry.error = String((upstreamFailed as Error | null)?.message ?? 'upstream response cut short')
      socket.destroy()
      return
    }
    res.end()
    await waitClosed(res)
    entry.outcome = clientGone ? 'client-closed' : 'ok'
    if (!requestDone) up.destroy()
  }

  const server = createServer((req, res) => {
    count++
    const path = req.url ?? '/'
    const method = req.method ?? 'GET'
    let fault: Fault | null = null
    let policyError: unknown = null
    try {
      fault = choose({ n: count, method, path, headers: req.headers })
    } catch (err) {
      policyError = err
    }
    const entry: ProxiedRequest = {
      n: count,
      method,
      path,
      fault,
      status: null,
      requestBytes: 0,
      responseBytes: 0,
      outcome: 'pending'
    }
    requests.push(entry)
    const p = (
      policyError
        ? Promise.reject(policyError instanceof Error ? policyError : new Error(String(policyError)))
        : handle(req, res, entry)
    )
      .catch((err: unknown) => {
        entry.outcome = 'upstream-error'
        entry.error = `proxy failure: ${err instanceof Error ? err.message : String(err)}`
        if (!res.headersSent) {
          res.writeHead(500, { 'Content-Type': 'text/plain' })
          res.end(entry.error)
        } else {
          req.socket.destroy()
        }
      })
      .finally(() => inflight.delete(p))
    inflight.add(p)
  })
  server.requestTimeout = 120_000
  server.headersTimeout = 30_000
  server.keepAliveTimeout = 5_000
  server.on('connection', (s) => {
    sockets.add(s)
    s.once('close', () => sockets.delete(s))
  })
  server.on('clientError', (_err, s) => s.destroy())

  const port = await listenOnLoopback(server)
  proxyOrigin = `http://127.0.0.1:${port}`

  let closing: Promise<void> | null = null
  return {
    url: proxyOrigin,
    host: `127.0.0.1:${port}`,
    upstream: upstreamOrigin,
    requests,
    setRules: (list) => {
      policy = null
      rules = list.map((rule) => ({ rule, seen: 0, used: 0 }))
    },
    setPolicy: (fn) => {
      policy = fn
    },
    faulted: () => requests.filter((r) => r.fault !== null),
    settled: async (timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs
      while (inflight.size > 0) {
        if (Date.now() >= deadline) return false
        await Promise.race([Promise.allSettled([...inflight]), sleep(Math.min(50, deadline - Date.now()))])
      }
      return true
    },
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const s of sockets) s.destroy()
        agent.destroy()
      }))
  }
}

/** Read and discard a request body (bounded); `onBytes` counts it. */
function drain(req: IncomingMessage, onBytes: (n: number) => void): Promise<void> {
  if (req.complete) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(done, DRAIN_LIMIT_MS)
    function done(): void {
      clearTimeout(timer)
      resolve()
    }
    req.on('data', (c: Buffer) => onBytes(c.length))
    req.once('end', done)
    req.once('close', done)
    req.once('error', done)
    req.resume()
  })
}

function waitDrain(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.once('drain', done)
    res.once('close', done)
  })
}

/** Resolves when the response is finished or closed, at most 30 s later. */
function waitClosed(res: ServerResponse): Promise<void> {
  if (res.writableFinished || res.destroyed) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(done, 30_000)
    function done(): void {
      clearTimeout(timer)
      resolve()
    }
    res.once('finish', done)
    res.once('close', done)
  })
}
