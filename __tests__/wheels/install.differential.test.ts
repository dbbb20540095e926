// install() against pip: the same wheel installed by `pip install --no-deps --no-compile
// --no-index --target T` and by us into a directory (the test-only destination; production's layer
// destination gets the same files, layer-entries.test.ts), with a layout that lands where pip --target puts things, must give
// the same tree: same files, same bytes, same executable bits. pip is told nothing about us and we
// mimic its choices for the comparison: INSTALLER "pip", REQUESTED (pip writes it for a requirement
// the user names), the interpreter pip runs under for shebangs. Left out of the byte comparison:
// RECORD (compared row by row after resolving paths, since pip's are relative to its temporary
// lib dir), direct_url.json (pip writes it for a local file; we never do), __pycache__.
//
// Where pip --target puts things (pip/_internal/commands/install.py `_handle_target_dir`): pip
// installs into a temporary "home" scheme — purelib = platlib = H/lib/python, scripts = H/bin,
// data = H, headers = H/include/python/<name> — then moves the contents of H/lib/python and of H
// (except lib) into T. So purelib = platlib = data = T, scripts = T/bin, headers = T/include/python.
//
// Wheels: the fixture wheels always (make_wheels.py), plus real wheels from the machine's mirror
// when there is one (then pip 26 from the mirror is a second reference for the pip-26 template).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFile, execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, posix } from 'node:path'
import { promisify } from 'node:util'
import type { InstallOptions } from '../../src/wheels/install/install.js'
import type { PythonLayout } from '../../src/wheels/install/layout.js'
import { parseRecord } from '../../src/wheels/install/records.js'
import { installIntoDirectory, type InstalledWheel } from '../support/directory-destination.js'
import { buildFixtureWheels, mirrorWheels, type FixtureWheel } from '../support/wheel-fixtures.js'

const execFileP = promisify(execFile)

const PYTHON = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], {
  encoding: 'utf8'
}).trim()
const PY_VERSION = execFileSync('python3', ['-c', 'import sys; print(*sys.version_info[:2])'], {
  encoding: 'utf8'
})
  .trim()
  .split(' ')
  .map(Number) as [number, number]
const PIP_VERSION = execFileSync('python3', ['-m', 'pip', '--version'], { encoding: 'utf8' }).split(' ')[1]!

/** Our layout for pip's --target T, with T at /target in the image. */
const TARGET_LAYOUT: PythonLayout = {
  purelib: '/target',
  platlib: '/target',
  scripts: '/target/bin',
  data: '/target',
  headers: '/target/include/python',
  interpreter: PYTHON,
  python: { major: PY_VERSION[0], minor: PY_VERSION[1] }
}

function pipEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PIP_')) env[k] = v
  delete env['PYTHONPATH']
  return { ...env, PIP_CONFIG_FILE: '/dev/null', PIP_NO_INPUT: '1', PYTHONDONTWRITEBYTECODE: '1' }
}

/** `pip` is `['-m', 'pip']` or a path to a pip wheel's `pip` module (a pip run from its wheel). */
async function pipInstall(
  wheels: readonly string[],
  target: string,
  pip: readonly string[] = ['-m', 'pip']
): Promise<void> {
  const args = [
    ...pip,
    'install',
    '--no-deps',
    '--no-compile',
    '--no-index',
    '--disable-pip-version-check',
    '--no-warn-script-location',
    '--target',
    target,
    ...wheels
  ]
  try {
    await execFileP('python3', args, { env: pipEnv(), timeout: 300_000, maxBuffer: 64 * 1024 * 1024 })
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string }
    throw new Error(`pip failed: ${err.message}\n${err.stderr ?? ''}${err.stdout ?? ''}`, { cause: e })
  }
}

interface TreeFile {
  readonly sha256: string
  readonly executable: boolean
  readonly size: number
}

/** Every file below root (no directories; __pycache__ left out), by relative path. */
function tree(root: string): Map<string, TreeFile> {
  const out = new Map<string, TreeFile>()
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(root, rel))) {
      if (name === '__pycache__') continue
      const r = rel ? `${rel}/${name}` : name
      const st = lstatSync(join(root, r))
      if (st.isDirectory()) walk(r)
      else {
        expect(st.isFile()).toBe(true)
        const data = readFileSync(join(root, r))
        out.set(r, {
          sha256: createHash('sha256').update(data).digest('hex'),
          executable: (st.mode & 0o100) !== 0,
          size: data.length
        })
      }
    }
  }
  walk('')
  return out
}

