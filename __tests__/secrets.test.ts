// No secret ever shows: with a registry password, a Docker config auth, index credentials (in a
// lock URL and in FAST_BUILD_INDEX_<NAME>_PASSWORD) and a GitHub token set, every error we can
// provoke from the CLI and from the pure functions, `plan --json`, and the requirement files of a
// Dockerfile build context are searched for each secret and its base64 forms (`user:pass` too).
// Offline: the registry and the package index are stand-ins on 127.0.0.1.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { contextFiles } from '../src/pipeline/dockerfile.js'
import { describeError } from '../src/errors.js'
import { readLock } from '../src/lock/index.js'
import { planProject, planToJson } from '../src/plan/plan.js'
import { readProject } from '../src/project/pyproject.js'
import { credentialFromDockerConfig } from '../src/registry/credentials.js'
import { openStore } from '../src/registry/open.js'
import { parsePlatform } from '../src/target.js'
import { ArtifactCache } from '../src/cache/artifacts.js'
import { fetchArtifacts, type FetchItem } from '../src/wheels/fetch.js'
import { indexConfigFor } from '../src/packaging/index-credentials.js'
import { cli, type CliRun } from './support/cli.js'
import { startPypiServer, type PypiServer } from './support/pypi-server.js'

const REGISTRY = { user: 'reguser', pass: 'reg-PASSW0RD-k1' }
const DOCKER = { user: 'dockuser', pass: 'dock-PASSW0RD-k2' }
const LOCK_INDEX = { user: 'ci', pass: 'idx-PASSW0RD-k3' }
const ENV_INDEX = { user: 'envuser', pass: 'env-PASSW0RD-k4' }
const GITHUB_TOKEN = 'ghp_T0KENsecretK5abcdef'
const SHA = 'ab'.repeat(32)
const COMMIT = '0123456789abcdef0123456789abcdef01234567'

/** Every form a secret could leak in. */
const FORBIDDEN = [
  ...[REGISTRY, DOCKER, LOCK_INDEX, ENV_INDEX].flatMap(({ user, pass }) => [
    pass,
    Buffer.from(pass).toString('base64'),
    Buffer.from(`${user}:${pass}`).toString('base64'),
    `${user}:${pass}`,
    encodeURIComponent(pass)
  ]),
  GITHUB_TOKEN,
  Buffer.from(GITHUB_TOKEN).toString('base64'),
  Buffer.from(`x-access-token:${GITHUB_TOKEN}`).toString('base64')
]

/** Everything the test saw printed or written: searched at the end, and by each test. */
const seen: string[] = []

function expectClean(label: string, text: string): void {
  seen.push(`--- ${label}\n${text}`)
  for (const secret of FORBIDDEN) {
    if (text.includes(secret)) throw new Error(`${label} shows a secret (${secret.slice(0, 4)}…):\n${text}`)
  }
}

function run(label: string, r: CliRun): CliRun {
  expectClean(`${label} (stdout)`, r.out)
  expectClean(`${label} (stderr)`, r.err)
  return r
}

function caught(f: () => unknown): Promise<unknown> {
  return Promise.resolve()
    .then(f)
    .then(
      () => null,
      (e: unknown) => e
    )
}

/** A registry that refuses everyone (401, Basic), as one does for wrong credentials. */
let registry: Server
let registryHost = ''
/** A package index that wants other credentials than every one we have. */
let index: PypiServer
const saved: Record<string, string | undefined> = {}
let projectDir = ''
let dockerDir = ''

function writeProject(dir: string, lock: string): void {
  mkdirSync(dir, { recursive: true })
  writeFileSync(
    join(dir, 'pyproject.toml'),
    `[project]
name = "app"
version = "0.1"
requires-python = ">=3.11"
dependencies = ["corp-lib", "gitpkg"]

[tool.uv.sources]
gitpkg = { git = "https://github.com/org/gitpkg" }

[[tool.uv.index]]
name = "corp"
url = "${index.simpleUrl}"

[tool.fast-build]
base-image = "${registryHost}/python:3.11-slim"
builder = "dockerfile"
`
  )
  writeFileSync(join(dir, 'uv.lock'), lock)
}

function lockText(): string {
  const simple = index.simpleUrl.replace('http://', `http://${LOCK_INDEX.user}:${LOCK_INDEX.pass}@`)
  return `version = 1
revision = 3
requires-python = ">=3.11"

[[package]]
name = "app"
version = "0.1"
source = { editable = "." }
dependencies = [{ name = "corp-lib" }, { name = "gitpkg" }]

[package.metadata]
requires-dist = [
    { name = "corp-lib" },
    { name = "gitpkg", git = "https://x-access-token:${GITHUB_TOKEN}@github.com/org/gitpkg" },
]

[[package]]
name = "corp-lib"
version = "3.1"
source = { registry = "${simple}" }
wheels = [{ url = "${simple.replace('/simple', '/files')}/corp_lib-3.1-py3-none-any.whl", hash = "sha256:${SHA}" }]

[[package]]
name = "gitpkg"
version = "2.0"
source = { git = "https://x-access-token:${GITHUB_TOKEN}@github.com/org/gitpkg#${COMMIT}" }
`
}

