// The python.org-layout and venv-layout base images (support/python-bases.ts), layers on top of the
// cached bookworm + python3 image: podman runs their python3 with the expected executable, prefix
// and site-packages, a module added by a layer imports, they push to a registry, and a second call
// reuses the cache. The first run builds them (about a minute, plus the bookworm image if missing).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startPodman, type Podman } from './podman.js'
import { runOk } from './process.js'
import { lowercaseTempDir } from './project.js'
import {
  copyDerivedBase,
  pushPythonOrgBase,
  pushVenvBase,
  pythonOrgBaseImage,
  venvBaseImage,
  type DerivedPythonBase,
  type PythonOrgBase,
  type VenvBase
} from './python-bases.js'
import { startRegistry, type TestRegistry } from './registry.js'

const PROBE =
  'import json, sys, sysconfig; print(json.dumps([sys.executable, sys.prefix, sys.path, sysconfig.get_paths()["purelib"], list(sys.version_info[:3])]))'

let pyorg: PythonOrgBase
let venv: VenvBase
let podman: Podman
const dirs: string[] = []

beforeAll(async () => {
  pyorg = await pythonOrgBaseImage()
  venv = await venvBaseImage()
  podman = startPodman()
}, 14 * 60_000)

afterAll(() => {
  podman?.close()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

function imageConfig(base: DerivedPythonBase): { Env: string[]; Cmd?: string[] } {
  const blob = (digest: string): unknown =>
    JSON.parse(readFileSync(join(base.layout, 'blobs', ...digest.split(':')), 'utf8'))
  const idx = JSON.parse(readFileSync(join(base.layout, 'index.json'), 'utf8')) as {
    manifests: { digest: string; annotations?: Record<string, string> }[]
  }
  const d = idx.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === base.tag)!
  const manifest = blob(d.digest) as { config: { digest: string } }
  return (blob(manifest.config.digest) as { config: { Env: string[]; Cmd?: string[] } }).config
}

async function probe(ref: string, python = 'python3'): Promise<[string, string, string[], string, number[]]> {
  const r = await podman.run(ref, [python, '-c', PROBE])
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) })
  return JSON.parse(r.stdout) as [string, string, string[], string, number[]]
}

/** A copy of `base` with hello_fastbuild.py added into its site-packages by one more layer. */
async function withHello(base: DerivedPythonBase): Promise<string> {
  const dir = lowercaseTempDir('fast-build-pybases-')
  dirs.push(dir)
  const layout = join(dir, 'layout')
  await copyDerivedBase(base, layout)
  const file = join(dir, 'hello_fastbuild.py')
  writeFileSync(file, 'MESSAGE = "hello from a deps layer"\n')
  await runOk('umoci', [
    'insert',
    '--image',
    `${layout}:${base.tag}`,
    '--tag',
    'with-hello',
    file,
    `${base.sitePackages}/hello_fastbuild.py`
  ])
  return `oci:${layout}:with-hello`
}

const IMPORT_HELLO = 'import hello_fastbuild as h; print(h.MESSAGE, h.__file__)'

describe('the python.org-layout base image', () => {
  it('describes python 3.11 in /usr/local with site-packages', () => {
    expect(pyorg.ref).toBe(`oci:${pyorg.layout}:python-org-3.11`)
    expect(pyorg.layout).toBe(pyorg.layout.toLowerCase())
    expect(pyorg).toMatchObject({
      kind: 'python-org',
      interpreter: '/usr/local/bin/python3.11',
      sitePackages: '/usr/local/lib/python3.11/site-packages',
      prefix: '/usr/local',
      python: { major: 3, minor: 11, patch: expect.any(Number) }
    })
  })

  it("has python.org's Env: PATH from /usr/local/bin, PYTHON_VERSION, LANG", () => {
    const config = imageConfig(pyorg)
    expect(config.Env).toEqual(
      expect.arrayContaining([
        'PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin',
        `PYTHON_VERSION=3.11.${pyorg.python.patch}`,
        'LANG=C.UTF-8'
      ])
    )
    expect(config.Env.filter((e) => e.startsWith('PATH='))).toHaveLength(1)
    expect(config.Cmd).toEqual(['python3'])
  })

  it('runs python3 from /usr/local with prefix /usr/local and site-packages on sys.path', async () => {
    const pythons = ['python3', 'python', 'python3.11', '/usr/local/bin/python3.11']
    const r = await podman.run(pyorg.ref, [
      'sh',
      '-c',
      'for p in ' + pythons.join(' ') + '; do "$p" -c "$0"; done',
      PROBE
    ])
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) })
    const lines = r.stdout.trim().split('\n')
    expect(lines).toHaveLength(pythons.length)
    lines.forEach((line, i) => {
      const python = pythons[i]!
      const [exe, prefix, path, purelib, version] = JSON.parse(line) as [
        string,
        string,
        string[],
        string,
        number[]
      ]
      expect(exe).toBe(python.startsWith('/') ? python : `/usr/local/bin/${python}`)
      expect(prefix).toBe('/usr/local')
      expect(path).toEqual(
        expect.arrayContaining([
          '/usr/local/lib/python3.11',
          '/usr/local/lib/python3.11/lib-dynload',
          '/usr/local/lib/python3.11/site-packages'
        ])
      )
      expect(path.filter((p) => /dist-packages|^\/usr\/lib\//.test(p))).toEqual([])
      expect(purelib).toBe(pyorg.sitePackages)
      expect(version).toEqual([3, 11, pyorg.python.patch])
    })
  })

  it('has no other python: Debian python3 is gone, its libraries work', async () => {
    const r = await podman.run(pyorg.ref, [
      'sh',
      '-c',
      'ls /usr/bin/python* /usr/lib/python3* 2>&1; readlink /usr/local/bin/python3 /usr/local/bin/python; ' +
        'python3 -c "import site, ssl, sqlite3, ctypes, lzma, bz2, zoneinfo, decimal, json; print(site.getsitepackages())"'
    ])
    expect(r.stdout.split('\n')).toEqual([
      "ls: cannot access '/usr/bin/python*': No such file or directory",
      "ls: cannot access '/usr/lib/python3*': No such file or directory",
      'python3.11',
      'python3.11',
      "['/usr/local/lib/python3.11/site-packages']",
      ''
    ])
  })

  it('imports a module that a layer on top puts into site-packages', async () => {
    const r = await podman.run(await withHello(pyorg), ['python3', '-c', IMPORT_HELLO])
    expect({ code: r.code, stderr: r.stderr }).toEqual({
      code: 0,
      stderr: expect.not.stringContaining('Traceback')
    })
    expect(r.stdout.trim()).toBe(`hello from a deps layer ${pyorg.sitePackages}/hello_fastbuild.py`)
  })
})