/** RECORD rows as `resolved path → hash,size`, resolved from the lib dir the RECORD is relative to. */
function recordRows(
  text: string,
  libDir: string,
  toTree: (abs: string) => string | null
): Map<string, string> {
  const out = new Map<string, string>()
  for (const r of parseRecord(text)) {
    const rel = toTree(posix.normalize(posix.join(libDir, r.path)))
    if (rel !== null) out.set(rel, `${r.hash},${r.size}`)
  }
  return out
}

interface Comparison {
  readonly differences: string[]
  readonly files: number
}

/** Compare pip's target tree with ours (staging/target); a list of differences, empty when equal. */
function compareTrees(pipRoot: string, ourRoot: string, installed: readonly InstalledWheel[]): Comparison {
  const pip = tree(pipRoot)
  const ours = tree(ourRoot)
  const differences: string[] = []
  for (const path of [...pip.keys()]) if (path.endsWith('.dist-info/direct_url.json')) pip.delete(path)
  const records = [...ours.keys()].filter((p) => /^[^/]+\.dist-info\/RECORD$/.test(p))
  for (const path of new Set([...pip.keys(), ...ours.keys()])) {
    const a = pip.get(path)
    const b = ours.get(path)
    if (!a) differences.push(`only ours: ${path}`)
    else if (!b) differences.push(`only pip's: ${path}`)
    else if (path.endsWith('.dist-info/RECORD')) continue
    else {
      if (a.sha256 !== b.sha256) differences.push(`content differs: ${path}`)
      if (a.executable !== b.executable)
        differences.push(`executable bit differs: ${path} (pip ${a.executable})`)
    }
  }
  // RECORD: pip's rows are relative to its temporary H/lib/python; ours to /target.
  const pipResolve = (abs: string): string | null => {
    for (const base of ['/H/lib/python/', '/H/']) if (abs.startsWith(base)) return abs.slice(base.length)
    return null
  }
  const ourResolve = (abs: string): string | null =>
    abs.startsWith('/target/') ? abs.slice('/target/'.length) : null
  for (const rec of records) {
    const pipRows = recordRows(readFileSync(join(pipRoot, rec), 'utf8'), '/H/lib/python', pipResolve)
    const ourRows = recordRows(readFileSync(join(ourRoot, rec), 'utf8'), '/target', ourResolve)
    // pip keeps rows of the wheel's RECORD for files it did not install (left-out wrappers).
    for (const p of [...pipRows.keys()]) if (!pip.has(p) && p !== rec) pipRows.delete(p)
    for (const [p, v] of pipRows)
      if (ourRows.get(p) !== v) differences.push(`${rec}: ${p} is ${ourRows.get(p)}, pip ${v}`)
    for (const p of ourRows.keys()) if (!pipRows.has(p)) differences.push(`${rec}: extra row ${p}`)
    // Our RECORD lists exactly our files of that wheel, with their sizes.
    const wheel = installed.find((w) => `${w.distInfo}/RECORD` === `target/${rec}`)!
    const listed = wheel.files.map((f) => f.path.slice('target/'.length)).sort()
    expect([...ourRows.keys()].sort()).toEqual(listed)
    const text = readFileSync(join(ourRoot, rec), 'utf8')
    expect(text.endsWith('\r\n')).toBe(true)
  }
  // What the install returned is what is on disk.
  const returned = new Map(installed.flatMap((w) => w.files.map((f) => [f.path.slice('target/'.length), f])))
  expect([...returned.keys()].sort()).toEqual([...ours.keys()].sort())
  for (const [p, f] of returned) {
    expect([p, f.size, f.executable]).toEqual([p, ours.get(p)!.size, ours.get(p)!.executable])
  }
  return { differences, files: ours.size }
}

let work: string
let fixtures: FixtureWheel[]
let serial = 0

function fresh(name: string): string {
  return join(work, `${name}-${serial++}`)
}

/** Install with pip and with us (all wheels into one target / staging dir), compare. */
async function differential(
  wheels: readonly string[],
  opts: InstallOptions = {},
  pip: readonly string[] = ['-m', 'pip']
): Promise<Comparison> {
  const pipTarget = fresh('pip')
  const staging = fresh('ours')
  await pipInstall(wheels, pipTarget, pip)
  const installed = await Promise.all(
    wheels.map((w) =>
      installIntoDirectory(w, TARGET_LAYOUT, staging, { installer: 'pip', requested: true, ...opts })
    )
  )
  return compareTrees(pipTarget, join(staging, 'target'), installed)
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'fast-build-install-diff-'))
  fixtures = await buildFixtureWheels(join(work, 'wheels'))
}, 300_000)

afterAll(() => {
  rmSync(work, { recursive: true, force: true })
})

