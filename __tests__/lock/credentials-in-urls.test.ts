// A lock may carry credentials in its URLs (`https://user:pass@host/simple` as an index or file
// URL, `https://x-access-token:…@github.com/…` as a git source). The lock model keeps URLs without
// them: nothing printed (`plan --json`, ids, labels), hashed or written into a build context holds
// them, rotating one changes no hash, and requests still carry them.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { contextFiles } from '../../src/pipeline/dockerfile.js'
import { pinnedRequirements } from '../../src/pipeline/requirements.js'
import { readLock, sourceLabel, type Lock, type LockedPackage } from '../../src/lock/index.js'
import { planProject, planToJson, type Plan } from '../../src/plan/plan.js'
import { indexNameFor, namedIndexes } from '../../src/project/package-indexes.js'
import { readProject } from '../../src/project/pyproject.js'
import { parsePlatform } from '../../src/target.js'
import { ArtifactCache } from '../../src/cache/artifacts.js'
import { fetchArtifacts, type FetchItem } from '../../src/wheels/fetch.js'
import { indexConfigFor, splitUserinfo, withoutUserinfo } from '../../src/packaging/index-credentials.js'
import { startPypiServer, type PypiServer } from '../support/pypi-server.js'

const COMMIT = '0123456789abcdef0123456789abcdef01234567'
const SHA = 'ab'.repeat(32)
const amd64 = [parsePlatform('linux/amd64')]

function dir(files: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), 'fast-build-creds-'))
  for (const [name, text] of Object.entries(files)) writeFileSync(join(d, name), text)
  return d
}

const UV_PYPROJECT = `[project]
name = "app"
version = "0.1"
requires-python = ">=3.11"
dependencies = ["six", "gitpkg", "urlpkg"]

[tool.uv.sources]
gitpkg = { git = "https://github.com/org/gitpkg", rev = "main" }
urlpkg = { url = "https://files.corp.example/urlpkg-1.0.tar.gz" }

[[tool.uv.index]]
name = "corp"
url = "https://pypi.corp.example/simple"
`

/** A uv.lock whose index, file, git and archive URLs carry `user`/`pass` and a GitHub token. */
function uvLock(pass: string, token: string, index = `https://ci:${pass}@pypi.corp.example/simple`): string {
  const files = index.replace(/\/simple$/, '/files')
  return `version = 1
revision = 3
requires-python = ">=3.11"

[[package]]
name = "app"
version = "0.1"
source = { editable = "." }
dependencies = [
    { name = "gitpkg" },
    { name = "six" },
    { name = "urlpkg" },
]

[package.metadata]
requires-dist = [
    { name = "gitpkg", git = "https://x-access-token:${token}@github.com/org/gitpkg?rev=main" },
    { name = "six" },
    { name = "urlpkg", url = "https://ci:${pass}@files.corp.example/urlpkg-1.0.tar.gz" },
]

[[package]]
name = "gitpkg"
version = "2.0"
source = { git = "https://x-access-token:${token}@github.com/org/gitpkg?rev=main#${COMMIT}" }

[[package]]
name = "six"
version = "1.16.0"
source = { registry = "${index}" }
sdist = { url = "${files}/six-1.16.0.tar.gz", hash = "sha256:${SHA}" }
wheels = [
    { url = "${files}/six-1.16.0-py2.py3-none-any.whl", hash = "sha256:${SHA}" },
]

[[package]]
name = "urlpkg"
version = "1.0"
source = { url = "https://ci:${pass}@files.corp.example/urlpkg-1.0.tar.gz" }
sdist = { hash = "sha256:${SHA}" }
`
}

function plan(projectDir: string): { lock: Lock; plan: Plan } {
  const project = readProject(projectDir)
  const { lock } = readLock(project)
  return { lock, plan: planProject(project, lock, { platforms: amd64 }) }
}

const pkg = (lock: Lock, name: string): LockedPackage => lock.packages.find((p) => p.name === name)!

/** The URL of an index, git or archive source. */
function urlOf(p: LockedPackage): string {
  const s = p.source
  if (s.kind === 'registry' || s.kind === 'git' || s.kind === 'url') return s.url
  throw new Error(`${p.name} has a ${s.kind} source`)
}

