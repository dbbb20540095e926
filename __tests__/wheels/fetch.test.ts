import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describeError } from '../../src/errors.js'
import type { LockedFile } from '../../src/lock/model.js'
import { normalizeName } from '../../src/names.js'
import { HttpClient } from '../../src/net/http.js'
import { ArtifactCache } from '../../src/cache/artifacts.js'
import {
  FetchError,
  HashMismatchError,
  fetchArtifacts,
  type FetchEvent,
  type FetchItem,
  type FetchOptions
} from '../../src/wheels/fetch.js'
import { IndexError, type IndexConfig } from '../../src/wheels/index.js'
import { startPypiServer, type PypiServer, type ServedFile } from '../support/pypi-server.js'
import { tempDir } from '../support/project.js'

const FAST_RETRY = { attempts: 4, baseDelayMs: 5, maxDelayMs: 30 }
const NO_CREDENTIALS = { env: {}, readNetrc: () => null }

const esc = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex')

/** Bytes that look a little like a wheel (a zip's local header), `size` long. */
function wheelBytes(seed: string, size = 2048): Buffer {
  const b = Buffer.alloc(size)
  b.write('PK\x03\x04', 0, 'latin1')
  randomBytes(size - 4).copy(b, 4)
  b.write(seed, 4)
  return b
}

function lockedFile(name: string, bytes: Buffer | null, over: Partial<LockedFile> = {}): LockedFile {
  return {
    name,
    url: null,
    path: null,
    hashes: bytes ? { sha256: sha256(bytes) } : {},
    size: bytes ? bytes.length : null,
    kind: name.endsWith('.whl') ? 'wheel' : 'sdist',
    ...over
  }
}

function item(project: string, version: string, file: LockedFile, index: IndexConfig | null): FetchItem {
  return { name: normalizeName(project), version, file, index }
}

