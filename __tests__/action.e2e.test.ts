// The bundled action (dist/index.js) run as GitHub runs it: INPUT_* and GITHUB_* environment, an
// event payload file, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files; against a real registry, a
// package index on 127.0.0.1, and a stand-in for the Actions cache service that speaks the
// protocol @actions/cache uses (its own client code runs unmodified inside the bundle).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startCacheServer, type CacheServer } from './support/cache-server.js'
import {
  commitAll,
  gitInit,
  rebuiltOf,
  runAction,
  startActionFixture,
  type ActionFixture,
  type ActionRun,
  type ProjectVersions
} from './support/action-run.js'
import { tempDir } from './support/project.js'
import type { PypiServer } from './support/pypi-server.js'
import type { TestRegistry } from './support/registry.js'
import { skopeoInspect } from './support/skopeo.js'

let fixture: ActionFixture
let reg: TestRegistry
let index: PypiServer
let cacheServer: CacheServer

beforeAll(async () => {
  fixture = await startActionFixture()
  ;({ reg, index } = fixture)
  cacheServer = await startCacheServer()
}, 300_000)

afterAll(async () => {
  await cacheServer?.close()
  await fixture?.close()
})

const writeProject = (dir: string, v: ProjectVersions = {}) => fixture.writeProject(dir, v)

/** One step running the action; `runner` is the runner's temp dir (its caches), kept or fresh. */
function action(
  dir: string,
  sha: string,
  runner: string,
  inputs: Record<string, string> = {},
  extraEnv: Record<string, string> = {}
): Promise<ActionRun> {
  const { GITHUB_EVENT_NAME: event, ...env } = extraEnv
  return runAction({
    dir,
    sha,
    runner,
    inputs,
    ...(event ? { event } : {}),
    env: { ...cacheServer.env, ...env }
  })
}

const commit = commitAll
const rebuilt = rebuiltOf

