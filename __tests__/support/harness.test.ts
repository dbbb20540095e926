// The registry test harness against real clients (skopeo, fetch): a real distribution registry with
// no auth, htpasswd auth and token auth (our issuer), and the fault-injecting proxy in front of it.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { randomBytes } from 'node:crypto'
import { request } from 'node:http'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startFaultProxy, type FaultProxy } from './fault-proxy.js'
import { sha256, writeOciLayout, type OciLayoutImage } from './oci-layout.js'
import { basicAuthHeader, startRegistry, type RegistryAuth, type TestRegistry } from './registry.js'
import { skopeoCopy, skopeoInspect } from './skopeo.js'
import { startTokenIssuer } from './token-issuer.js'

const timeout = (ms = 10_000): { signal: AbortSignal } => ({ signal: AbortSignal.timeout(ms) })

let work: string
let image: OciLayoutImage

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fast-build-harness-'))
  image = writeOciLayout(join(work, 'layout'), { tag: 'v1', layerCount: 2 })
})

afterAll(() => {
  rmSync(work, { recursive: true, force: true })
})

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe.each<RegistryAuth>(['none', 'basic', 'token'])('a real registry with auth=%s', (auth) => {
  let reg: TestRegistry | undefined

  beforeAll(async () => {
    reg = await startRegistry({ auth })
  })

  afterAll(async () => {
    await reg?.stop()
  })

  it('takes a push from skopeo and answers skopeo inspect', async () => {
    const r = reg as TestRegistry
    const dest = `docker://${r.host}/harness/small:v1`
    const push = await skopeoCopy(image.ref, dest, { creds: r.credentials })
    expect(push.stderr).toBe('')
    expect(push.code).toBe(0)

    const inspect = await skopeoInspect(dest, { creds: r.credentials, raw: true })
    expect(inspect.code).toBe(0)
    expect(sha256(inspect.stdout)).toBe(image.manifest.digest)

    if (auth !== 'none') {
      const anonymous = await skopeoInspect(dest)
      expect(anonymous.code).not.toBe(0)
      const wrong = await skopeoInspect(dest, { creds: { username: 'fast-build', password: 'wrong' } })
      expect(wrong.code).not.toBe(0)
    }
  })

  it('challenges /v2/ the way its auth mode says', async () => {
    const r = reg as TestRegistry
    const res = await fetch(`${r.url}/v2/`, timeout())
    await res.arrayBuffer()
    if (auth === 'none') {
      expect(res.status).toBe(200)
      expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0')
    } else if (auth === 'basic') {
      expect(res.status).toBe(401)
      expect(res.headers.get('www-authenticate')).toBe('Basic realm="fast-build-test"')
      const ok = await fetch(`${r.url}/v2/`, {
        ...timeout(),
        headers: { Authorization: basicAuthHeader(r.credentials!) }
      })
      expect(ok.status).toBe(200)
    } else {
      const issuer = r.tokenIssuer!
      expect(res.status).toBe(401)
      expect(res.headers.get('www-authenticate')).toBe(
        `Bearer realm="${issuer.realm}",service="${issuer.service}"`
      )
      const res2 = await fetch(`${r.url}/v2/harness/small/manifests/v1`, timeout())
      await res2.arrayBuffer()
      expect(res2.headers.get('www-authenticate')).toBe(
        `Bearer realm="${issuer.realm}",service="${issuer.service}",scope="repository:harness/small:pull"`
      )
    }
  })

  if (auth !== 'token') return

  it('token: the issuer saw pull,push on the pushed repository and refuses wrong credentials', async () => {
    const r = reg as TestRegistry
    const issuer = r.tokenIssuer!
    const authed = issuer.requests.filter((q) => q.status === 200)
    expect(authed.length).toBeGreaterThan(0)
    expect(authed.every((q) => q.authPresent && q.username === r.credentials!.username)).toBe(true)
    expect(authed.every((q) => q.service === issuer.service)).toBe(true)
    const scopes = authed.flatMap((q) => q.scopes)
    expect(scopes).toContain('repository:harness/small:pull,push')
    expect(authed.flatMap((q) => q.granted)).toContainEqual({
      type: 'repository',
      name: 'harness/small',
      actions: ['pull', 'push']
    })
    // skopeo's failed attempts with a wrong password were refused.
    expect(issuer.requests.some((q) => q.status === 401 && q.authPresent)).toBe(true)
    expect(JSON.stringify(issuer.requests)).not.toContain(r.credentials!.password)

    const wrong = await fetch(
      `${issuer.realm}?service=${issuer.service}&scope=repository:harness/small:pull`,
      {
        ...timeout(),
        headers: { Authorization: basicAuthHeader({ username: 'fast-build', password: 'nope' }) }
      }
    )
    expect(wrong.status).toBe(401)
    expect(await wrong.json()).toMatchObject({ errors: [{ code: 'UNAUTHORIZED' }] })
    const anonymous = await fetch(
      `${issuer.realm}?service=${issuer.service}&scope=repository:harness/small:pull`,
      timeout()
    )
    expect(anonymous.status).toBe(401)
  })

  it('token: a GET token reads the manifest; a pull-only token cannot push; POST /token works', async () => {
    const r = reg as TestRegistry
    const issuer = r.tokenIssuer!
    const creds = { Authorization: basicAuthHeader(r.credentials!) }
    const get = await fetch(
      `${issuer.realm}?service=${issuer.service}&scope=repository:harness/small:pull&account=${r.credentials!.username}`,
      { ...timeout(), headers: creds }
    )
    expect(get.status).toBe(200)
    const body = (await get.json()) as {
      token: string
      access_token: string
      expires_in: number
      issued_at: string
    }
    expect(body.access_token).toBe(body.token)
    expect(body.expires_in).toBe(300)
    expect(issuer.decode(body.token).header).toMatchObject({ alg: 'RS256', typ: 'JWT' })
    expect(issuer.decode(body.token).claims).toMatchObject({
      iss: issuer.issuer,
      aud: issuer.service,
      sub: r.credentials!.username,
      access: [{ type: 'repository', name: 'harness/small', actions: ['pull'] }]
    })

    const manifest = await fetch(`${r.url}/v2/harness/small/manifests/v1`, {
      ...timeout(),
      headers: { Authorization: `Bearer ${body.token}`, Accept: image.manifest.mediaType }
    })
    expect(manifest.status).toBe(200)
    expect(sha256(Buffer.from(await manifest.arrayBuffer()))).toBe(image.manifest.digest)

    const push = await fetch(`${r.url}/v2/harness/small/blobs/uploads/`, {
      ...timeout(),
      method: 'POST',
      headers: { Authorization: `Bearer ${body.token}` }
    })
    await push.arrayBuffer()
    expect(push.status).toBe(401)
    expect(push.headers.get('www-authenticate')).toContain('error="insufficient_scope"')

    const expired = issuer.mint({
      exp: Math.floor(Date.now() / 1000) - 3600,
      access: [{ type: 'repository', name: 'harness/small', actions: ['pull'] }]
    })
    const stale = await fetch(`${r.url}/v2/harness/small/tags/list`, {
      ...timeout(),
      headers: { Authorization: `Bearer ${expired}` }
    })
    await stale.arrayBuffer()
    expect(stale.status).toBe(401)
    expect(stale.headers.get('www-authenticate')).toContain('error="invalid_token"')

    const post = await fetch(issuer.realm, {
      ...timeout(),
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'password',
        username: r.credentials!.username,
        password: r.credentials!.password,
        service: issuer.service,
        client_id: 'fast-build-test',
        access_type: 'offline',
        scope: 'repository:harness/small:pull'
      })
    })
    expect(post.status).toBe(200)
    const oauth = (await post.json()) as { access_token: string; refresh_token?: string; scope: string }
    expect(oauth.scope).toBe('repository:harness/small:pull')
    expect(oauth.refresh_token).toBeDefined()
    const tags = await fetch(`${r.url}/v2/harness/small/tags/list`, {
      ...timeout(),
      headers: { Authorization: `Bearer ${oauth.access_token}` }
    })
    expect(await tags.json()).toEqual({ name: 'harness/small', tags: ['v1'] })

    const badPost = await fetch(issuer.realm, {
      ...timeout(),
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'password',
        username: r.credentials!.username,
        password: 'nope',
        service: issuer.service,
        client_id: 'fast-build-test'
      })
    })
    expect(badPost.status).toBe(401)
    expect(await badPost.json()).toMatchObject({ error: 'invalid_grant' })
  })
})

