// The cache-service stand-in against the REAL @actions/cache client (v2 service mode): saveCache,
// restoreCache and isFeatureAvailable run unmodified against it, with tar and zstd doing the
// archiving. Every test points process.env at a stand-in and restores process.env afterwards.
//
// The client's retry back-off (3 s, then ×1.5 per attempt for Twirp; 5 s for the plain download;
// 4 s / 12 s for the Azure SDK) is shortened in the tests that exercise it, by wrapping setTimeout:
// waits of 2 s to 2 min become 1 ms, and are recorded so the tests can check them.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals'
import * as cache from '@actions/cache'
import { createHash, randomBytes } from 'node:crypto'
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { startCacheServer, type CacheServer, type CacheServerOptions } from './cache-server.js'

const MiB = 1024 * 1024

// ---- process.env, output capture, shortened waits ----

const savedEnv = new Map<string, string | undefined>()
function setEnv(vars: Record<string, string | undefined>): void {
  for (const [k, v] of Object.entries(vars)) {
    if (!savedEnv.has(k)) savedEnv.set(k, process.env[k])
    if (v === undefined) delete process.env[k]
    else process.env[k] = v
  }
}
function restoreEnv(): void {
  for (const [k, v] of savedEnv) {
    if (v === undefined) delete process.env[k]
    else process.env[k] = v
  }
  savedEnv.clear()
}

/** What @actions/core and @actions/exec wrote to stdout: info lines, ::warning::, ::error::. */
interface Output {
  lines: string[]
  warnings(): string[]
  errors(): string[]
  infos(): string[]
}
let output: Output | undefined
let stdoutSpy: { mockRestore(): void } | undefined
function captureOutput(): Output {
  const lines: string[] = []
  let partial = ''
  const verbose = process.env.CACHE_SERVER_TEST_VERBOSE === '1'
  const realWrite = process.stdout.write.bind(process.stdout)
  stdoutSpy = jest.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array) => {
    const text = partial + (typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'))
    const parts = text.split(/\r?\n/)
    partial = parts.pop() ?? ''
    lines.push(...parts)
    if (verbose) realWrite(chunk)
    return true
  }) as typeof process.stdout.write)
  const unescape = (s: string) => s.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%')
  const command = (name: string) =>
    lines.filter((l) => l.startsWith(`::${name}::`)).map((l) => unescape(l.slice(name.length + 4)))
  return {
    lines,
    warnings: () => command('warning'),
    errors: () => command('error'),
    infos: () => lines.filter((l) => !l.startsWith('::'))
  }
}

function shortenWaits(): { waits: number[]; restore(): void } {
  const realSetTimeout = globalThis.setTimeout
  const waits: number[] = []
  const spy = jest.spyOn(globalThis, 'setTimeout').mockImplementation(((
    fn: (...args: unknown[]) => void,
    ms?: number,
    ...args: unknown[]
  ) => {
    if (typeof ms === 'number' && ms >= 2000 && ms <= 120_000) {
      waits.push(ms)
      return realSetTimeout(fn, 1, ...args)
    }
    return realSetTimeout(fn, ms, ...args)
  }) as unknown as typeof setTimeout)
  return { waits, restore: () => spy.mockRestore() }
}

// ---- file trees ----

function writeTree(root: string, files: Record<string, string | Buffer>): void {
  for (const [name, content] of Object.entries(files)) {
    const path = join(root, name)
    mkdirSync(join(path, '..'), { recursive: true })
    writeFileSync(path, content)
  }
}

/** relative path → sha256 of the bytes (directories as 'dir'). */
function readTree(root: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name)
      const rel = relative(root, path)
      if (lstatSync(path).isDirectory()) {
        out[rel] = 'dir'
        walk(path)
      } else out[rel] = createHash('sha256').update(readFileSync(path)).digest('hex')
    }
  }
  walk(root)
  return out
}

function writeRandomFile(path: string, bytes: number): void {
  mkdirSync(join(path, '..'), { recursive: true })
  const chunks: Buffer[] = []
  for (let left = bytes; left > 0; left -= 8 * MiB) chunks.push(randomBytes(Math.min(left, 8 * MiB)))
  writeFileSync(path, Buffer.concat(chunks))
}