describe('fetchArtifacts from a local index', () => {
  const many: ServedFile[] = Array.from({ length: 12 }, (_, i) => ({
    project: `pkg-${i}`,
    filename: `pkg_${i}-1.0.${i}-py3-none-any.whl`,
    bytes: wheelBytes(`pkg ${i}`, 150_000 + i * 1000)
  }))
  const big = wheelBytes('big', 3 * 1024 * 1024 + 17)
  const files: ServedFile[] = [
    ...many,
    { project: 'Big.Pkg', filename: 'big_pkg-2.0-cp311-cp311-manylinux_2_28_x86_64.whl', bytes: big },
    {
      project: 'torch',
      filename: 'torch-2.7.0+cpu-cp311-cp311-linux_x86_64.whl',
      bytes: wheelBytes('torch')
    },
    { project: 'six', filename: 'six-1.16.0-py2.py3-none-any.whl', bytes: wheelBytes('six') },
    { project: 'six', filename: 'six-1.16.0.tar.gz', bytes: Buffer.from('six sdist') }
  ]
  const bytesOf = (filename: string) => {
    const f = files.find((x) => x.filename === filename)
    if (!f) throw new Error(filename)
    return Buffer.from(f.bytes as Buffer)
  }
  let server: PypiServer
  let http: HttpClient
  let index: IndexConfig
  beforeAll(async () => {
    server = await startPypiServer({ files })
    http = new HttpClient({ idleTimeoutMs: 5000 })
    index = { url: server.simpleUrl, name: 'local' }
  })
  afterAll(async () => {
    http.close()
    await server.close()
  })
  afterEach(() => {
    server.requests.length = 0
    server.setFaults([])
  })

  const options = (cache: ArtifactCache, over: Partial<FetchOptions> = {}): FetchOptions => ({
    cache,
    http,
    retry: FAST_RETRY,
    credentials: NO_CREDENTIALS,
    ...over
  })

  /** A Poetry-style item: no URL, found through the index. */
  const poetryItem = (f: ServedFile) =>
    item(f.project, '1.0', lockedFile(f.filename, bytesOf(f.filename)), index)
  /** A uv-style item: the lock records the URL. */
  const uvItem = (f: ServedFile) =>
    item(
      f.project,
      '1.0',
      lockedFile(f.filename, bytesOf(f.filename), { url: server.fileUrl(f.filename) }),
      index
    )

  it('downloads in parallel (bounded), verifies, caches; results in the order asked', async () => {
    const cache = new ArtifactCache(tempDir())
    const items = many.map((f, i) => (i % 2 === 0 ? poetryItem(f) : uvItem(f)))
    server.setFaults([{ path: '/files/', fault: { kind: 'delay', ms: 40 } }])
    const results = await fetchArtifacts(items, options(cache, { concurrency: 4 }))
    expect(results.map((r) => r.item)).toEqual(items)
    for (const [i, r] of results.entries()) {
      const want = bytesOf(many[i]!.filename)
      expect(r).toMatchObject({ sha256: sha256(want), size: want.length, cached: false })
      expect(r.path).toBe(cache.pathFor(sha256(want)))
      expect(readFileSync(r.path).equals(want)).toBe(true)
    }
    expect(server.maxInFlight).toBe(4)
    // Poetry items looked their project up once each; uv items went straight to the file.
    const pages = server.requests.filter((r) => r.path.startsWith('/simple/'))
    expect(pages).toHaveLength(6)
    expect(server.fileRequests()).toHaveLength(12)
    expect(readdirSync(join(cache.dir, 'tmp'))).toEqual([])
  })

  it('a second run is all cache hits and makes no request at all', async () => {
    const cache = new ArtifactCache(tempDir())
    const items = [poetryItem(many[0]!), uvItem(many[1]!)]
    await fetchArtifacts(items, options(cache))
    server.requests.length = 0
    const events: FetchEvent[] = []
    const again = await fetchArtifacts(items, options(cache, { onProgress: (e) => events.push(e) }))
    expect(again.every((r) => r.cached)).toBe(true)
    expect(server.requests).toEqual([])
    expect(events.map((e) => e.kind)).toEqual(['cached', 'cached'])
  })

  it('one download for items that pin the same file', async () => {
    const cache = new ArtifactCache(tempDir())
    const a = uvItem(many[2]!)
    const results = await fetchArtifacts([a, { ...a, version: '1.0' }, poetryItem(many[2]!)], options(cache))
    expect(new Set(results.map((r) => r.path)).size).toBe(1)
    expect(server.fileRequests()).toHaveLength(1)
  })

  it('two fetches of one file at once (a fetch ahead and the build): one download serves both', async () => {
    const cache = new ArtifactCache(tempDir())
    server.setFaults([{ path: '/files/', fault: { kind: 'delay', ms: 60 } }])
    const f = many[3]!
    const ahead = fetchArtifacts([uvItem(f)], options(cache))
    expect(cache.arriving(sha256(bytesOf(f.filename)))).toBeDefined()
    const events: FetchEvent[] = []
    const [later] = await fetchArtifacts([uvItem(f)], options(cache, { onProgress: (e) => events.push(e) }))
    const [first] = await ahead
    expect(server.fileRequests()).toHaveLength(1)
    expect(later).toMatchObject({ path: first!.path, size: first!.size, cached: false })
    expect(readFileSync(later!.path).equals(bytesOf(f.filename))).toBe(true)
    // The one that waited is told it is done, as if it had downloaded it (its size read then).
    expect(events.map((e) => e.kind)).toEqual(['done'])
    expect(cache.arriving(sha256(bytesOf(f.filename)))).toBeUndefined()
    await cache.settled()
  })

  it('a fetch whose download ahead failed tries on its own, and reports its own outcome', async () => {
    const cache = new ArtifactCache(tempDir())
    const f = many[4]!
    server.setFaults([{ path: '/files/', fault: { kind: 'status', status: 404 }, times: 1 }])
    const ahead = fetchArtifacts([uvItem(f)], options(cache))
    const later = fetchArtifacts([uvItem(f)], options(cache))
    await expect(ahead).rejects.toBeInstanceOf(FetchError)
    const [got] = await later
    expect(readFileSync(got!.path).equals(bytesOf(f.filename))).toBe(true)
    expect(server.fileRequests()).toHaveLength(2)
  })

  it('finds local-version wheels (+) through the index and reports progress with bytes', async () => {
    const cache = new ArtifactCache(tempDir())
    const events: FetchEvent[] = []
    const torch = files[13]!
    const bigFile = files[12]!
    await fetchArtifacts(
      [poetryItem(torch), poetryItem(bigFile)],
      options(cache, { onProgress: (e) => events.push(e) })
    )
    const forBig = events.filter((e) => e.item.file.name === bigFile.filename)
    expect(forBig[0]).toEqual({
      kind: 'start',
      item: expect.anything(),
      url: server.fileUrl(bigFile.filename),
      total: big.length
    })
    const progress = forBig.filter((e) => e.kind === 'progress')
    expect(progress.length).toBeGreaterThanOrEqual(3)
    expect(progress.at(-1)).toMatchObject({ bytes: big.length, total: big.length })
    expect(forBig.at(-1)).toMatchObject({ kind: 'done', bytes: big.length, path: cache.pathFor(sha256(big)) })
    expect(events.some((e) => e.kind === 'done' && e.item.file.name === torch.filename)).toBe(true)
  })

  it('a file whose bytes do not match the lock: HashMismatchError, nothing cached', async () => {
    const corrupt = await startPypiServer({ files, corrupt: ['six-1.16.0-py2.py3-none-any.whl'] })
    try {
      const cache = new ArtifactCache(tempDir())
      const want = bytesOf('six-1.16.0-py2.py3-none-any.whl')
      const url = corrupt.fileUrl('six-1.16.0-py2.py3-none-any.whl')
      const it1 = item('six', '1.16.0', lockedFile('six-1.16.0-py2.py3-none-any.whl', want, { url }), null)
      const e = (await fetchArtifacts([it1], options(cache)).catch((x: unknown) => x)) as HashMismatchError
      expect(e).toBeInstanceOf(HashMismatchError)
      const served = Buffer.from(want)
      served[0] = served[0]! ^ 0xff
      expect(e.describe()).toBe(
        `six 1.16.0: six-1.16.0-py2.py3-none-any.whl from ${url} has sha256 ${sha256(served)}, ` +
          `but the lock pins sha256 ${sha256(want)}\n` +
          '  fix: the download was discarded. If the package was re-published, re-lock; otherwise the index ' +
          '(or mirror) serves a different file than the one the lock was made from: check the package source and the mirror'
      )
      expect(e).toMatchObject({ expected: sha256(want), actual: sha256(served), filename: it1.file.name })
      expect(cache.has(sha256(want))).toBe(false)
      expect(cache.has(sha256(served))).toBe(false)
      expect(readdirSync(join(cache.dir, 'tmp'))).toEqual([])
      // Not a transient failure: one request, no retries.
      expect(corrupt.fileRequests()).toHaveLength(1)
    } finally {
      await corrupt.close()
    }
  })

  it('an index that lists another sha256 than the lock pins: refused before downloading', async () => {
    const cache = new ArtifactCache(tempDir())
    const other = Buffer.from('what the lock was made from')
    const it1 = item('six', '1.16.0', lockedFile('six-1.16.0.tar.gz', other), index)
    const e = (await fetchArtifacts([it1], options(cache)).catch((x: unknown) => x)) as HashMismatchError
    expect(e).toBeInstanceOf(HashMismatchError)
    expect(e.message).toBe(
      `six 1.16.0: six-1.16.0.tar.gz: the index ${server.simpleUrl} lists sha256 ${server.sha256('six-1.16.0.tar.gz')}, but the lock pins sha256 ${sha256(other)}`
    )
    expect(server.fileRequests()).toEqual([])
  })

  it('retries a 503 (honouring Retry-After) and starts the download over', async () => {
    server.setFaults([
      {
        path: '/files/six-1.16.0.tar.gz',
        fault: { kind: 'status', status: 503, headers: { 'retry-after': '0' } },
        times: 2
      }
    ])
    const events: FetchEvent[] = []
    const cache = new ArtifactCache(tempDir())
    const [r] = await fetchArtifacts(
      [uvItem(files[15]!)],
      options(cache, { onProgress: (e) => events.push(e) })
    )
    expect(readFileSync(r!.path, 'utf8')).toBe('six sdist')
    expect(server.fileRequests().map((q) => q.outcome)).toEqual([503, 503, 200])
    expect(events.filter((e) => e.kind === 'retry')).toEqual([
      expect.objectContaining({ attempt: 1, delayMs: 0, reason: expect.stringMatching(/: 503$/) }),
      expect.objectContaining({ attempt: 2, delayMs: 0 })
    ])
  })

  it('retries a connection dropped mid-body, from scratch, and the result is whole', async () => {
    server.setFaults([{ path: '/files/big_pkg', fault: { kind: 'drop', afterBytes: 1_000_000 }, times: 2 }])
    const cache = new ArtifactCache(tempDir())
    const [r] = await fetchArtifacts([poetryItem(files[12]!)], options(cache))
    expect(readFileSync(r!.path).equals(big)).toBe(true)
    expect(server.fileRequests().map((q) => q.outcome)).toEqual(['drop', 'drop', 200])
  })

  it('a stalled download times out and is retried', async () => {
    server.setFaults([
      { path: '/files/six-1.16.0.tar.gz', fault: { kind: 'stall', afterBytes: 3 }, times: 1 }
    ])
    const cache = new ArtifactCache(tempDir())
    const [r] = await fetchArtifacts([uvItem(files[15]!)], options(cache, { idleTimeoutMs: 200 }))
    expect(readFileSync(r!.path, 'utf8')).toBe('six sdist')
    expect(server.fileRequests().map((q) => q.outcome)).toEqual(['stall', 200])
  })

  it('gives up after the retry policy’s attempts, with a message that says so', async () => {
    server.setFaults([{ path: '/files/six-1.16.0.tar.gz', fault: { kind: 'status', status: 502 } }])
    const cache = new ArtifactCache(tempDir())
    const e = await fetchArtifacts([uvItem(files[15]!)], options(cache)).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(FetchError)
    expect(describeError(e)).toMatch(
      new RegExp(
        `^${esc(`six 1.0: cannot download six-1.16.0.tar.gz from ${server.fileUrl('six-1.16.0.tar.gz')}: GET ${server.fileUrl('six-1.16.0.tar.gz')}: 502`)} \\(4 attempts in [\\d.]+ s; budget 120 s\\)\\n` +
          esc(
            '  fix: the server or the network is failing: run again later (files already fetched stay in the cache), or set a reachable mirror index; the bounds are FAST_BUILD_REQUEST_TIMEOUT_S'
          )
      )
    )
    expect(server.fileRequests()).toHaveLength(4)
  })

  it('a download that stalls every time ends within the request deadline and the retry budget', async () => {
    server.setFaults([{ path: '/files/six-1.16.0.tar.gz', fault: { kind: 'stall', afterBytes: 3 } }])
    const start = Date.now()
    const e = await fetchArtifacts(
      [uvItem(files[15]!)],
      options(new ArtifactCache(tempDir()), {
        requestTimeoutMs: 300,
        retry: { attempts: 100, baseDelayMs: 50, maxDelayMs: 200, budgetMs: 1500 }
      })
    ).catch((x: unknown) => x)
    expect(Date.now() - start).toBeLessThan(1500 + 300 + 1500)
    expect(e).toBeInstanceOf(FetchError)
    const host = new URL(server.url).host
    expect(describeError(e)).toMatch(
      new RegExp(
        `^${esc(`six 1.0: cannot download six-1.16.0.tar.gz from ${server.fileUrl('six-1.16.0.tar.gz')}: ${host}: the answer to GET /files/six-1.16.0.tar.gz stopped for 0.3 s`)} \\(\\d+ attempts in [\\d.]+ s; budget 1.5 s\\)\\n  fix: .*FAST_BUILD_RETRY_BUDGET_S`
      )
    )
    expect(server.fileRequests().length).toBeGreaterThan(1)
  }, 20_000)

  it('a URL in the lock that is gone: a clear 404 error, not retried', async () => {
    const url = server.fileUrl('gone-1.0-py3-none-any.whl')
    const it1 = item('gone', '1.0', lockedFile('gone-1.0-py3-none-any.whl', Buffer.from('x'), { url }), index)
    const e = await fetchArtifacts([it1], options(new ArtifactCache(tempDir()))).catch((x: unknown) => x)
    expect(describeError(e)).toBe(
      `gone 1.0: cannot download gone-1.0-py3-none-any.whl from ${url}: the server answered 404 (not found)\n` +
        '  fix: the file is no longer where the lock says: re-lock, or set a mirror index that has it'
    )
    expect(server.fileRequests()).toHaveLength(1)
  })

  it('a file the index does not list: an IndexError naming the index, project and file', async () => {
    const it1 = item('six', '1.15.0', lockedFile('six-1.15.0-py2.py3-none-any.whl', Buffer.from('x')), index)
    const e = (await fetchArtifacts([it1], options(new ArtifactCache(tempDir()))).catch(
      (x: unknown) => x
    )) as IndexError
    expect(e).toBeInstanceOf(IndexError)
    expect(e.message).toBe(
      `six-1.15.0-py2.py3-none-any.whl (six) is not on the index ${server.simpleUrl}: it lists 2 files for the project, not this one`
    )
  })

  it('a lock without sha256 is refused before any request', async () => {
    const noHash = item(
      'six',
      '1.16.0',
      lockedFile('six-1.16.0.tar.gz', null, { hashes: { md5: 'ab' } }),
      index
    )
    const ok = poetryItem(files[15]!)
    const e = await fetchArtifacts([ok, noHash], options(new ArtifactCache(tempDir()))).catch(
      (x: unknown) => x
    )
    expect(describeError(e)).toBe(
      'the lock pins no sha256 for a file: six 1.16.0 (six-1.16.0.tar.gz: only md5)\n' +
        '  fix: fast-build installs only files it can verify: re-lock with hashes (Poetry, uv and pylock record sha256 by default)'
    )
    expect(server.requests).toEqual([])
  })

  it('several failures are reported together; no new downloads start after the first', async () => {
    const bad = (n: number) => {
      const name = `missing_${n}-1.0-py3-none-any.whl`
      return item(
        `missing-${n}`,
        '1.0',
        lockedFile(name, Buffer.from(name), { url: server.fileUrl(name) }),
        null
      )
    }
    const e = await fetchArtifacts(
      [bad(1), bad(2), bad(3), bad(4)],
      options(new ArtifactCache(tempDir()), { concurrency: 2 })
    ).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(FetchError)
    expect((e as FetchError).message).toMatch(
      /^2 files could not be fetched \(2 more not attempted\):\n {2}- missing-/
    )
  })

  it('mirror mode: every registry file comes from the mirror, whatever the lock’s URL or index', async () => {
    const unreachable = 'http://127.0.0.1:1'
    const lockUrl = `${unreachable}/packages/six-1.16.0-py2.py3-none-any.whl`
    const viaUrl = item(
      'six',
      '1.16.0',
      lockedFile('six-1.16.0-py2.py3-none-any.whl', bytesOf('six-1.16.0-py2.py3-none-any.whl'), {
        url: lockUrl
      }),
      { url: 'https://files.invalid/simple' }
    )
    const viaIndex = item('big-pkg', '2.0', lockedFile(files[12]!.filename, big), {
      url: `${unreachable}/simple`,
      name: 'corp'
    })
    const cache = new ArtifactCache(tempDir())
    const results = await fetchArtifacts(
      [viaUrl, viaIndex],
      options(cache, { mirror: { url: server.simpleUrl, name: 'mirror' } })
    )
    expect(results.map((r) => r.cached)).toEqual([false, false])
    expect(readFileSync(results[1]!.path).equals(big)).toBe(true)
    expect(server.requests.map((r) => r.path).sort()).toEqual([
      '/files/big_pkg-2.0-cp311-cp311-manylinux_2_28_x86_64.whl',
      '/files/six-1.16.0-py2.py3-none-any.whl',
      '/simple/big-pkg/',
      '/simple/six/'
    ])
  })

  it('mirror mode still checks the lock’s hash', async () => {
    const it1 = item('six', '1.16.0', lockedFile('six-1.16.0.tar.gz', Buffer.from('other bytes')), {
      url: 'https://pypi.org/simple'
    })
    const e = await fetchArtifacts(
      [it1],
      options(new ArtifactCache(tempDir()), { mirror: { url: server.simpleUrl } })
    ).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(HashMismatchError)
  })

  it('follows redirects of downloads', async () => {
    const moved = `${server.url}/moved/files/six-1.16.0.tar.gz`
    const it1 = item(
      'six',
      '1.16.0',
      lockedFile('six-1.16.0.tar.gz', Buffer.from('six sdist'), { url: moved }),
      null
    )
    const [r] = await fetchArtifacts([it1], options(new ArtifactCache(tempDir())))
    expect(readFileSync(r!.path, 'utf8')).toBe('six sdist')
    expect(server.fileRequests().map((q) => q.outcome)).toEqual([200])
  })
})

