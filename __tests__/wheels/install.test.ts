// The installer's pure parts against the code pip runs (its vendored distlib for entry points and
// wrapper scripts, its own console-script naming, importlib.metadata for entry_points.txt, the email
// parser for WHEEL, the csv writer for RECORD), the plan on a synthetic wheel, and the broken
// fixture wheels: each must fail with a WheelError naming the wheel, the entry and the fix.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { LayerDestination } from '../../src/wheels/install/destination.js'
import { install } from '../../src/wheels/install/install.js'
import { pythonLayout } from '../../src/wheels/install/layout.js'
import { headerValue, parseEntryPoints, parseWheelInfo } from '../../src/wheels/install/metadata.js'
import { planInstall, type PlanInput } from '../../src/wheels/install/plan.js'
import { formatRecord, parseRecord } from '../../src/wheels/install/records.js'
import {
  consoleScriptSpecs,
  entryPointScript,
  fixScriptShebang,
  parseExportEntry,
  type ExportEntry
} from '../../src/wheels/install/scripts.js'
import { WheelError } from '../../src/wheels/wheel-error.js'
import { installIntoDirectory } from '../support/directory-destination.js'
import { buildFixtureWheels, type FixtureWheel } from '../support/wheel-fixtures.js'

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '../support/make_wheels.py')

interface ReferenceRequest {
  entries?: string[]
  scripts?: Array<[string, string]>
  console_specs?: Array<Array<[string, string]>>
  entry_points?: string[]
  headers?: Array<[string, string]>
  records?: string[][][]
}

interface ReferenceAnswer {
  entries: Array<ExportEntry | null | 'invalid'>
  scripts: Array<Record<string, [string, number]> | { error: string }>
  console_specs: string[][]
  entry_points: Array<string[][] | { error: string }>
  headers: Array<string | null>
  records: string[]
  python: [number, number]
}

function reference(request: ReferenceRequest): ReferenceAnswer {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' }
  delete env['PYTHONPATH']
  delete env['ENSUREPIP_OPTIONS']
  const out = execFileSync('python3', [SCRIPT, 'reference'], {
    input: JSON.stringify(request),
    env,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024
  })
  return JSON.parse(out) as ReferenceAnswer
}

describe('pythonLayout', () => {
  it('the official python images: /usr/local, site-packages', () => {
    expect(pythonLayout('/usr/local', { major: 3, minor: 12 })).toEqual({
      purelib: '/usr/local/lib/python3.12/site-packages',
      platlib: '/usr/local/lib/python3.12/site-packages',
      scripts: '/usr/local/bin',
      data: '/usr/local',
      headers: '/usr/local/include/python3.12',
      interpreter: '/usr/local/bin/python3.12',
      python: { major: 3, minor: 12 }
    })
  })

  it("Debian's python3: dist-packages under /usr/local, /usr/bin/python3", () => {
    const l = pythonLayout(
      '/usr/local/',
      { major: 3, minor: 11 },
      {
        sitePackagesName: 'dist-packages',
        interpreter: '/usr/bin/python3'
      }
    )
    expect([l.purelib, l.scripts, l.interpreter]).toEqual([
      '/usr/local/lib/python3.11/dist-packages',
      '/usr/local/bin',
      '/usr/bin/python3'
    ])
  })
})

// Names and callables as they appear in the wild, and odd ones.
const SPECS = [
  'foo = mod:main',
  'foo=mod:main',
  'foo   =   pkg.sub.mod:Cls.method',
  'foo-bar.baz+x = a_b.c:d [extra1, extra2]',
  'foo = mod:main [ extra ]',
  'foo = mod',
  'foo = mod:main:other',
  'foo = mod:main [bad flag]',
  'my tool = mod:main',
  'foo = mod-x:main',
  'ünï = mød:maïn',
  '= mod:main',
  'nothing here',
  '[weird]',
  'pip3.11 = pip._internal.cli.main:main'
]

const INTERPRETERS = [
  '/usr/local/bin/python3.12',
  '/opt/my python/bin/python3',
  `/opt/${'x'.repeat(120)}/bin/python3`,
  `/opt/${'x'.repeat(100)}/python`, // 3 + length is exactly 127 or close to it
  '/usr/bin/env python3',
  '/usr/bin/env my python3'
]

