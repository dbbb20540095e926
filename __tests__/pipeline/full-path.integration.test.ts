// The full path end to end: wheels built here and served by a package index on 127.0.0.1, a real
// Debian + python3 base image (debootstrap) in a real registry, `fast-build build` making the deps
// image from the lock without Docker; skopeo reads it back and podman runs it: the packages
// import, the C extension loads, entry-point scripts run, importlib.metadata sees every dist.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { copyFileSync, cpSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { cli } from '../support/cli.js'
import { RegistryClient } from '../../src/registry/client.js'
import { CacheLayout } from '../../src/cache/layout.js'
import { startPodman, type Podman } from '../support/podman.js'
import {
  copyPythonBase,
  pushPythonBase,
  pythonBaseConfig,
  pythonBaseImage,
  PYTHON_BASE_MULTI_TAG,
  PYTHON_BASE_SITE as SITE
} from '../support/python-base.js'
import { startPypiServer, type PypiServer } from '../support/pypi-server.js'
import { lowercaseTempDir, tempDir } from '../support/project.js'
import { startRegistry, type TestRegistry } from '../support/registry.js'
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js'
import { skopeoCopy, skopeoInspect } from '../support/skopeo.js'
import { validateCycloneDx } from '../sbom/schema.js'
import { createHash } from 'node:crypto'
import { buildFixtureWheels, buildSimpleWheels, type FixtureWheel } from '../support/wheel-fixtures.js'
import {
  poetryWheelProject,
  servedFiles,
  wheelProject,
  type WheelProjectSpec
} from '../support/wheel-project.js'

function config(
  baseImage: string,
  extra = '',
  variants = 'base = { groups = ["main"] }\ndev = { groups = ["main", "dev"] }'
): string {
  return pythonBaseConfig(baseImage, `heavy-package-mb = 1\n${extra}`, variants)
}

let reg: TestRegistry
let podman: Podman
let index: PypiServer
let baseRef: string
let multiRef: string
let fixtures: FixtureWheel[]
let simple: FixtureWheel[]
let baseLayers: number

const byProject = (name: string) => fixtures.find((w) => w.project === name && !w.broken)!
const simpleWheel = (project: string, version = '1.0.0') =>
  simple.find((w) => w.project === project && w.version === version)!

beforeAll(async () => {
  const dir = tempDir()
  const [f, s, base] = await Promise.all([
    buildFixtureWheels(join(dir, 'fixtures'), { heavyMb: 2 }),
    buildSimpleWheels(join(dir, 'simple'), [
      ...Array.from({ length: 40 }, (_, i) => ({
        project: `pkg${String(i).padStart(2, '0')}`,
        version: '1.0.0',
        modules: 2,
        kb: 8
      })),
      { project: 'pkg07', version: '1.0.1', modules: 2, kb: 8 },
      { project: 'pkg07', version: '1.0.2', modules: 2, kb: 8 },
      { project: 'devtool', version: '2.0.0', script: 'devtool' }
    ]),
    pythonBaseImage()
  ])
  fixtures = f
  simple = s
  baseLayers = 1
  expect(base.python.minor).toBe(11)
  reg = await startRegistry()
  podman = startPodman()
  index = await startPypiServer({
    files: [...servedFiles(fixtures.filter((w) => !w.broken)), ...servedFiles(simple)]
  })
  baseRef = await pushPythonBase(reg.host, 'base/python')
  multiRef = await pushPythonBase(reg.host, 'base/python', PYTHON_BASE_MULTI_TAG, { multi: true })
  baseLayers = JSON.parse((await skopeoInspect(`docker://${baseRef}`)).stdout).Layers.length
}, 900_000)

afterAll(async () => {
  podman?.close()
  await index?.close()
  await reg?.stop()
})

function spec(over: Partial<WheelProjectSpec> & Pick<WheelProjectSpec, 'main' | 'config'>): WheelProjectSpec {
  return { indexUrl: index.simpleUrl, fileUrl: (f) => index.fileUrl(f), ...over }
}

/** A script that imports every package and prints what the test checks. */
function mainPy(modules: readonly string[]): string {
  return `import importlib, importlib.metadata as md
import fbpure, fbext, fbns.a, fbns.b, fb_data_extra, fb_data_plat
from fbpure.sub.mod import answer
print("ext", fbext.add(2, 3))
print("answer", answer())
print("ns", fbns.a.PART, fbns.b.PART)
print("data", fb_data_extra.EXTRA, fb_data_plat.PLAT)
print("pure", fbpure.__file__)
for m in ${JSON.stringify(modules)}:
    print("mod", m, importlib.import_module(m).VERSION)
print("dists", " ".join(sorted(d.metadata["Name"] for d in md.distributions())))
`
}