describe('the action on a repository, commit after commit', () => {
  let dir: string
  let runner: string

  beforeAll(() => {
    dir = tempDir()
    writeProject(dir)
    gitInit(dir)
    runner = tempDir()
  })

  it('first run: every variant takes the full path; the images are pushed; the cache is filled', async () => {
    const sha = commit(dir, 'init')
    const r = await action(dir, sha, runner)
    expect(r.stdout).not.toMatch(/::error::/)
    expect(r.code).toBe(0)
    expect(rebuilt(r)).toEqual(['base', 'ml'])
    const images = JSON.parse(r.outputs['images']!)
    expect(images.base).toMatch(
      new RegExp(`^${reg.host}/acme/app:base-${sha.slice(0, 12)}@sha256:[0-9a-f]{64}$`)
    )
    const inspected = JSON.parse((await skopeoInspect(`docker://${images.ml.split('@')[0]}`)).stdout)
    expect(inspected.Labels['org.opencontainers.image.revision']).toBe(sha)
    expect(r.summary).toMatch(/<h2>fast-build<\/h2>/)
    expect(r.summary).toMatch(/no earlier build of this variant in the cache/)
    expect(r.stdout).toMatch(/::group::fast-build: ml/)
    const keys = cacheServer.entries().map((e) => e.key)
    expect(keys.filter((k) => k.startsWith('fast-build-v1-index-'))).toHaveLength(2)
    expect(keys.filter((k) => k.startsWith('fast-build-v1-wheel-'))).toHaveLength(7)
  }, 300_000)

  it('a code-only commit: every variant takes the fast path', async () => {
    writeFileSync(join(dir, 'app', 'main.py'), 'print("v2")\n')
    const sha = commit(dir, 'code only')
    const r = await action(dir, sha, runner)
    expect(r.code).toBe(0)
    expect(rebuilt(r)).toEqual([])
    expect(JSON.parse(r.outputs['matrix']!)).toEqual({ include: [] })
    expect(r.summary.match(/deps image found/g)).toHaveLength(2)
  }, 300_000)

  it('a bump in the ml extra: only ml takes the full path, and the summary says why', async () => {
    writeProject(dir, { torch: '2.6.0', einops: true })
    const sha = commit(dir, 'bump torch')
    const r = await action(dir, sha, runner)
    expect(r.code).toBe(0)
    expect(rebuilt(r)).toEqual(['ml'])
    expect(r.summary).toMatch(/torch-ish 2\.5\.1 → 2\.6\.0/)
    expect(r.summary).toMatch(/\+ einops-ish 0\.8\.0/)
  }, 300_000)

  it('on a fresh runner, a full build of a new hash reuses what the cache holds: fewer downloads', async () => {
    rmSync(runner, { recursive: true, force: true })
    mkdirSync(runner)
    writeProject(dir, { torch: '2.6.0', einops: true, six: '1.1.0' })
    const sha = commit(dir, 'bump six')
    const downloadsBefore = index.fileRequests().length
    const r = await action(dir, sha, runner)
    expect(r.code).toBe(0)
    expect(rebuilt(r)).toEqual(['base', 'ml'])
    // Only the new six-ish wheel comes from the index; every other layer is known from the
    // cache's layer index (and checked in the registry), so its wheels are not needed at all.
    expect(index.fileRequests().length - downloadsBefore).toBe(1)
    expect(r.stdout).toMatch(/layer index restored from the Actions cache \(fast-build-v1-index-base-/)
    expect(r.stdout).toMatch(/downloaded 1 wheel /)
    process.stdout.write(
      `fresh runner, new hash: ${index.fileRequests().length - downloadsBefore} wheel downloaded (of 8 in the lock)\n`
    )
  }, 300_000)

  it('a cache service that errors, then one that hangs, costs a warning and never the build', async () => {
    cacheServer.setFaults([{ endpoint: 'twirp', fault: { kind: 'status', status: 500 } }])
    try {
      writeFileSync(join(dir, 'app', 'main.py'), 'print("v3")\n')
      let sha = commit(dir, 'code')
      // A new cache-epoch moves every hash: both variants take the full path and consult the cache.
      let start = Date.now()
      let r = await action(dir, sha, runner, { 'cache-epoch': 'faults-1' })
      expect(r.code).toBe(0)
      expect(rebuilt(r)).toEqual(['base', 'ml'])
      // @actions/cache retries a 500 for ~30 s a call; fast-build gives up on the first call
      // after 15 s and leaves the cache alone for the rest of the run.
      expect(r.stdout).toMatch(
        /::warning::Actions cache: restoring fast-build-v1-index-base-\w+ failed \(no answer in 15 s\); the build goes on without the cache for the rest of this run/
      )
      expect(r.stdout.match(/::warning::Actions cache/g)).toHaveLength(1)
      process.stdout.write(
        `cache answering 500: build done in ${((Date.now() - start) / 1000).toFixed(1)} s\n`
      )

      cacheServer.setFaults([{ endpoint: 'twirp', fault: { kind: 'stall' } }])
      writeFileSync(join(dir, 'app', 'main.py'), 'print("v4")\n')
      sha = commit(dir, 'code again')
      start = Date.now()
      r = await action(dir, sha, runner, { 'cache-epoch': 'faults-2' }, { FAST_BUILD_CACHE_TIMEOUT_S: '2' })
      expect(r.code).toBe(0)
      expect(rebuilt(r)).toEqual(['base', 'ml'])
      expect(r.stdout).toMatch(
        /::warning::Actions cache: .*no answer in 2 s\); the build goes on without the cache/
      )
      expect(Date.now() - start).toBeLessThan(120_000)
      process.stdout.write(
        `cache not answering: build done in ${((Date.now() - start) / 1000).toFixed(1)} s\n`
      )
    } finally {
      cacheServer.dropStalled()
      cacheServer.setFaults([])
    }
  }, 300_000)
})

describe('fanning out: plan, one build job per variant, then the source on top', () => {
  it('runs as three steps', async () => {
    const dir = tempDir()
    writeProject(dir, { torch: '2.6.0', einops: true, six: '1.1.0' })
    // A separate repository, so nothing exists yet.
    const config = readFileSync(join(dir, 'pyproject.toml'), 'utf8').replace(
      `${reg.host}/acme/app`,
      `${reg.host}/acme/fanout`
    )
    writeFileSync(join(dir, 'pyproject.toml'), config)
    gitInit(dir)
    const sha = commit(dir, 'init')

    const plan = await action(dir, sha, tempDir(), { mode: 'plan' })
    expect(plan.code).toBe(0)
    const matrix = JSON.parse(plan.outputs['matrix']!)
    expect(matrix.include.map((i: { variant: string }) => i.variant)).toEqual(['base', 'ml'])
    expect(plan.outputs['rebuilt']).toBeUndefined()
    expect(plan.summary).toMatch(/Planned only: nothing was built or pushed/)

    for (const { variant } of matrix.include as { variant: string }[]) {
      const job = await action(dir, sha, tempDir(), { variants: variant })
      expect(job.code).toBe(0)
      expect(rebuilt(job)).toEqual([variant])
    }

    const last = await action(dir, sha, tempDir())
    expect(last.code).toBe(0)
    expect(rebuilt(last)).toEqual([])
    expect(Object.keys(JSON.parse(last.outputs['images']!))).toEqual(['base', 'ml'])
  }, 300_000)
})