describe('entry points and wrapper scripts equal pip (distlib)', () => {
  let ref: ReferenceAnswer
  const scripts: Array<[string, string]> = INTERPRETERS.flatMap((exe) =>
    ['foo = mod:main', 'foo   =   pkg.sub.mod:Cls.method', 'ünï = mød:maïn'].map(
      (s) => [exe, s] as [string, string]
    )
  )
  const CONSOLE: Array<Array<[string, string]>> = [
    [
      ['pip', 'pip._internal.cli.main:main'],
      ['pip3', 'pip._internal.cli.main:main'],
      ['pip3.8', 'pip._internal.cli.main:main'],
      ['pipx', 'pipx.main:cli'],
      ['foo', 'a:b']
    ],
    [
      ['easy_install', 'setuptools.command.easy_install:main'],
      ['easy_install-3.5', 'setuptools.command.easy_install:main'],
      ['easy_installer', 'x:y']
    ],
    [
      ['b', 'x:y'],
      ['a', 'x:z'],
      ['pip', '']
    ]
  ]
  const ENTRY_POINT_TEXTS = [
    '[console_scripts]\nfoo = a:b\nbar=c.d:e [x]\n\n# comment\n  baz  =  f:g  \n[gui_scripts]\nqux = h:i\n',
    'orphan = x:y\n[console_scripts]\r\nfoo = a:b\r\n[[odd]]\nk = v = w\n',
    '[console_scripts]\nfoo = a:b\nfoo = c:d\n',
    '[console_scripts]\nno equals sign\n'
  ]
  const RECORDS = [
    [
      ['b/x.py', 'sha256=AA', '3'],
      ['a,comma.py', 'sha256=BB', '4'],
      ['quote"d.py', '', ''],
      ['é.py', 'sha256=CC', '1'],
      ['z.py', 'sha256=DD', '2'],
      ['\u{1F600}.py', 'sha256=EE', '1'],
      ['\uff5e.py', 'sha256=FF', '1']
    ]
  ]
  const HEADERS: Array<[string, string]> = [
    ['Wheel-Version: 1.0\nRoot-Is-Purelib: true\n', 'Root-Is-Purelib'],
    ['Wheel-Version: 1.0\nroot-is-purelib:   True  \n', 'Root-Is-Purelib'],
    ['Wheel-Version: 1.0\r\nRoot-Is-Purelib: false\r\n', 'Root-Is-Purelib'],
    ['Wheel-Version: 1.0\nTag: a\n  continued\nRoot-Is-Purelib: true\n', 'Tag'],
    ['Wheel-Version: 1.0\n\nRoot-Is-Purelib: true\n', 'Root-Is-Purelib'],
    ['Wheel-Version: 1.0\nRoot-Is-Purelib: true\nRoot-Is-Purelib: false\n', 'Root-Is-Purelib'],
    ['Generator: x\n', 'Wheel-Version']
  ]

  beforeAll(() => {
    ref = reference({
      entries: SPECS,
      scripts,
      console_specs: CONSOLE,
      entry_points: ENTRY_POINT_TEXTS,
      headers: HEADERS,
      records: RECORDS
    })
  }, 60_000)

  it.each(SPECS.map((s, i) => [s, i] as const))('get_export_entry(%j)', (spec, i) => {
    expect(parseExportEntry(spec)).toEqual(ref.entries[i])
  })

  it.each(
    scripts.map(
      ([exe, spec], i) => [exe.length > 40 ? `${exe.slice(0, 30)}…(${exe.length})` : exe, spec, i] as const
    )
  )('wrapper for %s, %s', (_label, spec, i) => {
    const exe = scripts[i]![0]
    const entry = parseExportEntry(spec) as ExportEntry
    const want = ref.scripts[i] as Record<string, [string, number]>
    expect(Object.keys(want)).toEqual([entry.name])
    expect(entryPointScript(entry, exe).toString('utf8')).toBe(want[entry.name]![0])
    expect(want[entry.name]![1] & 0o111).not.toBe(0)
  })

  it('pip and easy_install get versioned names for the target Python', () => {
    const [major, minor] = ref.python
    CONSOLE.forEach((c, i) => {
      expect(consoleScriptSpecs(new Map(c), { major, minor })).toEqual(ref.console_specs[i])
    })
    expect(consoleScriptSpecs(new Map([['pip', 'x:y']]), { major: 3, minor: 13 })).toEqual([
      'pip = x:y',
      'pip3 = x:y',
      'pip3.13 = x:y'
    ])
  })

  it.each(ENTRY_POINT_TEXTS.map((t, i) => [JSON.stringify(t).slice(0, 50), i] as const))(
    'entry_points.txt as importlib.metadata reads it: %s',
    (_label, i) => {
      const want = ref.entry_points[i]!
      if ('error' in want) expect(() => parseEntryPoints(ENTRY_POINT_TEXTS[i]!, 'x.whl')).toThrow(WheelError)
      else
        expect(parseEntryPoints(ENTRY_POINT_TEXTS[i]!).map((e) => [e.group, e.name, e.value])).toEqual(want)
    }
  )

  it.each(HEADERS.map(([t, n], i) => [JSON.stringify(t).slice(0, 60), n, i] as const))(
    'WHEEL header as the email parser reads it: %s %s',
    (_label, name, i) => {
      expect(headerValue(HEADERS[i]![0], name)).toBe(ref.headers[i])
    }
  )

  it('RECORD rows are sorted and quoted as pip writes them', () => {
    RECORDS.forEach((rows, i) => {
      expect(
        formatRecord(rows.map(([path, hash, size]) => ({ path: path!, hash: hash!, size: size! })))
      ).toBe(ref.records[i])
      expect(parseRecord(ref.records[i]!).map((r) => [r.path, r.hash, r.size])).toEqual(
        [...rows].sort((a, b) => Buffer.compare(Buffer.from(a[0]!), Buffer.from(b[0]!)))
      )
    })
  })
})

