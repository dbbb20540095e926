import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { normalizeName } from '../../src/names.js'
import { HttpClient } from '../../src/net/http.js'
import {
  IndexError,
  PackageIndex,
  SIMPLE_ACCEPT,
  decodeHtmlEntities,
  parseSimpleHtml,
  parseSimpleJson,
  parseSimplePage,
  projectPageUrl
} from '../../src/wheels/index.js'
import { startPypiServer, type PypiServer } from '../support/pypi-server.js'
import { tempDir } from '../support/project.js'
import {
  ABSL_SHA,
  MIRROR_ABSL_HTML,
  ODD_HTML,
  PYPI_SIX_HTML,
  PYPI_SIX_JSON,
  PYTORCH_TORCH_HTML,
  SIX_OLD_SHA,
  SIX_SDIST_SHA,
  SIX_WHEEL_SHA,
  TORCH_CUDA_SHA
} from './index-fixtures.js'

const FAST_RETRY = { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 }
const NO_CREDENTIALS = { env: {}, readNetrc: () => null }

describe('projectPageUrl', () => {
  it('appends the PEP 503 normalized name with a trailing slash', () => {
    expect(projectPageUrl('https://pypi.org/simple', 'Foo.Bar_baz')).toBe(
      'https://pypi.org/simple/foo-bar-baz/'
    )
    expect(projectPageUrl('https://pypi.org/simple/', 'PyYAML')).toBe('https://pypi.org/simple/pyyaml/')
    expect(projectPageUrl('https://download.pytorch.org/whl/cu126', 'torch')).toBe(
      'https://download.pytorch.org/whl/cu126/torch/'
    )
    expect(projectPageUrl('file:///opt/pypi/simple', 'absl_py')).toBe('file:///opt/pypi/simple/absl-py/')
  })
})

describe('decodeHtmlEntities', () => {
  it('decodes named, decimal and hex references and leaves unknown ones', () => {
    expect(decodeHtmlEntities('&gt;=3.8, &lt;4, &#33;=3.9.0, &#x3C;5 &amp; &quot;x&quot; &apos;')).toBe(
      '>=3.8, <4, !=3.9.0, <5 & "x" \''
    )
    expect(decodeHtmlEntities('&nosuch; &amp')).toBe('&nosuch; &')
    expect(decodeHtmlEntities('plain')).toBe('plain')
  })
})

describe('parseSimpleJson (PEP 691)', () => {
  const page = 'https://pypi.org/simple/six/'

  it('reads PyPI’s JSON: file names, absolute URLs, lowercase hashes, requires-python, yanked, size', () => {
    const files = parseSimpleJson(PYPI_SIX_JSON, page)
    expect(files.map((f) => f.filename)).toEqual([
      'six-0.9.0.tar.gz',
      'six-1.16.0-py2.py3-none-any.whl',
      'six-1.16.0.tar.gz'
    ])
    const [old, wheel, sdist] = files
    expect(old).toMatchObject({
      hashes: { sha256: SIX_OLD_SHA },
      yanked: 'Broken packaging',
      requiresPython: null
    })
    expect(wheel).toEqual({
      filename: 'six-1.16.0-py2.py3-none-any.whl',
      url: 'https://files.pythonhosted.org/packages/d9/5a/e7c31adbe875f2abbb91bd84cf2dc52d792b5a01506781dbcf25c91daf11/six-1.16.0-py2.py3-none-any.whl',
      hashes: { sha256: SIX_WHEEL_SHA },
      requiresPython: '>=2.7, !=3.0.*, !=3.1.*, !=3.2.*',
      yanked: false,
      size: 11053
    })
    expect(sdist?.hashes).toEqual({ sha256: SIX_SDIST_SHA })
  })

  it('resolves relative URLs against the page and drops fragments and userinfo', () => {
    const doc = {
      meta: { 'api-version': '1.0' },
      name: 'demo',
      files: [
        { filename: 'demo-1.0.tar.gz', url: '../../files/demo-1.0.tar.gz#sha256=ab', hashes: {} },
        { filename: 'demo-1.0-py3-none-any.whl', url: '/packages/demo-1.0-py3-none-any.whl', hashes: {} },
        { filename: 'demo-0.9.tar.gz', url: 'https://u:secret@cdn.example/demo-0.9.tar.gz', hashes: {} }
      ]
    }
    const files = parseSimpleJson(JSON.stringify(doc), 'https://idx.example/a/simple/demo/')
    expect(files.map((f) => f.url)).toEqual([
      'https://idx.example/a/files/demo-1.0.tar.gz',
      'https://idx.example/packages/demo-1.0-py3-none-any.whl',
      'https://cdn.example/demo-0.9.tar.gz'
    ])
  })

  it('refuses other API major versions and pages that are not simple-API JSON', () => {
    expect(() => parseSimpleJson('{"meta":{"api-version":"2.0"},"files":[]}', page)).toThrow(
      /api-version 2\.0 is not supported/
    )
    expect(() => parseSimpleJson('{"info":{}}', page)).toThrow(/no meta\.api-version/)
    expect(() => parseSimpleJson('<html>', page)).toThrow(/not valid JSON/)
    expect(() => parseSimpleJson('{"meta":{"api-version":"1.1"},"files":[{"url":"x"}]}', page)).toThrow(
      /files\[0\]\.filename/
    )
  })
})

