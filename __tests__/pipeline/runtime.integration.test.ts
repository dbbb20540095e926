// Run-time groups end to end: a uv project whose main dependencies include pip itself (Debian's
// own pip wheel, from python3-pip-whl) and whose group `exp` is a run-time group. `fast-build
// build` puts the deps image (with pip, without exp) in a real registry and the app image on top,
// with the run-time layer between them; podman runs the image on the host's network, and the
// entrypoint shim installs exp from the package index on 127.0.0.1 before the command imports it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { REQUIREMENTS_PATH, RUNTIME_LABEL, SHIM_PATH } from '../../src/pipeline/runtime.js'
import { commitAll, gitInit, runAction } from '../support/action-run.js'
import { cli } from '../support/cli.js'
import { startPodman, type Podman } from '../support/podman.js'
import {
  pushPythonBase,
  pythonBaseConfig,
  pythonBaseImage,
  PYTHON_BASE_SITE as SITE
} from '../support/python-base.js'
import { startPypiServer, type PypiServer } from '../support/pypi-server.js'
import { tempDir } from '../support/project.js'
import { startRegistry, type TestRegistry } from '../support/registry.js'
import { skopeoInspect } from '../support/skopeo.js'
import { servedFiles, wheelProject } from '../support/wheel-project.js'
import { buildSimpleWheels, type FixtureWheel } from '../support/wheel-fixtures.js'

const WHEELS = '/usr/share/python-wheels'

/** Debian's pip wheel (python3-pip-whl; script/setup installs it), as a wheel the lock pins. */
function debianPip(): FixtureWheel {
  const name = readdirSync(WHEELS).find((f) => /^pip-[^-]+-py3-none-any\.whl$/.test(f))
  if (!name) throw new Error(`no pip wheel in ${WHEELS}: install python3-pip-whl (script/setup does)`)
  const path = join(WHEELS, name)
  const bytes = readFileSync(path)
  return {
    project: 'pip',
    version: name.split('-')[1]!,
    filename: basename(path),
    path,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    size: statSync(path).size
  }
}

const CONFIG = (baseImage: string) => pythonBaseConfig(baseImage, 'runtime-groups = ["exp"]')

/** The command each container runs: exp (installed by the shim) imports, as does a main dependency. */
const PROBE = ['python3', '-c', 'import fbexp, fbmain; print("exp", fbexp.VERSION, "main", fbmain.VERSION)']

let reg: TestRegistry
let podman: Podman
let index: PypiServer
let baseRef: string
let pip: FixtureWheel
let wheels: FixtureWheel[]

const wheel = (project: string, version = '1.0.0') =>
  wheels.find((w) => w.project === project && w.version === version)!

beforeAll(async () => {
  pip = debianPip()
  const [built, base] = await Promise.all([
    buildSimpleWheels(join(tempDir(), 'wheels'), [
      { project: 'fbmain', version: '1.0.0', modules: 1 },
      { project: 'fbexp', version: '1.0.0', modules: 1 },
      { project: 'fbexp', version: '1.1.0', modules: 1 }
    ]),
    pythonBaseImage()
  ])
  wheels = built
  expect(base.python.minor).toBe(11)
  reg = await startRegistry()
  podman = startPodman()
  index = await startPypiServer({ files: servedFiles([pip, ...wheels]) })
  baseRef = await pushPythonBase(reg.host, 'base/python')
}, 900_000)

afterAll(async () => {
  podman?.close()
  await index?.close()
  await reg?.stop()
})

function project(exp: FixtureWheel, opts: { withPip?: boolean } = {}): string {
  return wheelProject({
    indexUrl: index.simpleUrl,
    fileUrl: (f) => index.fileUrl(f),
    main: [...(opts.withPip === false ? [] : [pip]), wheel('fbmain')],
    groups: { exp: [exp] },
    config: CONFIG(baseRef),
    files: { 'main.py': 'print("app")\n' }
  })
}

async function build(dir: string, tag: string, cacheDir: string) {
  const r = await cli(
    'build',
    '--project',
    dir,
    '--registry',
    `${reg.host}/app`,
    '--tag',
    tag,
    '--cache-dir',
    cacheDir,
    '--json'
  )
  expect(r.err).not.toMatch(/failed/)
  expect(r.code).toBe(0)
  return r.json().variants[0]
}