describe('pure helpers', () => {
  it('fixScriptShebang replaces a #!python first line, whatever follows it, and nothing else', () => {
    const fix = (s: string): string =>
      fixScriptShebang(Buffer.from(s), '/usr/local/bin/python3.12').toString()
    expect(fix('#!python\nprint(1)\n')).toBe('#!/usr/local/bin/python3.12\nprint(1)\n')
    expect(fix('#!python3.11 -u\r\nx\n')).toBe('#!/usr/local/bin/python3.12\nx\n')
    expect(fix('#!pythonw')).toBe('#!/usr/local/bin/python3.12\n')
    expect(fix('#!/usr/bin/python\nx\n')).toBe('#!/usr/bin/python\nx\n')
    expect(fix('#! python\n')).toBe('#! python\n')
  })

  it('parseWheelInfo: Wheel-Version 1.x only, Root-Is-Purelib', () => {
    expect(parseWheelInfo('Wheel-Version: 1.0\nRoot-Is-Purelib: true\n', 'w.whl', 'WHEEL')).toEqual({
      wheelVersion: [1, 0],
      rootIsPurelib: true
    })
    expect(parseWheelInfo('Wheel-Version: 1.9\n', 'w.whl', 'WHEEL').rootIsPurelib).toBe(false)
    expect(() => parseWheelInfo('Wheel-Version: 2.0\n', 'w.whl', 'W')).toThrow(
      /Wheel-Version 2.0 in W is not supported/
    )
    expect(() => parseWheelInfo('Generator: x\n', 'w.whl', 'W')).toThrow(/has no Wheel-Version/)
    expect(() => parseWheelInfo('Wheel-Version: one\n', 'w.whl', 'W')).toThrow(/invalid Wheel-Version/)
  })
})