describe('fetchArtifacts from the disk', () => {
  it('path sources: read relative to the lock’s directory and verified', async () => {
    const dir = tempDir()
    mkdirSync(join(dir, 'vendor'))
    const bytes = wheelBytes('local')
    writeFileSync(join(dir, 'vendor', 'local_pkg-0.1-py3-none-any.whl'), bytes)
    const f = lockedFile('local_pkg-0.1-py3-none-any.whl', bytes, {
      path: 'vendor/local_pkg-0.1-py3-none-any.whl'
    })
    const cache = new ArtifactCache(tempDir())
    const [r] = await fetchArtifacts([item('local-pkg', '0.1', f, null)], { cache, baseDir: dir })
    expect(r).toMatchObject({ sha256: sha256(bytes), size: bytes.length, cached: false })
    expect(readFileSync(r!.path).equals(bytes)).toBe(true)

    const wrong = lockedFile('local_pkg-0.1-py3-none-any.whl', Buffer.from('else'), { path: f.path })
    const e = await fetchArtifacts([item('local-pkg', '0.1', wrong, null)], { cache, baseDir: dir }).catch(
      (x: unknown) => x
    )
    expect(e).toBeInstanceOf(HashMismatchError)
    expect((e as HashMismatchError).from).toBe(join(dir, 'vendor', 'local_pkg-0.1-py3-none-any.whl'))

    const missing = lockedFile('nope-1.0.tar.gz', Buffer.from('x'), { path: 'vendor/nope-1.0.tar.gz' })
    const e2 = await fetchArtifacts([item('nope', '1.0', missing, null)], { cache, baseDir: dir }).catch(
      (x: unknown) => x
    )
    expect(describeError(e2)).toBe(
      `nope 1.0: nope-1.0.tar.gz: no such file: ${join(dir, 'vendor', 'nope-1.0.tar.gz')}\n` +
        '  fix: the lock points at a local file that is not there: build from the directory the lock was made in, or re-lock'
    )
  })

  it('a file:// mirror laid out like /opt/pypi (simple/<name>/index.html, files/)', async () => {
    const root = tempDir()
    const bytes = wheelBytes('absl')
    const name = 'absl_py-2.5.0-py3-none-any.whl'
    mkdirSync(join(root, 'simple', 'absl-py'), { recursive: true })
    mkdirSync(join(root, 'files'))
    writeFileSync(join(root, 'files', name), bytes)
    writeFileSync(
      join(root, 'simple', 'absl-py', 'index.html'),
      `<!DOCTYPE html><html><body>\n<a href="../../files/${name}#sha256=${sha256(bytes)}">${name}</a>\n</body></html>\n`
    )
    const cache = new ArtifactCache(tempDir())
    const lockUrl = `https://files.pythonhosted.org/packages/aa/bb/${name}`
    const [r] = await fetchArtifacts(
      [
        item('absl-py', '2.5.0', lockedFile(name, bytes, { url: lockUrl }), {
          url: 'https://pypi.org/simple'
        })
      ],
      { cache, mirror: { url: pathToFileURL(join(root, 'simple')).href } }
    )
    expect(readFileSync(r!.path).equals(bytes)).toBe(true)
  })
})