describe('a deps image built from the lock’s wheels', () => {
  let dir: string
  let cacheDir: string
  const fixtureNames = ['fbpure', 'fbext', 'fbscripts', 'FB_data', 'fbns_a', 'fbns_b', 'fbheavy']
  let first: ReturnType<Awaited<ReturnType<typeof cli>>['json']>

  beforeAll(async () => {
    const mods = ['pkg00', 'pkg01', 'pkg02']
    dir = wheelProject(
      spec({
        main: [...fixtureNames.map(byProject), ...mods.map((m) => simpleWheel(m))],
        groups: { dev: [simpleWheel('devtool', '2.0.0')] },
        config: config(baseRef),
        files: { 'main.py': mainPy(mods), 'README.txt': 'the app\n' }
      })
    )
    cacheDir = tempDir()
    const r = await cli(
      'build',
      '--project',
      dir,
      '--registry',
      `${reg.host}/app`,
      '--tag',
      'latest-{variant}',
      '--cache-dir',
      cacheDir,
      '--json'
    )
    expect(r.err).not.toMatch(/failed/)
    expect(r.code).toBe(0)
    first = r.json()
  }, 600_000)

  it('takes the full path for each variant, then puts the source on top, and reports it', () => {
    const [base, dev] = first.variants
    expect(base).toMatchObject({ variant: 'base', path: 'full', error: null, tags: ['latest-base'] })
    expect(dev).toMatchObject({ variant: 'dev', path: 'full', error: null, tags: ['latest-dev'] })
    expect(base.full).toMatchObject({ wheels: 10, wheelsDownloaded: 10 })
    // dev finds the wheels base downloaded, and the layers base pushed: it adds one layer.
    expect(dev.full).toMatchObject({ wheels: 11, wheelsDownloaded: 1, layersUploaded: 1 })
    expect(dev.full.bytesUploaded).toBeLessThan(base.full.bytesUploaded / 5)
  })

  it('the image runs: packages import, the C extension loads, every dist is visible', async () => {
    const r = await podman.run(`docker://${reg.host}/app:latest-base`, [], { timeoutMs: 180_000 })
    expect(r.stderr).not.toMatch(/Traceback/)
    const lines = r.stdout.trim().split('\n')
    expect(lines).toEqual(
      expect.arrayContaining([
        'ext 5',
        'answer 42',
        'ns a b',
        'data 1 1',
        `pure ${SITE}/fbpure/__init__.py`,
        'mod pkg00 1.0.0',
        'mod pkg02 1.0.0'
      ])
    )
    const dists = lines
      .find((l) => l.startsWith('dists '))!
      .split(' ')
      .slice(1)
    expect(dists).toEqual(
      expect.arrayContaining([
        'fbpure',
        'fbext',
        'fbscripts',
        'FB_data',
        'fbns_a',
        'fbns_b',
        'fbheavy',
        'pkg00'
      ])
    )
    expect(dists).not.toContain('devtool')
  })

  it('entry-point scripts run with the image’s interpreter', async () => {
    // One container for the three checks (each podman run copies the image).
    const r = await podman.run(
      `docker://${reg.host}/app:latest-dev`,
      ['-c', 'devtool && head -1 /usr/local/bin/fbs-cli && fbs-cli'],
      { entrypoint: '/bin/sh' }
    )
    expect(r.stdout).toBe('devtool 2.0.0\n#!/usr/bin/python3\nfbs\n')
  })

  it('the deps image is tagged by the hash, layered on the base, and labelled', async () => {
    const base = first.variants[0]
    const inspected = JSON.parse((await skopeoInspect(`docker://${base.depsRef}`)).stdout)
    expect(inspected.Labels).toMatchObject({
      'dev.fast-build.variant': 'base',
      'dev.fast-build.hash': base.hash
    })
    expect(inspected.Labels['org.opencontainers.image.base.name']).toBe(baseRef)
    expect(inspected.Layers.length).toBe(baseLayers + base.full.layers)
    // fbheavy (over heavy-package-mb) has a layer of its own.
    const history = JSON.parse(
      (await skopeoInspect(`docker://${base.depsRef}`, { config: true })).stdout
    ).history
    expect(history.map((h: { created_by?: string }) => h.created_by)).toContain('fast-build: fbheavy==1.0.0')
    expect(inspected.Layers.slice(0, baseLayers)).toEqual(
      JSON.parse((await skopeoInspect(`docker://${baseRef}`)).stdout).Layers
    )
    // Then the project's own layer (its .dist-info, .pth, scripts), then the source.
    const app = JSON.parse((await skopeoInspect(`docker://${reg.host}/app:latest-base`)).stdout)
    expect(app.Layers.slice(0, -2)).toEqual(inspected.Layers)
    expect(JSON.parse(inspected.Labels['dev.fast-build.python'])).toMatchObject({
      interpreter: '/usr/bin/python3',
      sitePackages: SITE,
      scripts: '/usr/local/bin',
      version: '3.11'
    })
  })

  it('the app image has an SBOM, found through its fallback tag, valid CycloneDX, listing exactly the closure', async () => {
    const base = first.variants[0]
    expect(base.sboms).toHaveLength(1)
    const { tag, digest } = base.sboms[0]
    const raw = (await skopeoInspect(`docker://${reg.host}/app:${tag}`, { raw: true })).stdout
    expect(createHash('sha256').update(raw).digest('hex')).toBe(digest.slice(7))
    const artifact = JSON.parse(raw)
    expect(artifact.artifactType).toBe('application/vnd.cyclonedx+json')
    const client = new RegistryClient({ host: reg.host, repository: 'app' }, {})
    try {
      // The subject is the app image's manifest, as the registry holds it.
      const appManifest = await client.getManifest('latest-base')
      expect(artifact.subject.digest).toBe(appManifest!.digest)
      expect(tag).toBe(`sha256-${appManifest!.digest.slice(7)}.sbom`)
      const doc = JSON.parse((await client.getBlob(artifact.layers[0].digest)).toString('utf8'))
      expect(validateCycloneDx(doc).errors).toEqual([])
      const plan = (await cli('plan', '--project', dir, '--variant', 'base', '--json')).json()
      const closure = plan.variants[0].platforms[0].packages.map(
        (p: { name: string; version: string }) => `pkg:pypi/${p.name}@${p.version}`
      )
      const listed = doc.components
        .map((c: { purl?: string }) => c.purl)
        .filter((u: string | undefined) => u?.startsWith('pkg:pypi/'))
      expect([...listed].sort()).toEqual([...closure].sort())
    } finally {
      client.close()
    }
  })

  it('a second build takes the fast path; a rebuild from an empty cache gives the same images', async () => {
    const again = await cli(
      'build',
      '--project',
      dir,
      '--registry',
      `${reg.host}/app`,
      '--tag',
      'latest-{variant}',
      '--cache-dir',
      cacheDir,
      '--json'
    )
    expect(again.json().variants.map((v: { path: string }) => v.path)).toEqual(['fast', 'fast'])
    expect(again.json().variants.map((v: { digest: string }) => v.digest)).toEqual(
      first.variants.map((v: { digest: string }) => v.digest)
    )
    const depsBefore = JSON.parse(
      (await skopeoInspect(`docker://${first.variants[0].depsRef}`)).stdout
    ).Digest

    const fresh = tempDir()
    const rebuilt = await cli(
      'build',
      '--project',
      dir,
      '--registry',
      `${reg.host}/app`,
      '--tag',
      'latest-{variant}',
      '--cache-dir',
      fresh,
      '--rebuild',
      'base',
      '--variant',
      'base',
      '--json'
    )
    const v = rebuilt.json().variants[0]
    expect(v).toMatchObject({ path: 'full', digest: first.variants[0].digest })
    expect(v.full).toMatchObject({ wheelsDownloaded: 10, layersBuilt: v.full.layers, layersUploaded: 0 })
    expect(JSON.parse((await skopeoInspect(`docker://${v.depsRef}`)).stdout).Digest).toBe(depsBefore)

    // With that cache: nothing downloaded, installed or compressed again.
    const cached = await cli(
      'build',
      '--project',
      dir,
      '--registry',
      `${reg.host}/app`,
      '--cache-dir',
      fresh,
      '--rebuild',
      'base',
      '--variant',
      'base',
      '--json'
    )
    expect(cached.json().variants[0].full).toMatchObject({ wheelsDownloaded: 0, layersBuilt: 0 })
  }, 300_000)

  it('with only the layer descriptors kept (as the Actions cache keeps them), nothing is fetched or built again; a repository without the blobs gets them built', async () => {
    const cache = tempDir()
    const args = ['build', '--project', dir, '--cache-dir', cache, '--variant', 'base', '--json']
    const first = await cli(...args, '--registry', `${reg.host}/descriptors`)
    expect(first.json().variants[0].path).toBe('full')
    // Drop the wheels and the compressed layers; keep descriptors and sizes.
    rmSync(join(cache, 'artifacts'), { recursive: true, force: true })
    for (const f of readdirSync(join(cache, 'work', 'layers')))
      if (f.endsWith('.tar.gz')) rmSync(join(cache, 'work', 'layers', f))
    const again = await cli(...args, '--registry', `${reg.host}/descriptors`, '--rebuild', 'base')
    expect(again.json().variants[0]).toMatchObject({ path: 'full', digest: first.json().variants[0].digest })
    expect(again.json().variants[0].full).toMatchObject({
      wheelsDownloaded: 0,
      layersBuilt: 0,
      layersUploaded: 0
    })
    // Another repository lacks the blobs: the descriptors are not trusted, the layers are built.
    const elsewhere = await cli(...args, '--registry', `${reg.host}/descriptors-elsewhere`)
    const v = elsewhere.json().variants[0]
    expect(v.full.layersBuilt).toBe(v.full.layers)
    expect(v.full.wheelsDownloaded).toBe(10)
    // The same deps image (the app image names its repository in a label, so it differs).
    const depsDigest = async (ref: string) =>
      JSON.parse((await skopeoInspect(`docker://${ref}`)).stdout).Digest
    expect(await depsDigest(v.depsRef)).toBe(await depsDigest(first.json().variants[0].depsRef))
  }, 300_000)

  it('tells what it does on stderr as it goes', async () => {
    const r = await cli(
      'build',
      '--project',
      dir,
      '--registry',
      `${reg.host}/progress`,
      '--cache-dir',
      cacheDir,
      '--variant',
      'base'
    )
    expect(r.code).toBe(0)
    expect(r.err).toMatch(/base: deps image .*deps-base-[0-9a-f]{16} is missing: full path/)
    expect(r.err).toMatch(/base: 10 wheels to install/)
    expect(r.err).toMatch(/layer 1\/\d+ /)
    expect(r.err).toMatch(/base: deps image .* pushed/)
    expect(r.out).toMatch(/base\s+full/)
  })
})