beforeAll(async () => {
  registry = createServer((_req, res) => {
    res.writeHead(401, { 'www-authenticate': 'Basic realm="stand-in"', 'content-type': 'application/json' })
    res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}')
  })
  await new Promise<void>((resolve) => registry.listen(0, '127.0.0.1', resolve))
  registryHost = `127.0.0.1:${(registry.address() as AddressInfo).port}`
  index = await startPypiServer({
    auth: { username: 'someone-else', password: 'not-any-of-ours' },
    files: [{ project: 'corp-lib', filename: 'corp_lib-3.1-py3-none-any.whl', bytes: 'x' }]
  })

  const root = mkdtempSync(join(tmpdir(), 'fast-build-secrets-'))
  projectDir = join(root, 'project')
  writeProject(projectDir, lockText())
  dockerDir = join(root, 'docker')
  mkdirSync(dockerDir)
  const auth = Buffer.from(`${DOCKER.user}:${DOCKER.pass}`).toString('base64')
  writeFileSync(join(dockerDir, 'config.json'), JSON.stringify({ auths: { [registryHost]: { auth } } }))

  const env: Record<string, string> = {
    FAST_BUILD_REGISTRY_USERNAME: REGISTRY.user,
    FAST_BUILD_REGISTRY_PASSWORD: REGISTRY.pass,
    FAST_BUILD_INDEX_CORP_USERNAME: ENV_INDEX.user,
    FAST_BUILD_INDEX_CORP_PASSWORD: ENV_INDEX.pass,
    GITHUB_TOKEN,
    INPUT_GITHUB_TOKEN: GITHUB_TOKEN,
    DOCKER_CONFIG: dockerDir,
    NETRC: join(root, 'no-netrc'),
    FAST_BUILD_CACHE_DIR: join(root, 'cache'),
    FAST_BUILD_DEBUG: ''
  }
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k]
    process.env[k] = v
  }
})

afterAll(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k]
    else process.env[k] = v
  }
  await new Promise<void>((resolve) => registry.close(() => resolve()))
  await index.close()
  // The whole record, once more: nothing slipped through a test that forgot to look.
  expectClean('everything', seen.join('\n'))
})

