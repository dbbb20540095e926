// The Dockerfile builder's edge without a daemon: a `docker` on PATH that is a script (recording
// what it is asked, failing as a docker without buildx does) and a pip wheel fetched from a real
// `file://` simple index. The generated Dockerfile's install script, run by sh with a real pip:
// dockerfile-build.integration.test.ts.
import { describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { buildDepsWithDockerfile, checkBuildx, fetchPipWheel } from '../../src/pipeline/dockerfile-build.js'
import { DockerfileError } from '../../src/pipeline/errors.js'
import type { FastBuildError } from '../../src/errors.js'
import type { ImageStore } from '../../src/registry/store.js'
import { ArtifactCache } from '../../src/cache/artifacts.js'
import { DEFAULT_PACKAGES, uvProject, VARIANTS_CONFIG } from '../support/fixtures.js'
import { planDir, tempDir } from '../support/project.js'

const PY312 = { major: 3, minor: 12, patch: undefined }

/** A `docker` that logs its arguments and the build context, and fails as told by FAKE_* variables. */
function fakeDocker(): { bin: string; log: string } {
  const root = tempDir('fast-build-fake-docker-')
  const bin = join(root, 'bin')
  mkdirSync(bin)
  const log = join(root, 'log')
  writeFileSync(
    join(bin, 'docker'),
    `#!/bin/sh
echo "docker $*" >> "${log}"
if [ "$1" = buildx ] && [ "$2" = version ]; then
  if [ "$FAKE_BUILDX" = yes ]; then echo "github.com/docker/buildx v0.20.1"; exit 0; fi
  echo "docker: unknown command: docker buildx" >&2; echo "" >&2
  echo "Run 'docker --help' for more information" >&2; exit 1
fi
find . -type f | sort >> "${log}"
if [ "$FAKE_BUILD" = noplatform ]; then echo "unknown flag: --platform" >&2; exit 125; fi
echo "ERROR: failed to solve: process did not complete successfully" >&2; exit 1
`,
    { mode: 0o755 }
  )
  return { bin, log }
}

async function thrown(p: Promise<unknown>): Promise<FastBuildError> {
  try {
    await p
  } catch (e) {
    expect(e).toBeInstanceOf(DockerfileError)
    return e as FastBuildError
  }
  throw new Error('expected a DockerfileError')
}

/** A `file://` simple index whose pip page lists `files` (name → bytes, and the sha256 it claims). */
function simpleIndex(files: { name: string; bytes: string; sha256?: string; requires?: string }[]): string {
  const root = tempDir('fast-build-simple-')
  mkdirSync(join(root, 'simple', 'pip'), { recursive: true })
  mkdirSync(join(root, 'files'))
  const links = files.map((f) => {
    writeFileSync(join(root, 'files', f.name), f.bytes)
    const sha = f.sha256 ?? createHash('sha256').update(f.bytes).digest('hex')
    const rp = f.requires ? ` data-requires-python="${f.requires.replace(/>/g, '&gt;')}"` : ''
    return `<a href="../../files/${f.name}#sha256=${sha}"${rp}>${f.name}</a>`
  })
  writeFileSync(
    join(root, 'simple', 'pip', 'index.html'),
    `<html><body>\n${links.join('\n')}\n</body></html>\n`
  )
  return pathToFileURL(join(root, 'simple')).href
}

describe('checkBuildx', () => {
  it('docker without the buildx plugin: says buildx is needed and the three ways to get a build', async () => {
    const { bin } = fakeDocker()
    const env = { PATH: `${bin}:/usr/bin:/bin` }
    const e = await thrown(checkBuildx(['docker', 'buildx', 'build'], env, tempDir(), 'dev'))
    expect(e.message).toBe(
      'dev: the Dockerfile builder runs docker buildx build, and docker has no buildx plugin (docker buildx version: docker: unknown command: docker buildx)'
    )
    expect(e.hint).toMatch(/docker-buildx.*docker\/setup-buildx-action.*"buildah bud"/)
    expect(e.location).toEqual({ keyPath: 'tool.fast-build.dockerfile-command' })
  })

  it('passes with buildx, for buildah, and when docker is not there at all (the build says so)', async () => {
    const { bin, log } = fakeDocker()
    const cwd = tempDir()
    await checkBuildx(['docker', 'buildx', 'build'], { PATH: bin, FAKE_BUILDX: 'yes' }, cwd, 'dev')
    await checkBuildx(['buildah', 'bud'], { PATH: bin }, cwd, 'dev')
    await checkBuildx(['docker', 'buildx', 'build'], { PATH: tempDir() }, cwd, 'dev')
    expect(readFileSync(log, 'utf8')).toBe('docker buildx version\n')
  })
})

describe('fetchPipWheel', () => {
  it('the newest pip wheel for the Python, its sha256 checked, into the directory', async () => {
    const index = simpleIndex([
      { name: 'pip-24.0-py3-none-any.whl', bytes: 'old pip', requires: '>=3.7' },
      { name: 'pip-99.0-py3-none-any.whl', bytes: 'new pip', requires: '>=3.13' },
      { name: 'pip-25.1-py3-none-any.whl', bytes: 'pip 25.1', requires: '>=3.9' }
    ])
    const dir = join(tempDir(), 'pip')
    const cache = new ArtifactCache(tempDir())
    const name = await fetchPipWheel({ url: index, credential: null }, PY312, dir, cache, 'dev: no pip')
    expect(name).toBe('pip-25.1-py3-none-any.whl')
    expect(readdirSync(dir)).toEqual(['pip-25.1-py3-none-any.whl'])
    expect(readFileSync(join(dir, name), 'utf8')).toBe('pip 25.1')
  })

  it('an index without a pip wheel, or serving another file than it lists: an error naming the index', async () => {
    const cache = new ArtifactCache(tempDir())
    const none = simpleIndex([{ name: 'pip-25.1.tar.gz', bytes: 'sdist' }])
    const e = await thrown(
      fetchPipWheel(
        { url: none, credential: null },
        PY312,
        tempDir(),
        cache,
        "dev: the base image's python3 has no pip"
      )
    )
    expect(e.message).toBe(
      `dev: the base image's python3 has no pip, and the index ${none} lists no pip wheel (final, not yanked, with a sha256) for Python 3.12.0`
    )
    expect(e.hint).toMatch(/use a base image whose Python has pip, or set index-url/)
    const bad = simpleIndex([
      { name: 'pip-25.1-py3-none-any.whl', bytes: 'tampered', sha256: 'ab'.repeat(32) }
    ])
    const m = await thrown(
      fetchPipWheel({ url: bad, credential: null }, PY312, tempDir(), cache, 'dev: no pip')
    )
    expect(m.message).toMatch(
      new RegExp(
        `^dev: no pip, and pip-25\\.1-py3-none-any\\.whl could not be fetched from the index ${bad}: .*sha256`
      )
    )
  })
})

describe('buildDepsWithDockerfile', () => {
  const SDIST_ONLY = DEFAULT_PACKAGES.map((p) => (p.name === 'pytest' ? { ...p, wheels: [] } : p))
  const setup = () => {
    const plan = planDir(uvProject({ config: VARIANTS_CONFIG, packages: SDIST_ONLY }))
    const dev = plan.variants.find((v) => v.name === 'dev')!
    if (dev.builder.kind !== 'dockerfile') throw new Error('dev should take the Dockerfile builder')
    const store = { name: '127.0.0.1:5999/app' } as unknown as ImageStore
    return { plan, dev, settings: dev.builder.settings, store }
  }
  const BASE = `python@sha256:${'0'.repeat(64)}`

  it('a build that fails for want of buildx says buildx is needed, not "fix the Dockerfile"', async () => {
    const { plan, dev, settings, store } = setup()
    const { bin } = fakeDocker()
    const env = { PATH: `${bin}:/usr/bin:/bin`, FAKE_BUILDX: 'yes', FAKE_BUILD: 'noplatform' }
    const e = await thrown(
      buildDepsWithDockerfile(dev, settings, 'deps-dev-1', {
        plan,
        store,
        base: BASE,
        workDir: tempDir(),
        env
      })
    )
    expect(e.message).toMatch(
      /^dev: docker exited with 125 building .*: docker has no buildx plugin; its last lines:\nunknown flag: --platform$/
    )
    expect(e.hint).toMatch(/docker\/setup-buildx-action/)
    // An ordinary failure still points at the Dockerfile.
    const other = await thrown(
      buildDepsWithDockerfile(dev, settings, 'deps-dev-1', {
        plan,
        store,
        base: BASE,
        workDir: tempDir(),
        env: { ...env, FAKE_BUILD: 'fail' }
      })
    )
    expect(other.hint).toMatch(/^fix the Dockerfile/)
  })

  it("the base image's interpreter as FAST_BUILD_PYTHON; without pip, a pip wheel in the context", async () => {
    const { plan, dev, settings, store } = setup()
    const { bin, log } = fakeDocker()
    const env = { PATH: `${bin}:/usr/bin:/bin`, FAKE_BUILDX: 'yes' }
    const index = simpleIndex([{ name: 'pip-25.1-py3-none-any.whl', bytes: 'pip', requires: '>=3.9' }])
    const run = (hasPip: boolean) =>
      thrown(
        buildDepsWithDockerfile(dev, settings, 'deps-dev-1', {
          plan,
          store,
          base: BASE,
          workDir: tempDir(),
          env,
          python: { interpreter: '/usr/bin/python3', hasPip },
          mirror: { url: index, credential: null },
          cache: new ArtifactCache(tempDir())
        })
      )
    await run(false)
    let said = readFileSync(log, 'utf8')
    expect(said).toContain('--build-arg FAST_BUILD_PYTHON=/usr/bin/python3')
    expect(said).toContain('./pip/pip-25.1-py3-none-any.whl')
    writeFileSync(log, '')
    await run(true)
    said = readFileSync(log, 'utf8')
    expect(said).toContain('--build-arg FAST_BUILD_PYTHON=/usr/bin/python3')
    expect(said).not.toContain('pip-25.1')
  })

  it('no pip wheel to be had: fails before the build, naming the index', async () => {
    const { plan, dev, settings, store } = setup()
    const { bin, log } = fakeDocker()
    const index = simpleIndex([])
    const e = await thrown(
      buildDepsWithDockerfile(dev, settings, 'deps-dev-1', {
        plan,
        store,
        base: BASE,
        workDir: tempDir(),
        env: { PATH: bin, FAKE_BUILDX: 'yes' },
        python: { interpreter: 'python3', hasPip: false },
        mirror: { url: index, credential: null },
        cache: new ArtifactCache(tempDir())
      })
    )
    expect(e.message).toContain(
      `dev: the base image's python3 has no pip, and the index ${index} lists no pip wheel`
    )
    expect(existsSync(log)).toBe(false)
  })
})
