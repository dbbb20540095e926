// The Dockerfile builder end to end, through the bundled action (dist/index.js) as GitHub runs it,
// with buildah as the engine (no Docker engine here): a real registry, the Debian python3 base with
// pip, a package index on 127.0.0.1 serving wheels, a real sdist and the build backend, and a git
// server. auto builds the wheel-only variant from wheels and the variant with an sdist-only
// package with the Dockerfile builder; the source goes on top of both with the fast path; podman
// runs the results.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { commitAll, gitInit, rebuiltOf, runAction, type ActionRun } from '../support/action-run.js'
import { debianWheel, pushPythonPipBase, startBuildah, type Buildah } from '../support/buildah.js'
import { startGitServer, type GitServer } from '../support/git-server.js'
import { startPodman, type Podman } from '../support/podman.js'
import { pythonBaseConfig } from '../support/python-base.js'
import { tempDir } from '../support/project.js'
import { startPypiServer, type PypiServer } from '../support/pypi-server.js'
import { startRegistry, type TestRegistry } from '../support/registry.js'
import { buildBackendWheels, buildSdist, pythonPackageFiles, type BuiltSdist } from '../support/sdist.js'
import { servedFiles, wheelProject } from '../support/wheel-project.js'
import { buildSimpleWheels, type FixtureWheel } from '../support/wheel-fixtures.js'

let reg: TestRegistry
let index: PypiServer
let buildah: Buildah
let podman: Podman
let gitServer: GitServer
let pipBase: string
let fbmain: FixtureWheel
let sdist: BuiltSdist

beforeAll(async () => {
  reg = await startRegistry()
  buildah = startBuildah()
  podman = startPodman()
  gitServer = await startGitServer()
  ;[fbmain] = (await buildSimpleWheels(join(tempDir(), 'wheels'), [
    { project: 'fbmain', version: '1.0.0', modules: 1 }
  ])) as [FixtureWheel]
  sdist = await buildSdist(join(tempDir(), 'sdist'), { project: 'fb-sdist', version: '1.0.0' })
  index = await startPypiServer({
    files: servedFiles([fbmain!, sdist, debianWheel('pip'), ...buildBackendWheels()])
  })
  pipBase = await pushPythonPipBase(reg, buildah, index)
}, 900_000)

afterAll(async () => {
  podman?.close()
  await gitServer?.close()
  await index?.close()
  await buildah?.close()
  await reg?.stop()
})

const config = (extra = '') =>
  pythonBaseConfig(
    pipBase,
    `image = "${reg.host}/app"\n${extra}`,
    'base = { groups = ["main"] }\nlegacy = { groups = ["main", "legacy"] }'
  )

/** The lock's entry for the sdist: `sdist = {…}` instead of wheels, as uv writes it. */
function asSdistEntry(lock: string, s: BuiltSdist): string {
  return lock.replace(
    new RegExp(`wheels = \\[\\n    \\{ url = "[^"]*${s.filename.replace(/\./g, '\\.')}"[^\\n]*\\n\\]`),
    `sdist = { url = "${index.fileUrl(s.filename)}", hash = "sha256:${s.sha256}", size = ${s.size} }`
  )
}

function project(extraConfig = ''): string {
  const dir = wheelProject({
    indexUrl: index.simpleUrl,
    fileUrl: (f) => index.fileUrl(f),
    main: [fbmain],
    groups: { legacy: [sdist] },
    config: config(extraConfig),
    files: { 'main.py': 'import fbmain\nprint("app", fbmain.VERSION)\n' }
  })
  const lockPath = join(dir, 'uv.lock')
  writeFileSync(lockPath, asSdistEntry(readFileSync(lockPath, 'utf8'), sdist))
  gitInit(dir)
  return dir
}

const step = (
  dir: string,
  sha: string,
  runner: string,
  inputs: Record<string, string> = {}
): Promise<ActionRun> =>
  runAction({
    dir,
    sha,
    runner,
    inputs: {
      annotate: 'none',
      cache: 'false',
      'dockerfile-command': 'buildah bud --network host',
      ...inputs
    },
    env: { ...buildah.env }
  })

/** podman takes a digest reference without the tag. */
const byDigest = (ref: string) => ref.replace(/:[^/@]+@/, '@')