describe('the CLI shows no secret', () => {
  it('plan and plan --json', async () => {
    const table = run('plan', await cli('plan', '--project', projectDir))
    expect(table.code).toBe(0)
    const json = run('plan --json', await cli('plan', '--project', projectDir, '--json'))
    expect(json.code).toBe(0)
    expect(json.out).toContain(index.simpleUrl)
    expect(json.out).toContain('git+https://github.com/org/gitpkg')
  })

  it('an unknown variant', async () => {
    const r = run('unknown variant', await cli('plan', '--project', projectDir, '--variant', 'nope'))
    expect(r.code).toBe(1)
    expect(r.err).toContain('unknown variant')
  })

  it('a lock that does not parse, or holds a URL where a table belongs', async () => {
    const broken = join(projectDir, '..', 'broken')
    writeProject(broken, lockText().replace(/(source = \{ registry = "[^"]*)"/, '$1'))
    const r = run('malformed lock', await cli('plan', '--project', broken))
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/uv\.lock:\d+:\d+: malformed TOML/)

    const wrongType = join(projectDir, '..', 'wrong-type')
    writeProject(wrongType, lockText().replace(/source = \{ registry = ("[^"]*") \}/, 'source = $1'))
    const w = run('a URL for a table', await cli('plan', '--project', wrongType))
    expect(w.code).toBe(1)
    expect(w.err).toMatch(/expected a table, found the string "http:\/\/127\.0\.0\.1/)

    // A marker syntax error quotes the marker: here one with a URL pasted into it.
    const badMarker = join(projectDir, '..', 'bad-marker')
    const pasted = index.simpleUrl.replace('http://', `http://${LOCK_INDEX.user}:${LOCK_INDEX.pass}@`)
    writeProject(
      badMarker,
      lockText().replace(
        'dependencies = [{ name = "corp-lib" }',
        `dependencies = [{ name = "corp-lib", marker = "os_name == 'x' and ${pasted}" }`
      )
    )
    const m = run('a marker holding a URL', await cli('plan', '--project', badMarker))
    expect(m.code).toBe(1)
    expect(m.err).toMatch(
      /package\[0\]\.dependencies\[0\]\.marker: .* in "os_name == 'x' and http:\/\/127\.0\.0\.1/
    )
  })

  it('a Docker config that is not JSON', async () => {
    const bad = join(dockerDir, '..', 'docker-bad')
    mkdirSync(bad, { recursive: true })
    writeFileSync(
      join(bad, 'config.json'),
      `{"auths": {"${registryHost}": {"auth": ${Buffer.from(`${DOCKER.user}:${DOCKER.pass}`).toString('base64')}}}}`
    )
    process.env['DOCKER_CONFIG'] = bad
    try {
      const r = run(
        'bad docker config',
        await cli(
          'build',
          '--project',
          projectDir,
          '--registry',
          `${registryHost}/app`,
          '--fast-only',
          '--quiet'
        )
      )
      expect(r.code).toBe(1)
      expect(r.err).toMatch(/config\.json:1:\d+: .*is not valid JSON/)
    } finally {
      process.env['DOCKER_CONFIG'] = dockerDir
    }
  })

  it('a registry that refuses the credentials (Docker config and FAST_BUILD_REGISTRY_*)', async () => {
    const r = run(
      'registry refuses',
      await cli(
        'build',
        '--project',
        projectDir,
        '--registry',
        `${registryHost}/app`,
        '--fast-only',
        '--quiet'
      )
    )
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/401|refused|denied|unauthori/i)
  })
})

describe('the functions behind it show no secret', () => {
  it('the registry client with FAST_BUILD_REGISTRY_PASSWORD', async () => {
    const store = await openStore(
      { kind: 'registry', image: `${registryHost}/app` },
      {
        credential: {
          kind: 'basic',
          username: REGISTRY.user,
          password: REGISTRY.pass,
          source: 'FAST_BUILD_REGISTRY_PASSWORD'
        }
      }
    )
    const e = await caught(() => store.getManifest('latest'))
    expect(e).toBeTruthy()
    expectClean('registry client', `${describeError(e)}\n${JSON.stringify(e)}`)
  })

  it('a Docker config that is not JSON, read directly', async () => {
    const path = join(dockerDir, '..', 'config-direct.json')
    writeFileSync(path, `{"auths": {"x": {"password": ${DOCKER.pass}}}}`)
    const e = await caught(() => credentialFromDockerConfig('x', { path }))
    expectClean('docker config', `${describeError(e)}\n${JSON.stringify(e)}`)
    expect(describeError(e)).toMatch(/:1:\d+:/)
  })

  it('an index that refuses the lock URL’s credentials, and the environment’s', async () => {
    const { lock } = readLock(readProject(projectDir))
    const p = lock.packages.find((x) => x.name === 'corp-lib')!
    const url = p.source.kind === 'registry' ? p.source.url : ''
    for (const name of [null, 'corp']) {
      // null: the URL's userinfo (kept aside by the lock reader); 'corp': FAST_BUILD_INDEX_CORP_*.
      const item: FetchItem = {
        name: p.name,
        version: p.version,
        file: { ...p.files[0]!, url: null },
        index:
          name === 'corp'
            ? indexConfigFor(url.replace('127.0.0.1', 'localhost'), name)
            : indexConfigFor(url, name)
      }
      const e = await caught(() =>
        fetchArtifacts([item], {
          cache: new ArtifactCache(mkdtempSync(join(tmpdir(), 'fast-build-secrets-cache-'))),
          retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 }
        })
      )
      expect(e).toBeTruthy()
      expectClean(`index refuses (${name ?? 'lock URL'})`, `${describeError(e)}\n${JSON.stringify(e)}`)
    }
    // Both credentials were offered: the refusal is about them, not about their absence.
    const offered = new Set(index.requests.map((q) => q.authorization))
    expect(offered).toContain(
      `Basic ${Buffer.from(`${LOCK_INDEX.user}:${LOCK_INDEX.pass}`).toString('base64')}`
    )
    expect(offered).toContain(
      `Basic ${Buffer.from(`${ENV_INDEX.user}:${ENV_INDEX.pass}`).toString('base64')}`
    )
  })

  it('the plan, its JSON and the requirement files of a Dockerfile build context', () => {
    const project = readProject(projectDir)
    const { lock } = readLock(project)
    const plan = planProject(project, lock, { platforms: [parsePlatform('linux/amd64')] })
    expect(plan.failed).toEqual([])
    const v = plan.variants[0]!
    const files = contextFiles(v.name, v.platforms, lock.path)
    expect(files.map((f) => f.text).join('\n')).toContain(`--index-url ${index.simpleUrl}`)
    expectClean('plan', JSON.stringify([planToJson(plan), plan.notes, v.hashInput]))
    expectClean('build context', files.map((f) => `${f.name}\n${f.text}`).join('\n'))
  })
})