describe('parseSimpleHtml (PEP 503)', () => {
  it('reads PyPI’s HTML the same as its JSON (sizes aside)', () => {
    const page = 'https://pypi.org/simple/six/'
    const html = parseSimpleHtml(PYPI_SIX_HTML, page)
    const json = parseSimpleJson(PYPI_SIX_JSON, page).map((f) => ({ ...f, size: null }))
    expect(html).toEqual(json)
  })

  it('reads download.pytorch.org: root-relative hrefs, %2B in the URL is + in the file name', () => {
    const files = parseSimpleHtml(PYTORCH_TORCH_HTML, 'https://download.pytorch.org/whl/cu126/torch/')
    expect(files[0]).toEqual({
      filename: 'torch-2.7.0+cu126-cp311-cp311-manylinux_2_28_x86_64.whl',
      url: 'https://download.pytorch.org/whl/cu126/torch-2.7.0%2Bcu126-cp311-cp311-manylinux_2_28_x86_64.whl',
      hashes: { sha256: TORCH_CUDA_SHA },
      requiresPython: null,
      yanked: false,
      size: null
    })
    expect(files).toHaveLength(2)
  })

  it('reads the local mirror’s pages: ../../files/ links', () => {
    const files = parseSimpleHtml(MIRROR_ABSL_HTML, 'file:///opt/pypi/simple/absl-py/index.html')
    expect(files).toEqual([
      {
        filename: 'absl_py-2.5.0-py3-none-any.whl',
        url: 'file:///opt/pypi/files/absl_py-2.5.0-py3-none-any.whl',
        hashes: { sha256: ABSL_SHA },
        requiresPython: null,
        yanked: false,
        size: null
      }
    ])
  })

  it('handles <base href>, comments, quoting styles, capitals, a bare data-yanked and entities in text', () => {
    const files = parseSimpleHtml(ODD_HTML, 'https://mirror.example/root/pypi/+simple/attrs/')
    expect(files).toEqual([
      {
        filename: 'attrs-23.1.0-py3-none-any.whl',
        url: 'https://mirror.example/root/pypi/+f/ab/cd/attrs-23.1.0-py3-none-any.whl',
        hashes: { md5: '0123456789abcdef0123456789abcdef' },
        requiresPython: '>=3.7',
        yanked: false,
        size: null
      },
      {
        filename: 'attrs-22.2.0.tar.gz',
        url: 'https://mirror.example/root/pypi/+f/attrs-22.2.0.tar.gz',
        hashes: {},
        requiresPython: null,
        yanked: true,
        size: null
      },
      {
        filename: 'attrs-21.4.0-py2.py3-none-any.whl',
        url: 'https://mirror.example/root/pypi/+f/attrs-21.4.0-py2.py3-none-any.whl',
        hashes: { sha256: 'aaaa' },
        requiresPython: '>=2.7, !=3.0.*',
        yanked: false,
        size: null
      }
    ])
  })

  it('uses the URL’s last segment as the file name (as pip does), the anchor text only when it has none', () => {
    const files = parseSimpleHtml(
      '<a href="/dl/pkg-1.0.tar.gz?token=x">pkg-1.0.tar.gz (source)</a><a href="/dl/">pkg-2.0.tar.gz</a>',
      'https://h.example/simple/pkg/'
    )
    expect(files.map((f) => [f.filename, f.url])).toEqual([
      ['pkg-1.0.tar.gz', 'https://h.example/dl/pkg-1.0.tar.gz?token=x'],
      ['pkg-2.0.tar.gz', 'https://h.example/dl/']
    ])
  })

  it('parseSimplePage chooses by Content-Type, or by the first character when there is none', () => {
    const page = 'https://pypi.org/simple/six/'
    expect(parseSimplePage(PYPI_SIX_JSON, 'application/vnd.pypi.simple.v1+json', page)).toHaveLength(3)
    expect(parseSimplePage(PYPI_SIX_HTML, 'text/html; charset=utf-8', page)).toHaveLength(3)
    expect(parseSimplePage(`  ${PYPI_SIX_JSON}`, null, page)).toHaveLength(3)
    expect(parseSimplePage(MIRROR_ABSL_HTML, null, page)).toHaveLength(1)
  })
})

