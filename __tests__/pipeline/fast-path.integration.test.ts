// The fast path end to end: deps images made by umoci and pushed by skopeo into a real registry
// (or an OCI layout); `fast-build build` puts the source on top; skopeo, umoci and podman check
// that the result is a complete image that runs.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cli } from '../support/cli.js'
import { indexOf, runnableRootfs, umociImage } from '../support/deps-images.js'
import { appImageConfig, uvProject } from '../support/fixtures.js'
import { startPodman, type Podman } from '../support/podman.js'
import { runOk } from '../support/process.js'
import { lowercaseTempDir, pinnedPlanDir, tempDir } from '../support/project.js'
import { startRegistry, type TestRegistry } from '../support/registry.js'
import { skopeoCopy, skopeoInspect } from '../support/skopeo.js'

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@example.com',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@example.com',
  GIT_AUTHOR_DATE: '2025-01-01T00:00:00Z',
  GIT_COMMITTER_DATE: '2025-01-01T00:00:00Z'
}
const git = (dir: string, ...args: string[]) =>
  execFileSync('git', ['-C', dir, ...args], { env: GIT_ENV, encoding: 'utf8' }).trim()

/** A project in a git repository, with a script the image runs and a file .dockerignore keeps out. */
function project(platforms = '"linux/amd64"'): string {
  const dir = uvProject({ config: appImageConfig(`oci:${layout}:both`, platforms) })
  writeFileSync(
    join(dir, 'run.sh'),
    'cat /app/message.txt\ncat /opt/deps/marker.txt\necho "PYTHONPATH=$PYTHONPATH APP_ENV=$APP_ENV"\n'
  )
  writeFileSync(join(dir, 'message.txt'), 'hello from the source layer\n')
  writeFileSync(join(dir, 'secrets.txt'), 'do not ship\n')
  writeFileSync(join(dir, '.dockerignore'), 'secrets.txt\n')
  git(dir, 'init', '-q', '-b', 'main')
  git(dir, 'add', '-A')
  git(dir, 'commit', '-q', '-m', 'init')
  return dir
}

let reg: TestRegistry
let layout: string
let podman: Podman

beforeAll(async () => {
  reg = await startRegistry()
  podman = startPodman()
  layout = join(tempDir(), 'deps')
  const root = runnableRootfs(join(tempDir(), 'rootfs'), { 'opt/deps/marker.txt': 'deps layer here\n' })
  await umociImage(layout, 'amd64', root, { env: ['PYTHONPATH=/opt/deps'] })
  await umociImage(layout, 'arm64', root, { arch: 'arm64' })
  indexOf(layout, 'both', [
    { tag: 'amd64', arch: 'amd64' },
    { tag: 'arm64', arch: 'arm64' }
  ])
})

afterAll(async () => {
  podman?.close()
  await reg?.stop()
})

async function pushDeps(from: string, repo: string, variant: string, hash: string): Promise<void> {
  const r = await skopeoCopy(
    `oci:${layout}:${from}`,
    `docker://${reg.host}/${repo}:deps-${variant}-${hash}`,
    { timeoutMs: 60_000, all: true }
  )
  expect(r.stderr).toBe('')
}