const good = (): FixtureWheel[] => fixtures.filter((f) => !f.broken)
const fixture = (project: string): FixtureWheel => fixtures.find((f) => f.project === project)!

describe(`install() equals pip ${PIP_VERSION} --target`, () => {
  it('the fixture set is what the tests rely on', () => {
    expect(good().map((f) => f.project)).toEqual([
      'fbpure',
      'fbext',
      'fbscripts',
      'FB_data',
      'fbns_a',
      'fbns_b',
      'fbheavy'
    ])
    expect(PIP_VERSION).toMatch(/^2[3-9]\./)
  })

  it.each(['fbpure', 'fbext', 'fbscripts', 'FB_data', 'fbheavy'])(
    'fixture %s',
    async (project) => {
      const { differences, files } = await differential([fixture(project).path])
      expect(differences).toEqual([])
      expect(files).toBeGreaterThan(3)
    },
    180_000
  )

  it('the namespace package split over fbns_a and fbns_b (installed together)', async () => {
    const { differences } = await differential([fixture('fbns_a').path, fixture('fbns_b').path])
    expect(differences).toEqual([])
  })

  it('entries read in the smallest windows give the same tree', async () => {
    const { differences } = await differential([fixture('FB_data').path], {
      extract: { windowBytes: 1, concurrency: 2 }
    })
    expect(differences).toEqual([])
  })

  it('what we install works: the extension imports, the wrappers run, the #!python script runs', async () => {
    const staging = fresh('run')
    for (const p of ['fbext', 'fbscripts', 'FB_data'])
      await installIntoDirectory(fixture(p).path, TARGET_LAYOUT, staging)
    const root = join(staging, 'target')
    const env = { ...pipEnv(), PYTHONPATH: root }
    const py = await execFileP(PYTHON, ['-c', 'import fbext; print(fbext.add(2, 3))'], { env })
    expect(py.stdout.trim()).toBe('5')
    expect((await execFileP(join(root, 'bin/fbs-cli'), [], { env })).stdout.trim()).toBe('fbs')
    expect((await execFileP(join(root, 'bin/fbdata-run'), [], { env })).stdout.trim()).toBe('run')
    expect(readFileSync(join(root, 'bin/fbs-cli'), 'utf8').split('\n')[0]).toBe(`#!${PYTHON}`)
  })
})

// Real wheels from the machine's mirror: present or not, the fixture cases above always run.
const REAL = mirrorWheels([
  /^six-.*\.whl$/,
  /^idna-.*\.whl$/,
  /^numpy-2\.[0-9.]+-cp311-cp311-manylinux.*x86_64.*\.whl$/,
  /^pip-.*\.whl$/,
  /^setuptools-[0-9.]+-py3-none-any\.whl$/,
  /^black-.*-cp311-.*x86_64.*\.whl$/,
  /^jupyterlab-[0-9.]+-py3-none-any\.whl$/,
  /^notebook-[0-9.]+-py3-none-any\.whl$/,
  /^widgetsnbextension-.*\.whl$/,
  /^ruff-.*manylinux.*x86_64.*\.whl$/
])
const realCases = REAL.map((p) => [p.slice(p.lastIndexOf('/') + 1), p] as const)
const PIP26 = mirrorWheels([/^pip-26\.[0-9.]+-py3-none-any\.whl$/])[0]

if (realCases.length > 0) {
  describe(`real wheels from the mirror, against pip ${PIP_VERSION}`, () => {
    it.each(realCases)(
      '%s',
      async (_name, path) => {
        const { differences, files } = await differential([path])
        expect(differences).toEqual([])
        expect(files).toBeGreaterThan(3)
      },
      300_000
    )
  })
}

if (PIP26) {
  describe(`pip: 'pip-26' against pip run from ${PIP26.slice(PIP26.lastIndexOf('/') + 1)}`, () => {
    const cases = ['fbscripts', 'FB_data', 'fbpure'].map((p) => [p] as const)
    it.each(cases)(
      'fixture %s',
      async (project) => {
        const { differences } = await differential([fixture(project).path], { pip: 'pip-26' }, [
          join(PIP26, 'pip')
        ])
        expect(differences).toEqual([])
      },
      180_000
    )
    const withScripts = REAL.filter((p) => /\/(pip|black|jupyterlab)-/.test(p)).map(
      (p) => [p.slice(p.lastIndexOf('/') + 1), p] as const
    )
    if (withScripts.length > 0) {
      it.each(withScripts)(
        '%s',
        async (_name, path) => {
          const { differences } = await differential([path], { pip: 'pip-26' }, [join(PIP26, 'pip')])
          expect(differences).toEqual([])
        },
        300_000
      )
    }
  })
}
