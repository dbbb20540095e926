// The fast path's logic against an image store in memory: which variants find their deps image,
// what is uploaded (first build, again, after a change), the app image's layers and config, an
// index for several platforms, and the errors for a deps image of the wrong platform. The same
// flow against a real registry, run by podman: fast-path.integration.test.ts.
import { describe, expect, it } from '@jest/globals'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import type { Digest } from '../../src/oci/digest.js'
import { runBuild } from '../../src/pipeline/build.js'
import { depsTag } from '../../src/pipeline/deps-image.js'
import type { BuildResult, VariantResult } from '../../src/pipeline/results.js'
import type { Plan } from '../../src/plan/plan.js'
import { appImageConfig, uvProject } from '../support/fixtures.js'
import { MemoryStore, putImage, type ImagePlatform } from '../support/memory-store.js'
import { tarNames } from '../support/oci-layout.js'
import { planDir, tempDir } from '../support/project.js'

// A base image pinned by digest with python set: planning looks nothing up (the fast path
// never reads the base image; the deps image carries it).
const BASE = `registry.invalid/python@sha256:${'ab'.repeat(32)}`
const AMD64: ImagePlatform = {
  arch: 'amd64',
  files: { 'opt/deps/marker.txt': 'deps\n' },
  env: ['PYTHONPATH=/opt/deps']
}
const ARM64: ImagePlatform = { arch: 'arm64', files: { 'opt/deps/marker.txt': 'deps\n' } }

function project(platforms = '"linux/amd64"', variants?: string[]): { dir: string; plan: Plan } {
  const dir = uvProject({ config: appImageConfig(BASE, platforms) })
  writeFileSync(join(dir, 'run.sh'), 'cat /app/message.txt\n')
  writeFileSync(join(dir, 'message.txt'), 'hello from the source layer\n')
  writeFileSync(join(dir, 'secrets.txt'), 'do not ship\n')
  writeFileSync(join(dir, '.dockerignore'), 'secrets.txt\n')
  return { dir, plan: planDir(dir, variants ? { variants } : {}) }
}

async function pushDeps(
  store: MemoryStore,
  plan: Plan,
  variant: string,
  platforms: ImagePlatform[],
  index = false
) {
  const v = plan.variants.find((x) => x.name === variant)!
  return putImage(store, depsTag(v.name, v.shortHash), platforms, { index })
}

const cacheDir = tempDir()
function build(plan: Plan, store: MemoryStore): Promise<BuildResult> {
  return runBuild({
    plan,
    store,
    tags: ['{variant}-test'],
    sourceMode: 'walk',
    fullPath: false,
    cacheDir,
    env: {}
  })
}

const byName = (r: BuildResult): Record<string, VariantResult> =>
  Object.fromEntries(r.variants.map((v) => [v.variant, v]))

async function json<T>(store: MemoryStore, digest: string): Promise<T> {
  return JSON.parse((await store.getBlob(digest as Digest)).toString('utf8')) as T
}

interface Manifest {
  mediaType: string
  config: { digest: string }
  layers: { digest: string; mediaType: string }[]
  manifests: { digest: string; platform: { architecture: string } }[]
}

