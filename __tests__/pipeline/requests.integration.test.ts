// One build asks for each thing once: the base image's manifest once, one plan, one lookup per
// deps image. Counted on the wire, with a proxy in front of a real registry (fault-proxy.ts,
// without faults: it only records), and planProject counted through a wrapper, for both edges:
// the CLI (`fast-build build`) and the action (main.ts). Each edge builds twice: the full path
// (deps images missing), then the fast path (deps images found).
import { afterAll, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { join } from 'node:path'
import * as core from '../../__fixtures__/core.js'
import * as planModule from '../../src/plan/plan.js'
import { runnableRootfs, stubPython, umociImage } from '../support/deps-images.js'
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js'
import { startPypiServer, type PypiServer } from '../support/pypi-server.js'
import { startRegistry, type TestRegistry } from '../support/registry.js'
import { skopeoCopy, skopeoInspect } from '../support/skopeo.js'
import type { FixtureWheel } from '../support/wheel-fixtures.js'
import type { WheelProjectSpec } from '../support/wheel-project.js'

let plans = 0
jest.unstable_mockModule('../../src/plan/plan.js', () => ({
  ...planModule,
  planProject: (...args: Parameters<typeof planModule.planProject>) => {
    plans++
    return planModule.planProject(...args)
  }
}))
jest.unstable_mockModule('@actions/core', () => core)
// Everything that reaches planProject is loaded after the wrapper is in place (support/project.ts
// and wheel-project.ts load the pipeline).
const { run } = await import('../../src/main.js')
const { runCli } = await import('../../src/cli.js')
const { tempDir } = await import('../support/project.js')
const { servedFiles, wheelProject } = await import('../support/wheel-project.js')
const { buildSimpleWheels } = await import('../support/wheel-fixtures.js')

let reg: TestRegistry
let proxy: FaultProxy
let index: PypiServer
let wheels: FixtureWheel[]

beforeAll(async () => {
  reg = await startRegistry()
  proxy = await startFaultProxy(reg.url)
  wheels = await buildSimpleWheels(join(tempDir(), 'w'), [
    { project: 'alpha', version: '1.0.0' },
    { project: 'alpha', version: '1.1.0' },
    { project: 'beta', version: '1.0.0' }
  ])
  index = await startPypiServer({ files: servedFiles(wheels) })
  const layout = join(tempDir(), 'base')
  await umociImage(layout, 'base', runnableRootfs(join(tempDir(), 'rootfs'), stubPython('3.11')))
  expect((await skopeoCopy(`oci:${layout}:base`, `docker://${reg.host}/base:3.11`)).stderr).toBe('')
}, 300_000)

afterAll(async () => {
  await proxy?.close()
  await index?.close()
  await reg?.stop()
})

beforeEach(() => core.resetCore())

/** Two variants on the base image in the registry, read through the proxy. */
function project(alpha = '1.0.0', dir?: string): string {
  const w = (p: string) => wheels.find((x) => x.project === p && (p !== 'alpha' || x.version === alpha))!
  const spec: WheelProjectSpec = {
    indexUrl: index.simpleUrl,
    fileUrl: (f) => index.fileUrl(f),
    main: [w('alpha')],
    groups: { extra: [w('beta')] },
    config: `[tool.fast-build]\npython = "3.11"\nbase-image = "${proxy.host}/base:3.11"\n[tool.fast-build.variants]\nbase = { groups = ["main"] }\nwide = { groups = ["main", "extra"] }\n`,
    files: { 'app.py': 'print("app")\n' }
  }
  return dir ? wheelProject(spec, dir) : wheelProject(spec)
}

interface Counts {
  plans: number
  /** Reads (GET or HEAD) of the base image's manifest (by tag, or by digest once pinned). */
  base: number
  /** Reads of each deps image's manifest by its tag, by tag. */
  deps: Record<string, number>
}

/** What one build asked for, counted from `from` on. */
function counted(from: number, plansFrom: number, repository: string): Counts {
  const reads = proxy.requests.slice(from).filter((r) => r.method === 'GET' || r.method === 'HEAD')
  const deps: Record<string, number> = {}
  for (const r of reads) {
    const m = new RegExp(`^/v2/${repository}/manifests/(deps-[^/?]+)`).exec(r.path)
    if (m) deps[m[1]!] = (deps[m[1]!] ?? 0) + 1
  }
  return {
    plans: plans - plansFrom,
    base: reads.filter((r) => r.path.startsWith('/v2/base/manifests/')).length,
    deps
  }
}

async function measure(repository: string, build: () => Promise<void>): Promise<Counts> {
  await proxy.settled()
  const from = proxy.requests.length
  const plansFrom = plans
  await build()
  await proxy.settled()
  return counted(from, plansFrom, repository)
}

/** The counts of a build that asks for each thing once (the deps images it found or missed). */
function once(c: Counts): Counts {
  expect(Object.keys(c.deps)).toHaveLength(2)
  return { plans: 1, base: 1, deps: Object.fromEntries(Object.keys(c.deps).map((t) => [t, 1])) }
}

/** `fast-build build` of `dir` into `repository` through the proxy, with a cache of its own. */
function cliBuild(dir: string, repository: string): () => Promise<void> {
  const cacheDir = tempDir()
  return async () => {
    let err = ''
    const code = await runCli(
      [
        'build',
        '--project',
        dir,
        '--registry',
        `${proxy.host}/${repository}`,
        '--cache-dir',
        cacheDir,
        '--quiet'
      ],
      { out: () => undefined, err: (t) => (err += t) }
    )
    expect(err).toBe('')
    expect(code).toBe(0)
  }
}

describe('one build asks once', () => {
  it('the CLI: full path, then fast path', async () => {
    const dir = project()
    const build = cliBuild(dir, 'cli')
    const full = await measure('cli', build)
    const fast = await measure('cli', build)
    expect({ full, fast }).toEqual({ full: once(full), fast: once(fast) })
  }, 300_000)

  it('a bump asks about no blob the images before it named: it reads them once instead', async () => {
    const dir = project()
    const build = cliBuild(dir, 'bump')
    await build()
    // What the app tags name now, read from the registry itself: every blob of both images.
    const before = new Set<string>()
    for (const tag of ['base-local', 'wide-local']) {
      const raw = JSON.parse(
        (await skopeoInspect(`docker://${reg.host}/bump:${tag}`, { raw: true })).stdout
      ) as { config: { digest: string }; layers: { digest: string }[] }
      for (const d of [raw.config.digest, ...raw.layers.map((l) => l.digest)]) before.add(d)
    }
    project('1.1.0', dir)
    await proxy.settled()
    const from = proxy.requests.length
    await build()
    await proxy.settled()
    const seen = proxy.requests.slice(from)
    const heads = seen
      .filter((r) => r.method === 'HEAD' && r.path.includes('/blobs/'))
      .map((r) => r.path.slice(r.path.lastIndexOf('/') + 1))
    expect(heads.filter((d) => before.has(d))).toEqual([])
    // Each app tag was read once, for what it names.
    for (const tag of ['base-local', 'wide-local'])
      expect(seen.filter((r) => r.method === 'GET' && r.path === `/v2/bump/manifests/${tag}`)).toHaveLength(1)
  }, 300_000)

  it('the action: full path, then fast path; plan mode plans and looks up once too', async () => {
    const dir = project()
    const env = { FAST_BUILD_CACHE_DIR: tempDir(), GITHUB_SHA: 'a'.repeat(40) }
    const inputs = { project: dir, image: `${proxy.host}/action`, cache: 'false' }
    const build = (mode: 'build' | 'plan') => async () => {
      jest.clearAllMocks()
      core.setInputs({ ...inputs, mode })
      await run({ env })
      expect(core.setFailed).not.toHaveBeenCalled()
    }
    const planned = await measure('action', build('plan'))
    const full = await measure('action', build('build'))
    const fast = await measure('action', build('build'))
    expect({ planned, full, fast }).toEqual({ planned: once(planned), full: once(full), fast: once(fast) })
  }, 300_000)
})