describe('registry lifecycle', () => {
  it('stop() kills the process, removes its temp dirs, and can be called twice', async () => {
    const reg = await startRegistry()
    try {
      expect(pidAlive(reg.pid)).toBe(true)
      expect(existsSync(reg.storageDir)).toBe(true)
    } finally {
      await reg.stop()
    }
    expect(pidAlive(reg.pid)).toBe(false)
    expect(existsSync(reg.storageDir)).toBe(false)
    await reg.stop()
  })

  it('anonymous pull can be allowed on a shared token issuer', async () => {
    const issuer = await startTokenIssuer({ anonymousPull: true })
    const reg = await startRegistry({ auth: 'token', tokenIssuer: issuer })
    try {
      const push = await skopeoCopy(image.ref, `docker://${reg.host}/harness/anon:v1`, {
        creds: reg.credentials
      })
      expect(push.stderr).toBe('')
      const anonymous = await skopeoInspect(`docker://${reg.host}/harness/anon:v1`, { raw: true })
      expect(anonymous.stderr).toBe('')
      expect(sha256(anonymous.stdout)).toBe(image.manifest.digest)
      const anon = issuer.requests.filter((q) => !q.authPresent)
      expect(anon.length).toBeGreaterThan(0)
      // Asking anonymously for push gets a token with pull only.
      const res = await fetch(
        `${issuer.realm}?service=${issuer.service}&scope=repository:harness/anon:pull,push`,
        timeout()
      )
      const { token } = (await res.json()) as { token: string }
      expect(issuer.decode(token).claims.access).toEqual([
        { type: 'repository', name: 'harness/anon', actions: ['pull'] }
      ])
    } finally {
      await reg.stop()
      await issuer.close()
    }
  })
})