describe('planInstall', () => {
  const layout = pythonLayout('/usr/local', { major: 3, minor: 12 })
  const base: PlanInput = {
    wheel: 'demo-1.0-py3-none-any.whl',
    entries: [],
    infoDir: 'demo-1.0.dist-info',
    rootIsPurelib: true,
    layout,
    headersName: 'demo',
    entryPoints: [],
    pip: 'pip-23',
    installer: 'fast-build',
    requested: false
  }
  const entry = (name: string, executable = false) => ({ name, isDirectory: name.endsWith('/'), executable })

  it('maps every scheme, records paths relative to site-packages, leaves wrappers out, RECORD last', () => {
    const plan = planInstall({
      ...base,
      entries: [
        entry('demo/'),
        entry('demo/__init__.py'),
        entry('demo/./sub/../x.py'),
        entry('demo-1.0.data/scripts/tool', true),
        entry('demo-1.0.data/scripts/demo-cli'),
        entry('demo-1.0.data/scripts/demo-cli.exe'),
        entry('demo-1.0.data/data/share/demo/a.txt'),
        entry('demo-1.0.data/headers/demo.h'),
        entry('demo-1.0.data/platlib/demo_plat.py'),
        entry('demo-1.0.dist-info/RECORD'),
        entry('demo-1.0.dist-info/WHEEL')
      ],
      entryPoints: [{ group: 'console_scripts', name: 'demo-cli', value: 'demo:main' }],
      requested: true
    })
    expect(plan.files.map((f) => [f.dest, f.recordPath, f.executable, f.source.kind])).toEqual([
      ['/usr/local/lib/python3.12/site-packages/demo/__init__.py', 'demo/__init__.py', false, 'entry'],
      ['/usr/local/lib/python3.12/site-packages/demo/x.py', 'demo/x.py', false, 'entry'],
      [
        '/usr/local/lib/python3.12/site-packages/demo-1.0.dist-info/WHEEL',
        'demo-1.0.dist-info/WHEEL',
        false,
        'entry'
      ],
      ['/usr/local/share/demo/a.txt', '../../../share/demo/a.txt', false, 'entry'],
      [
        '/usr/local/include/python3.12/demo/demo.h',
        '../../../include/python3.12/demo/demo.h',
        false,
        'entry'
      ],
      ['/usr/local/lib/python3.12/site-packages/demo_plat.py', 'demo_plat.py', false, 'entry'],
      ['/usr/local/bin/tool', '../../../bin/tool', true, 'entry'],
      ['/usr/local/bin/demo-cli', '../../../bin/demo-cli', true, 'generated'],
      [
        '/usr/local/lib/python3.12/site-packages/demo-1.0.dist-info/INSTALLER',
        'demo-1.0.dist-info/INSTALLER',
        false,
        'generated'
      ],
      [
        '/usr/local/lib/python3.12/site-packages/demo-1.0.dist-info/REQUESTED',
        'demo-1.0.dist-info/REQUESTED',
        false,
        'generated'
      ],
      [
        '/usr/local/lib/python3.12/site-packages/demo-1.0.dist-info/RECORD',
        'demo-1.0.dist-info/RECORD',
        false,
        'record'
      ]
    ])
    const wrapper = plan.files.find((f) => f.dest === '/usr/local/bin/demo-cli')!
    expect(wrapper.source.kind === 'generated' && wrapper.source.content.toString().split('\n')[0]).toBe(
      '#!/usr/local/bin/python3.12'
    )
    expect(plan.distInfo).toBe('/usr/local/lib/python3.12/site-packages/demo-1.0.dist-info')
  })

  it('platlib wheels record relative to platlib; a later file for the same path wins', () => {
    const l = { ...layout, platlib: '/usr/local/lib64/python3.12/site-packages' }
    const plan = planInstall({
      ...base,
      layout: l,
      rootIsPurelib: false,
      entries: [entry('demo/a.py'), entry('demo-1.0.data/platlib/demo/a.py', true)]
    })
    const a = plan.files.filter((f) => f.dest.endsWith('/demo/a.py'))
    expect(a).toHaveLength(1)
    expect([a[0]!.executable, a[0]!.recordPath]).toEqual([true, 'demo/a.py'])
  })

  it.each([
    ['../evil', /outside its install directory/],
    ['demo/../../evil', /outside its install directory/],
    ['/etc/passwd', /is an absolute path/],
    ['C:/evil', /is an absolute path/],
    ['demo\\..\\evil', /uses a backslash/],
    ['demo-1.0.data/scripts/../../../x', /outside its install directory/],
    ['demo-1.0.data/unknown/x', /unknown scheme key "unknown"/],
    ['demo-1.0.data/data', /unexpected file/]
  ])('refuses %j', (name, pattern) => {
    let error: unknown
    try {
      planInstall({ ...base, entries: [entry(name)] })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(WheelError)
    expect((error as WheelError).message).toMatch(pattern)
    expect((error as WheelError).entry).toBe(name)
  })

  it('refuses a file where another file needs a directory, and entry point names that escape', () => {
    expect(() => planInstall({ ...base, entries: [entry('demo'), entry('demo/x.py')] })).toThrow(
      /"demo" installs a file at .*site-packages\/demo, where "demo\/x.py" needs a directory/
    )
    expect(() =>
      planInstall({ ...base, entryPoints: [{ group: 'console_scripts', name: '..', value: 'a:b' }] })
    ).toThrow(/outside the scripts directory/)
    expect(() =>
      planInstall({ ...base, entryPoints: [{ group: 'gui_scripts', name: 'x', value: 'a' }] })
    ).toThrow(/a callable suffix is required/)
  })
})

describe('installing the fixture wheels', () => {
  let work: string
  let wheels: FixtureWheel[]
  const layout = pythonLayout('/usr/local', { major: 3, minor: 12 })
  const wheel = (project: string): FixtureWheel => wheels.find((w) => w.project === project)!

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'fast-build-install-'))
    wheels = await buildFixtureWheels(join(work, 'wheels'), { heavyMb: 1 })
  }, 300_000)

  afterAll(() => {
    rmSync(work, { recursive: true, force: true })
  })

  it('returns files sorted, image-relative, with sizes and disk paths; the dist-info', async () => {
    const staging = join(work, 'pure')
    const w = await installIntoDirectory(wheel('fbpure').path, layout, staging)
    expect([w.name, w.version, w.distInfo]).toEqual([
      'fbpure',
      '1.0.0',
      'usr/local/lib/python3.12/site-packages/fbpure-1.0.0.dist-info'
    ])
    const paths = w.files.map((f) => f.path)
    expect(paths).toEqual([...paths].sort())
    expect(paths).toContain('usr/local/lib/python3.12/site-packages/fbpure/donn\u00e9es_\u65e5\u672c.txt')
    for (const f of w.files) {
      expect(f.diskPath).toBe(join(staging, f.path))
      expect(statSync(f.diskPath).size).toBe(f.size)
    }
    expect(w.installedSize).toBe(w.files.reduce((n, f) => n + f.size, 0))
    const exec = (p: string): boolean | undefined => w.files.find((f) => f.path.endsWith(p))?.executable
    expect([exec('fbpure/run.sh'), exec('fbpure/noreg.sh'), exec('fbpure/link'), exec('/RECORD')]).toEqual([
      true,
      false,
      false,
      false
    ])
    expect(readFileSync(join(staging, w.distInfo, 'INSTALLER'), 'utf8')).toBe('fast-build\n')
    expect(existsSync(join(staging, w.distInfo, 'REQUESTED'))).toBe(false)
    const record = readFileSync(join(staging, w.distInfo, 'RECORD'), 'utf8')
    expect(record).toContain('fbpure-1.0.0.dist-info/RECORD,,\r\n')
    expect(record).toContain('fbpure-1.0.0.dist-info/INSTALLER,sha256=')
  })

  it('a wheel stored under another name installs with `filename`; a bad name is refused', async () => {
    const src = wheel('fbns_a')
    const copy = join(work, 'by-digest', src.sha256)
    execFileSync('mkdir', ['-p', dirname(copy)])
    execFileSync('cp', [src.path, copy])
    const w = await installIntoDirectory(copy, layout, join(work, 'digest'), { filename: src.filename })
    expect(w.name).toBe('fbns-a')
    await expect(installIntoDirectory(copy, layout, join(work, 'digest2'))).rejects.toThrow(
      /is not a wheel file name/
    )
  })

  it('installs in parallel into separate staging dirs with the same result as one by one', async () => {
    const good = wheels.filter((w) => !w.broken)
    const one: string[][] = []
    for (const w of good)
      one.push(
        (await installIntoDirectory(w.path, layout, join(work, 'seq', w.project))).files.map((f) => f.path)
      )
    const all = await Promise.all(
      good.map((w) => installIntoDirectory(w.path, layout, join(work, 'par', w.project)))
    )
    expect(all.map((w) => w.files.map((f) => f.path))).toEqual(one)
    for (const w of good) {
      const a = readFileSync(join(work, 'seq', w.project, all[good.indexOf(w)]!.distInfo, 'RECORD'))
      const b = readFileSync(join(work, 'par', w.project, all[good.indexOf(w)]!.distInfo, 'RECORD'))
      expect(a.equals(b)).toBe(true)
    }
  })

  // The broken fixtures: what the error must say.
  const BROKEN: Array<[string, RegExp]> = [
    [
      'fbbadhash',
      /^fbbadhash\/__init__.py does not match its hash in RECORD \(sha256=.*, the file has sha256=/
    ],
    ['fbevil', /^entry "..\/..\/evil" would be installed outside its install directory/],
    ['fbdotdot', /^entry "fbdotdot-1.0.0.data\/data\/..\/..\/..\/evil" would be installed outside/],
    ['fbabs', /^entry "\/tmp\/fbabs-evil" is an absolute path/],
    ['fbbackslash', /^entry "fbbackslash\\\\..\\\\..\\\\evil.py" uses a backslash/],
    ['fbwheelv2', /^Wheel-Version 2.0 in fbwheelv2-1.0.0.dist-info\/WHEEL is not supported \(only 1.x\)/],
    ['fbscheme', /^unknown scheme key "lib" in "fbscheme-1.0.0.data\/lib\/x.txt"/],
    [
      'fbnocall',
      /^invalid script entry point "fbnc = fbnocall" in .*entry_points.txt: a callable suffix is required/
    ],
    ['fbnorecord', /^fbnorecord-1.0.0.dist-info\/RECORD is missing/],
    ['fbtrunc', /^not a zip file/],
    ['fbcrc', /^CRC mismatch in "fbcrc\/data.bin"/]
  ]

  it('every broken fixture has a case here', () => {
    expect(
      wheels
        .filter((w) => w.broken)
        .map((w) => w.project)
        .sort()
    ).toEqual(BROKEN.map(([p]) => p).sort())
  })

  it.each(BROKEN)(
    '%s fails with a WheelError naming the wheel, the entry and the fix',
    async (project, pattern) => {
      const w = wheel(project)
      const staging = join(work, 'broken', project)
      let error: unknown
      try {
        await installIntoDirectory(w.path, layout, staging)
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(WheelError)
      const e = error as WheelError
      expect(e.message).toMatch(pattern)
      const text = e.describe()
      expect(text).toContain(w.filename)
      if (w.entry) {
        expect(e.entry).toBe(w.entry)
        expect(text.includes(w.entry) || text.includes(JSON.stringify(w.entry))).toBe(true)
      }
      expect(text).toMatch(/\n {2}fix: \S/)
      // Nothing was written outside the staging directory.
      expect(existsSync('/tmp/fbabs-evil')).toBe(false)
      expect(existsSync(join(staging, '..', '..', 'evil'))).toBe(false)
      expect(existsSync(join(work, 'evil'))).toBe(false)
    }
  )

  it('a wheel whose RECORD hash does not match installs nothing past the error being reported', async () => {
    const staging = join(work, 'badhash-2')
    await expect(installIntoDirectory(wheel('fbbadhash').path, layout, staging)).rejects.toThrow(WheelError)
    // The RECORD (written last) is not there: a partial install is never mistaken for a complete one.
    const distInfo = join(staging, 'usr/local/lib/python3.12/site-packages/fbbadhash-1.0.0.dist-info')
    expect(existsSync(join(distInfo, 'RECORD'))).toBe(false)
  })

  it('the heavy fixture streams its big entry (1 MiB and more), small ones come in small windows', async () => {
    const staging = join(work, 'heavy')
    const w = await installIntoDirectory(wheel('fbheavy').path, layout, staging, {
      extract: { windowBytes: 64 * 1024 }
    })
    const blob = w.files.find((f) => f.path.endsWith('fbheavy/blob.bin'))!
    expect(blob.size).toBe(1024 * 1024)
    expect(readdirSync(join(staging, 'usr/local/lib/python3.12/site-packages/fbheavy/small'))).toHaveLength(
      400
    )
    const layer = await install(wheel('fbheavy').path, new LayerDestination(layout))
    try {
      const streamed = layer.entries.flatMap((e) => (e.type === 'file' && e.stream ? [e.path] : []))
      expect(streamed).toEqual([blob.path])
    } finally {
      await layer.close()
    }
  })
})