describe('PackageIndex over file://', () => {
  let root: string
  beforeAll(() => {
    root = tempDir()
    mkdirSync(join(root, 'simple', 'absl-py'), { recursive: true })
    mkdirSync(join(root, 'files'))
    writeFileSync(join(root, 'simple', 'absl-py', 'index.html'), MIRROR_ABSL_HTML)
    mkdirSync(join(root, 'simple', 'six'))
    writeFileSync(join(root, 'simple', 'six', 'index.html'), PYPI_SIX_JSON) // JSON served from a file
  })

  it('reads <root>/<project>/index.html and resolves links to file:// URLs', async () => {
    const index = new PackageIndex({ url: pathToFileURL(join(root, 'simple')).href })
    const f = await index.get(normalizeName('absl_py'), 'absl_py-2.5.0-py3-none-any.whl')
    expect(f.url).toBe(pathToFileURL(join(root, 'files', 'absl_py-2.5.0-py3-none-any.whl')).href)
    expect(f.hashes).toEqual({ sha256: ABSL_SHA })
    expect(await index.files(normalizeName('six'))).toHaveLength(3)
  })

  it('a project that is not there is an IndexError naming the index, the project and the fix', async () => {
    const url = pathToFileURL(join(root, 'simple')).href
    const index = new PackageIndex({ url })
    const e = (await index.files(normalizeName('numpy')).catch((x: unknown) => x)) as IndexError
    expect(e).toBeInstanceOf(IndexError)
    expect(e.message).toContain(`project numpy is not on the index ${url}`)
    expect(e.hint).toMatch(/package source/)
    expect(e.project).toBe('numpy')
  })
})

