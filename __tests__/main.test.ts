// The action's entry (main.ts) with @actions/core replaced by typed fixtures, as
// actions/typescript-action tests it: inputs in; outputs, summary, annotations and failures out.
// The build scenarios use a real registry and a real package index; the Actions cache is an
// in-memory CacheBackend here (the wire protocol is tested end to end in action.e2e.test.ts).
import { afterAll, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import * as core from '../__fixtures__/core.js'
import type { CacheBackend } from '../src/github/cache.js'
import { runnableRootfs, stubPython, umociImage } from './support/deps-images.js'
import { uvProject, VARIANTS_CONFIG } from './support/fixtures.js'
import { tempDir } from './support/project.js'
import { startPypiServer, type PypiServer } from './support/pypi-server.js'
import { startRegistry, type TestRegistry } from './support/registry.js'
import { skopeoCopy } from './support/skopeo.js'
import { buildSimpleWheels, servedFiles, wheelProject, type BuiltWheel } from './support/wheel-project.js'

jest.unstable_mockModule('@actions/core', () => core)
const { run } = await import('../src/main.js')

function outputs(): Record<string, string> {
  return Object.fromEntries(core.setOutput.mock.calls.map(([k, v]) => [k, String(v)]))
}

beforeEach(() => {
  jest.clearAllMocks()
  core.summaryText.length = 0
})

describe('action: inputs and failures', () => {
  it('plan mode without an image: the plan, every variant in the matrix, a summary', async () => {
    const dir = uvProject({ config: VARIANTS_CONFIG })
    core.setInputs({
      project: dir,
      variants: 'base, ml',
      platforms: 'linux/amd64\nlinux/arm64',
      mode: 'plan'
    })
    await run({ env: {} })
    expect(core.setFailed).not.toHaveBeenCalled()
    const out = outputs()
    const plan = JSON.parse(out['plan']!)
    expect(plan.variants.map((v: { name: string }) => v.name)).toEqual(['base', 'ml'])
    expect(plan.variants[1].platforms.map((p: { platform: string }) => p.platform)).toEqual([
      'linux/amd64',
      'linux/arm64'
    ])
    expect(JSON.parse(out['matrix']!).include.map((i: { variant: string }) => i.variant)).toEqual([
      'base',
      'ml'
    ])
    expect(core.notice).toHaveBeenCalledWith(expect.stringMatching(/no image configured/))
    expect(core.summaryText[0]).toBe('# fast-build plan')
    expect(core.summaryText[1]).toMatch(/"data":"ml"/)
  })

  it('build mode needs an image, and says where to give it', async () => {
    core.setInputs({ project: uvProject() })
    await run({ env: {} })
    expect(core.setFailed).toHaveBeenCalledWith(
      expect.stringMatching(/with\.image: no image to build.*\n {2}fix: set the image input/s)
    )
  })

  it('fails with the file, the line and the fix, and annotates the file', async () => {
    const dir = uvProject()
    writeFileSync(join(dir, 'uv.lock'), 'version = 1\n[[package]\n')
    core.setInputs({ project: dir })
    await run({ env: {} })
    expect(core.setFailed).toHaveBeenCalledWith(
      expect.stringMatching(/uv\.lock:2:\d+: malformed TOML.*\n {2}fix: /s)
    )
    expect(core.error).toHaveBeenCalledWith(
      expect.stringMatching(/malformed TOML/),
      expect.objectContaining({ file: expect.stringMatching(/uv\.lock$/), startLine: 2 })
    )
  })

  it.each([
    [
      { platforms: 'linux/s390x' },
      /with\.platforms: input unsupported platform "linux\/s390x"\n {2}fix: use one of/
    ],
    [
      { dockerfile: 'nope/Dockerfile' },
      /cannot read the Dockerfile nope\/Dockerfile: no such file\n {2}fix: give a path relative to the project directory/
    ],
    [{ builder: 'docker' }, /with\.builder: input builder: "docker" is not one of auto, wheels, dockerfile/],
    [{ push: 'yes' }, /with\.push: input push: "yes" is not a boolean\n {2}fix: write true or false/],
    [{ 'max-layers': '400x' }, /with\.max-layers: .* is not a whole number from 2 to 500/],
    [{ tags: 'v{version}' }, /with\.tags: input tags: "v\{version\}" does not make a valid tag/],
    [{ 'registry-username': 'me' }, /with\.registry-password: input registry-password: is missing/],
    [{ mode: 'dry-run' }, /with\.mode: input mode: "dry-run" is not one of build, plan/]
  ])('a bad input (%j) names the input and the fix', async (bad, message) => {
    core.setInputs({ project: uvProject(), ...bad })
    await run({ env: {} })
    expect(core.setFailed).toHaveBeenCalledWith(expect.stringMatching(message))
  })

  it('a pull request from a fork plans only, and says so', async () => {
    const payload = join(tempDir(), 'event.json')
    writeFileSync(
      payload,
      JSON.stringify({
        repository: { full_name: 'acme/app' },
        pull_request: { number: 7, head: { repo: { full_name: 'someone/app' } } }
      })
    )
    core.setInputs({ project: uvProject({ config: VARIANTS_CONFIG }) })
    await run({ env: { GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: payload } })
    expect(core.setFailed).not.toHaveBeenCalled()
    expect(core.notice).toHaveBeenCalledWith(
      expect.stringMatching(/pull request from a fork: fast-build plans only/)
    )
    expect(core.summaryText.join('\n')).toMatch(/Pull request from a fork: planned only, nothing was pushed/)
  })

  it('a summary that cannot be written only warns', async () => {
    core.summary.write.mockRejectedValueOnce(new Error('no GITHUB_STEP_SUMMARY'))
    core.setInputs({ project: uvProject(), mode: 'plan' })
    await run({ env: {} })
    expect(core.setFailed).not.toHaveBeenCalled()
    expect(core.warning).toHaveBeenCalledWith(
      expect.stringMatching(/could not write the job summary: no GITHUB_STEP_SUMMARY/)
    )
  })
})

/** An Actions cache in memory, with @actions/cache's semantics: exact key, then newest prefix. */
function memoryCache(): CacheBackend & {
  entries: Map<string, Map<string, Buffer>>
  failing: boolean
  calls: number
} {
  const entries = new Map<string, Map<string, Buffer>>()
  const collect = (paths: string[]) => {
    const files = new Map<string, Buffer>()
    for (const p of paths) {
      if (p.endsWith('*.json')) {
        const dir = dirname(p)
        if (existsSync(dir))
          for (const f of readdirSync(dir))
            if (f.endsWith('.json')) files.set(join(dir, f), readFileSync(join(dir, f)))
      } else if (existsSync(p) && statSync(p).isDirectory()) {
        for (const f of readdirSync(p)) files.set(join(p, f), readFileSync(join(p, f)))
      } else if (existsSync(p)) files.set(p, readFileSync(p))
    }
    return files
  }
  const backend = {
    entries,
    failing: false,
    calls: 0,
    available: () => true,
    async restore(_paths: string[], key: string, restoreKeys: string[]) {
      backend.calls++
      if (backend.failing) throw new Error('cache service unavailable (503)')
      let hit = entries.has(key) ? key : undefined
      for (const prefix of restoreKeys) {
        if (hit) break
        hit = [...entries.keys()].reverse().find((k) => k.startsWith(prefix))
      }
      if (!hit) return undefined
      for (const [path, bytes] of entries.get(hit)!) {
        mkdirSync(dirname(path), { recursive: true })
        writeFileSync(path, bytes)
      }
      return hit
    },
    async save(paths: string[], key: string) {
      backend.calls++
      if (backend.failing) throw new Error('cache service unavailable (503)')
      if (entries.has(key)) {
        const e = new Error(
          `Unable to reserve cache with key ${key}, another job may be creating this cache.`
        )
        e.name = 'ReserveCacheError'
        throw e
      }
      entries.set(key, collect(paths))
      return entries.size
    }
  }
  return backend
}

describe('action: build mode against a registry', () => {
  let reg: TestRegistry
  let index: PypiServer
  let wheels: BuiltWheel[]
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
    let out = outputs()
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
    out = outputs()
    expect(JSON.parse(out['rebuilt']!)).toEqual([])
    expect(JSON.parse(out['matrix']!).include).toEqual([])
    expect(core.summaryText.join('\n')).toMatch(/deps image found/)

    // torchish bumped: ml only, and the summary says what changed.
    jest.clearAllMocks()
    core.summaryText.length = 0
    project('2.1.0', dir)
    await run({ env, cacheBackend: cache })
    out = outputs()
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
    expect(JSON.parse(outputs()['rebuilt']!)).toEqual(['base', 'ml'])
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
    expect(JSON.parse(outputs()['rebuilt']!)).toEqual(['base', 'ml'])
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
    expect(JSON.parse(outputs()['rebuilt']!)).toEqual(['base', 'ml'])
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
    expect(JSON.parse(outputs()['matrix']!).include.map((i: { variant: string }) => i.variant)).toEqual([
      'base',
      'ml'
    ])
    expect(outputs()['rebuilt']).toBeUndefined()

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
    expect(JSON.parse(outputs()['rebuilt']!)).toEqual(['base'])
    expect(core.setFailed).toHaveBeenCalledWith(expect.stringMatching(/1 of 2 variants failed: ml/))
  }, 300_000)
})
