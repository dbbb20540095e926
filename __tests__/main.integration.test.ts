// The action's entry (main.ts) building against a real registry and a real package index, with
// @actions/core replaced by typed fixtures; the Actions cache is an in-memory CacheBackend here
// (the wire protocol is tested end to end in action.e2e.test.ts).
import { afterAll, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as core from '../__fixtures__/core.js'
import { runnableRootfs, stubPython, umociImage } from './support/deps-images.js'
import { memoryCache } from './support/memory-cache.js'
import { tempDir } from './support/project.js'
import { startPypiServer, type PypiServer } from './support/pypi-server.js'
import { startRegistry, type TestRegistry } from './support/registry.js'
import { skopeoCopy } from './support/skopeo.js'
import { servedFiles, wheelProject } from './support/wheel-project.js'
import { buildSimpleWheels, type FixtureWheel } from './support/wheel-fixtures.js'

jest.unstable_mockModule('@actions/core', () => core)
const { run } = await import('../src/main.js')

beforeEach(() => core.resetCore())

describe('action: build mode against a registry', () => {
  let reg: TestRegistry
  let index: PypiServer
  let wheels: FixtureWheel[]
  let baseLayout: string

  beforeAll(async () => {
    reg = await startRegistry()
    wheels = await buildSimpleWheels(join(tempDir(), 'w'), [
      ...['alpha', 'beta', 'gamma', 'delta'].map((p) => ({ project: p, version: '1.0.0' })),
      { project: 'torchish', version: '2.0.0', kb: 40 },
      { project: 'torchish', version: '2.1.0', kb: 40 }
    ])
    index = await startPypiServer({ files: servedFiles(wheels) })
    baseLayout = join(tempDir(), 'base')
    await umociImage(baseLayout, 'base', runnableRootfs(join(tempDir(), 'rootfs'), stubPython('3.11')))
    expect((await skopeoCopy(`oci:${baseLayout}:base`, `docker://${reg.host}/base:3.11`)).stderr).toBe('')
  }, 300_000)

  afterAll(async () => {
    await index?.close()
    await reg?.stop()
  })

  const w = (project: string, version = '1.0.0') =>
    wheels.find((x) => x.project === project && x.version === version)!

  function project(torch = '2.0.0', dir?: string): string {
    return wheelProject(
      {
        indexUrl: index.simpleUrl,
        fileUrl: (f) => index.fileUrl(f),
        main: [w('alpha'), w('beta')],
        groups: { ml: [w('torchish', torch), w('gamma')], dev: [w('delta')] },
        config: `[tool.fast-build]\npython = "3.11"\nbase-image = "${reg.host}/base:3.11"\n[tool.fast-build.variants]\nbase = { groups = ["main"] }\nml = { groups = ["main", "ml"] }\n`,
        files: { 'app.py': 'print("app")\n' }
      },
      dir
    )
  }

  it('first run full, then fast; a bump in ml rebuilds ml only, with the reason; a fresh runner restores from the cache', async () => {
    const dir = project()
    const cache = memoryCache()
    const cacheDir = tempDir()
    const env = { FAST_BUILD_CACHE_DIR: cacheDir, GITHUB_SHA: 'a'.repeat(40) }
    const inputs = { project: dir, image: `${reg.host}/app`, tags: '{variant}-latest' }

    core.setInputs(inputs)
    await run({ env, cacheBackend: cache })
    expect(core.setFailed).not.toHaveBeenCalled()
    let out = core.outputs()
    expect(JSON.parse(out['rebuilt']!)).toEqual(['base', 'ml'])
    expect(JSON.parse(out['matrix']!).include.map((i: { variant: string }) => i.variant)).toEqual([
      'base',
      'ml'
    ])
    expect(Object.keys(JSON.parse(out['images']!))).toEqual(['base', 'ml'])
    expect(JSON.parse(out['images']!).ml).toMatch(
      new RegExp(`^${reg.host}/app:ml-latest@sha256:[0-9a-f]{64}$`)
    )
    expect(core.summaryText.join('\n')).toMatch(/no earlier build of this variant in the cache/)
    expect([...cache.entries.keys()].filter((k) => k.includes('-index-')).length).toBe(2)
    expect([...cache.entries.keys()].filter((k) => k.includes('-wheel-')).length).toBe(4)
    expect(core.startGroup).toHaveBeenCalledWith('fast-build: ml')

    // Code only: every variant takes the fast path.
    jest.clearAllMocks()
    core.summaryText.length = 0
    writeFileSync(join(dir, 'app.py'), 'print("app 2")\n')
    await run({ env, cacheBackend: cache })
    out = core.outputs()
    expect(JSON.parse(out['rebuilt']!)).toEqual([])
    expect(JSON.parse(out['matrix']!).include).toEqual([])
    expect(core.summaryText.join('\n')).toMatch(/deps image found/)

    // torchish bumped: ml only, and the summary says what changed.
    jest.clearAllMocks()
    core.summaryText.length = 0
    project('2.1.0', dir)
    await run({ env, cacheBackend: cache })
    out = core.outputs()
    expect(JSON.parse(out['rebuilt']!)).toEqual(['ml'])
    expect(core.summaryText.join('\n')).toMatch(/torchish 2\.0\.0 → 2\.1\.0/)

    // A fresh runner (empty cache dir) and new hashes (a new cache-epoch): the layer index comes
    // from the Actions cache (restored by the variant's prefix), so nothing is downloaded.
    jest.clearAllMocks()
    core.summaryText.length = 0
    // (The same path, emptied: a cache entry's version covers its paths, as on GitHub, where a
    // new runner has the same RUNNER_TEMP.)
    rmSync(cacheDir, { recursive: true, force: true })
    core.setInputs({ ...inputs, 'cache-epoch': 'two' })
    const before = index.fileRequests().length
    await run({ env, cacheBackend: cache })
    expect(core.setFailed).not.toHaveBeenCalled()
    expect(JSON.parse(core.outputs()['rebuilt']!)).toEqual(['base', 'ml'])
    expect(index.fileRequests().length).toBe(before)
    expect(core.info).toHaveBeenCalledWith(
      expect.stringMatching(/ml: layer index restored from the Actions cache/)
    )

    // Another repository (no blobs there) on a fresh runner: the layers must be built, and their
    // wheels come from the Actions cache, checked against their digests, not from the index.
    jest.clearAllMocks()
    rmSync(cacheDir, { recursive: true, force: true })
    core.setInputs({ ...inputs, image: `${reg.host}/app-copy` })
    const before2 = index.fileRequests().length
    await run({ env, cacheBackend: cache })
    expect(core.setFailed).not.toHaveBeenCalled()
    expect(JSON.parse(core.outputs()['rebuilt']!)).toEqual(['base', 'ml'])
    expect(index.fileRequests().length).toBe(before2)
    expect(core.info).toHaveBeenCalledWith(expect.stringMatching(/restored \d+ wheels? from the cache/))
  }, 300_000)

  it('a cache service that fails costs a warning, never the build', async () => {
    const dir = project()
    const cache = memoryCache()
    cache.failing = true
    core.setInputs({ project: dir, image: `${reg.host}/nocache` })
    await run({ env: { FAST_BUILD_CACHE_DIR: tempDir() }, cacheBackend: cache })
    expect(core.setFailed).not.toHaveBeenCalled()
    expect(JSON.parse(core.outputs()['rebuilt']!)).toEqual(['base', 'ml'])
    expect(core.warning).toHaveBeenCalledWith(
      expect.stringMatching(
        /Actions cache: .* failed \(cache service unavailable \(503\)\); the build goes on without the cache for the rest of this run/
      )
    )
    expect(core.warning).toHaveBeenCalledTimes(1)
    // The first failure ends the cache's use: no retries that would cost ~30 s each on GitHub.
    expect(cache.calls).toBe(1)
  }, 300_000)

  it('mode plan pushes nothing and lists what needs the full path; a variant that fails fails the run at the end', async () => {
    const dir = project()
    core.setInputs({ project: dir, image: `${reg.host}/planned`, mode: 'plan' })
    await run({ env: { FAST_BUILD_CACHE_DIR: tempDir() }, cacheBackend: memoryCache() })
    expect(JSON.parse(core.outputs()['matrix']!).include.map((i: { variant: string }) => i.variant)).toEqual([
      'base',
      'ml'
    ])
    expect(core.outputs()['rebuilt']).toBeUndefined()

    // The lock names a wheel the index no longer has: ml fails, base is built, the run fails.
    jest.clearAllMocks()
    const broken = project()
    const lockPath = join(broken, 'uv.lock')
    writeFileSync(
      lockPath,
      readFileSync(lockPath, 'utf8').replace(
        /gamma-1\.0\.0-py3-none-any\.whl/g,
        'gamma-1.0.0-py3-none-any.whl.gone'
      )
    )
    core.setInputs({ project: broken, image: `${reg.host}/partial` })
    await run({ env: { FAST_BUILD_CACHE_DIR: tempDir() }, cacheBackend: memoryCache() })
    expect(JSON.parse(core.outputs()['rebuilt']!)).toEqual(['base'])
    expect(core.setFailed).toHaveBeenCalledWith(expect.stringMatching(/1 of 2 variants failed: ml/))
  }, 300_000)
})