describe('token issuer alone', () => {
  it('grants what authorize() allows, merges repeated scopes, and records no password', async () => {
    const issuer = await startTokenIssuer({
      authorize: (_who, scope) => (scope.name.startsWith('ro/') ? ['pull'] : scope.actions)
    })
    try {
      const q = new URLSearchParams({ service: issuer.service, account: issuer.username })
      for (const scope of [
        'repository:ro/base:pull,push',
        'repository:app/x:pull',
        'repository:app/x:push'
      ]) {
        q.append('scope', scope)
      }
      const res = await fetch(`${issuer.realm}?${q}`, {
        ...timeout(),
        headers: { Authorization: basicAuthHeader(issuer) }
      })
      expect(res.status).toBe(200)
      const { token } = (await res.json()) as { token: string }
      expect(issuer.decode(token).claims.access).toEqual([
        { type: 'repository', name: 'ro/base', actions: ['pull'] },
        { type: 'repository', name: 'app/x', actions: ['pull', 'push'] }
      ])
      expect(issuer.requests).toEqual([
        expect.objectContaining({
          method: 'GET',
          scopes: ['repository:ro/base:pull,push', 'repository:app/x:pull', 'repository:app/x:push'],
          account: issuer.username,
          authPresent: true,
          status: 200
        })
      ])
      expect(JSON.stringify(issuer.requests)).not.toContain(issuer.password)

      const wrongService = await fetch(`${issuer.realm}?service=elsewhere`, {
        ...timeout(),
        headers: { Authorization: basicAuthHeader(issuer) }
      })
      expect(wrongService.status).toBe(400)
      await wrongService.arrayBuffer()
    } finally {
      await issuer.close()
    }
    await issuer.close()
  })
})

