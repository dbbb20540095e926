// The one HTTP client (src/net/http.ts) against two small servers on 127.0.0.1 (two origins):
// redirects and where credentials go on the way, downloads hashed and cut short, the errors a
// caller gets (and that no secret is in them), and the retry rule applied to statuses.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import { join } from 'node:path'
import { HttpError, TransientHttpError, UnknownHostError } from '../../src/net/errors.js'
import { HttpClient, throwIfTransient } from '../../src/net/http.js'
import { listenOnLoopback } from '../support/process.js'
import { tempDir } from '../support/project.js'

interface Seen {
  readonly path: string
  readonly authorization: string | null
}

const BODY = Buffer.from('the wheel bytes '.repeat(1000))
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')

/** A server whose paths say what to do: /to/<url> redirects there, /loop loops, /file serves BODY. */
function start(seen: Seen[]): Promise<{ server: Server; url: string }> {
  const server = createServer((req: IncomingMessage, res) => {
    const path = req.url ?? '/'
    seen.push({ path, authorization: req.headers.authorization ?? null })
    if (path.startsWith('/to/')) {
      res.writeHead(302, { location: decodeURIComponent(path.slice(4)) })
      return res.end()
    }
    if (path === '/loop') {
      res.writeHead(307, { location: '/loop' })
      return res.end()
    }
    if (path === '/file') {
      res.writeHead(200, { 'content-length': String(BODY.length) })
      return res.end(BODY)
    }
    if (path === '/short') {
      // Announces more than it sends, then closes: a connection that dropped mid-body.
      res.writeHead(200, { 'content-length': String(BODY.length) })
      res.write(BODY.subarray(0, 100))
      return setTimeout(() => res.socket?.destroy(), 20)
    }
    if (path === '/busy') {
      res.writeHead(503, { 'retry-after': '2' })
      return res.end('busy')
    }
    res.writeHead(404)
    res.end('no')
  })
  return listenOnLoopback(server).then((port) => ({ server, url: `http://127.0.0.1:${port}` }))
}

const seenA: Seen[] = []
const seenB: Seen[] = []
let a: { server: Server; url: string }
let b: { server: Server; url: string }
let http: HttpClient

beforeAll(async () => {
  a = await start(seenA)
  b = await start(seenB)
  http = new HttpClient({ requestTimeoutMs: 5000 })
})

afterAll(async () => {
  http.close()
  await new Promise<void>((r) => a.server.close(() => r()))
  await new Promise<void>((r) => b.server.close(() => r()))
})

const onlyA = (u: string) => (new URL(u).origin === new URL(a.url).origin ? 'Bearer for-a' : null)

describe('HttpClient', () => {
  it('follows redirects when asked; the credential goes to its own origin only', async () => {
    seenA.length = 0
    seenB.length = 0
    const res = await http.request({
      method: 'GET',
      url: `${a.url}/to/${encodeURIComponent(`${b.url}/to/${encodeURIComponent(`${a.url}/file`)}`)}`,
      maxRedirects: 5,
      authorize: onlyA
    })
    expect(res.status).toBe(200)
    expect(res.url).toBe(`${a.url}/file`)
    expect(res.body.equals(BODY)).toBe(true)
    expect(seenA.map((s) => s.authorization)).toEqual(['Bearer for-a', 'Bearer for-a'])
    expect(seenB.map((s) => s.authorization)).toEqual([null])
  })

  it('does not follow redirects unless asked: the redirect is the answer', async () => {
    const res = await http.request({ method: 'GET', url: `${a.url}/to/%2Ffile` })
    expect(res.status).toBe(302)
    expect(res.headers['location']).toBe('/file')
  })

  it('a redirect loop and a redirect to a file:// URL are HttpErrors that say so', async () => {
    const loop = await http.request({ method: 'GET', url: `${a.url}/loop`, maxRedirects: 3 }).catch((e) => e)
    expect(loop).toBeInstanceOf(HttpError)
    expect((loop as HttpError).message).toBe(`GET ${a.url}/loop: redirected more than 3 times`)
    const local = await http
      .download(
        { url: `${a.url}/to/${encodeURIComponent('file:///etc/passwd')}`, maxRedirects: 3 },
        join(tempDir(), 'x')
      )
      .catch((e) => e)
    expect(local).toBeInstanceOf(HttpError)
    expect((local as HttpError).message).toMatch(
      /redirected to file:\/\/\/etc\/passwd, which is not http\(s\)$/
    )
  })

  it('userinfo in a URL is never sent, and never shown', async () => {
    seenA.length = 0
    const withUser = a.url.replace('http://', 'http://ci:S3CRET@')
    const res = await http.request({ method: 'GET', url: `${withUser}/nothing?token=S3CRET` })
    expect(res.status).toBe(404)
    expect(seenA[0]!.authorization).toBeNull()
    const gone = await http
      .request({ method: 'GET', url: `http://ci:S3CRET@127.0.0.1:1/x?token=S3CRET` })
      .catch((e) => e)
    expect(gone).toBeInstanceOf(TransientHttpError)
    expect((gone as Error).message).toBe('GET http://127.0.0.1:1/x?…: connection dropped (ECONNREFUSED)')
  })

  it('downloads to a file, hashing it, with progress from 0 to the total', async () => {
    const file = join(tempDir(), 'f')
    const progress: [number, number | null][] = []
    const res = await http.download({ url: `${a.url}/file`, onBytes: (n, t) => progress.push([n, t]) }, file)
    expect(res).toMatchObject({ status: 200, size: BODY.length, sha256: sha256(BODY) })
    expect(readFileSync(file).equals(BODY)).toBe(true)
    expect(progress[0]).toEqual([0, BODY.length])
    expect(progress.at(-1)).toEqual([BODY.length, BODY.length])
  })

  it('a download cut short is a TransientHttpError (worth another attempt)', async () => {
    const e = await http.download({ url: `${a.url}/short` }, join(tempDir(), 's')).catch((x) => x)
    expect(e).toBeInstanceOf(TransientHttpError)
    expect((e as TransientHttpError).kind).toBe('dropped')
  })

  it('an answer other than 200 is returned by download with its body, nothing written', async () => {
    const res = await http.download({ url: `${a.url}/nothing` }, join(tempDir(), 'n'))
    expect(res).toMatchObject({ status: 404, sha256: null, size: 0 })
    expect(res.body.toString()).toBe('no')
  })

  it('throwIfTransient: 503 with Retry-After becomes a TransientHttpError; 404 passes', async () => {
    const busy = await http.request({ method: 'GET', url: `${a.url}/busy` })
    const e = (() => {
      try {
        throwIfTransient(busy)
        return null
      } catch (x) {
        return x
      }
    })()
    expect(e).toBeInstanceOf(TransientHttpError)
    expect(e).toMatchObject({ status: 503, retryAfterMs: 2000, host: new URL(a.url).host, kind: 'status' })
    expect((e as Error).message).toBe(`GET ${a.url}/busy: 503`)
    expect(() => throwIfTransient({ method: 'GET', status: 404, headers: {}, url: a.url })).not.toThrow()
  })

  it('a host that does not resolve is an UnknownHostError, not retried', async () => {
    const e = await http.request({ method: 'GET', url: 'http://no-such-host.invalid/x' }).catch((x) => x)
    expect(e).toBeInstanceOf(UnknownHostError)
    expect(e).toMatchObject({ host: 'no-such-host.invalid', temporary: false })
    expect((e as Error).message).toBe('cannot reach no-such-host.invalid: no such host')
  })
})