describe('fast path against a registry', () => {
  let dir: string
  let sha: string
  beforeAll(async () => {
    dir = project()
    sha = git(dir, 'rev-parse', 'HEAD').slice(0, 12)
    const plan = await pinnedPlanDir(dir)
    for (const v of plan.variants.filter((x) => x.name !== 'dev'))
      await pushDeps('amd64', 'demo', v.name, v.shortHash)
  })

  it('puts the source on each deps image; the image is complete and runs', async () => {
    const r = await cli('build', '--project', dir, '--registry', `${reg.host}/demo`, '--fast-only', '--json')
    const result = r.json()
    const byName = Object.fromEntries(result.variants.map((v: { variant: string }) => [v.variant, v]))
    expect(byName.base).toMatchObject({ path: 'fast', tags: [`base-${sha}`] })
    // base uploads the source layer, its config and its manifest; ml finds the layer there.
    expect(byName.base.blobs.uploaded).toBe(3)
    expect(byName.ml.blobs.uploaded).toBe(2)
    expect(byName.dev).toMatchObject({
      path: 'missing',
      error: expect.stringMatching(/deps image .*:deps-dev-[0-9a-f]{16} is missing: full path needed/)
    })
    expect(r.code).toBe(1) // dev needs the full path

    const ref = `docker://${reg.host}/demo:base-${sha}`
    const inspected = JSON.parse((await skopeoInspect(ref)).stdout)
    expect(inspected.Digest).toBe(byName.base.digest)
    expect(inspected.Labels).toMatchObject({
      'dev.fast-build.variant': 'base',
      'dev.fast-build.hash': byName.base.hash,
      'org.opencontainers.image.revision': git(dir, 'rev-parse', 'HEAD')
    })
    expect(inspected.Labels['org.opencontainers.image.base.digest']).toMatch(/^sha256:/)
    expect(inspected.Env).toEqual(expect.arrayContaining(['APP_ENV=test', 'PYTHONPATH=/app:/opt/deps']))

    // The file tree, unpacked by umoci: deps layers plus /app, without .git and ignored files.
    const out = tempDir()
    expect((await skopeoCopy(ref, `oci:${join(out, 'img')}:x`)).stderr).toBe('')
    await runOk('umoci', ['unpack', '--image', `${join(out, 'img')}:x`, join(out, 'bundle')])
    const rootfs = join(out, 'bundle', 'rootfs')
    expect(readFileSync(join(rootfs, 'opt/deps/marker.txt'), 'utf8')).toBe('deps layer here\n')
    expect(readFileSync(join(rootfs, 'app/message.txt'), 'utf8')).toBe('hello from the source layer\n')
    expect(existsSync(join(rootfs, 'app/pyproject.toml'))).toBe(true)
    expect(existsSync(join(rootfs, 'app/secrets.txt'))).toBe(false)
    expect(existsSync(join(rootfs, 'app/.git'))).toBe(false)
    // The whole /app tree: exactly what git tracks, less what .dockerignore names.
    const shipped = execFileSync('find', ['.', '-type', 'f'], { cwd: join(rootfs, 'app'), encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((f) => f.slice(2))
      .sort()
    const tracked = git(dir, 'ls-files')
      .split('\n')
      .filter((f) => f !== 'secrets.txt')
      .sort()
    expect(shipped).toEqual(tracked)

    const run = await podman.run(ref)
    expect({ ...run, stderr: run.code === 0 ? '' : run.stderr }).toMatchObject({
      code: 0,
      stderr: '',
      stdout: `hello from the source layer\ndeps layer here\nPYTHONPATH=/app:/opt/deps APP_ENV=test\n`
    })
  })

  it('gives the same digest from a second, separate checkout', async () => {
    const first = (
      await cli('build', '--project', dir, '--registry', `${reg.host}/demo`, '--variant', 'base', '--json')
    ).json()
    const other = join(tempDir(), 'checkout')
    execFileSync('git', ['clone', '-q', dir, other])
    const second = (
      await cli('build', '--project', other, '--registry', `${reg.host}/demo`, '--variant', 'base', '--json')
    ).json()
    expect(second.variants[0].digest).toBe(first.variants[0].digest)
    // Nothing new to upload but the manifest, written again under its tag.
    expect(second.variants[0].blobs).toMatchObject({ uploaded: 1 })
  })

  it('after a one-file change, uploads only the source layer, the config and the manifest', async () => {
    writeFileSync(join(dir, 'message.txt'), 'hello from the second commit\n')
    git(dir, 'commit', '-q', '-am', 'change one file')
    const r = await cli('build', '--project', dir, '--registry', `${reg.host}/demo`, '--variant', 'base')
    expect(r.code).toBe(0)
    const line = r.out.split('\n').find((l) => l.startsWith('base'))!
    expect(line).toMatch(
      /^base\s+fast\s+deps-base-[0-9a-f]{16}\s+\S+@sha256:[0-9a-f]{12}\s+3\/0\/\d+\s+\d+(\.\d+)? kB\s+\d+\.\d\d$/
    )
    expect(r.err).toMatch(/base: source layer [0-9a-f]{12} \(\d+(\.\d+)? kB\)/)
    const json = (
      await cli('build', '--project', dir, '--registry', `${reg.host}/demo`, '--variant', 'base', '--json')
    ).json()
    const v = json.variants[0]
    const layer = json.sourceLayer
    // Second run: everything exists but the tag's manifest write.
    expect(v.blobs.uploaded).toBe(1)
    expect(v.bytesUploaded).toBeLessThan(layer.size)
    const sha2 = git(dir, 'rev-parse', 'HEAD').slice(0, 12)
    expect((await podman.run(`docker://${reg.host}/demo:base-${sha2}`)).stdout).toMatch(
      /^hello from the second commit\n/
    )
  })
})

describe('several platforms', () => {
  it('an index deps image gives an app index with the same source layer on each platform', async () => {
    const dir = project('"linux/amd64", "linux/arm64"')
    const base = (await pinnedPlanDir(dir)).variants.find((v) => v.name === 'base')!
    await pushDeps('both', 'multi', 'base', base.shortHash)
    const r = await cli(
      'build',
      '--project',
      dir,
      '--registry',
      `${reg.host}/multi`,
      '--variant',
      'base',
      '--json'
    )
    expect(r.json().variants[0]).toMatchObject({ path: 'fast', error: null })
    const raw = JSON.parse(
      (await skopeoInspect(`docker://${reg.host}/multi@${r.json().variants[0].digest}`, { raw: true })).stdout
    )
    expect(raw.mediaType).toBe('application/vnd.oci.image.index.v1+json')
    expect(raw.manifests.map((m: { platform: { architecture: string } }) => m.platform.architecture)).toEqual(
      ['amd64', 'arm64']
    )
    const last = async (digest: string) => {
      const m = JSON.parse(
        (await skopeoInspect(`docker://${reg.host}/multi@${digest}`, { raw: true })).stdout
      )
      return m.layers.at(-1).digest
    }
    expect(await last(raw.manifests[0].digest)).toBe(r.json().sourceLayer.digest)
    expect(await last(raw.manifests[1].digest)).toBe(r.json().sourceLayer.digest)
  })

  it('clear errors for a deps tag of a foreign platform, or an index without the platform', async () => {
    const dir = project('"linux/amd64"')
    const base = (await pinnedPlanDir(dir)).variants.find((v) => v.name === 'base')!
    await pushDeps('arm64', 'foreign', 'base', base.shortHash)
    const r = await cli(
      'build',
      '--project',
      dir,
      '--registry',
      `${reg.host}/foreign`,
      '--variant',
      'base',
      '--json'
    )
    expect(r.code).toBe(1)
    expect(r.json().variants[0]).toMatchObject({
      path: 'failed',
      error: expect.stringMatching(/deps image .* is for linux\/arm64, not linux\/amd64\n {2}fix: /)
    })

    const dir2 = project('"linux/arm64"')
    const base2 = (await pinnedPlanDir(dir2)).variants.find((v) => v.name === 'base')!
    indexOf(layout, 'only-amd64', [{ tag: 'amd64', arch: 'amd64' }])
    await pushDeps('only-amd64', 'foreign', 'base', base2.shortHash)
    const r2 = await cli(
      'build',
      '--project',
      dir2,
      '--registry',
      `${reg.host}/foreign`,
      '--variant',
      'base',
      '--json'
    )
    expect(r2.json().variants[0].error).toMatch(/has no linux\/arm64 image \(it has linux\/amd64\)/)
  })
})

describe('fast path into an OCI layout', () => {
  it('builds into oci:DIR, which skopeo and podman read', async () => {
    const dir = project()
    const store = join(lowercaseTempDir(), 'images')
    const base = (await pinnedPlanDir(dir)).variants.find((v) => v.name === 'base')!
    expect((await skopeoCopy(`oci:${layout}:amd64`, `oci:${store}:deps-base-${base.shortHash}`)).stderr).toBe(
      ''
    )
    const r = await cli(
      'build',
      '--project',
      dir,
      '--store',
      `oci:${store}`,
      '--variant',
      'base',
      '--tag',
      'latest',
      '--json'
    )
    expect(r.json().variants[0]).toMatchObject({ path: 'fast', error: null })
    expect(JSON.parse((await skopeoInspect(`oci:${store}:latest`)).stdout).Digest).toBe(
      r.json().variants[0].digest
    )
    expect((await podman.run(`oci:${store}:latest`)).stdout).toMatch(/^hello from the source layer\n/)
  })
})
