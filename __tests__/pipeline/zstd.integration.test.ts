// zstd layers end to end: `compression = "zstd"` gives deps and app layers of media type
// tar+zstd in a real registry, each blob a zstd stream whose tar is the layer's diff_id, and podman
// (4.x, which reads zstd) pulls and runs the image: the C extension and the project import.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { cli } from '../support/cli.js'
import { startPodman, type Podman } from '../support/podman.js'
import { pushPythonBase, pythonBaseImage } from '../support/python-base.js'
import { startPypiServer, type PypiServer } from '../support/pypi-server.js'
import { tempDir } from '../support/project.js'
import { startRegistry, type TestRegistry } from '../support/registry.js'
import { buildFixtureWheels, type FixtureWheel } from '../support/wheel-fixtures.js'
import { servedFiles, wheelProject } from '../support/wheel-project.js'

let reg: TestRegistry
let podman: Podman
let index: PypiServer
let baseRef: string
let fixtures: FixtureWheel[]

beforeAll(async () => {
  const dir = tempDir()
  const [f] = await Promise.all([
    buildFixtureWheels(join(dir, 'fixtures'), { heavyMb: 1 }),
    pythonBaseImage()
  ])
  fixtures = f
  reg = await startRegistry()
  podman = startPodman()
  index = await startPypiServer({ files: servedFiles(fixtures.filter((w) => !w.broken)) })
  baseRef = await pushPythonBase(reg.host, 'base/debian')
}, 900_000)

afterAll(async () => {
  podman?.close()
  await index?.close()
  await reg?.stop()
})

const byProject = (name: string) => fixtures.find((w) => w.project === name && !w.broken)!

interface Manifest {
  mediaType: string
  layers: { mediaType: string; digest: string; size: number }[]
  config: { digest: string }
}

async function registryGet(path: string, accept?: string): Promise<Buffer> {
  const res = await fetch(`http://${reg.host}/v2/${path}`, {
    headers: accept ? { accept } : {},
    signal: AbortSignal.timeout(30_000)
  })
  expect(res.status).toBe(200)
  return Buffer.from(await res.arrayBuffer())
}

const ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json'
].join(', ')

/** The linux/amd64 image manifest at `ref` (through an index when it is one). */
async function manifestOf(repo: string, ref: string): Promise<Manifest> {
  const m = JSON.parse(
    (await registryGet(`${repo}/manifests/${ref}`, ACCEPT)).toString('utf8')
  ) as Manifest & {
    manifests?: { digest: string; platform?: { architecture: string } }[]
  }
  if (!m.manifests) return m
  const amd64 = m.manifests.find((d) => d.platform?.architecture === 'amd64')!
  return manifestOf(repo, amd64.digest)
}

describe('compression = "zstd"', () => {
  let deps: Manifest
  let app: Manifest
  let base: Manifest

  beforeAll(async () => {
    const dir = wheelProject({
      indexUrl: index.simpleUrl,
      fileUrl: (f) => index.fileUrl(f),
      main: [byProject('fbext'), byProject('fbpure')],
      config: `
[tool.fast-build]
platforms = ["linux/amd64"]
base-image = "${baseRef}"
workdir = "/app"
compression = "zstd"
`,
      files: { 'app/__init__.py': 'GREETING = "hello from app"\n' }
    })
    const r = await cli(
      'build',
      '--project',
      dir,
      '--registry',
      `${reg.host}/zstd/app`,
      '--tag',
      'v1-{variant}',
      '--cache-dir',
      tempDir(),
      '--json'
    )
    expect(r.err).not.toMatch(/failed/)
    expect(r.code).toBe(0)
    const result = JSON.parse(r.out) as { variants: { depsImage: string | null; depsTag?: string }[] }
    expect(result.variants).toHaveLength(1)
    app = await manifestOf('zstd/app', 'v1-default')
    base = await manifestOf('base/debian', baseRef.split(':').at(-1)!)
    const tags = JSON.parse((await registryGet('zstd/app/tags/list')).toString('utf8')) as { tags: string[] }
    const depsTag = tags.tags.find((t) => t.startsWith('deps-default-'))!
    expect(depsTag).toBeDefined()
    deps = await manifestOf('zstd/app', depsTag)
  }, 600_000)

  it('writes every layer of its own as tar+zstd, on top of the base image’s gzip layers', () => {
    const baseDigests = new Set(base.layers.map((l) => l.digest))
    const own = (m: Manifest) => m.layers.filter((l) => !baseDigests.has(l.digest))
    expect(own(deps).length).toBeGreaterThan(0)
    expect(own(app).length).toBeGreaterThan(own(deps).length)
    for (const l of [...own(deps), ...own(app)])
      expect(l.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+zstd')
    for (const l of base.layers) expect(l.mediaType).not.toMatch(/zstd/)
  })

  it('each zstd blob decompresses to the tar its config names as diff_id', async () => {
    const config = JSON.parse(
      (await registryGet(`zstd/app/blobs/${app.config.digest}`)).toString('utf8')
    ) as {
      rootfs: { diff_ids: string[] }
    }
    for (const [i, l] of app.layers.entries()) {
      if (!l.mediaType.endsWith('+zstd')) continue
      const blob = await registryGet(`zstd/app/blobs/${l.digest}`)
      expect(`sha256:${createHash('sha256').update(blob).digest('hex')}`).toBe(l.digest)
      const tar = spawnSync('zstd', ['-d', '-q', '-c'], { input: blob, maxBuffer: 256 << 20 })
      expect(tar.status).toBe(0)
      expect(`sha256:${createHash('sha256').update(tar.stdout).digest('hex')}`).toBe(
        config.rootfs.diff_ids[i]
      )
    }
  })

  it('podman pulls and runs it: the C extension and the project import', async () => {
    const r = await podman.run(
      `docker://${reg.host}/zstd/app:v1-default`,
      ['python3', '-c', 'import fbext, fbpure, app; print(app.GREETING, fbext.add(2, 3))'],
      { timeoutMs: 180_000 }
    )
    expect(r.stderr).not.toMatch(/Traceback/)
    expect(r.stdout.trim()).toBe('hello from app 5')
  })
})