describe('the fast path', () => {
  it('puts the source on each deps image; a variant without one is missing', async () => {
    const { plan } = project()
    const store = new MemoryStore()
    const depsBase = await pushDeps(store, plan, 'base', [AMD64])
    await pushDeps(store, plan, 'ml', [AMD64])
    const r = await build(plan, store)
    const v = byName(r)
    expect(v.base).toMatchObject({ path: 'fast', tags: ['base-test'], error: null })
    // base uploads the source layer, its config and its manifest; ml finds the layer there.
    expect(v.base!.blobs.uploaded).toBe(3)
    expect(v.ml!.blobs.uploaded).toBe(2)
    expect(v.dev).toMatchObject({
      path: 'missing',
      error: expect.stringMatching(/deps image .*:deps-dev-[0-9a-f]{16} is missing: full path needed/)
    })
    // Each deps image is looked up once.
    for (const x of plan.variants)
      expect(store.callsOf('getManifest').filter((t) => t === depsTag(x.name, x.shortHash))).toHaveLength(1)

    // The app image: the deps layers, then the source layer; the deps config, with the app's settings.
    const top = await store.getManifest('base-test')
    expect(top!.digest).toBe(v.base!.digest)
    const app = JSON.parse(top!.bytes.toString('utf8')) as Manifest
    const deps = JSON.parse((await store.getManifest(depsBase))!.bytes.toString('utf8')) as Manifest
    expect(app.layers.map((l) => l.digest)).toEqual([
      ...deps.layers.map((l) => l.digest),
      r.sourceLayer!.digest
    ])
    const config = await json<{
      config: { Env: string[]; Labels: Record<string, string>; WorkingDir: string }
    }>(store, app.config.digest)
    expect(config.config.Env).toEqual(expect.arrayContaining(['APP_ENV=test', 'PYTHONPATH=/app:/opt/deps']))
    expect(config.config.WorkingDir).toBe('/app')
    expect(config.config.Labels).toMatchObject({
      'dev.fast-build.variant': 'base',
      'dev.fast-build.hash': v.base!.hash,
      'org.opencontainers.image.base.digest': depsBase
    })

    // The source layer: the project, less what .dockerignore names.
    const files = tarNames(gunzipSync(await store.getBlob(r.sourceLayer!.digest as Digest)))
    expect(files).toEqual(expect.arrayContaining(['app/message.txt', 'app/run.sh', 'app/pyproject.toml']))
    expect(files.filter((f) => f.includes('secrets'))).toEqual([])
  })

  it('a second build of the same tree gives the same digest and writes only the tagged manifest', async () => {
    const { plan } = project(undefined, ['base'])
    const store = new MemoryStore()
    await pushDeps(store, plan, 'base', [AMD64])
    const first = byName(await build(plan, store)).base!
    const second = byName(await build(plan, store)).base!
    expect(second.digest).toBe(first.digest)
    expect(second.blobs).toMatchObject({ uploaded: 1 })
  })

  it('after a one-file change, uploads only the source layer, the config and the manifest', async () => {
    const { dir, plan } = project(undefined, ['base'])
    const store = new MemoryStore()
    await pushDeps(store, plan, 'base', [AMD64])
    const first = await build(plan, store)
    writeFileSync(join(dir, 'message.txt'), 'hello from the second commit\n')
    const second = await build(plan, store)
    expect(second.sourceLayer!.digest).not.toBe(first.sourceLayer!.digest)
    expect(byName(second).base!.blobs.uploaded).toBe(3)
    expect(byName(second).base!.bytesUploaded).toBeGreaterThan(second.sourceLayer!.size)
    expect(store.tags.get('base-test')).toBe(byName(second).base!.digest)
  })
})

describe('several platforms', () => {
  it('an index deps image gives an app index with the same source layer on each platform', async () => {
    const { plan } = project('"linux/amd64", "linux/arm64"', ['base'])
    const store = new MemoryStore()
    await pushDeps(store, plan, 'base', [AMD64, ARM64])
    const r = await build(plan, store)
    expect(byName(r).base).toMatchObject({ path: 'fast', error: null })
    const index = JSON.parse((await store.getManifest('base-test'))!.bytes.toString('utf8')) as Manifest
    expect(index.mediaType).toBe('application/vnd.oci.image.index.v1+json')
    expect(index.manifests.map((m) => m.platform.architecture)).toEqual(['amd64', 'arm64'])
    for (const m of index.manifests) {
      const child = JSON.parse((await store.getManifest(m.digest))!.bytes.toString('utf8')) as Manifest
      expect(child.layers.at(-1)!.digest).toBe(r.sourceLayer!.digest)
    }
  })

  it('clear errors for a deps tag of a foreign platform, or an index without the platform', async () => {
    const amd = project('"linux/amd64"', ['base'])
    const store = new MemoryStore()
    await pushDeps(store, amd.plan, 'base', [ARM64])
    const r = await build(amd.plan, store)
    expect(byName(r).base).toMatchObject({
      path: 'failed',
      error: expect.stringMatching(/deps image .* is for linux\/arm64, not linux\/amd64\n {2}fix: /)
    })

    const arm = project('"linux/arm64"', ['base'])
    await pushDeps(store, arm.plan, 'base', [AMD64], true)
    const r2 = await build(arm.plan, store)
    expect(byName(r2).base!.error).toMatch(/has no linux\/arm64 image \(it has linux\/amd64\)/)
  })
})