describe('PackageIndex over HTTP', () => {
  const whl = (n: string) => `${n}-1.0-py3-none-any.whl`
  let server: PypiServer
  let http: HttpClient
  beforeAll(async () => {
    server = await startPypiServer({
      files: [
        { project: 'six', filename: whl('six'), bytes: 'six wheel', requiresPython: '>=3.8' },
        { project: 'six', filename: 'six-1.0.tar.gz', bytes: 'six sdist', yanked: 'bad build' },
        { project: 'Foo.Bar', filename: whl('foo_bar'), bytes: 'foo' },
        { project: 'torch', filename: 'torch-2.7.0+cpu-cp311-cp311-linux_x86_64.whl', bytes: 'torch' }
      ]
    })
    http = new HttpClient({ idleTimeoutMs: 5000 })
  })
  afterAll(async () => {
    http.close()
    await server.close()
  })
  afterEach(() => {
    server.requests.length = 0
    server.setFaults([])
  })

  it('asks for PEP 691 JSON and gets it; absolute file URLs; one request per project per run', async () => {
    const index = new PackageIndex({ url: server.simpleUrl }, http, { credentials: NO_CREDENTIALS })
    const files = await index.files(normalizeName('six'))
    expect(files).toEqual([
      {
        filename: whl('six'),
        url: server.fileUrl(whl('six')),
        hashes: { sha256: server.sha256(whl('six')) },
        requiresPython: '>=3.8',
        yanked: false,
        size: 9
      },
      {
        filename: 'six-1.0.tar.gz',
        url: server.fileUrl('six-1.0.tar.gz'),
        hashes: { sha256: server.sha256('six-1.0.tar.gz') },
        requiresPython: null,
        yanked: 'bad build',
        size: 9
      }
    ])
    await index.files(normalizeName('six'))
    await index.find(normalizeName('six'), 'six-1.0.tar.gz')
    expect(server.requests).toEqual([
      expect.objectContaining({ path: '/simple/six/', accept: SIMPLE_ACCEPT, format: 'json', outcome: 200 })
    ])
  })

  it('falls back to PEP 503 HTML when that is all the index speaks, with the same result', async () => {
    const htmlOnly = await startPypiServer({
      format: 'html',
      files: [
        { project: 'six', filename: whl('six'), bytes: 'six wheel', requiresPython: '>=3.8' },
        { project: 'six', filename: 'six-1.0.tar.gz', bytes: 'six sdist', yanked: 'bad build' }
      ]
    })
    try {
      const a = await new PackageIndex({ url: htmlOnly.simpleUrl }, http).files(normalizeName('six'))
      const b = await new PackageIndex({ url: server.simpleUrl }, http).files(normalizeName('six'))
      expect(htmlOnly.requests[0]?.format).toBe('html')
      expect(a.map((f) => ({ ...f, url: f.url.replace(htmlOnly.url, '') }))).toEqual(
        b.map((f) => ({ ...f, url: f.url.replace(server.url, ''), size: null }))
      )
    } finally {
      await htmlOnly.close()
    }
  })

  it('asks for the normalized name, and finds file names with + (local versions)', async () => {
    const index = new PackageIndex({ url: `${server.simpleUrl}/` }, http)
    expect(await index.find('Foo_Bar', whl('foo_bar'))).toMatchObject({ url: server.fileUrl(whl('foo_bar')) })
    const torch = await index.get(normalizeName('torch'), 'torch-2.7.0+cpu-cp311-cp311-linux_x86_64.whl')
    expect(torch.url).toBe(`${server.url}/files/torch-2.7.0%2Bcpu-cp311-cp311-linux_x86_64.whl`)
    expect(server.requests.map((r) => r.path)).toEqual(['/simple/foo-bar/', '/simple/torch/'])
  })

  it('follows redirects and resolves relative links against the final page', async () => {
    const index = new PackageIndex({ url: `${server.url}/moved/simple` }, http)
    const six = await index.get(normalizeName('six'), whl('six'))
    expect(six.url).toBe(server.fileUrl(whl('six')))
    expect(server.requests.map((r) => [r.path, r.outcome])).toEqual([
      ['/moved/simple/six/', 302],
      ['/simple/six/', 200]
    ])
  })

  it('a redirect loop ends with an IndexError', async () => {
    const loop = await startPypiServer({ files: [], faults: [] })
    try {
      const index = new PackageIndex({ url: `${loop.url}/moved/moved/moved/simple` }, http, {
        maxRedirects: 2
      })
      await expect(index.files(normalizeName('six'))).rejects.toThrow(/redirected more than 2 times/)
    } finally {
      await loop.close()
    }
  })

  it('retries a 503 and a dropped connection, then answers', async () => {
    server.setFaults([
      { path: '/simple/six/', fault: { kind: 'status', status: 503 }, times: 1 },
      { path: '/simple/six/', fault: { kind: 'drop' }, times: 1 }
    ])
    const retries: string[] = []
    const index = new PackageIndex({ url: server.simpleUrl }, http, {
      retry: FAST_RETRY,
      onRetry: (e) => retries.push(e.message)
    })
    expect(await index.files(normalizeName('six'))).toHaveLength(2)
    expect(server.requests.map((r) => r.outcome)).toEqual([503, 'drop', 200])
    expect(retries).toHaveLength(2)
  })

  it('a project the index does not have: IndexError with the index, the project and the fix', async () => {
    const index = new PackageIndex({ url: server.simpleUrl }, http)
    const e = (await index.files(normalizeName('nope')).catch((x: unknown) => x)) as IndexError
    expect(e).toBeInstanceOf(IndexError)
    expect(e.describe()).toBe(
      `project nope is not on the index ${server.simpleUrl} (GET ${server.simpleUrl}/nope/ answered 404)\n` +
        '  fix: check that the package source in the lock points at the index that serves it (and re-lock), or add the project to the mirror'
    )
  })

  it('a file the index does not list: find gives null, get an IndexError naming the file', async () => {
    const index = new PackageIndex({ url: server.simpleUrl }, http)
    expect(await index.find(normalizeName('six'), 'six-9.9-py3-none-any.whl')).toBeNull()
    const e = (await index
      .get(normalizeName('six'), 'six-9.9-py3-none-any.whl')
      .catch((x: unknown) => x)) as IndexError
    expect(e).toBeInstanceOf(IndexError)
    expect(e.message).toBe(
      `six-9.9-py3-none-any.whl (six) is not on the index ${server.simpleUrl}: it lists 2 files for the project, not this one`
    )
    expect(e.filename).toBe('six-9.9-py3-none-any.whl')
    expect(e.hint).toMatch(/re-lock/)
  })

  it('an unreachable index: a temporary IndexError after the retries', async () => {
    const gone = await startPypiServer({ files: [] })
    const url = gone.simpleUrl
    await gone.close()
    const index = new PackageIndex({ url }, http, { retry: FAST_RETRY })
    const e = (await index.files(normalizeName('six')).catch((x: unknown) => x)) as IndexError
    expect(e).toBeInstanceOf(IndexError)
    expect(e.temporary).toBe(true)
    expect(e.message).toMatch(
      new RegExp(`^cannot get project six from the index ${url}: .*connection dropped`)
    )
  })

  it('an index that never answers: a temporary IndexError within the deadline and the budget', async () => {
    server.setFaults([{ path: '/simple/six/', fault: { kind: 'stall' } }])
    const quick = new HttpClient({ requestTimeoutMs: 300 })
    try {
      const index = new PackageIndex({ url: server.simpleUrl }, quick, {
        retry: { attempts: 100, baseDelayMs: 50, maxDelayMs: 200, budgetMs: 1500 }
      })
      const start = Date.now()
      const e = (await index.files(normalizeName('six')).catch((x: unknown) => x)) as IndexError
      expect(Date.now() - start).toBeLessThan(1500 + 300 + 1500)
      expect(e).toBeInstanceOf(IndexError)
      expect(e.temporary).toBe(true)
      const host = new URL(server.url).host
      expect(e.message).toMatch(
        new RegExp(
          `^cannot get project six from the index ${server.simpleUrl.replace(/[.]/g, '\\.')}: ${host.replace(/[.]/g, '\\.')}: no answer to GET /simple/six/ within 0\\.3 s \\(\\d+ attempts in [\\d.]+ s; budget 1\\.5 s\\)$`
        )
      )
      expect(e.hint).toMatch(/FAST_BUILD_REQUEST_TIMEOUT_S .*FAST_BUILD_RETRY_BUDGET_S/)
    } finally {
      quick.close()
    }
  }, 20_000)

  it('a page that is not a simple-API page is an IndexError that says so', async () => {
    const index = new PackageIndex({ url: server.url }, http) // the host root, not /simple
    server.setFaults([])
    const e = (await index.files(normalizeName('simple')).catch((x: unknown) => x)) as IndexError
    // /simple/ is the project list, not a project page: HTML with links to projects, no files
    // to trip on; the JSON form has no `files`.
    expect(e).toBeInstanceOf(IndexError)
    expect(e.message).toMatch(/not a simple-API page.*no files list/)
  })
})