describe('fetchArtifacts with credentials', () => {
  const secret = 'hunter2-S3CRET'
  const bytes = wheelBytes('private')
  const filename = 'corp_lib-3.1-py3-none-any.whl'
  let priv: PypiServer
  let other: PypiServer
  beforeAll(async () => {
    priv = await startPypiServer({
      auth: { username: 'ci', password: secret },
      files: [{ project: 'corp-lib', filename, bytes }]
    })
    other = await startPypiServer({ files: [{ project: 'corp-lib', filename, bytes }] })
  })
  afterAll(async () => {
    await priv.close()
    await other.close()
  })

  it('through the index (Poetry), with the source’s env credential: pages and files authorized', async () => {
    const cache = new ArtifactCache(tempDir())
    const [r] = await fetchArtifacts(
      [item('corp-lib', '3.1', lockedFile(filename, bytes), { url: priv.simpleUrl, name: 'corp' })],
      {
        cache,
        credentials: {
          env: { POETRY_HTTP_BASIC_CORP_USERNAME: 'ci', POETRY_HTTP_BASIC_CORP_PASSWORD: secret },
          readNetrc: () => null
        }
      }
    )
    expect(r!.sha256).toBe(sha256(bytes))
    expect(priv.requests.map((q) => q.outcome)).toEqual([200, 200])
  })

  it('credentials go only to the index’s origin; a lock URL elsewhere gets none', async () => {
    other.requests.length = 0
    const cache = new ArtifactCache(tempDir())
    await fetchArtifacts(
      [
        item('corp-lib', '3.1', lockedFile(filename, bytes, { url: other.fileUrl(filename) }), {
          url: priv.simpleUrl.replace('http://', `http://ci:${secret}@`)
        })
      ],
      { cache, credentials: NO_CREDENTIALS }
    )
    expect(other.requests).toHaveLength(1)
    expect(other.requests[0]!.authorization).toBeNull()
  })

  it('userinfo in a lock URL is used for that URL and never shown', async () => {
    priv.requests.length = 0
    const cache = new ArtifactCache(tempDir())
    const url = priv.fileUrl(filename).replace('http://', `http://ci:${secret}@`)
    const [r] = await fetchArtifacts([item('corp-lib', '3.1', lockedFile(filename, bytes, { url }), null)], {
      cache,
      credentials: NO_CREDENTIALS
    })
    expect(r!.cached).toBe(false)
    const missing = url.replace(filename, 'corp_lib-9.9-py3-none-any.whl')
    const events: FetchEvent[] = []
    const e = await fetchArtifacts(
      [
        item(
          'corp-lib',
          '9.9',
          lockedFile('corp_lib-9.9-py3-none-any.whl', Buffer.from('x'), { url: missing }),
          null
        )
      ],
      { cache, credentials: NO_CREDENTIALS, onProgress: (ev) => events.push(ev) }
    ).catch((x: unknown) => x)
    // Events carry the caller's own item; everything we add to them is redacted.
    const text = `${describeError(e)}\n${JSON.stringify(events.map(({ item: _item, ...rest }) => rest))}`
    expect(text).toContain(priv.fileUrl('corp_lib-9.9-py3-none-any.whl'))
    expect(text).toContain('404')
    expect(text).not.toContain(secret)
    expect(text).not.toContain('ci:')
  })

  it('wrong credentials: a 401 whose message shows neither them nor the URL’s userinfo', async () => {
    const cache = new ArtifactCache(tempDir())
    const e = await fetchArtifacts(
      [
        item('corp-lib', '3.1', lockedFile(filename, bytes), {
          url: priv.simpleUrl.replace('http://', 'http://ci:WRONG-pw@')
        })
      ],
      { cache, credentials: NO_CREDENTIALS }
    ).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(IndexError)
    const text = describeError(e)
    expect(text).toContain('refused access to project corp-lib (401 Unauthorized)')
    expect(text).toContain('user "ci" from the index URL')
    expect(text).not.toContain('WRONG-pw')
  })
})