let work: string
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fast-build-cache-server-'))
})
afterAll(() => {
  rmSync(work, { recursive: true, force: true })
})

/** A fresh workspace and temp dir for @actions/cache, and the stand-in's env, in process.env. */
function useWorkspace(server: CacheServer, extra: Record<string, string | undefined> = {}): string {
  const ws = mkdtempSync(join(work, 'ws-'))
  mkdirSync(join(ws, '.runner-temp'))
  setEnv({
    ...server.env,
    GITHUB_WORKSPACE: ws,
    RUNNER_TEMP: join(ws, '.runner-temp'),
    // Settings a developer's shell could carry that change what the client does.
    ACTIONS_CACHE_URL: undefined,
    ACTIONS_CACHE_MODE: undefined,
    SEGMENT_DOWNLOAD_TIMEOUT_MINS: undefined,
    RUNNER_DEBUG: undefined,
    ...extra
  })
  return ws
}

let servers: CacheServer[] = []
async function start(options?: CacheServerOptions): Promise<CacheServer> {
  const s = await startCacheServer(options)
  servers.push(s)
  return s
}

beforeEach(() => {
  output = captureOutput()
})
afterEach(async () => {
  stdoutSpy?.mockRestore()
  stdoutSpy = undefined
  output = undefined
  restoreEnv()
  await Promise.all(servers.map((s) => s.close()))
  servers = []
})
const out = (): Output => output as Output

const failedRestore = (o: Output) =>
  [...o.warnings(), ...o.errors()].filter((w) => w.startsWith('Failed to restore'))

// ---- the protocol, in both download modes ----