describe('incremental: one package bumped', () => {
  it('uploads about one layer, the config and the manifests; copies the unchanged packages of that layer, also on a runner with descriptors only', async () => {
    const names = Array.from({ length: 40 }, (_, i) => `pkg${String(i).padStart(2, '0')}`)
    const files = { 'main.py': 'print("hi")\n' }
    const dir = wheelProject(
      spec({
        main: names.map((n) => simpleWheel(n)),
        config: config(baseRef, '', 'base = { groups = ["main"] }'),
        files
      })
    )
    const cacheDir = tempDir()
    const build = async (repository = 'bump', cache = cacheDir, ...more: string[]) => {
      const r = await cli(
        'build',
        '--project',
        dir,
        '--registry',
        `${reg.host}/${repository}`,
        '--cache-dir',
        cache,
        '--json',
        ...more
      )
      expect(r.code).toBe(0)
      return r.json().variants[0]
    }
    const one = await build()
    wheelProject(
      spec({
        main: names.map((n) => simpleWheel(n, n === 'pkg07' ? '1.0.1' : '1.0.0')),
        config: config(baseRef, '', 'base = { groups = ["main"] }'),
        files
      }),
      dir
    )
    const two = await build()
    expect(two.path).toBe('full')
    expect(two.hash).not.toBe(one.hash)
    expect(two.full.layers).toBe(one.full.layers)
    expect(two.full.layersUploaded).toBe(1)
    expect(two.full.wheelsDownloaded).toBe(1)
    // Only pkg07 was installed: the other packages of its layer were copied from the layer before.
    expect(two.full.layersBuilt).toBe(1)
    expect(two.full.packagesCopied).toBeGreaterThan(0)
    expect(one.full.packagesCopied).toBe(0)
    // The same deps image as a build from the wheels alone (an empty cache, another repository).
    const fresh = await build('bump-fresh', tempDir(), '--rebuild', 'all')
    expect(fresh.full.packagesCopied).toBe(0)
    const depsDigest = async (ref: string) =>
      JSON.parse((await skopeoInspect(`docker://${ref}`)).stdout).Digest
    expect(await depsDigest(fresh.depsRef)).toBe(await depsDigest(two.depsRef))

    const whole = one.full.bytesUploaded
    // The changed layer, plus the config and the manifest (a few kB); nothing of the base image.
    const rest = two.full.bytesUploaded - two.full.layerBytesUploaded
    expect(rest).toBeGreaterThan(0)
    expect(rest).toBeLessThan(8_000)
    expect(two.full.layerBytesUploaded).toBeLessThan(whole / 3)
    process.stdout.write(
      `bump one of 40 packages: ${two.full.bytesUploaded} bytes uploaded = its layer ${two.full.layerBytesUploaded} + config and manifest ${rest} (first build: ${whole} bytes in ${one.full.layers} package layers)\n`
    )
    const r = await podman.run(
      `docker://${reg.host}/bump:base-local`,
      ['-c', 'import pkg07, pkg08; print(pkg07.VERSION, pkg08.VERSION)'],
      { entrypoint: 'python3' }
    )
    expect(r.stdout).toBe('1.0.1 1.0.0\n')

    // A runner with only the descriptors (what the Actions cache keeps; no wheel, no layer blob):
    // the next bump reads the layer before from the registry and copies from it.
    const runner = tempDir()
    const [was, now] = [new CacheLayout(cacheDir), new CacheLayout(runner)]
    mkdirSync(now.layers, { recursive: true })
    for (const f of readdirSync(was.layers).filter((f) => f.endsWith('.json')))
      copyFileSync(join(was.layers, f), join(now.layers, f))
    cpSync(was.unpackedSizes, now.unpackedSizes, { recursive: true })
    wheelProject(
      spec({
        main: names.map((n) => simpleWheel(n, n === 'pkg07' ? '1.0.2' : '1.0.0')),
        config: config(baseRef, '', 'base = { groups = ["main"] }'),
        files
      }),
      dir
    )
    const three = await build('bump', runner)
    expect(three.full).toMatchObject({ layersBuilt: 1, layersUploaded: 1, wheelsDownloaded: 1 })
    expect(three.full.packagesCopied).toBe(two.full.packagesCopied)
    const threeFresh = await build('bump-fresh', tempDir(), '--rebuild', 'all')
    expect(await depsDigest(threeFresh.depsRef)).toBe(await depsDigest(three.depsRef))
  }, 300_000)
})