describe('PackageIndex with credentials', () => {
  let server: PypiServer
  let http: HttpClient
  const secret = 's3cr3t-p@ss'
  beforeAll(async () => {
    server = await startPypiServer({
      auth: { username: 'alice', password: secret },
      files: [{ project: 'private-pkg', filename: 'private_pkg-1.0-py3-none-any.whl', bytes: 'x' }]
    })
    http = new HttpClient({ idleTimeoutMs: 5000 })
  })
  afterAll(async () => {
    http.close()
    await server.close()
  })

  const userinfoUrl = (user: string, pass: string) =>
    server.simpleUrl.replace('http://', `http://${encodeURIComponent(user)}:${encodeURIComponent(pass)}@`)

  it('without credentials: a 401 IndexError whose hint names every way to give them', async () => {
    const index = new PackageIndex({ url: server.simpleUrl, name: 'corp-pypi' }, http, {
      credentials: NO_CREDENTIALS
    })
    const e = (await index.files(normalizeName('private-pkg')).catch((x: unknown) => x)) as IndexError
    expect(e.message).toBe(
      `the index ${server.simpleUrl} refused access to project private-pkg (401 Unauthorized)`
    )
    expect(e.hint).toBe(
      'give credentials for the index: set FAST_BUILD_INDEX_CORP_PYPI_USERNAME/_PASSWORD, ' +
        'POETRY_HTTP_BASIC_CORP_PYPI_USERNAME/_PASSWORD, UV_INDEX_CORP_PYPI_USERNAME/_PASSWORD, ' +
        'put user:password@ in the index URL, or add "machine 127.0.0.1 login … password …" to ~/.netrc'
    )
  })

  it('userinfo in the index URL: sent as Basic auth, never shown', async () => {
    const index = new PackageIndex({ url: userinfoUrl('alice', secret) }, http)
    expect(index.url).toBe(server.simpleUrl)
    const files = await index.files(normalizeName('private-pkg'))
    expect(files[0]?.url).toBe(server.fileUrl('private_pkg-1.0-py3-none-any.whl'))
    expect(index.describeCredential()).toBe('user "alice" from the index URL')
    expect(index.authorizationFor(files[0]!.url)).toBe(
      `Basic ${Buffer.from(`alice:${secret}`).toString('base64')}`
    )
    // Never to another origin.
    expect(index.authorizationFor('https://files.pythonhosted.org/x.whl')).toBeNull()
    expect(index.authorizationFor(server.fileUrl('x').replace('127.0.0.1', 'localhost'))).toBeNull()
  })

  it('environment variables for the named source (each convention)', async () => {
    for (const prefix of ['FAST_BUILD_INDEX_', 'POETRY_HTTP_BASIC_', 'UV_INDEX_']) {
      const env = { [`${prefix}CORP_PYPI_USERNAME`]: 'alice', [`${prefix}CORP_PYPI_PASSWORD`]: secret }
      const index = new PackageIndex({ url: server.simpleUrl, name: 'corp.pypi' }, http, {
        credentials: { env, readNetrc: () => null }
      })
      expect(await index.files(normalizeName('private-pkg'))).toHaveLength(1)
      expect(index.describeCredential()).toBe(`user "alice" from ${prefix}CORP_PYPI_USERNAME/_PASSWORD`)
    }
  })

  it('a netrc entry for the host', async () => {
    const index = new PackageIndex({ url: server.simpleUrl }, http, {
      credentials: {
        env: { NETRC: '/somewhere/netrc' },
        readNetrc: (p) =>
          p === '/somewhere/netrc' ? `machine 127.0.0.1 login alice password ${secret}\n` : null
      }
    })
    expect(await index.files(normalizeName('private-pkg'))).toHaveLength(1)
    expect(index.describeCredential()).toBe('user "alice" from /somewhere/netrc')
  })

  it('wrong credentials: the message names the user and where they came from, never the password', async () => {
    const index = new PackageIndex({ url: userinfoUrl('alice', 'wrong-Pa55') }, http)
    const e = (await index.files(normalizeName('private-pkg')).catch((x: unknown) => x)) as IndexError
    const text = (e as IndexError).describe()
    expect(text).toContain('refused access to project private-pkg (401 Unauthorized)')
    expect(text).toContain('the index rejected user "alice" from the index URL')
    expect(text).not.toContain('wrong-Pa55')
    expect(text).not.toContain('alice:')
  })

  it('unreachable with credentials in the URL: the message shows the URL without them', async () => {
    const gone = await startPypiServer({ files: [] })
    await gone.close()
    const url = gone.simpleUrl.replace('http://', `http://bob:${secret}@`)
    const e = (await new PackageIndex({ url }, http, { retry: FAST_RETRY })
      .files(normalizeName('x'))
      .catch((x: unknown) => x)) as IndexError
    expect(e.describe()).toContain(gone.simpleUrl)
    expect(e.describe()).not.toContain(secret)
    expect(e.describe()).not.toContain('bob')
  })
})