describe('the venv-layout base image', () => {
  it('describes the venv at /opt/venv', () => {
    expect(venv.ref).toBe(`oci:${venv.layout}:bookworm-venv`)
    expect(venv).toMatchObject({
      kind: 'venv',
      interpreter: '/opt/venv/bin/python3',
      sitePackages: '/opt/venv/lib/python3.11/site-packages',
      prefix: '/opt/venv',
      baseInterpreter: '/usr/bin/python3.11',
      python: pyorg.python
    })
    const config = imageConfig(venv)
    expect(config.Env).toEqual(
      expect.arrayContaining([
        'PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        'VIRTUAL_ENV=/opt/venv'
      ])
    )
    expect(config.Env.filter((e) => e.startsWith('PATH='))).toHaveLength(1)
  })

  it('runs python3 from the venv: prefix /opt/venv, its site-packages on sys.path', async () => {
    const r = await podman.run(venv.ref, [
      'sh',
      '-c',
      'python3 -c "$0" && cat /opt/venv/pyvenv.cfg && readlink /opt/venv/bin/python3',
      PROBE
    ])
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) })
    const [first, ...rest] = r.stdout.trim().split('\n')
    const [exe, prefix, path, purelib, version] = JSON.parse(first!) as [
      string,
      string,
      string[],
      string,
      number[]
    ]
    expect(exe).toBe('/opt/venv/bin/python3')
    expect(prefix).toBe('/opt/venv')
    expect(path).toContain('/opt/venv/lib/python3.11/site-packages')
    expect(path).not.toContain('/usr/local/lib/python3.11/dist-packages')
    expect(purelib).toBe(venv.sitePackages)
    expect(version).toEqual([3, 11, venv.python.patch])
    expect(rest).toEqual(
      expect.arrayContaining([
        'home = /usr/bin',
        'include-system-site-packages = false',
        `version = 3.11.${venv.python.patch}`
      ])
    )
    expect(rest.pop()).toBe('/usr/bin/python3')
  })

  it('imports a module that a layer on top puts into the venv', async () => {
    const r = await podman.run(await withHello(venv), ['python3', '-c', IMPORT_HELLO])
    expect({ code: r.code, stderr: r.stderr }).toEqual({
      code: 0,
      stderr: expect.not.stringContaining('Traceback')
    })
    expect(r.stdout.trim()).toBe(`hello from a deps layer ${venv.sitePackages}/hello_fastbuild.py`)
  })
})

describe('the cache and the registry', () => {
  it('is reused from the cache on a later call', async () => {
    const info = join(pyorg.cacheDir, 'python-bases.json')
    const before = statSync(info)
    const again = await pythonOrgBaseImage({ reuse: false })
    expect(again).toEqual(pyorg)
    expect((await venvBaseImage({ reuse: false })).buildId).toBe(venv.buildId)
    const after = statSync(info)
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs])
  })

  describe('push', () => {
    let reg: TestRegistry
    beforeAll(async () => {
      reg = await startRegistry()
    })
    afterAll(async () => {
      await reg?.stop()
    })

    it('copies both images into a registry, and they run from there', async () => {
      const a = await pushPythonOrgBase(reg.host, 'e2e/python')
      expect(a).toBe(`${reg.host}/e2e/python:python-org-3.11`)
      const b = await pushVenvBase(reg.host, 'e2e/python', 'venv')
      expect(b).toBe(`${reg.host}/e2e/python:venv`)
      const [exeA] = await probe(`docker://${a}`)
      expect(exeA).toBe('/usr/local/bin/python3')
      const [exeB] = await probe(`docker://${b}`)
      expect(exeB).toBe('/opt/venv/bin/python3')
    }, 180_000)
  })
})