describe('several platforms', () => {
  it('pure wheels on a multi-platform base give an index; the layers are shared by both', async () => {
    const main = ['pkg10', 'pkg11'].map((n) => simpleWheel(n))
    const dir = wheelProject(
      spec({
        main,
        config: config(multiRef, '', 'base = { groups = ["main"] }').replace(
          'platforms = ["linux/amd64"]',
          'platforms = ["linux/amd64", "linux/arm64"]'
        ),
        files: { 'main.py': 'import pkg10; print("pkg10", pkg10.VERSION)\n' }
      })
    )
    const r = await cli(
      'build',
      '--project',
      dir,
      '--registry',
      `${reg.host}/multi`,
      '--cache-dir',
      tempDir(),
      '--json'
    )
    expect(r.code).toBe(0)
    const v = r.json().variants[0]
    const raw = JSON.parse((await skopeoInspect(`docker://${v.depsRef}`, { raw: true })).stdout)
    expect(
      raw.manifests.map((m: { platform: { architecture: string } }) => m.platform.architecture).sort()
    ).toEqual(['amd64', 'arm64'])
    const layersOf = async (digest: string) =>
      JSON.parse(
        (await skopeoInspect(`docker://${reg.host}/multi@${digest}`, { raw: true })).stdout
      ).layers.map((l: { digest: string }) => l.digest)
    const [a, b] = await Promise.all(raw.manifests.map((m: { digest: string }) => layersOf(m.digest)))
    expect(a.slice(baseLayers)).toEqual(b.slice(baseLayers))
    // The arm64 twin's package layers were already there: one upload per layer in all.
    expect(v.full.layersUploaded).toBe(v.full.layers / 2)
    const run = await podman.run(`docker://${reg.host}/multi:base-local`)
    expect(run.stdout).toBe('pkg10 1.0.0\n')
  }, 300_000)
})