async function inspect(ref: string, config = false) {
  return JSON.parse((await skopeoInspect(`docker://${ref}`, config ? { config: true } : {})).stdout)
}

/** The container's stderr, without what podman prints while it pulls the image. */
const containerErr = (stderr: string) =>
  stderr
    .split('\n')
    .filter(
      (l) =>
        !/^(Trying to pull |Getting image source signatures|Copying (blob|config) |Writing manifest|Storing signatures)/.test(
          l
        )
    )
    .join('\n')

const fileRequests = (name: string) => index.fileRequests().filter((r) => r.path.includes(name)).length

describe('a run-time group in the app image', () => {
  let cacheDir: string
  let first: { hash: string; depsRef: string; path: string; digest: string }

  beforeAll(async () => {
    cacheDir = tempDir()
    first = await build(project(wheel('fbexp', '1.0.0')), 'rt-1', cacheDir)
  }, 600_000)

  it('the deps image has pip and not exp; the app image adds the run-time layer before the source', async () => {
    expect(first.path).toBe('full')
    // exp is installed at run time only: the build never fetched it.
    expect(fileRequests('fbexp')).toBe(0)
    expect(fileRequests('pip-')).toBe(1)
    const deps = await inspect(first.depsRef)
    const app = await inspect(`${reg.host}/app:rt-1`)
    // deps, then the run-time layer, the project's own layer (its .dist-info) and the source.
    expect(app.Layers.length).toBe(deps.Layers.length + 3)
    expect(app.Layers.slice(0, -3)).toEqual(deps.Layers)
    expect(app.Labels[RUNTIME_LABEL]).toBe('1')
    expect(deps.Labels[RUNTIME_LABEL]).toBeUndefined()
    const config = (await inspect(`${reg.host}/app:rt-1`, true)).config
    expect(config.Entrypoint).toEqual([SHIM_PATH])
    expect(config.Cmd).toEqual(['python3', '/app/main.py'])
  })

  it('the shim installs exp from the lock’s index when the container starts, then runs the command', async () => {
    const r = await podman.run(`docker://${reg.host}/app:rt-1`, PROBE, {
      network: 'host',
      timeoutMs: 180_000
    })
    expect(containerErr(r.stderr)).toBe(
      `fast-build: installing 1 run-time package (fbexp==1.0.0) into ${SITE} from ${index.simpleUrl}\n`
    )
    expect(r.stdout).toBe('exp 1.0.0 main 1.0.0\n')
    expect(r.code).toBe(0)
    expect(fileRequests('fbexp-1.0.0')).toBe(1)
  }, 240_000)

  it('holds the pinned, hashed requirements (read with the image’s own shell)', async () => {
    const r = await podman.run(
      `docker://${reg.host}/app:rt-1`,
      ['-c', `cat ${REQUIREMENTS_PATH}; ls -l ${SHIM_PATH}`],
      {
        entrypoint: '/bin/sh'
      }
    )
    const lines = r.stdout.split('\n')
    expect(lines[0]).toBe('# Generated by fast-build for variant base, platform linux/amd64.')
    expect(lines).toEqual(
      expect.arrayContaining(['fbexp==1.0.0 \\', `    --hash=sha256:${wheel('fbexp', '1.0.0').sha256}`])
    )
    expect(r.stdout).toMatch(/^-rwxr-xr-x 1 root root .* \/opt\/fast-build\/entrypoint$/m)
  }, 240_000)

  it('another exp version: the same deps hash and image (fast path), another run-time layer', async () => {
    const dir = project(wheel('fbexp', '1.1.0'))
    const plans = await Promise.all(
      [project(wheel('fbexp', '1.0.0')), dir].map(async (d) =>
        (await cli('plan', '--project', d, '--json')).json()
      )
    )
    expect(plans[1].variants[0].hash).toBe(plans[0].variants[0].hash)
    expect(plans[1].variants[0].runtime.map((p: { version: string }) => p.version)).toEqual(['1.1.0'])

    const second = await build(dir, 'rt-2', cacheDir)
    expect(second).toMatchObject({ path: 'fast', hash: first.hash, depsRef: first.depsRef })
    const [a, b] = [await inspect(`${reg.host}/app:rt-1`), await inspect(`${reg.host}/app:rt-2`)]
    expect(b.Layers.slice(0, -3)).toEqual(a.Layers.slice(0, -3))
    expect(b.Layers.at(-3)).not.toBe(a.Layers.at(-3))
    // The project's layer depends on its metadata only: the same in both.
    expect(b.Layers.at(-2)).toBe(a.Layers.at(-2))

    // FAST_BUILD_INDEX_URL names the index at run time.
    const r = await podman.run(`docker://${reg.host}/app:rt-2`, PROBE, {
      network: 'host',
      env: { FAST_BUILD_INDEX_URL: index.simpleUrl },
      timeoutMs: 180_000
    })
    expect(containerErr(r.stderr)).toBe(
      `fast-build: installing 1 run-time package (fbexp==1.1.0) into ${SITE} from ${index.simpleUrl}\n`
    )
    expect(r.stdout).toBe('exp 1.1.0 main 1.0.0\n')
    expect(r.code).toBe(0)
  }, 600_000)

  it('a tampered hash: pip refuses the file and the shim says so; the command does not run', async () => {
    const dir = project(wheel('fbexp', '1.0.0'))
    const lock = join(dir, 'uv.lock')
    const real = wheel('fbexp', '1.0.0').sha256
    writeFileSync(lock, readFileSync(lock, 'utf8').replace(real, 'ab'.repeat(32)))
    const v = await build(dir, 'rt-tampered', cacheDir)
    expect(v).toMatchObject({ path: 'fast', hash: first.hash })
    const r = await podman.run(`docker://${reg.host}/app:rt-tampered`, PROBE, {
      network: 'host',
      timeoutMs: 180_000
    })
    expect(r.code).not.toBe(0)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE/)
    expect(r.stderr).toContain(real) // pip names the hash it got
    expect(r.stderr).toMatch(
      /fast-build: installing the run-time packages of \/opt\/fast-build\/runtime-requirements\.txt failed \(pip says why above\)/
    )
  }, 600_000)

  it('without pip in the image, the shim says the run-time group needs it', async () => {
    const v = await build(project(wheel('fbexp', '1.0.0'), { withPip: false }), 'rt-nopip', cacheDir)
    expect(v.path).toBe('full')
    expect(v.hash).not.toBe(first.hash)
    const r = await podman.run(`docker://${reg.host}/app:rt-nopip`, PROBE, {
      network: 'host',
      timeoutMs: 180_000
    })
    expect(r.code).not.toBe(0)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/No module named pip/)
    expect(r.stderr).toMatch(
      /fast-build: the run-time group needs pip in the image, but \/usr\/bin\/python3 -m pip does not run: add pip to the project's dependencies/
    )
  }, 600_000)

  it('the bundled action (dist/index.js) on a pull request pushes an image whose shim installs exp at start', async () => {
    const dir = project(wheel('fbexp', '1.0.0'))
    gitInit(dir)
    const sha = commitAll(dir, 'an exp dependency on a branch')
    const r = await runAction({
      dir,
      sha,
      runner: tempDir(),
      event: 'pull_request',
      payload: {
        repository: { full_name: 'acme/app', default_branch: 'main' },
        pull_request: { number: 3, head: { sha, repo: { full_name: 'acme/app' } } }
      },
      inputs: { image: `${reg.host}/action-app`, annotate: 'none', cache: 'false' }
    })
    expect(r.stdout).not.toMatch(/::error::/)
    expect(r.code).toBe(0)
    const image = JSON.parse(r.outputs['images']!).base as string
    // podman takes a digest reference without the tag.
    const byDigest = image.replace(/:[^/@]+@/, '@')
    const run = await podman.run(`docker://${byDigest}`, PROBE, { network: 'host', timeoutMs: 180_000 })
    expect(containerErr(run.stderr)).toBe(
      `fast-build: installing 1 run-time package (fbexp==1.0.0) into ${SITE} from ${index.simpleUrl}\n`
    )
    expect(run.stdout).toBe('exp 1.0.0 main 1.0.0\n')
  }, 600_000)
})