describe('fault proxy in front of a real registry', () => {
  let reg: TestRegistry | undefined
  let proxy: FaultProxy | undefined

  beforeAll(async () => {
    reg = await startRegistry()
  })

  afterEach(async () => {
    await proxy?.close()
    proxy = undefined
  })

  afterAll(async () => {
    await reg?.stop()
  })

  async function newProxy(): Promise<FaultProxy> {
    proxy = await startFaultProxy(reg!.url)
    return proxy
  }

  it('503 twice on blob uploads: the proxy answers them; skopeo 1.9 does not retry a bare 503', async () => {
    const p = await newProxy()
    p.setRules([
      {
        match: { method: ['PATCH', 'PUT'], path: /\/blobs\/uploads\// },
        fault: { kind: 'status', status: 503 },
        times: 2
      }
    ])
    const push = await skopeoCopy(image.ref, `docker://${p.host}/harness/unavailable:v1`, { retryTimes: 3 })
    // containers/image only retries errors it classifies (network errors, 429/TOOMANYREQUESTS, …).
    expect(push.code).not.toBe(0)
    expect(push.stderr).toContain('503 Service Unavailable')
    expect(await p.settled()).toBe(true)
    // Layers upload in parallel: skopeo may give up before its second PATCH reaches the proxy.
    const faulted = p.faulted()
    expect(faulted.length).toBeGreaterThanOrEqual(1)
    expect(faulted.length).toBeLessThanOrEqual(2)
    for (const f of faulted) expect([f.method, f.status, f.outcome]).toEqual(['PATCH', 503, 'status'])
  })

  it('dropped blob uploads, twice: skopeo retries and the push lands', async () => {
    const p = await newProxy()
    // Cut after the upstream answered: skopeo has sent the whole body and reads EOF, which it retries.
    // (A plain request-phase drop races its body write; "use of closed network connection" is fatal.)
    p.setRules([{ match: { method: 'PATCH' }, fault: { kind: 'drop', phase: 'response' }, times: 2 }])
    const push = await skopeoCopy(image.ref, `docker://${p.host}/harness/retry:v1`, { retryTimes: 3 })
    expect(push.stderr).toContain('retrying')
    expect(push.code).toBe(0)
    expect(p.faulted().map((f) => [f.method, f.outcome])).toEqual([
      ['PATCH', 'dropped'],
      ['PATCH', 'dropped']
    ])
    const direct = await skopeoInspect(`docker://${reg!.host}/harness/retry:v1`, { raw: true })
    expect(sha256(direct.stdout)).toBe(image.manifest.digest)
  })

  it('rewrites Location to point at the proxy and streams tens of MB both ways', async () => {
    const p = await newProxy()
    const start = await fetch(`${p.url}/v2/harness/big/blobs/uploads/`, { ...timeout(), method: 'POST' })
    await start.arrayBuffer()
    expect(start.status).toBe(202)
    const location = start.headers.get('location')!
    expect(location.startsWith(`${p.url}/v2/harness/big/blobs/uploads/`)).toBe(true)

    const blob = randomBytes(24 * 1024 * 1024)
    const digest = sha256(blob)
    const put = await fetch(`${location}&digest=${digest}`, {
      ...timeout(20_000),
      method: 'PUT',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: blob
    })
    await put.arrayBuffer()
    expect(put.status).toBe(201)
    expect(put.headers.get('location')).toBe(`${p.url}/v2/harness/big/blobs/${digest}`)

    p.setRules([{ match: { method: 'GET' }, fault: { kind: 'slow', chunkSize: 1024 * 1024, delayMs: 1 } }])
    const get = await fetch(`${p.url}/v2/harness/big/blobs/${digest}`, timeout(20_000))
    expect(sha256(Buffer.from(await get.arrayBuffer()))).toBe(digest)
    expect(await p.settled()).toBe(true)
    expect(p.requests.map((q) => [q.method, q.outcome])).toEqual([
      ['POST', 'ok'],
      ['PUT', 'ok'],
      ['GET', 'ok']
    ])
    expect(p.requests[1]!.requestBytes).toBe(blob.length)
    expect(p.requests[2]!.responseBytes).toBe(blob.length)
  })

  it('drop: the connection closes at once, before or in the middle of a response', async () => {
    const p = await newProxy()
    p.setRules([{ fault: { kind: 'drop' }, times: 1 }])
    const t0 = Date.now()
    await expect(fetch(`${p.url}/v2/`, timeout(5_000))).rejects.toThrow(/fetch failed/)
    expect(Date.now() - t0).toBeLessThan(4_000)

    const res = await fetch(`${p.url}/v2/`, timeout())
    expect(res.status).toBe(200)
    await res.arrayBuffer()

    const layer = image.layers[0]!
    p.setRules([{ fault: { kind: 'drop', phase: 'response', afterBytes: 10 } }])
    await skopeoCopy(image.ref, `docker://${reg!.host}/harness/drop:v1`)
    const partial = await fetch(`${p.url}/v2/harness/drop/blobs/${layer.digest}`, timeout(5_000))
    expect(partial.status).toBe(200)
    await expect(partial.arrayBuffer()).rejects.toThrow()
    expect(await p.settled()).toBe(true)
    expect(p.requests.at(-1)).toMatchObject({ outcome: 'dropped', status: 200, responseBytes: 10 })

    // The answer is lost, the work is done: the manifest PUT lands although the client saw nothing.
    p.setRules([{ match: { method: 'PUT' }, fault: { kind: 'drop', phase: 'response' } }])
    await expect(
      fetch(`${p.url}/v2/harness/drop/manifests/lost`, {
        ...timeout(5_000),
        method: 'PUT',
        headers: { 'Content-Type': image.manifest.mediaType },
        body: image.manifestBytes
      })
    ).rejects.toThrow(/fetch failed/)
    const landed = await fetch(`${reg!.url}/v2/harness/drop/manifests/lost`, {
      ...timeout(),
      method: 'HEAD',
      headers: { Accept: image.manifest.mediaType }
    })
    expect(landed.status).toBe(200)
    expect(landed.headers.get('docker-content-digest')).toBe(image.manifest.digest)
  })

  it('drop in the middle of an upload hangs neither the proxy nor the registry', async () => {
    const p = await newProxy()
    const blob = randomBytes(8 * 1024 * 1024)
    p.setRules([
      { match: { method: 'PATCH' }, fault: { kind: 'drop', phase: 'request', afterBytes: 1024 * 1024 } }
    ])
    const start = await fetch(`${p.url}/v2/harness/cut/blobs/uploads/`, { ...timeout(), method: 'POST' })
    await start.arrayBuffer()
    const location = start.headers.get('location')!
    const t0 = Date.now()
    await expect(
      fetch(location, {
        ...timeout(10_000),
        method: 'PATCH',
        headers: { 'Content-Type': 'application/octet-stream' },
        body: blob
      })
    ).rejects.toThrow(/fetch failed/)
    expect(Date.now() - t0).toBeLessThan(8_000)
    expect(await p.settled()).toBe(true)
    expect(p.requests.at(-1)).toMatchObject({
      method: 'PATCH',
      outcome: 'dropped',
      requestBytes: 1024 * 1024
    })

    // Both still serve: a fresh monolithic upload through the proxy works.
    p.setRules([])
    const again = await fetch(`${p.url}/v2/harness/cut/blobs/uploads/`, { ...timeout(), method: 'POST' })
    await again.arrayBuffer()
    const put = await fetch(`${again.headers.get('location')!}&digest=${sha256(blob)}`, {
      ...timeout(),
      method: 'PUT',
      body: blob
    })
    await put.arrayBuffer()
    expect(put.status).toBe(201)
  })

  it('a client that hangs up mid-upload: the proxy cuts the upstream request too', async () => {
    const p = await newProxy()
    const start = await fetch(`${p.url}/v2/harness/hangup/blobs/uploads/`, { ...timeout(), method: 'POST' })
    await start.arrayBuffer()
    const location = new URL(start.headers.get('location')!)
    await new Promise<void>((resolve) => {
      const req = request(location, { method: 'PATCH', headers: { 'Content-Length': 4 * 1024 * 1024 } })
      req.on('error', () => resolve())
      req.on('close', () => resolve())
      req.write(randomBytes(512 * 1024), () => setTimeout(() => req.destroy(), 50))
    })
    expect(await p.settled(5_000)).toBe(true)
    expect(p.requests.at(-1)).toMatchObject({ method: 'PATCH', outcome: 'client-closed', status: null })
    // The registry is not stuck on the half-sent upload.
    const res = await fetch(`${p.url}/v2/`, timeout())
    await res.arrayBuffer()
    expect(res.status).toBe(200)
  })

  it('429 with Retry-After is delivered verbatim, and delay waits before forwarding', async () => {
    const p = await newProxy()
    p.setRules([
      {
        match: { path: '/tags/list' },
        fault: { kind: 'status', status: 429, headers: { 'Retry-After': '1' } }
      },
      { match: { path: /^\/v2\/$/ }, fault: { kind: 'delay', ms: 300 } }
    ])
    const res = await fetch(`${p.url}/v2/harness/retry/tags/list`, timeout())
    expect(res.status).toBe(429)
    expect(res.headers.get('retry-after')).toBe('1')
    expect(await res.json()).toMatchObject({ errors: [{ code: 'TOOMANYREQUESTS' }] })

    const t0 = Date.now()
    const slow = await fetch(`${p.url}/v2/`, timeout())
    await slow.arrayBuffer()
    expect(slow.status).toBe(200)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290)

    let seen = 0
    p.setPolicy(({ n }) => {
      seen = n
      return n % 2 === 0 ? { kind: 'status', status: 502 } : null
    })
    const a = await fetch(`${p.url}/v2/`, timeout())
    await a.arrayBuffer()
    const b = await fetch(`${p.url}/v2/`, timeout())
    await b.arrayBuffer()
    expect([a.status, b.status].sort()).toEqual([200, 502])
    expect(seen).toBe(4)
  })
})
