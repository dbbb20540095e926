// Finding a base image's Python from its layers' names: the layouts real images use, whiteouts,
// symlink chains, and reading real tar streams (GNU tar's long names, PAX records, gzip).
import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { detectPython } from '../../src/pipeline/base-python.js'
import { ImageFilesystem, type FsEntry } from '../../src/oci/filesystem.js'
import { openLayerTar, readTar, type TarEntryInfo } from '../../src/oci/tar-read.js'

const file = (path: string): FsEntry => ({ path, type: 'file', mode: 0o755 })
const dir = (path: string): FsEntry => ({ path, type: 'dir' })
const link = (path: string, target: string): FsEntry => ({ path, type: 'symlink', linkTarget: target })

function image(...layers: FsEntry[][]): ImageFilesystem {
  const fs = new ImageFilesystem()
  for (const l of layers) fs.applyLayer(l)
  return fs
}

const debianRoot: FsEntry[] = [
  file('etc/debian_version'),
  file('bin/sh'),
  file('usr/bin/python3.11'),
  link('usr/bin/python3', 'python3.11'),
  file('usr/lib/python3.11/os.py'),
  dir('usr/lib/python3.11/lib-dynload'),
  dir('usr/lib/python3/dist-packages'),
  dir('usr/local/bin')
]

describe('detectPython', () => {
  it('the official python images: /usr/local, site-packages, PYTHON_VERSION gives the patch', () => {
    const fs = image([
      file('etc/debian_version'),
      file('bin/sh'),
      file('usr/local/bin/python3.12'),
      link('usr/local/bin/python3', 'python3.12'),
      link('usr/local/bin/python', 'python3'),
      file('usr/local/lib/python3.12/os.py'),
      dir('usr/local/lib/python3.12/lib-dynload'),
      file('usr/local/lib/python3.12/site-packages/pip/__init__.py')
    ])
    const f = detectPython(fs, [
      'PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin',
      'PYTHON_VERSION=3.12.7'
    ])
    expect(f.python).toMatchObject({
      kind: 'python.org',
      command: '/usr/local/bin/python3',
      executable: '/usr/local/bin/python3.12',
      interpreter: '/usr/local/bin/python3.12',
      version: { major: 3, minor: 12, patch: 7 },
      prefix: '/usr/local',
      sitePackages: '/usr/local/lib/python3.12/site-packages',
      scripts: '/usr/local/bin',
      hasPip: true
    })
    expect(f.python!.sysPath).toContain('/usr/local/lib/python3.12/site-packages')
    expect(f.pythons).toEqual([
      '/usr/local/bin/python',
      '/usr/local/bin/python3',
      '/usr/local/bin/python3.12'
    ])
    expect(f.hasSh).toBe(true)
  })

  it("Debian's python3: packages in /usr/local/lib/python3.X/dist-packages, never site-packages", () => {
    const f = detectPython(image(debianRoot), [
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
    ])
    expect(f.python).toMatchObject({
      kind: 'debian',
      command: '/usr/bin/python3',
      interpreter: '/usr/bin/python3.11',
      version: { major: 3, minor: 11, patch: null },
      sitePackages: '/usr/local/lib/python3.11/dist-packages',
      scripts: '/usr/local/bin',
      hasPip: false
    })
    expect(f.python!.sysPath).toEqual([
      '/usr/lib/python311.zip',
      '/usr/lib/python3.11',
      '/usr/lib/python3.11/lib-dynload',
      '/usr/local/lib/python3.11/dist-packages',
      '/usr/lib/python3/dist-packages',
      '/usr/lib/python3.11/dist-packages'
    ])
    expect(f.python!.sysPath).not.toContain('/usr/local/lib/python3.11/site-packages')
  })

  it('a virtualenv on PATH, with or without the system site packages', () => {
    const venv = [
      file('opt/venv/pyvenv.cfg'),
      link('opt/venv/bin/python', '/usr/bin/python3.11'),
      link('opt/venv/bin/python3', 'python'),
      link('opt/venv/bin/python3.11', 'python'),
      dir('opt/venv/lib/python3.11/site-packages')
    ]
    const env = [
      'PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'VIRTUAL_ENV=/opt/venv'
    ]
    const f = detectPython(image(debianRoot, venv), env)
    expect(f.python).toMatchObject({
      kind: 'venv',
      command: '/opt/venv/bin/python3',
      executable: '/usr/bin/python3.11',
      interpreter: '/opt/venv/bin/python3.11',
      prefix: '/opt/venv',
      sitePackages: '/opt/venv/lib/python3.11/site-packages',
      scripts: '/opt/venv/bin'
    })
    expect(f.python!.sysPath).not.toContain('/usr/lib/python3/dist-packages')
    const withSystem = detectPython(
      image(debianRoot, venv),
      env,
      new Map([['/opt/venv/pyvenv.cfg', 'home = /usr/bin\ninclude-system-site-packages = true\n']])
    )
    expect(withSystem.python!.sysPath).toContain('/usr/lib/python3/dist-packages')
  })

  it('conda under /opt/conda', () => {
    const f = detectPython(
      image([
        file('opt/conda/bin/python3.10'),
        link('opt/conda/bin/python3', 'python3.10'),
        link('opt/conda/bin/python', 'python3.10'),
        dir('opt/conda/conda-meta'),
        file('opt/conda/lib/python3.10/os.py')
      ]),
      ['PATH=/opt/conda/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']
    )
    expect(f.python).toMatchObject({
      kind: 'conda',
      sitePackages: '/opt/conda/lib/python3.10/site-packages',
      scripts: '/opt/conda/bin',
      interpreter: '/opt/conda/bin/python3.10'
    })
  })

  it('no python on PATH (a python elsewhere does not count)', () => {
    const f = detectPython(image([file('bin/sh'), file('opt/tools/python3.12')]), ['PATH=/usr/bin:/bin'])
    expect(f.python).toBeNull()
    expect(f.pythons).toEqual([])
  })

  it('PYTHONPATH in the image config is on sys.path', () => {
    const f = detectPython(image(debianRoot), ['PYTHONPATH=/opt/extra:/srv/lib'])
    expect(f.python!.sysPath.slice(0, 2)).toEqual(['/opt/extra', '/srv/lib'])
  })
})

