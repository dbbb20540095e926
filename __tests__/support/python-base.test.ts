// The Debian bookworm + python3 base image for end-to-end tests (support/python-base.ts): built once
// with debootstrap (about a minute, up to ~12 with a slow mirror) and cached; podman runs its python3,
// a layer added under dist-packages is importable, and a second call reuses the cache.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startPodman, type Podman } from './podman.js'
import { runOk } from './process.js'
import { lowercaseTempDir } from './project.js'
import {
  copyPythonBase,
  debootstrapRunCount,
  pushPythonBase,
  pythonBaseImage,
  type PythonBase
} from './python-base.js'
import { startRegistry, type TestRegistry } from './registry.js'
import { skopeoInspect } from './skopeo.js'

const PROBE = 'import sys, json; print(json.dumps([sys.version_info[:3], sys.path, sys.executable]))'

let base: PythonBase
let podman: Podman
const dirs: string[] = []

beforeAll(async () => {
  base = await pythonBaseImage()
  podman = startPodman()
}, 12 * 60_000)

afterAll(() => {
  podman?.close()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

function blob(layout: string, digest: string): unknown {
  return JSON.parse(readFileSync(join(layout, 'blobs', ...digest.split(':')), 'utf8'))
}

interface Desc {
  digest: string
  platform?: { architecture: string; os: string; variant?: string }
  annotations?: Record<string, string>
}

describe('the python base image', () => {
  it('describes Debian python3 3.11 with /usr/local as the install prefix', () => {
    expect(base.ref).toBe(`oci:${base.layout}:bookworm-python`)
    expect(base.layout).toBe(base.layout.toLowerCase())
    expect(base.python).toEqual({ major: 3, minor: 11, patch: expect.any(Number) })
    expect(base).toMatchObject({
      interpreter: '/usr/bin/python3',
      sitePackages: '/usr/local/lib/python3.11/dist-packages',
      scripts: '/usr/local/bin',
      prefix: '/usr/local'
    })
  })

  it('is an amd64 image running python3, and an index with an arm64 twin', () => {
    const index = JSON.parse(readFileSync(join(base.layout, 'index.json'), 'utf8')) as { manifests: Desc[] }
    const byTag = (t: string) =>
      index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === t)!
    const config = (t: string) => {
      const m = blob(base.layout, byTag(t).digest) as { config: { digest: string }; layers: unknown[] }
      expect(m.layers).toHaveLength(1)
      return blob(base.layout, m.config.digest) as {
        architecture: string
        os: string
        config: { Env: string[]; Cmd: string[] }
      }
    }
    expect(config('bookworm-python')).toMatchObject({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['python3'], Env: expect.arrayContaining([expect.stringMatching(/^PATH=.*\/usr\/bin/)]) }
    })
    expect(config('bookworm-python-arm64')).toMatchObject({ architecture: 'arm64', os: 'linux' })
    const multi = blob(base.layout, byTag('bookworm-python-multi').digest) as { manifests: Desc[] }
    expect(multi.manifests.map((m) => [m.digest, m.platform])).toEqual([
      [byTag('bookworm-python').digest, { architecture: 'amd64', os: 'linux' }],
      [byTag('bookworm-python-arm64').digest, { architecture: 'arm64', os: 'linux', variant: 'v8' }]
    ])
  })

  it('runs python3 under podman with dist-packages on sys.path', async () => {
    const r = await podman.run(base.ref, ['python3', '-c', PROBE])
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) })
    const [version, path, exe] = JSON.parse(r.stdout) as [number[], string[], string]
    expect(version).toEqual([base.python.major, base.python.minor, base.python.patch])
    expect(path).toContain(base.sitePackages)
    expect(exe).toBe(base.interpreter)
  })

  it('imports a module that a layer on top puts into dist-packages', async () => {
    const dir = lowercaseTempDir('fast-build-pybase-')
    dirs.push(dir)
    const layout = join(dir, 'layout')
    await copyPythonBase(layout)
    const file = join(dir, 'hello_fastbuild.py')
    writeFileSync(file, 'MESSAGE = "hello from a deps layer"\n')
    await runOk('umoci', [
      'insert',
      '--image',
      `${layout}:bookworm-python`,
      '--tag',
      'with-hello',
      file,
      `${base.sitePackages}/hello_fastbuild.py`
    ])
    const r = await podman.run(`oci:${layout}:with-hello`, [
      'python3',
      '-c',
      'import hello_fastbuild as h; print(h.MESSAGE, h.__file__)'
    ])
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) })
    expect(r.stdout.trim()).toBe(`hello from a deps layer ${base.sitePackages}/hello_fastbuild.py`)
  })

  it('is reused from the cache on a later call (no second debootstrap)', async () => {
    const info = join(base.cacheDir, 'python-base.json')
    const before = statSync(info)
    const runs = debootstrapRunCount()
    const again = await pythonBaseImage({ reuse: false })
    expect(again.buildId).toBe(base.buildId)
    expect(again.layout).toBe(base.layout)
    expect(debootstrapRunCount()).toBe(runs)
    const after = statSync(info)
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs])
  })
})

describe('pushPythonBase', () => {
  let reg: TestRegistry
  beforeAll(async () => {
    reg = await startRegistry()
  })
  afterAll(async () => {
    await reg?.stop()
  })

  it('copies the image, or the two-platform index, into a registry', async () => {
    const ref = await pushPythonBase(reg.host, 'e2e/python')
    expect(ref).toBe(`${reg.host}/e2e/python:bookworm-python`)
    const r = await podman.run(`docker://${ref}`, ['python3', '-c', 'import sys; print(sys.version_info[1])'])
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) })
    expect(r.stdout.trim()).toBe('11')

    const multi = await pushPythonBase(reg.host, 'e2e/python', 'multi', { multi: true })
    const raw = await skopeoInspect(`docker://${multi}`, { raw: true })
    expect(raw.code).toBe(0)
    const index = JSON.parse(raw.stdout) as { manifests: Desc[] }
    expect(index.manifests.map((m) => m.platform?.architecture)).toEqual(['amd64', 'arm64'])
  }, 180_000)
})