describe.each(['path', 'azure'] as const)('with blobEndpoint=%s', (blobEndpoint) => {
  let server: CacheServer
  beforeEach(async () => {
    server = await start({ blobEndpoint })
  })

  it('is available as a v2 service, and not without its env', () => {
    useWorkspace(server)
    expect(server.env.ACTIONS_RESULTS_URL).toBe(`${server.url}/`)
    expect(server.token.split('.')).toHaveLength(3)
    expect(cache.isFeatureAvailable()).toBe(true)
    setEnv({ ACTIONS_RESULTS_URL: undefined })
    expect(cache.isFeatureAvailable()).toBe(false)
  })

  it('saves a directory and restores it byte for byte', async () => {
    const ws = useWorkspace(server)
    const dir = join(ws, 'deps')
    writeTree(dir, { 'a.txt': 'hello\n', empty: '', 'nested/deeper/c.json': '{"x":1}' })
    // Incompressible and over 4 MiB, so the SDK download takes several ranged GETs.
    writeRandomFile(join(dir, 'nested', 'b.bin'), 9 * MiB)
    const before = readTree(dir)

    const id = await cache.saveCache([dir], 'deps-linux-1')
    expect(id).toBeGreaterThan(0)
    expect(out().warnings()).toEqual([])
    const [entry] = server.entries()
    expect(entry).toMatchObject({ id, key: 'deps-linux-1', finalized: true })
    expect(entry?.size).toBeGreaterThan(9 * MiB)
    expect(entry?.version).toMatch(/^[0-9a-f]{64}$/)
    expect(server.requests.map((r) => `${r.endpoint} ${r.outcome}`)).toEqual([
      'CreateCacheEntry 200',
      'PutBlob 201',
      'FinalizeCacheEntryUpload 200'
    ])
    expect(server.requestsTo('CreateCacheEntry')[0]).toMatchObject({
      key: 'deps-linux-1',
      version: entry?.version
    })

    rmSync(dir, { recursive: true })
    const n = server.requests.length
    await expect(cache.restoreCache([dir], 'deps-linux-1')).resolves.toBe('deps-linux-1')
    expect(readTree(dir)).toEqual(before)
    expect(out().infos()).toContain('Cache hit for: deps-linux-1')
    expect(failedRestore(out())).toEqual([])

    const downloads = server.requests.slice(n + 1)
    if (blobEndpoint === 'path') {
      // @actions/http-client, one plain GET of the whole blob.
      expect(downloads.map((r) => `${r.method} ${r.outcome} ${r.range ?? '-'}`)).toEqual(['GET 200 -'])
    } else {
      // The Azure SDK: Get Blob Properties, then 4 MiB ranged GETs (x-ms-range).
      const size = entry?.size ?? 0
      expect(downloads[0]).toMatchObject({ method: 'HEAD', endpoint: 'GetBlobProperties', outcome: 200 })
      const ranges = downloads.slice(1).map((r) => r.range)
      expect(ranges).toHaveLength(Math.ceil(size / (4 * MiB)))
      expect(new Set(ranges)).toEqual(
        new Set(ranges.map((_, i) => `bytes=${i * 4 * MiB}-${Math.min((i + 1) * 4 * MiB, size) - 1}`))
      )
      expect(downloads.slice(1).every((r) => r.outcome === 206)).toBe(true)
      // options.timeoutInMs only reaches the service as the server-side `timeout` parameter.
      expect(downloads[0]?.path).toContain('timeout=30')
    }
  })

  it('restores by restore-key prefix, newest first, and only within the version', async () => {
    const ws = useWorkspace(server)
    const dir = join(ws, 'deps')
    for (const k of ['deps-linux-a', 'deps-linux-b', 'deps-mac-c']) {
      rmSync(dir, { recursive: true, force: true })
      writeTree(dir, { 'which.txt': k })
      expect(await cache.saveCache([dir], k)).toBeGreaterThan(0)
    }
    const restored = async (key: string, restoreKeys?: string[]) => {
      rmSync(dir, { recursive: true, force: true })
      const hit = await cache.restoreCache([dir], key, restoreKeys)
      return { hit, content: hit ? readFileSync(join(dir, 'which.txt'), 'utf8') : undefined }
    }

    expect(await restored('deps-linux-zzz', ['deps-linux-'])).toEqual({
      hit: 'deps-linux-b',
      content: 'deps-linux-b'
    })
    expect(await restored('deps-linux-zzz', ['deps-'])).toEqual({ hit: 'deps-mac-c', content: 'deps-mac-c' })
    // Restore keys are tried in order; an exact match wins over a newer prefix match.
    expect(await restored('nope', ['deps-none-', 'deps-linux-a', 'deps-'])).toEqual({
      hit: 'deps-linux-a',
      content: 'deps-linux-a'
    })
    expect(out().infos()).toContain('Cache hit for restore-key: deps-linux-a')
    // As GitHub documents it, the primary key itself also matches as a prefix after no exact hit.
    expect(await restored('deps-linux-')).toEqual({ hit: 'deps-linux-b', content: 'deps-linux-b' })

    // A miss is undefined, without a warning.
    expect(await restored('other-key', ['other-'])).toEqual({ hit: undefined, content: undefined })
    // The same key with other paths is another version: a miss.
    await expect(cache.restoreCache([dir, join(ws, 'more')], 'deps-linux-a')).resolves.toBeUndefined()
    expect(failedRestore(out())).toEqual([])
    expect(out().warnings()).toEqual([])
  })

  it('refuses to save an existing key as GitHub does: 409, info "Failed to save", -1', async () => {
    const ws = useWorkspace(server)
    const dir = join(ws, 'deps')
    writeTree(dir, { 'x.txt': 'one' })
    expect(await cache.saveCache([dir], 'same-key')).toBeGreaterThan(0)
    writeTree(dir, { 'x.txt': 'two' })
    await expect(cache.saveCache([dir], 'same-key')).resolves.toBe(-1)

    expect(server.requestsTo('CreateCacheEntry').map((r) => r.outcome)).toEqual([200, 409])
    expect(server.requestsTo('PutBlob')).toHaveLength(1)
    expect(server.entries()).toHaveLength(1)
    expect(out().infos()).toContain(
      'Failed to save: Unable to reserve cache with key same-key, another job may be creating this cache.'
    )
    expect(out().warnings()).toEqual([])
    expect(
      out().lines.some((l) =>
        l.includes(
          'Failed request: (409) Conflict: cache entry with the same key, version, and scope already exists'
        )
      )
    ).toBe(true)
    // Another version of the same key is a separate entry.
    expect(await cache.saveCache([dir, join(ws, 'other')], 'same-key')).toBeGreaterThan(0)
  })
})