describe('ImageFilesystem', () => {
  it('whiteouts and opaque directories hide the layers below', () => {
    const fs = image(debianRoot, [
      file('usr/bin/.wh.python3'),
      file('usr/lib/python3/dist-packages/.wh..wh..opq'),
      file('usr/lib/python3/dist-packages/new.py')
    ])
    expect(fs.exists('/usr/bin/python3')).toBe(false)
    expect(fs.exists('/usr/bin/python3.11')).toBe(true)
    expect(fs.list('/usr/lib/python3/dist-packages')).toEqual(['new.py'])
  })

  it('resolves symlink chains against the image root, and refuses loops', () => {
    const fs = image([
      file('usr/bin/python3.11'),
      link('bin', 'usr/bin'),
      link('usr/local/bin/py', '/bin/python3.11'),
      link('a', 'b'),
      link('b', 'a')
    ])
    expect(fs.realpath('/usr/local/bin/py')).toBe('/usr/bin/python3.11')
    expect(fs.isFile('/usr/local/bin/py')).toBe(true)
    expect(fs.realpath('/a')).toBeNull()
  })
})

describe('readTar', () => {
  it('reads GNU tar and PAX archives (long names, symlinks), gzipped', async () => {
    const root = mkdtempSync(join(tmpdir(), 'fb-tar-'))
    try {
      const src = join(root, 'src')
      const long = `usr/lib/${'deep/'.repeat(30)}module.py`
      mkdirSync(join(src, long, '..'), { recursive: true })
      writeFileSync(join(src, long), 'x = 1\n')
      mkdirSync(join(src, 'opt/venv'), { recursive: true })
      writeFileSync(join(src, 'opt/venv/pyvenv.cfg'), 'home = /usr/bin\n')
      symlinkSync(`/${long}`, join(src, 'opt/link-with-a-long-target'))
      for (const format of ['gnu', 'pax']) {
        const out = join(root, `layer-${format}.tar.gz`)
        execFileSync('tar', ['--format', format, '-czf', out, '-C', src, '.'])
        const seen: TarEntryInfo[] = []
        const content = new Map<string, string>()
        await readTar(openLayerTar(out, 'application/vnd.oci.image.layer.v1.tar+gzip'), {
          onEntry: (e) => seen.push(e),
          want: (e) => e.path.endsWith('pyvenv.cfg'),
          onContent: (e, c) => content.set(e.path, c.toString())
        })
        expect(seen.find((e) => e.path === long)).toMatchObject({ type: 'file', size: 6 })
        expect(seen.find((e) => e.path === 'opt/link-with-a-long-target')).toMatchObject({
          type: 'symlink',
          linkTarget: `/${long}`
        })
        expect(content.get('opt/venv/pyvenv.cfg')).toBe('home = /usr/bin\n')
      }
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })
})
