// The per-request deadline (src/net/deadline.ts) of the HTTP client, against small servers on
// 127.0.0.1 that misbehave at the socket level: one that accepts and never answers, one that never
// reads a request body, one that trickles its answer a byte at a time. Each request ends within
// its bound with a message naming the host and what was waited for; healthy but slow-starting or
// slowly-produced transfers are not cut.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http'
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { HttpClient } from '../../src/net/http.js'
import { TransientHttpError } from '../../src/net/errors.js'
import { listenOnLoopback, sleep } from '../support/process.js'
import { tempDir } from '../support/project.js'

const T = 500

/** A TCP server that accepts and then does nothing: reads nothing, answers nothing. */
async function startSilent(): Promise<{ host: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>()
  const server: NetServer = createNetServer((s) => {
    sockets.add(s)
    s.pause() // never read: the client's body backs up
    s.on('close', () => sockets.delete(s))
    s.on('error', () => undefined)
  })
  const port = await listenOnLoopback(server as unknown as HttpServer)
  return {
    host: `127.0.0.1:${port}`,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy()
        server.close(() => r())
      })
  }
}

let silent: Awaited<ReturnType<typeof startSilent>>
let web: HttpServer
let webHost: string
const webSockets = new Set<Socket>()

beforeAll(async () => {
  silent = await startSilent()
  web = createHttpServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x')
    if (u.pathname === '/trickle') {
      // 1000 bytes, one every 50 ms: never idle, hopelessly slow.
      res.writeHead(200, { 'content-length': '1000' })
      let n = 0
      const t = setInterval(() => {
        if (res.destroyed || n >= 1000) return clearInterval(t)
        res.write('x')
        n++
      }, 50)
      res.on('close', () => clearInterval(t))
      return
    }
    if (u.pathname === '/late-then-fast') {
      // Thinks for a good part of the deadline (`ms`), then sends `bytes` (4 MB) at full speed.
      const bytes = Number(u.searchParams.get('bytes') ?? 4 << 20)
      setTimeout(
        () => {
          res.writeHead(200, { 'content-length': String(bytes) })
          res.end(Buffer.alloc(bytes, 1))
        },
        Number(u.searchParams.get('ms') ?? T * 0.4)
      )
      return
    }
    if (u.pathname === '/upload') {
      let n = 0
      req.on('data', (c: Buffer) => (n += c.length))
      req.on('end', () => {
        res.writeHead(201, { 'content-type': 'text/plain' })
        res.end(String(n))
      })
      return
    }
    res.writeHead(404)
    res.end()
  })
  web.on('connection', (s) => {
    webSockets.add(s)
    s.on('close', () => webSockets.delete(s))
  })
  webHost = `127.0.0.1:${await listenOnLoopback(web)}`
})

afterAll(async () => {
  await silent?.close()
  for (const s of webSockets) s.destroy()
  await new Promise<void>((r) => (web ? web.close(() => r()) : r()))
})

async function timed<T>(p: Promise<T>): Promise<{ value: T | null; error: unknown; ms: number }> {
  const start = Date.now()
  try {
    return { value: await p, error: null, ms: Date.now() - start }
  } catch (e) {
    return { value: null, error: e, ms: Date.now() - start }
  }
}