// ---- sizes: single-shot Put Blob up to 128 MiB, blocks above ----

describe('a large archive', () => {
  // The upload is the same in both modes; 'azure' also takes the SDK's 128 MiB download segments.
  it('above 128 MiB is uploaded in 64 MiB blocks and round-trips', async () => {
    const server = await start({ blobEndpoint: 'azure' })
    const ws = useWorkspace(server)
    const dir = join(ws, 'big')
    writeRandomFile(join(dir, 'blob.bin'), 130 * MiB)
    writeTree(dir, { 'small.txt': 'small' })
    const before = readTree(dir)

    expect(await cache.saveCache([dir], 'big-1')).toBeGreaterThan(0)
    const size = server.entries()[0]?.size ?? 0
    expect(size).toBeGreaterThan(128 * MiB)
    const blocks = server.requestsTo('PutBlock')
    expect(blocks.map((r) => r.requestBytes)).toEqual([64 * MiB, 64 * MiB, size - 128 * MiB])
    expect(server.requestsTo('PutBlockList').map((r) => r.outcome)).toEqual([201])
    expect(server.requestsTo('PutBlob')).toEqual([])

    rmSync(dir, { recursive: true })
    await expect(cache.restoreCache([dir], 'big-1')).resolves.toBe('big-1')
    expect(readTree(dir)).toEqual(before)
    expect(failedRestore(out())).toEqual([])
    const gets = server.requestsTo('GetBlob')
    expect(gets).toHaveLength(Math.ceil((128 * MiB) / (4 * MiB)) + Math.ceil((size - 128 * MiB) / (4 * MiB)))
    expect(gets.at(-1)?.range).toBe(`bytes=${128 * MiB}-${size - 1}`)
  }, 60_000)
})

// ---- faults: they cost a warning (or an info line), never an exception ----