function expectNoCredentials(text: string, ...secrets: string[]): void {
  expect(text).not.toMatch(/:\/\/[^/\s"'@]*@/) // no userinfo at all
  for (const s of secrets) {
    expect(text).not.toContain(s)
    expect(text).not.toContain(Buffer.from(s).toString('base64'))
  }
}

describe('credentials in uv.lock URLs', () => {
  const one = plan(dir({ 'pyproject.toml': UV_PYPROJECT, 'uv.lock': uvLock('pass-ONE', 'ghp_tokenONE') }))
  const two = plan(dir({ 'pyproject.toml': UV_PYPROJECT, 'uv.lock': uvLock('pass-TWO', 'ghp_tokenTWO') }))
  const none = plan(
    dir({
      'pyproject.toml': UV_PYPROJECT,
      'uv.lock': uvLock('', '', 'https://pypi.corp.example/simple').replace(
        /https:\/\/(ci|x-access-token):@/g,
        'https://'
      )
    })
  )

  it('do not move the hash: another password, or none, gives the same one', () => {
    expect(one.plan.failed).toEqual([])
    expect(one.plan.variants[0]!.platforms[0]!.closure.installed.map((e) => e.package.name)).toEqual([
      'gitpkg',
      'six',
      'urlpkg'
    ])
    expect(two.plan.variants.map((v) => v.hash)).toEqual(one.plan.variants.map((v) => v.hash))
    expect(none.plan.variants.map((v) => v.hash)).toEqual(one.plan.variants.map((v) => v.hash))
  })

  it('are in no URL of the model, no id, no label, and not in plan --json', () => {
    const { lock } = one
    expect(pkg(lock, 'six').source).toEqual({
      kind: 'registry',
      url: 'https://pypi.corp.example/simple',
      name: null
    })
    expect(pkg(lock, 'six').files.map((f) => f.url)).toEqual([
      'https://pypi.corp.example/files/six-1.16.0.tar.gz',
      'https://pypi.corp.example/files/six-1.16.0-py2.py3-none-any.whl'
    ])
    expect(pkg(lock, 'gitpkg').source).toMatchObject({
      kind: 'git',
      url: 'https://github.com/org/gitpkg',
      commit: COMMIT
    })
    expect(pkg(lock, 'urlpkg').source).toMatchObject({
      kind: 'url',
      url: 'https://files.corp.example/urlpkg-1.0.tar.gz'
    })
    const shown = JSON.stringify([
      lock.packages.map((p) => [p.id, p.sourceRef, sourceLabel(p.source), p.source, p.files]),
      lock.packages.flatMap((p) => p.dependencies.map((e) => e.pinSource)),
      planToJson(one.plan)
    ])
    expectNoCredentials(shown, 'pass-ONE', 'ghp_tokenONE', 'ci:pass-ONE')
  })

  it('are not written into the requirement files of a Dockerfile build context', () => {
    const v = one.plan.variants[0]!
    const text = contextFiles(v.name, v.platforms, one.lock.path)
      .map((f) => f.text)
      .join('\n')
    expect(text).toContain('--index-url https://pypi.corp.example/simple')
    expect(text).toContain('urlpkg @ https://files.corp.example/urlpkg-1.0.tar.gz')
    expect(text).toContain(`gitpkg @ git+https://github.com/org/gitpkg@${COMMIT}`)
    expectNoCredentials(text, 'pass-ONE', 'ghp_tokenONE', 'ci:pass-ONE')
  })

  it('are kept for requests: the model’s URL finds them again', () => {
    // Read last: two's credentials are the ones kept for these URLs now.
    const lock = plan(
      dir({ 'pyproject.toml': UV_PYPROJECT, 'uv.lock': uvLock('pass-ONE', 'ghp_tokenONE') })
    ).lock
    const six = pkg(lock, 'six')
    expect(splitUserinfo(urlOf(six))).toEqual({
      url: urlOf(six),
      username: 'ci',
      password: 'pass-ONE'
    })
    expect(splitUserinfo(six.files[1]!.url!)).toMatchObject({ username: 'ci', password: 'pass-ONE' })
    expect(splitUserinfo(urlOf(pkg(lock, 'urlpkg')))).toMatchObject({
      username: 'ci',
      password: 'pass-ONE'
    })
    // As the build looks an index up: the index of [[tool.uv.index]] by its URL, its credential.
    const project = readProject(
      dir({ 'pyproject.toml': UV_PYPROJECT.replace('https://pypi', 'https://someone:x@pypi') })
    )
    expect(indexNameFor(namedIndexes(project), urlOf(six))).toBe('corp')
    expect(indexConfigFor(urlOf(six), 'corp', {}, { readNetrc: () => null })).toMatchObject({
      url: 'https://pypi.corp.example/simple',
      credential: { username: 'ci', password: 'pass-ONE', source: 'the index URL' }
    })
  })
})

describe('credentials in poetry.lock and pylock.toml URLs', () => {
  it('poetry: a legacy source and a git source lose them; the hash does not see them', () => {
    const pyproject = `[tool.poetry]
name = "app"
version = "0.1"

[tool.poetry.dependencies]
python = ">=3.11"
six = { version = "1.16.0", source = "corp" }
gitpkg = { git = "https://x-access-token:ghp_X@github.com/org/gitpkg.git", rev = "main" }

[[tool.poetry.source]]
name = "corp"
url = "https://ci:p@pypi.corp.example/simple"
priority = "explicit"
`
    const lock = (pass: string) => `[[package]]
name = "gitpkg"
version = "2.0"
description = ""
optional = false
python-versions = "*"
files = []

[package.source]
type = "git"
url = "https://x-access-token:${pass}@github.com/org/gitpkg.git"
reference = "main"
resolved_reference = "${COMMIT}"

[[package]]
name = "six"
version = "1.16.0"
description = ""
optional = false
python-versions = "*"
files = [
    {file = "six-1.16.0-py2.py3-none-any.whl", hash = "sha256:${SHA}"},
]

[package.source]
type = "legacy"
url = "https://ci:${pass}@pypi.corp.example/simple"
reference = "corp"

[metadata]
lock-version = "2.0"
python-versions = ">=3.11"
`
    const a = plan(dir({ 'pyproject.toml': pyproject, 'poetry.lock': lock('pw-AAA') }))
    const b = plan(dir({ 'pyproject.toml': pyproject, 'poetry.lock': lock('pw-BBB') }))
    expect(a.plan.failed).toEqual([])
    expect(a.plan.variants[0]!.platforms[0]!.closure.installed.map((e) => e.package.name)).toEqual([
      'gitpkg',
      'six'
    ])
    expect(b.plan.variants.map((v) => v.hash)).toEqual(a.plan.variants.map((v) => v.hash))
    expect(pkg(a.lock, 'six').source).toEqual({
      kind: 'registry',
      url: 'https://pypi.corp.example/simple',
      name: 'corp'
    })
    expectNoCredentials(
      JSON.stringify([planToJson(a.plan), a.lock.packages.map((p) => [p.id, p.source])]),
      'pw-AAA'
    )
  })

  it('pylock: index and file URLs lose them', () => {
    const lock = (pass: string) => `lock-version = "1.0"
created-by = "test"
requires-python = ">=3.11"

[[packages]]
name = "six"
version = "1.16.0"
index = "https://ci:${pass}@pypi.corp.example/simple"
wheels = [{ name = "six-1.16.0-py2.py3-none-any.whl", url = "https://ci:${pass}@pypi.corp.example/files/six-1.16.0-py2.py3-none-any.whl", hashes = { sha256 = "${SHA}" } }]

[[packages]]
name = "urlpkg"
version = "1.0"
archive = { url = "https://ci:${pass}@files.corp.example/urlpkg-1.0.tar.gz", hashes = { sha256 = "${SHA}" } }
`
    const pyproject = `[project]\nname = "app"\nversion = "0.1"\nrequires-python = ">=3.11"\n`
    const a = plan(dir({ 'pyproject.toml': pyproject, 'pylock.toml': lock('pw-AAA') }))
    const b = plan(dir({ 'pyproject.toml': pyproject, 'pylock.toml': lock('pw-BBB') }))
    expect(a.plan.failed).toEqual([])
    expect(b.plan.variants.map((v) => v.hash)).toEqual(a.plan.variants.map((v) => v.hash))
    const v = a.plan.variants[0]!
    const shown = JSON.stringify([
      planToJson(a.plan),
      a.lock.packages.map((p) => [p.id, p.source, p.files]),
      pinnedRequirements(v.platforms[0]!.closure.installed, v.platforms[0]!.target, {
        refuse: () => {
          throw new Error('refused')
        },
        git: 'allow',
        why: { git: '', file: '' }
      })
    ])
    expect(shown).toContain('https://pypi.corp.example/files/six-1.16.0-py2.py3-none-any.whl')
    expectNoCredentials(shown, 'pw-AAA')
  })
})

describe('withoutUserinfo', () => {
  it.each<[string, string]>([
    ['https://u:p@h.example/simple', 'https://h.example/simple'],
    ['https://ghp_token@github.com/o/r', 'https://github.com/o/r'],
    ['git+https://x-access-token:t@github.com/o/r.git@v1', 'git+https://github.com/o/r.git@v1'],
    ['ssh://git@github.com/o/r', 'ssh://git@github.com/o/r'],
    ['ssh://git:secret@github.com/o/r', 'ssh://git@github.com/o/r'],
    ['git@github.com:o/r.git', 'git@github.com:o/r.git'],
    ['https://h.example/a@b.whl', 'https://h.example/a@b.whl'],
    ['https://pypi.org/simple', 'https://pypi.org/simple']
  ])('%s → %s', (url, want) => {
    expect(withoutUserinfo(url)).toBe(want)
  })
})

describe('fetching through an index whose lock URL carries the credential', () => {
  const secret = 'idx-S3CRET'
  const bytes = Buffer.concat([Buffer.from('PK\x03\x04'), randomBytes(512)])
  const sha = createHash('sha256').update(bytes).digest('hex')
  const filename = 'corp_lib-3.1-py3-none-any.whl'
  let server: PypiServer
  beforeAll(async () => {
    server = await startPypiServer({
      auth: { username: 'ci', password: secret },
      files: [{ project: 'corp-lib', filename, bytes }]
    })
  })
  afterAll(async () => server.close())

  function lockWith(index: string, fileUrl: string | null): Lock {
    const pyproject = `[project]\nname = "app"\nversion = "0.1"\nrequires-python = ">=3.11"\ndependencies = ["corp-lib"]\n`
    const wheel = fileUrl
      ? `{ url = "${fileUrl}", hash = "sha256:${sha}" }`
      : `{ filename = "${filename}", hash = "sha256:${sha}" }`
    const lock = `version = 1
revision = 3
requires-python = ">=3.11"

[[package]]
name = "app"
version = "0.1"
source = { editable = "." }
dependencies = [{ name = "corp-lib" }]

[package.metadata]
requires-dist = [{ name = "corp-lib" }]

[[package]]
name = "corp-lib"
version = "3.1"
source = { registry = "${index}" }
wheels = [${wheel}]
`
    return readLock(readProject(dir({ 'pyproject.toml': pyproject, 'uv.lock': lock }))).lock
  }

  /** As the wheels builder makes them (src/pipeline/build.ts indexFor). */
  function items(lock: Lock): FetchItem[] {
    const p = pkg(lock, 'corp-lib')
    const s = p.source
    return [
      {
        name: p.name,
        version: p.version,
        file: p.files[0]!,
        index: s.kind === 'registry' ? indexConfigFor(s.url, s.name, {}, { readNetrc: () => null }) : null
      }
    ]
  }

  it('the index page and the file are requested with it', async () => {
    const withUser = server.simpleUrl.replace('http://', `http://ci:${secret}@`)
    const lock = lockWith(withUser, null)
    expect(pkg(lock, 'corp-lib').source).toMatchObject({ url: server.simpleUrl })
    server.requests.length = 0
    const [r] = await fetchArtifacts(items(lock), {
      cache: new ArtifactCache(mkdtempSync(join(tmpdir(), 'fast-build-cache-'))),
      credentials: { env: {}, readNetrc: () => null }
    })
    expect(r!.sha256).toBe(sha)
    expect(server.requests.map((q) => q.outcome)).toEqual([200, 200])
    expect(
      server.requests.every(
        (q) => q.authorization === `Basic ${Buffer.from(`ci:${secret}`).toString('base64')}`
      )
    ).toBe(true)
  })

  it('a file URL of the lock is requested with its own', async () => {
    const fileUrl = server.fileUrl(filename).replace('http://', `http://ci:${secret}@`)
    const lock = lockWith('https://elsewhere.example/simple', fileUrl)
    expect(pkg(lock, 'corp-lib').files[0]!.url).toBe(server.fileUrl(filename))
    server.requests.length = 0
    const [r] = await fetchArtifacts(items(lock), {
      cache: new ArtifactCache(mkdtempSync(join(tmpdir(), 'fast-build-cache-'))),
      credentials: { env: {}, readNetrc: () => null }
    })
    expect(r!.sha256).toBe(sha)
    expect(server.requests.map((q) => [q.path, q.outcome])).toEqual([[`/files/${filename}`, 200]])
  })
})