describe('OCI layouts: base from one, image into another', () => {
  it('copies the base layers across and the result runs', async () => {
    const baseLayout = await copyPythonBase(join(lowercaseTempDir(), 'base'))
    const store = join(lowercaseTempDir(), 'out')
    const dir = wheelProject(
      spec({
        main: [simpleWheel('pkg20')],
        config: config(baseLayout, '', 'base = { groups = ["main"] }'),
        files: { 'main.py': 'import pkg20; print("pkg20", pkg20.VERSION)\n' }
      })
    )
    const r = await cli(
      'build',
      '--project',
      dir,
      '--store',
      `oci:${store}`,
      '--tag',
      'latest',
      '--cache-dir',
      tempDir(),
      '--json'
    )
    expect(r.code).toBe(0)
    expect(r.json().variants[0]).toMatchObject({ path: 'full', error: null })
    expect((await podman.run(`oci:${store}:latest`)).stdout).toBe('pkg20 1.0.0\n')
  }, 300_000)
})

describe('what the wheels builder refuses, and bad downloads', () => {
  it('names every package without a wheel and pushes nothing for that variant', async () => {
    const sdistSha = 'ab'.repeat(32)
    const dir = wheelProject(
      spec({
        main: [simpleWheel('pkg30')],
        extraPackages: [
          {
            name: 'sdistonly',
            toml: `[[package]]\nname = "sdistonly"\nversion = "1.0"\nsource = { registry = "${index.simpleUrl}" }\nsdist = { url = "${index.url}/files/sdistonly-1.0.tar.gz", hash = "sha256:${sdistSha}", size = 100 }\n`
          },
          {
            name: 'gitdep',
            toml: `[[package]]\nname = "gitdep"\nversion = "0.1.0"\nsource = { git = "https://github.com/acme/gitdep?rev=v0.1#${'0123456789'.repeat(4)}" }\n`
          }
        ],
        config: config(baseRef, '', 'base = { groups = ["main"] }')
      })
    )
    const r = await cli(
      'build',
      '--project',
      dir,
      '--registry',
      `${reg.host}/refused`,
      '--builder',
      'wheels',
      '--cache-dir',
      tempDir(),
      '--json'
    )
    expect(r.code).toBe(1)
    const v = r.json().variants[0]
    expect(v.path).toBe('failed')
    expect(v.error).toMatch(/wheels builder cannot build variant base: 2 packages have no wheel/)
    expect(v.error).toMatch(
      /sdistonly 1\.0 \(linux\/amd64\): only a source distribution \(sdistonly-1\.0\.tar\.gz\)/
    )
    expect(v.error).toMatch(/gitdep 0\.1\.0 \(linux\/amd64\): git source/)
    expect(v.error).toMatch(/fix: build this variant with the Dockerfile builder/)
    const client = new RegistryClient({ host: reg.host, repository: 'refused' })
    try {
      expect(await client.listTags()).toEqual([])
    } finally {
      client.close()
    }
  })

  it('a download that does not match the lock’s hash fails clearly and leaves no tag', async () => {
    const wheel = simpleWheel('pkg31')
    const bad = await startPypiServer({ files: servedFiles([wheel]), corrupt: true })
    try {
      const dir = wheelProject({
        indexUrl: bad.simpleUrl,
        fileUrl: (f) => bad.fileUrl(f),
        main: [wheel],
        config: config(baseRef, '', 'base = { groups = ["main"] }')
      })
      const r = await cli(
        'build',
        '--project',
        dir,
        '--registry',
        `${reg.host}/corrupt`,
        '--cache-dir',
        tempDir(),
        '--json'
      )
      expect(r.code).toBe(1)
      expect(r.json().variants[0].error).toMatch(/pkg31/)
      expect(r.json().variants[0].error).toMatch(
        new RegExp(
          `pkg31 1\\.0\\.0: ${wheel.filename.replace(/\./g, '\\.')} from .* has sha256 [0-9a-f]{64}, but the lock pins sha256 ${wheel.sha256}`
        )
      )
      expect(r.json().variants[0].error).not.toMatch(/\n\s+at /)
    } finally {
      await bad.close()
    }
  })

  it('a deps image whose tag cannot be written leaves no app image, tag or SBOM on it; the next run completes', async () => {
    // The app image is made and its blobs go up while the deps image is written: its manifests,
    // tags and SBOM must wait for the deps image, and not come at all when it fails.
    const proxy = await startFaultProxy(reg.url)
    const budget = process.env['FAST_BUILD_RETRY_BUDGET_S']
    process.env['FAST_BUILD_RETRY_BUDGET_S'] = '1'
    try {
      const dir = wheelProject(
        spec({ main: [simpleWheel('pkg33')], config: config(baseRef, '', 'base = { groups = ["main"] }') })
      )
      const cache = tempDir()
      proxy.setRules([
        { match: { method: 'PUT', path: /\/manifests\/deps-/ }, fault: { kind: 'status', status: 500 } }
      ])
      const build = () =>
        cli(
          'build',
          '--project',
          dir,
          '--registry',
          `${proxy.host}/unwritten`,
          '--cache-dir',
          cache,
          '--json'
        )
      const r = await build()
      expect(r.code).toBe(1)
      expect(r.json().variants[0]).toMatchObject({ path: 'failed', digest: null, tags: [], sboms: [] })
      expect(r.json().variants[0].error).toMatch(/PUT .*\/manifests\/deps-base-[0-9a-f]+: 500/)
      expect(r.err).not.toMatch(/SBOM/)
      const direct = new RegistryClient({ host: reg.host, repository: 'unwritten' }, { insecure: true })
      try {
        expect(await direct.listTags().catch(() => [])).toEqual([])
        proxy.setRules([])
        const again = await build()
        expect(again.code).toBe(0)
        const v = again.json().variants[0]
        expect(v).toMatchObject({ path: 'full', error: null })
        expect((await direct.listTags()).sort()).toEqual(
          [...v.tags, v.sboms[0].tag, v.depsRef.split(':').pop()].sort()
        )
      } finally {
        direct.close()
      }
    } finally {
      if (budget === undefined) delete process.env['FAST_BUILD_RETRY_BUDGET_S']
      else process.env['FAST_BUILD_RETRY_BUDGET_S'] = budget
      await proxy.close()
    }
  })

  /** 40 small packages (a few buckets), built once through `proxy`; `bump()` moves pkg07. */
  function bumpable(proxy: FaultProxy, repository: string) {
    const names = Array.from({ length: 40 }, (_, i) => `pkg${String(i).padStart(2, '0')}`)
    const dir = tempDir()
    const project = (v07: string) =>
      wheelProject(
        spec({
          main: names.map((n) => simpleWheel(n, n === 'pkg07' ? v07 : '1.0.0')),
          config: config(baseRef, '', 'base = { groups = ["main"] }')
        }),
        dir
      )
    const cache = tempDir()
    const build = () =>
      cli(
        'build',
        '--project',
        dir,
        '--registry',
        `${proxy.host}/${repository}`,
        '--cache-dir',
        cache,
        '--json'
      )
    return {
      first: async () => {
        project('1.0.0')
        const r = await build()
        expect(r.code).toBe(0)
        return r
      },
      bump: () => {
        project('1.0.2')
        return build()
      }
    }
  }

  it('a bump whose layer stream is cut sends that layer again from its file; the image is whole', async () => {
    const proxy = await startFaultProxy(reg.url)
    try {
      const { first, bump } = bumpable(proxy, 'cut')
      await first()
      // The bump's rebuilt layer streams as it is written (it copies from the layer before); every
      // streamed upload (that one, and the source layer's) is cut a few hundred bytes in.
      proxy.setRules([{ match: { method: 'PATCH' }, fault: { kind: 'drop', afterBytes: 300 }, times: 4 }])
      const r = await bump()
      expect(r.code).toBe(0)
      expect(r.err).toMatch(/streamed upload of a deps layer failed .*; it goes up again/)
      const v = r.json().variants[0]
      expect(v).toMatchObject({ path: 'full', error: null })
      expect(v.full).toMatchObject({ layersBuilt: 1, layersUploaded: 1 })
      // Read back directly, every blob checked against its digest: the deps image and the app.
      for (const ref of [v.depsRef.replace(proxy.host, reg.host), `${reg.host}/cut:${v.tags[0]}`]) {
        const copied = await skopeoCopy(`docker://${ref}`, `oci:${join(tempDir(), 'copy')}:x`)
        expect(copied.stderr).toBe('')
        expect(copied.code).toBe(0)
      }
    } finally {
      await proxy.close()
    }
  })

  it('a bump asks nothing about its rebuilt layer or the deps config listing it: both are new', async () => {
    const proxy = await startFaultProxy(reg.url)
    try {
      const { first, bump } = bumpable(proxy, 'unasked')
      const manifestOf = async (ref: string) =>
        JSON.parse(
          (await skopeoInspect(`docker://${ref.replace(proxy.host, reg.host)}`, { raw: true })).stdout
        ) as {
          config: { digest: string }
          layers: { digest: string }[]
        }
      const before = await manifestOf((await first()).json().variants[0].depsRef)
      await proxy.settled()
      const from = proxy.requests.length
      const r = await bump()
      expect(r.code).toBe(0)
      await proxy.settled()
      const v = r.json().variants[0]
      expect(v.full).toMatchObject({ layersBuilt: 1, layersUploaded: 1, packagesCopied: expect.any(Number) })
      expect(v.full.packagesCopied).toBeGreaterThan(0)
      const deps = v.depsRef.replace(proxy.host, reg.host)
      const after = await manifestOf(deps)
      const rebuilt = after.layers.filter((l) => !before.layers.some((b) => b.digest === l.digest))
      expect(rebuilt).toHaveLength(1)
      const heads = proxy.requests
        .slice(from)
        .filter((q) => q.method === 'HEAD')
        .map((q) => q.path)
      for (const digest of [after.config.digest, rebuilt[0]!.digest])
        expect(heads.filter((p) => p.endsWith(digest))).toEqual([])
      // And what went up without a question is whole: every blob checked against its digest.
      const copied = await skopeoCopy(`docker://${deps}`, `oci:${join(tempDir(), 'copy')}:x`)
      expect(copied.stderr).toBe('')
    } finally {
      await proxy.close()
    }
  })

  it('a broken wheel (RECORD hash wrong) is named, with the file at fault', async () => {
    const broken = fixtures.find((w) => w.broken === 'record-hash')!
    const srv = await startPypiServer({
      files: [{ project: broken.project, filename: broken.filename, bytes: readFileSync(broken.path) }]
    })
    try {
      const dir = wheelProject({
        indexUrl: srv.simpleUrl,
        fileUrl: (f) => srv.fileUrl(f),
        main: [broken],
        config: config(baseRef, '', 'base = { groups = ["main"] }')
      })
      const r = await cli(
        'build',
        '--project',
        dir,
        '--registry',
        `${reg.host}/broken`,
        '--cache-dir',
        tempDir(),
        '--json'
      )
      expect(r.code).toBe(1)
      const error: string = r.json().variants[0].error
      expect(error).toContain(broken.filename)
      expect(error).toMatch(/RECORD/)
      expect(error).toMatch(/fix: /)
    } finally {
      await srv.close()
    }
  })
})