describe('faults', () => {
  async function savedEntry(
    options: CacheServerOptions = {},
    extraEnv: Record<string, string | undefined> = {}
  ) {
    const server = await start(options)
    const ws = useWorkspace(server, extraEnv)
    const dir = join(ws, 'deps')
    writeTree(dir, { 'x.txt': 'cached' })
    writeRandomFile(join(dir, 'r.bin'), 6 * MiB)
    expect(await cache.saveCache([dir], 'k')).toBeGreaterThan(0)
    rmSync(dir, { recursive: true })
    server.requests.length = 0
    return { server, dir, ws }
  }

  it('GetCacheEntryDownloadURL answering 500: five attempts with back-off, then a warning and a miss', async () => {
    const { server, dir } = await savedEntry()
    server.setFaults([{ endpoint: 'GetCacheEntryDownloadURL', fault: { kind: 'status', status: 500 } }])
    const waits = shortenWaits()
    try {
      await expect(cache.restoreCache([dir], 'k')).resolves.toBeUndefined()
    } finally {
      waits.restore()
    }
    expect(server.requestsTo('GetCacheEntryDownloadURL').map((r) => r.outcome)).toEqual([
      500, 500, 500, 500, 500
    ])
    expect(waits.waits).toHaveLength(4)
    expect(waits.waits[0]).toBe(3000)
    expect(waits.waits[3]).toBeGreaterThanOrEqual(3000 * 1.5 ** 3)
    expect(failedRestore(out())).toEqual([
      'Failed to restore: Failed to GetCacheEntryDownloadURL: Failed to make request after 5 attempts: ' +
        'Failed request: (500) Internal Server Error: injected fault: 500'
    ])
  })

  it('GetCacheEntryDownloadURL answering 503 once: retried, restored', async () => {
    const { server, dir } = await savedEntry()
    server.setFaults([
      { endpoint: 'GetCacheEntryDownloadURL', fault: { kind: 'status', status: 503 }, times: 1 }
    ])
    const waits = shortenWaits()
    try {
      await expect(cache.restoreCache([dir], 'k')).resolves.toBe('k')
    } finally {
      waits.restore()
    }
    expect(server.requestsTo('GetCacheEntryDownloadURL').map((r) => r.outcome)).toEqual([503, 200])
    expect(waits.waits).toEqual([3000])
    expect(readFileSync(join(dir, 'x.txt'), 'utf8')).toBe('cached')
  })

  it('a dropped Twirp connection: no retry (ECONNRESET is a "network error"), a warning and a miss', async () => {
    const { server, dir } = await savedEntry()
    server.setFaults([{ endpoint: 'twirp', fault: { kind: 'drop' } }])
    await expect(cache.restoreCache([dir], 'k')).resolves.toBeUndefined()
    expect(server.requestsTo('GetCacheEntryDownloadURL').map((r) => r.outcome)).toEqual(['drop'])
    expect(failedRestore(out())[0]).toMatch(
      /^Failed to restore: Failed to GetCacheEntryDownloadURL: Unable to make request: ECONNRESET/
    )
  })

  it('a stalled Twirp call is not timed out by the client; cutting it gives a warning and a miss', async () => {
    const { server, dir } = await savedEntry()
    server.setFaults([{ endpoint: 'GetCacheEntryDownloadURL', fault: { kind: 'stall' } }])
    let settled = false
    const restore = cache.restoreCache([dir], 'k').finally(() => {
      settled = true
    })
    for (let i = 0; i < 100 && server.requestsTo('GetCacheEntryDownloadURL').length === 0; i++) {
      await new Promise((r) => setTimeout(r, 20))
    }
    await new Promise((r) => setTimeout(r, 1500))
    expect(settled).toBe(false)
    expect(server.requestsTo('GetCacheEntryDownloadURL').map((r) => r.outcome)).toEqual(['stall'])
    expect(server.dropStalled()).toBe(1)
    await expect(restore).resolves.toBeUndefined()
    expect(failedRestore(out())[0]).toMatch(/Unable to make request: ECONNRESET/)
  })

  it('CreateCacheEntry answering 429: not retried, a rate-limit warning, "Failed to save" info, -1', async () => {
    const server = await start()
    const ws = useWorkspace(server)
    writeTree(join(ws, 'deps'), { 'x.txt': 'x' })
    server.setFaults([
      {
        endpoint: 'CreateCacheEntry',
        fault: { kind: 'status', status: 429, headers: { 'retry-after': '60' } }
      }
    ])
    await expect(cache.saveCache([join(ws, 'deps')], 'k')).resolves.toBe(-1)
    expect(server.requestsTo('CreateCacheEntry').map((r) => r.outcome)).toEqual([429])
    expect(out().warnings()).toEqual(["You've hit a rate limit, your rate limit will reset in 60 seconds"])
    expect(out().infos()).toContain(
      'Failed to save: Unable to reserve cache with key k, another job may be creating this cache.'
    )
  })

  it('Put Blob refused (403, not retried): a warning, -1, and nothing becomes visible', async () => {
    const server = await start()
    const ws = useWorkspace(server)
    const dir = join(ws, 'deps')
    writeTree(dir, { 'x.txt': 'x' })
    server.setFaults([{ endpoint: 'blob', fault: { kind: 'status', status: 403 } }])
    await expect(cache.saveCache([dir], 'k')).resolves.toBe(-1)
    expect(server.requestsTo('PutBlob').map((r) => r.outcome)).toEqual([403])
    expect(server.requestsTo('FinalizeCacheEntryUpload')).toEqual([])
    const warnings = out().warnings()
    expect(warnings).toHaveLength(2)
    expect(warnings[0]).toMatch(
      /^uploadCacheArchiveSDK: internal error uploading cache archive: injected fault: 403/
    )
    expect(warnings[1]).toMatch(/^Failed to save: injected fault: 403/)
    expect(server.entries()).toMatchObject([{ key: 'k', finalized: false }])
    await expect(cache.restoreCache([dir], 'k')).resolves.toBeUndefined()
  })

  it('Put Blob answering 500 once: the Azure SDK retries at once, saved', async () => {
    const server = await start()
    const ws = useWorkspace(server)
    const dir = join(ws, 'deps')
    writeTree(dir, { 'x.txt': 'x' })
    server.setFaults([{ endpoint: 'PutBlob', fault: { kind: 'status', status: 500 }, times: 1 }])
    expect(await cache.saveCache([dir], 'k')).toBeGreaterThan(0)
    expect(server.requestsTo('PutBlob').map((r) => r.outcome)).toEqual([500, 201])
    expect(out().warnings()).toEqual([])
  })

  it('a stalled Put Blob is not timed out by the client; cutting it, the SDK retries and saves', async () => {
    const server = await start()
    const ws = useWorkspace(server)
    const dir = join(ws, 'deps')
    writeTree(dir, { 'x.txt': 'x' })
    server.setFaults([{ endpoint: 'PutBlob', fault: { kind: 'stall' }, times: 1 }])
    let settled = false
    const save = cache.saveCache([dir], 'k').finally(() => {
      settled = true
    })
    for (let i = 0; i < 100 && server.requestsTo('PutBlob').length === 0; i++) {
      await new Promise((r) => setTimeout(r, 20))
    }
    await new Promise((r) => setTimeout(r, 1500))
    expect(settled).toBe(false)
    expect(server.dropStalled()).toBe(1)
    await expect(save).resolves.toBeGreaterThan(0)
    expect(server.requestsTo('PutBlob').map((r) => r.outcome)).toEqual(['stall', 201])
    expect(out().warnings()).toEqual([])
  })

  it('FinalizeCacheEntryUpload answering 500: retried, then a warning, -1, not visible', async () => {
    const server = await start()
    const ws = useWorkspace(server)
    const dir = join(ws, 'deps')
    writeTree(dir, { 'x.txt': 'x' })
    server.setFaults([{ endpoint: 'FinalizeCacheEntryUpload', fault: { kind: 'status', status: 500 } }])
    const waits = shortenWaits()
    try {
      await expect(cache.saveCache([dir], 'k')).resolves.toBe(-1)
    } finally {
      waits.restore()
    }
    expect(server.requestsTo('FinalizeCacheEntryUpload')).toHaveLength(5)
    expect(out().warnings()).toEqual([
      'Failed to save: Failed to FinalizeCacheEntryUpload: Failed to make request after 5 attempts: ' +
        'Failed request: (500) Internal Server Error: injected fault: 500'
    ])
    server.setFaults([])
    await expect(cache.restoreCache([dir], 'k')).resolves.toBeUndefined()
  })

  describe('plain-HTTP download (a 127.0.0.1 blob URL)', () => {
    it('GET Blob answering 500: not retried (only 502/503/504 are), a warning and a miss', async () => {
      const { server, dir } = await savedEntry()
      server.setFaults([{ endpoint: 'GetBlob', fault: { kind: 'status', status: 500 } }])
      await expect(cache.restoreCache([dir], 'k')).resolves.toBeUndefined()
      expect(server.requestsTo('GetBlob').map((r) => r.outcome)).toEqual([500])
      expect(failedRestore(out())).toEqual([
        'Failed to restore: downloadCache failed: Cache service responded with 500'
      ])
    })

    it('GET Blob answering 503 once: retried after 5 s, restored', async () => {
      const { server, dir } = await savedEntry()
      server.setFaults([{ endpoint: 'GetBlob', fault: { kind: 'status', status: 503 }, times: 1 }])
      const waits = shortenWaits()
      try {
        await expect(cache.restoreCache([dir], 'k')).resolves.toBe('k')
      } finally {
        waits.restore()
      }
      expect(waits.waits).toEqual([5000])
      expect(server.requestsTo('GetBlob').map((r) => r.outcome)).toEqual([503, 200])
    })

    it('GET Blob answering 404 is not seen as an error: the XML body is "extracted" and tar fails', async () => {
      const { server, dir } = await savedEntry()
      server.setFaults([{ endpoint: 'GetBlob', fault: { kind: 'status', status: 404 } }])
      await expect(cache.restoreCache([dir], 'k')).resolves.toBeUndefined()
      expect(failedRestore(out())[0]).toMatch(
        /^Failed to restore: "\/usr\/bin\/tar" failed with error: The process '\/usr\/bin\/tar' failed/
      )
    })

    it('GET Blob cut mid-body: a warning and a miss', async () => {
      const { server, dir } = await savedEntry()
      server.setFaults([{ endpoint: 'GetBlob', fault: { kind: 'drop', afterBytes: 64 * 1024 } }])
      await expect(cache.restoreCache([dir], 'k')).resolves.toBeUndefined()
      expect(server.requestsTo('GetBlob').map((r) => r.outcome)).toEqual(['drop'])
      expect(failedRestore(out())).toHaveLength(1)
    })

    it('GET Blob stalling after the headers: the 5 s socket timeout ends it, a warning and a miss', async () => {
      const { server, dir } = await savedEntry()
      server.setFaults([{ endpoint: 'GetBlob', fault: { kind: 'stall', afterBytes: 1024 } }])
      const t0 = Date.now()
      await expect(cache.restoreCache([dir], 'k')).resolves.toBeUndefined()
      const elapsed = Date.now() - t0
      expect(elapsed).toBeGreaterThanOrEqual(4500)
      expect(elapsed).toBeLessThan(15_000)
      expect(failedRestore(out())).toHaveLength(1)
    }, 30_000)
  })

  describe('Azure SDK download (blobEndpoint=azure, as on GitHub)', () => {
    it('a stalled ranged GET is ended by SEGMENT_DOWNLOAD_TIMEOUT_MINS: a warning and a miss', async () => {
      const { server, dir } = await savedEntry(
        { blobEndpoint: 'azure' },
        { SEGMENT_DOWNLOAD_TIMEOUT_MINS: '0.05' }
      )
      server.setFaults([{ endpoint: 'GetBlob', fault: { kind: 'stall' }, times: 1 }])
      const t0 = Date.now()
      await expect(cache.restoreCache([dir], 'k')).resolves.toBeUndefined()
      const elapsed = Date.now() - t0
      expect(elapsed).toBeGreaterThanOrEqual(2900)
      expect(elapsed).toBeLessThan(15_000)
      expect(failedRestore(out())).toEqual([
        'Failed to restore: Aborting cache download as the download time exceeded the timeout.'
      ])
      expect(server.requestsTo('GetBlob')[0]?.outcome).toBe('stall')
    }, 30_000)

    it('a ranged GET answering 500 once: the SDK retries at once, restored', async () => {
      const { server, dir } = await savedEntry({ blobEndpoint: 'azure' })
      server.setFaults([{ endpoint: 'GetBlob', fault: { kind: 'status', status: 500 }, times: 1 }])
      await expect(cache.restoreCache([dir], 'k')).resolves.toBe('k')
      expect(server.requestsTo('GetBlob').filter((r) => r.outcome === 500)).toHaveLength(1)
      expect(readFileSync(join(dir, 'x.txt'), 'utf8')).toBe('cached')
    })
  })

  describe('tokens and scopes', () => {
    it('a read-only token: saving is a "cache write denied" warning, -1', async () => {
      const server = await start({ access: 'read' })
      const ws = useWorkspace(server)
      writeTree(join(ws, 'deps'), { 'x.txt': 'x' })
      await expect(cache.saveCache([join(ws, 'deps')], 'k')).resolves.toBe(-1)
      expect(out().warnings()).toEqual([
        'Failed to save: Unable to reserve cache with key k. More details: cache write denied: ' +
          'the token for this run does not permit cache writes'
      ])
    })

    it('a token without read scope: restoring is a "cache read denied" warning and a miss', async () => {
      const server = await start({ access: 'write' })
      const ws = useWorkspace(server)
      await expect(cache.restoreCache([join(ws, 'deps')], 'k')).resolves.toBeUndefined()
      expect(server.requestsTo('GetCacheEntryDownloadURL').map((r) => r.outcome)).toEqual([403])
      expect(failedRestore(out())[0]).toMatch(/\(403\) Forbidden: cache read denied: /)
    })

    it('a wrong token: 401, not retried, a warning and a miss', async () => {
      const server = await start()
      const ws = useWorkspace(server, { ACTIONS_RUNTIME_TOKEN: 'not-the-token' })
      await expect(cache.restoreCache([join(ws, 'deps')], 'k')).resolves.toBeUndefined()
      expect(server.requestsTo('GetCacheEntryDownloadURL').map((r) => r.outcome)).toEqual([401])
      expect(failedRestore(out())[0]).toMatch(/\(401\) Unauthorized: invalid token/)
    })
  })
})