describe('auto: the Dockerfile builder for the variant with an sdist-only package only', () => {
  let dir: string
  const runner = tempDir()

  beforeAll(() => {
    dir = project()
  })

  it('builds base from wheels and legacy with the Dockerfile, and the summary says which and why', async () => {
    const r = await step(dir, commitAll(dir, 'init'), runner)
    expect(r.stdout).not.toMatch(/::error::/)
    expect(r.code).toBe(0)
    expect(rebuiltOf(r)).toEqual(['base', 'legacy'])
    expect(r.stdout).toMatch(
      /Dockerfile builder \(buildah\): the wheels builder cannot install fb-sdist 1\.0\.0: only a source distribution \(fb_sdist-1\.0\.0\.tar\.gz\)/
    )
    expect(r.stdout).toMatch(
      /\$ buildah bud --network host --tls-verify=false --file \S+\/Dockerfile --platform linux\/amd64/
    )
    // The summary: base by layers from wheels, legacy by the Dockerfile builder, and why.
    const rows = r.summary.split('</tr>')
    const row = (v: string) => rows.find((x) => x.includes(`<td>${v}</td>`))!
    expect(row('base')).toMatch(/deps layers uploaded/)
    expect(row('legacy')).toMatch(/deps image by the Dockerfile builder/)
    expect(row('legacy')).toMatch(
      /Dockerfile builder: the wheels builder cannot install fb-sdist 1\.0\.0: only a source distribution/
    )

    const images = JSON.parse(r.outputs['images']!)
    const out = await podman.run(
      `docker://${byDigest(images.legacy)}`,
      ['python3', '-c', 'import fb_sdist, fbmain; print("sdist", fb_sdist.VERSION, "main", fbmain.VERSION)'],
      { timeoutMs: 180_000 }
    )
    expect(out.stdout).toBe('sdist 1.0.0 main 1.0.0\n')
    const app = await podman.run(`docker://${byDigest(images.base)}`, [], { timeoutMs: 180_000 })
    expect(app.stdout).toBe('app 1.0.0\n')
  }, 900_000)

  it('a code-only change then takes the fast path for every variant, the Dockerfile-built one too', async () => {
    writeFileSync(join(dir, 'main.py'), 'import fbmain\nprint("app v2", fbmain.VERSION)\n')
    const r = await step(dir, commitAll(dir, 'code only'), runner)
    expect(r.code).toBe(0)
    expect(rebuiltOf(r)).toEqual([])
    expect(r.stdout).not.toMatch(/buildah bud/)
    expect(r.summary.match(/deps image found/g)).toHaveLength(2)
    const images = JSON.parse(r.outputs['images']!)
    const app = await podman.run(`docker://${byDigest(images.legacy)}`, [], { timeoutMs: 180_000 })
    expect(app.stdout).toBe('app v2 1.0.0\n')
  }, 900_000)
})

describe("the project's own Dockerfile: a RUN step of its own and a git dependency", () => {
  it('installs a Debian package and the git dependency at its locked commit; the fast path goes on top', async () => {
    const repo = await gitServer.createRepo(
      'fbgit',
      pythonPackageFiles({ project: 'fbgit', version: '2.0.0' })
    )
    const dir = project(
      'builder = "dockerfile"\ndockerfile = "deps.Dockerfile"\n[tool.fast-build.build-args]\nAPT_PACKAGES = "git"\n'
    )
    // fbgit from git, in main.
    const lockPath = join(dir, 'uv.lock')
    const lock = readFileSync(lockPath, 'utf8')
      .replace(
        'dependencies = [\n    { name = "fbmain" },',
        'dependencies = [\n    { name = "fbgit" },\n    { name = "fbmain" },'
      )
      .replace(
        'requires-dist = [\n    { name = "fbmain" },',
        'requires-dist = [\n    { name = "fbgit" },\n    { name = "fbmain" },'
      )
      .concat(
        `\n[[package]]\nname = "fbgit"\nversion = "2.0.0"\nsource = { git = "${repo.url}?rev=main#${repo.commit}" }\n`
      )
    writeFileSync(lockPath, lock)
    const pyproject = join(dir, 'pyproject.toml')
    writeFileSync(
      pyproject,
      readFileSync(pyproject, 'utf8').replace(
        'dependencies = ["fbmain"]',
        'dependencies = ["fbgit", "fbmain"]'
      )
    )
    writeFileSync(
      join(dir, 'deps.Dockerfile'),
      `ARG FAST_BUILD_BASE
FROM \${FAST_BUILD_BASE}
ARG APT_PACKAGES
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \${APT_PACKAGES} >/dev/null && rm -rf /var/lib/apt/lists/*
ARG FAST_BUILD_REQUIREMENTS
COPY requirements-* /tmp/req/
RUN python3 -m pip install --no-deps --require-hashes --no-input -r /tmp/req/\${FAST_BUILD_REQUIREMENTS} \\
 && python3 -m pip install --no-deps --no-input -r /tmp/req/requirements-vcs-linux-amd64.txt \\
 && rm -rf /tmp/req
`
    )
    const r = await step(dir, commitAll(dir, 'own Dockerfile'), tempDir())
    expect(r.stdout).not.toMatch(/::error::/)
    expect(r.code).toBe(0)
    expect(rebuiltOf(r)).toEqual(['base', 'legacy'])
    expect(r.stdout).toMatch(/Dockerfile builder \(buildah\): builder = dockerfile/)
    const images = JSON.parse(r.outputs['images']!)
    const out = await podman.run(
      `docker://${byDigest(images.base)}`,
      ['sh', '-c', 'git --version >/dev/null && python3 -c "import fbgit; print(\\"git\\", fbgit.VERSION)"'],
      { timeoutMs: 180_000 }
    )
    expect(out.stdout).toBe('git 2.0.0\n')
  }, 900_000)
})