describe('HttpClient deadlines', () => {
  let http: HttpClient
  beforeAll(() => {
    http = new HttpClient({ requestTimeoutMs: T })
  })
  afterAll(() => http.close())

  it('a server that accepts and never answers: no answer within the deadline', async () => {
    const r = await timed(http.request({ method: 'GET', url: `http://${silent.host}/v2/` }))
    expect(r.error).toBeInstanceOf(TransientHttpError)
    expect((r.error as TransientHttpError).message).toBe(`${silent.host}: no answer to GET /v2/ within 0.5 s`)
    expect((r.error as TransientHttpError).kind).toBe('timeout')
    expect((r.error as TransientHttpError).host).toBe(silent.host)
    expect(r.ms).toBeGreaterThanOrEqual(T - 50)
    expect(r.ms).toBeLessThan(T + 1000)
  })

  it('the same for a PUT whose body the server never reads, and for downloads', async () => {
    const body = Buffer.alloc(8 << 20, 7) // far more than the socket buffers take
    const put = await timed(
      http.request({ method: 'PUT', url: `http://${silent.host}/v2/app/blobs/uploads/u?_state=secret`, body })
    )
    expect((put.error as Error).message).toBe(
      `${silent.host}: no answer to PUT /v2/app/blobs/uploads/u?… within 0.5 s`
    )
    expect(put.ms).toBeLessThan(T + 1000)
    const get = await timed(
      http.download({ url: `http://${silent.host}/v2/app/blobs/sha256:ab` }, join(tempDir(), 'b'))
    )
    expect((get.error as Error).message).toBe(
      `${silent.host}: no answer to GET /v2/app/blobs/sha256:ab within 0.5 s`
    )
    expect(get.ms).toBeLessThan(T + 1000)
  })

  it('an answer that trickles is cut as too slow, though it is never idle', async () => {
    const r = await timed(http.request({ method: 'GET', url: `http://${webHost}/trickle` }))
    expect(r.error).toBeInstanceOf(TransientHttpError)
    expect((r.error as TransientHttpError).kind).toBe('slow')
    expect((r.error as Error).message).toMatch(
      new RegExp(
        `^${webHost.replace(/\./g, '\\.')}: GET /trickle too slow \\(\\d+ bytes in [\\d.]+ s; the floor past 0\\.5 s is 16 KiB/s\\)$`
      )
    )
    expect(r.ms).toBeLessThan(T + 1000)
  })

  it('a server that thinks, then sends fast, is not cut', async () => {
    const r = await timed(http.request({ method: 'GET', url: `http://${webHost}/late-then-fast` }))
    expect(r.error).toBeNull()
    expect(r.value!.body.length).toBe(4 << 20)
  })

  it('time queued for one of the pool’s connections does not count', async () => {
    // 8 connections per client: 24 requests that each take 0.4 of the deadline run in three
    // rounds, so the last round ends past the deadline, counted from when it was asked for.
    // Small bodies and a 2 s deadline: the margin (0.6 of it per request) holds on a loaded machine.
    const pool = new HttpClient({ requestTimeoutMs: 2000 })
    try {
      const all = await Promise.all(
        Array.from({ length: 24 }, () =>
          timed(
            pool.request({
              method: 'GET',
              url: `http://${webHost}/late-then-fast?ms=800&bytes=65536`,
              maxBody: 8 << 20
            })
          )
        )
      )
      expect(all.map((r) => r.error)).toEqual(all.map(() => null))
      expect(Math.max(...all.map((r) => r.ms))).toBeGreaterThan(2000)
    } finally {
      pool.close()
    }
  })

  it('a streamed upload: a slow producer is not the network; a server that stops reading is', async () => {
    const s = http.stream({ method: 'PATCH', url: `http://${webHost}/upload` })
    for (let i = 0; i < 3; i++) {
      await s.write(Buffer.alloc(1000, i))
      await sleep(T * 1.5) // compressing something big, say
    }
    const res = await s.end()
    expect(res.status).toBe(201)
    expect(res.body.toString()).toBe('3000')

    const stuck = http.stream({ method: 'PATCH', url: `http://${silent.host}/v2/app/blobs/uploads/u` })
    const start = Date.now()
    const chunk = Buffer.alloc(1 << 20)
    let error: unknown = null
    try {
      for (let i = 0; i < 64; i++) await stuck.write(chunk)
    } catch (e) {
      error = e
    }
    // The write waiting for 'drain' is rejected, not left pending for ever.
    expect((error as Error).message).toBe(
      `${silent.host}: no answer to PATCH /v2/app/blobs/uploads/u within 0.5 s`
    )
    expect(Date.now() - start).toBeLessThan(T + 1000)
    await expect(stuck.end()).rejects.toThrow(/no answer/)
  })
})
