// A package index on 127.0.0.1 for tests, speaking the simple repository API as PyPI does:
//
//   GET /simple/                 the project list
//   GET /simple/<project>/       the project's files: PEP 691 JSON or PEP 503 HTML, chosen by the
//                                Accept header's q-values (PyPI's rules; no Accept or */* gives
//                                HTML), or forced with `format`; a name that is not normalized, or
//                                a missing trailing slash, is a 301 to the canonical URL (as PyPI)
//   GET /files/<filename>        the file's bytes
//   GET /moved/<path>            a 302 to /<path> (redirects of pages and downloads)
//
// Options: Basic auth on every request; `corrupt` (serve other bytes than the listed hash);
// fault rules (a status the first N times, a connection cut after N body bytes, a stall); a
// request log with what each request got; the most downloads in flight at once.
import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

export interface ServedFile {
  readonly project: string
  readonly filename: string
  readonly bytes: Buffer | Uint8Array | string
  readonly requiresPython?: string
  readonly yanked?: boolean | string
}

export type PypiFault =
  /** Answer with this status (and headers) instead. */
  | { readonly kind: 'status'; readonly status: number; readonly headers?: Record<string, string> }
  /** Send the status, the full Content-Length and `afterBytes` body bytes (default half), then cut the connection. */
  | { readonly kind: 'drop'; readonly afterBytes?: number }
  /** Send the headers and `afterBytes` bytes (default 0), then nothing, keeping the connection open. */
  | { readonly kind: 'stall'; readonly afterBytes?: number }
  /** Wait `ms`, then answer normally (to make concurrency observable). */
  | { readonly kind: 'delay'; readonly ms: number }

export interface PypiFaultRule {
  /** Matches the request path (a string: exact path or a substring). */
  readonly path: string | RegExp
  readonly fault: PypiFault
  /** Apply to this many matching requests (default: all). */
  readonly times?: number
}

export interface PypiServerOptions {
  readonly files: readonly ServedFile[]
  /** 'negotiate' (default) by Accept, or always one format. */
  readonly format?: 'negotiate' | 'json' | 'html'
  readonly auth?: { readonly username: string; readonly password: string }
  /** Serve different bytes than listed (for every file, or these file names). */
  readonly corrupt?: boolean | readonly string[]
  readonly faults?: readonly PypiFaultRule[]
  /** File URLs on pages as absolute `http://127.0.0.1:port/files/…` (default relative `../../files/…`). */
  readonly absoluteUrls?: boolean
  /** List `#sha256=` / `hashes` on pages (default true). */
  readonly listHashes?: boolean
}

export interface LoggedRequest {
  readonly method: string
  readonly path: string
  readonly accept: string | null
  readonly authorization: string | null
  /** What it got: a status, or the fault applied. */
  readonly outcome: number | 'drop' | 'stall'
  /** For project pages: the format served. */
  readonly format?: 'json' | 'html'
}

export interface PypiServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  /** `http://127.0.0.1:<port>/simple` */
  readonly simpleUrl: string
  readonly requests: LoggedRequest[]
  /** Requests for /files/…, in order. */
  fileRequests(): LoggedRequest[]
  /** The most /files/ responses in flight at once. */
  readonly maxInFlight: number
  sha256(filename: string): string
  fileUrl(filename: string): string
  setFaults(rules: readonly PypiFaultRule[]): void
  close(): Promise<void>
}

export function normalize(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-')
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/** Accept negotiation as PyPI (warehouse) does: the highest q among the types we serve; ties go to JSON. */
export function negotiate(accept: string | undefined): 'json' | 'v1-html' | 'html' | null {
  if (!accept || accept.trim() === '') return 'html'
  const offers: Record<string, 'json' | 'v1-html' | 'html'> = {
    'application/vnd.pypi.simple.v1+json': 'json',
    'application/vnd.pypi.simple.latest+json': 'json',
    'application/vnd.pypi.simple.v1+html': 'v1-html',
    'application/vnd.pypi.simple.latest+html': 'v1-html',
    'text/html': 'html'
  }
  let best: { kind: 'json' | 'v1-html' | 'html'; q: number; order: number } | null = null
  const order = { json: 0, 'v1-html': 1, html: 2 }
  for (const part of accept.split(',')) {
    const [type, ...params] = part.trim().split(';')
    const t = (type ?? '').trim().toLowerCase()
    let q = 1
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/.exec(p)
      if (m) q = Number(m[1])
    }
    if (q <= 0) continue
    const kinds: ('json' | 'v1-html' | 'html')[] =
      t === '*/*' ? ['html'] : offers[t] !== undefined ? [offers[t]] : []
    for (const kind of kinds) {
      if (!best || q > best.q || (q === best.q && order[kind] < best.order))
        best = { kind, q, order: order[kind] }
    }
  }
  return best?.kind ?? null
}