describe('private indexes and mirrors', () => {
  it('finds index credentials by the [[tool.uv.index]] name, and never prints them', async () => {
    const wheel = simpleWheel('pkg32')
    const password = 'index-pass-5f9b1c'
    const priv = await startPypiServer({ files: servedFiles([wheel]), auth: { username: 'ci', password } })
    const saved = { ...process.env }
    try {
      const dir = wheelProject({
        indexUrl: priv.simpleUrl,
        fileUrl: (f) => priv.fileUrl(f),
        main: [wheel],
        config:
          `[[tool.uv.index]]\nname = "private"\nurl = "${priv.simpleUrl}"\n` +
          config(baseRef, '', 'base = { groups = ["main"] }')
      })
      const denied = await cli(
        'build',
        '--project',
        dir,
        '--registry',
        `${reg.host}/private`,
        '--cache-dir',
        tempDir(),
        '--json'
      )
      expect(denied.code).toBe(1)
      expect(denied.json().variants[0].error).toMatch(
        /answered 401 \(unauthorized\)\n {2}fix: .*UV_INDEX_PRIVATE_USERNAME\/_PASSWORD/
      )

      process.env['UV_INDEX_PRIVATE_USERNAME'] = 'ci'
      process.env['UV_INDEX_PRIVATE_PASSWORD'] = password
      const r = await cli(
        'build',
        '--project',
        dir,
        '--registry',
        `${reg.host}/private`,
        '--cache-dir',
        tempDir(),
        '--json'
      )
      expect(r.json().variants[0].error).toBeNull()
      expect(r.code).toBe(0)
      expect(r.json().variants[0].path).toBe('full')
      expect(r.out + r.err + denied.out + denied.err).not.toContain(password)
    } finally {
      process.env = saved
      await priv.close()
    }
  })

  it('resolves poetry.lock file names through a private legacy source, with Poetry’s credentials', async () => {
    const wheels = [simpleWheel('pkg34'), simpleWheel('pkg35')]
    const password = 'poetry-pass-71d0'
    const priv = await startPypiServer({ files: servedFiles(wheels), auth: { username: 'ci', password } })
    const saved = { ...process.env }
    try {
      process.env['POETRY_HTTP_BASIC_ACME_INTERNAL_USERNAME'] = 'ci'
      process.env['POETRY_HTTP_BASIC_ACME_INTERNAL_PASSWORD'] = password
      const dir = poetryWheelProject({
        indexUrl: priv.simpleUrl,
        sourceName: 'acme-internal',
        wheels,
        config: config(baseRef, '', 'base = { groups = ["main"] }'),
        files: { 'main.py': 'import pkg34, pkg35; print(pkg34.VERSION, pkg35.VERSION)\n' }
      })
      const r = await cli(
        'build',
        '--project',
        dir,
        '--registry',
        `${reg.host}/poetry`,
        '--cache-dir',
        tempDir(),
        '--json'
      )
      expect(r.json().variants[0]).toMatchObject({ path: 'full', error: null })
      // The project pages were asked for (JSON first), then the files they list.
      expect(priv.requests.filter((q) => q.path.startsWith('/simple/pkg3')).map((q) => q.outcome)).toEqual([
        200, 200
      ])
      expect(priv.fileRequests().length).toBe(2)
      expect(r.out + r.err).not.toContain(password)
      expect((await podman.run(`docker://${reg.host}/poetry:base-local`)).stdout).toBe('1.0.0 1.0.0\n')
    } finally {
      process.env = saved
      await priv.close()
    }
  }, 120_000)

  it('--index-url fetches every file from a mirror; the lock’s hashes still hold', async () => {
    const wheel = simpleWheel('pkg33')
    const gone = await startPypiServer({ files: [] })
    const gonePage = gone.simpleUrl
    const goneFile = (f: string) => gone.fileUrl(f)
    await gone.close()
    const mirror = await startPypiServer({ files: servedFiles([wheel]) })
    try {
      const dir = wheelProject({
        indexUrl: gonePage,
        fileUrl: goneFile,
        main: [wheel],
        config: config(baseRef, '', 'base = { groups = ["main"] }')
      })
      const r = await cli(
        'build',
        '--project',
        dir,
        '--registry',
        `${reg.host}/mirror`,
        '--cache-dir',
        tempDir(),
        '--index-url',
        mirror.simpleUrl,
        '--json'
      )
      expect(r.json().variants[0]).toMatchObject({ path: 'full', error: null })
      expect(mirror.fileRequests().length).toBe(1)
    } finally {
      await mirror.close()
    }
  })
})