export async function startPypiServer(options: PypiServerOptions): Promise<PypiServer> {
  const files = options.files.map((f) => {
    const bytes = Buffer.from(typeof f.bytes === 'string' ? Buffer.from(f.bytes) : f.bytes)
    return { ...f, bytes, sha256: createHash('sha256').update(bytes).digest('hex') }
  })
  const byFile = new Map(files.map((f) => [f.filename, f]))
  const projects = new Map<string, typeof files>()
  for (const f of files) {
    const p = normalize(f.project)
    projects.set(p, [...(projects.get(p) ?? []), f])
  }
  const requests: LoggedRequest[] = []
  let rules = (options.faults ?? []).map((r) => ({ ...r, left: r.times ?? Infinity }))
  let inFlight = 0
  let maxInFlight = 0
  const sockets = new Set<Socket>()
  let base = ''

  const corrupt = (filename: string) =>
    options.corrupt === true || (Array.isArray(options.corrupt) && options.corrupt.includes(filename))

  const fileHref = (filename: string) =>
    options.absoluteUrls
      ? `${base}/files/${encodeURIComponent(filename)}`
      : `../../files/${encodeURIComponent(filename)}`

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/')
    const entry: {
      method: string
      path: string
      accept: string | null
      authorization: string | null
      outcome: LoggedRequest['outcome']
      format?: 'json' | 'html'
    } = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      accept: req.headers.accept ?? null,
      authorization: req.headers.authorization ?? null,
      outcome: 200
    }
    requests.push(entry)
    const send = (status: number, body: string | Buffer, headers: Record<string, string> = {}) => {
      entry.outcome = status
      res.writeHead(status, { 'content-length': String(Buffer.byteLength(body)), ...headers })
      res.end(body)
    }

    if (options.auth) {
      const want = `Basic ${Buffer.from(`${options.auth.username}:${options.auth.password}`).toString('base64')}`
      if (req.headers.authorization !== want) {
        return send(401, 'unauthorized', { 'www-authenticate': 'Basic realm="pypi"' })
      }
    }

    const rule = rules.find(
      (r) => r.left > 0 && (typeof r.path === 'string' ? path.includes(r.path) : r.path.test(path))
    )
    if (rule) rule.left--
    const fault = rule?.fault ?? null
    if (fault?.kind === 'status') return send(fault.status, `fault ${fault.status}`, fault.headers ?? {})
    if (fault?.kind === 'delay') {
      // Counted as in flight while it waits.
      const files = path.startsWith('/files/')
      if (files) {
        inFlight++
        maxInFlight = Math.max(maxInFlight, inFlight)
      }
      setTimeout(() => {
        if (files) inFlight--
        route(req, res, entry, path, null)
      }, fault.ms)
      return
    }
    if (fault && !path.startsWith('/files/')) {
      // Pages: a drop cuts the connection before any answer; a stall never answers.
      entry.outcome = fault.kind
      if (fault.kind === 'drop') req.socket.destroy()
      return
    }
    route(req, res, entry, path, fault)
  }

  const route = (
    req: IncomingMessage,
    res: ServerResponse,
    entry: { outcome: LoggedRequest['outcome']; format?: 'json' | 'html' },
    path: string,
    fault: PypiFault | null
  ) => {
    const send = (status: number, body: string | Buffer, headers: Record<string, string> = {}) => {
      entry.outcome = status
      res.writeHead(status, { 'content-length': String(Buffer.byteLength(body)), ...headers })
      res.end(body)
    }

    if (path.startsWith('/moved/')) {
      return send(302, '', { location: path.slice('/moved'.length) })
    }

    if (path === '/simple' || path === '/simple/') {
      if (path === '/simple') return send(301, '', { location: '/simple/' })
      const names = [...projects.keys()].sort()
      const kind =
        options.format === 'json'
          ? 'json'
          : options.format === 'html'
            ? 'html'
            : negotiate(req.headers.accept)
      if (kind === 'json') {
        return send(
          200,
          JSON.stringify({
            meta: { 'api-version': '1.1', '_last-serial': 1 },
            projects: names.map((name) => ({ name }))
          }),
          { 'content-type': 'application/vnd.pypi.simple.v1+json' }
        )
      }
      return send(
        200,
        `<!DOCTYPE html>\n<html>\n  <body>\n${names.map((n) => `    <a href="/simple/${n}/">${n}</a>`).join('\n')}\n  </body>\n</html>`,
        { 'content-type': 'text/html' }
      )
    }

    const page = /^\/simple\/([^/]+)(\/?)$/.exec(path)
    if (page) {
      const raw = page[1]!
      const name = normalize(raw)
      if (raw !== name || page[2] === '') return send(301, '', { location: `/simple/${name}/` })
      const list = projects.get(name)
      if (!list) return send(404, 'Not Found')
      const negotiated =
        options.format === 'json'
          ? 'json'
          : options.format === 'html'
            ? 'html'
            : negotiate(req.headers.accept)
      if (negotiated === null) return send(406, 'Not Acceptable')
      const listHashes = options.listHashes ?? true
      if (negotiated === 'json') {
        entry.format = 'json'
        const body = {
          meta: { '_last-serial': 25_000_000, 'api-version': '1.1' },
          name,
          'project-status': { status: 'active' },
          versions: [],
          files: list.map((f) => ({
            'core-metadata': false,
            'data-dist-info-metadata': false,
            filename: f.filename,
            hashes: listHashes ? { sha256: f.sha256 } : {},
            'requires-python': f.requiresPython ?? null,
            size: f.bytes.length,
            'upload-time': '2024-01-01T00:00:00.000000Z',
            url: fileHref(f.filename),
            yanked: f.yanked ?? false
          }))
        }
        return send(200, JSON.stringify(body), { 'content-type': 'application/vnd.pypi.simple.v1+json' })
      }
      entry.format = 'html'
      const anchors = list.map((f) => {
        const attrs = [
          `href="${fileHref(f.filename)}${listHashes ? `#sha256=${f.sha256}` : ''}"`,
          ...(f.requiresPython ? [`data-requires-python="${escapeHtml(f.requiresPython)}"`] : []),
          ...(f.yanked ? [`data-yanked="${f.yanked === true ? '' : escapeHtml(f.yanked)}"`] : [])
        ]
        return `    <a ${attrs.join(' ')}>${escapeHtml(f.filename)}</a><br />`
      })
      const html =
        `<!DOCTYPE html>\n<html>\n  <head>\n    <meta name="pypi:repository-version" content="1.1">\n` +
        `    <title>Links for ${name}</title>\n  </head>\n  <body>\n    <h1>Links for ${name}</h1>\n` +
        `${anchors.join('\n')}\n  </body>\n</html>\n<!--SERIAL 25000000-->\n`
      return send(200, html, {
        'content-type': negotiated === 'v1-html' ? 'application/vnd.pypi.simple.v1+html' : 'text/html'
      })
    }

    const file = /^\/files\/([^/]+)$/.exec(path)
    if (file) {
      const f = byFile.get(file[1]!)
      if (!f) return send(404, 'Not Found')
      let bytes = f.bytes
      if (corrupt(f.filename)) {
        bytes = Buffer.from(bytes)
        bytes[0] = (bytes[0] ?? 0) ^ 0xff
      }
      inFlight++
      maxInFlight = Math.max(maxInFlight, inFlight)
      res.on('close', () => inFlight--)
      if (fault?.kind === 'drop' || fault?.kind === 'stall') {
        entry.outcome = fault.kind
        const n = Math.min(bytes.length, fault.afterBytes ?? (fault.kind === 'drop' ? bytes.length >> 1 : 0))
        res.writeHead(200, {
          'content-length': String(bytes.length),
          'content-type': 'application/octet-stream'
        })
        res.write(bytes.subarray(0, n), () => {
          if (fault.kind === 'drop') setTimeout(() => req.socket.destroy(), 10)
        })
        return
      }
      // Stream in pieces so large files take several writes.
      entry.outcome = 200
      res.writeHead(200, {
        'content-length': String(bytes.length),
        'content-type': 'application/octet-stream'
      })
      const chunk = 64 * 1024
      let at = 0
      const pump = () => {
        while (at < bytes.length) {
          const piece = bytes.subarray(at, at + chunk)
          at += piece.length
          if (!res.write(piece)) return res.once('drain', pump)
        }
        res.end()
      }
      pump()
      return
    }
    send(404, 'Not Found')
  }

  const server = createServer(handle)
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  base = `http://127.0.0.1:${port}`

  return {
    url: base,
    simpleUrl: `${base}/simple`,
    requests,
    fileRequests: () => requests.filter((r) => r.path.startsWith('/files/')),
    get maxInFlight() {
      return maxInFlight
    },
    sha256: (filename) => {
      const f = byFile.get(filename)
      if (!f) throw new Error(`the test server has no ${filename}`)
      return f.sha256
    },
    fileUrl: (filename) => `${base}/files/${encodeURIComponent(filename)}`,
    setFaults: (r) => {
      rules = r.map((x) => ({ ...x, left: x.times ?? Infinity }))
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      })
  }
}
