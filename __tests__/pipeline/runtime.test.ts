// Run-time groups: the requirements file, the entrypoint shim and the layer, as pure data; the
// shim is also run under the system's sh with a stand-in interpreter, and pip reads the
// requirements file we write (offline, from a directory of wheels).
import { describe, expect, it } from '@jest/globals'
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { appConfig, type AppSettings } from '../../src/pipeline/app-image.js'
import { RuntimeGroupError } from '../../src/pipeline/errors.js'
import {
  hasRuntime,
  INDEX_ENV,
  REQUIREMENTS_PATH,
  requirementsText,
  RUNTIME_LABEL,
  RUNTIME_MTIME,
  runtimeEntries,
  runtimeFiles,
  runtimeIndexes,
  runtimeRequirements,
  shimText,
  SHIM_PATH,
  shQuote,
  wrapEntrypoint,
  type RuntimeRequirement
} from '../../src/pipeline/runtime.js'
import { describeError } from '../../src/errors.js'
import { sha256 } from '../../src/oci/digest.js'
import type { ImageConfig } from '../../src/oci/image.js'
import { buildLayer } from '../../src/oci/layer.js'
import { normalizeName } from '../../src/names.js'
import type { ClosureEntry } from '../../src/plan/closure.js'
import type { InstallLayout } from '../../src/plan/plan.js'
import { parsePlatform } from '../../src/target.js'
import { run } from '../support/process.js'
import { addFastBuildConfig, copyCorpusCase, planDir, tempDir } from '../support/project.js'
import {
  AMD64,
  closureEntry as pkg,
  H,
  LOCK,
  lockedFile as file,
  REGISTRY as REG,
  target
} from '../support/closure-entries.js'

const ARM64 = parsePlatform('linux/arm64')

const LAYOUT: InstallLayout = {
  prefix: '/usr/local',
  sitePackages: '/usr/local/lib/python3.11/site-packages',
  scripts: '/usr/local/bin',
  interpreter: '/usr/local/bin/python3.11'
}

describe('runtimeRequirements', () => {
  const cases: {
    name: string
    entries: ClosureEntry[]
    platform?: typeof AMD64
    want: Omit<RuntimeRequirement, 'version'>[]
  }[] = [
    {
      name: 'a pure wheel and its sdist: both hashes, sorted',
      entries: [
        pkg('Exp_Pkg', '1.0', [
          file('exp_pkg-1.0.tar.gz', H('b')),
          file('exp_pkg-1.0-py3-none-any.whl', H('a'))
        ])
      ],
      want: [{ name: 'exp-pkg', requirement: 'exp-pkg==1.0', hashes: [H('a'), H('b')], index: REG }]
    },
    {
      name: 'only the wheels this platform installs, not the other architecture’s',
      entries: [
        pkg('native', '2.1', [
          file('native-2.1-cp311-cp311-manylinux_2_17_x86_64.whl', H('1')),
          file('native-2.1-cp311-cp311-manylinux_2_17_aarch64.whl', H('2')),
          file('native-2.1-cp311-cp311-win_amd64.whl', H('3')),
          file('native-2.1-cp312-cp312-manylinux_2_17_x86_64.whl', H('4')),
          file('native-2.1-cp311-abi3-manylinux_2_28_x86_64.whl', H('5'))
        ])
      ],
      want: [{ name: 'native', requirement: 'native==2.1', hashes: [H('1'), H('5')], index: REG }]
    },
    {
      name: 'the same package on arm64',
      platform: ARM64,
      entries: [
        pkg('native', '2.1', [
          file('native-2.1-cp311-cp311-manylinux_2_17_x86_64.whl', H('1')),
          file('native-2.1-cp311-cp311-manylinux_2_17_aarch64.whl', H('2'))
        ])
      ],
      want: [{ name: 'native', requirement: 'native==2.1', hashes: [H('2')], index: REG }]
    },
    {
      name: 'sorted by name; a private index without its credentials',
      entries: [
        pkg('zeta', '1', [file('zeta-1-py3-none-any.whl', H('c'))], {
          kind: 'registry',
          url: 'https://user:secret@pkgs.example.com/simple',
          name: 'corp'
        }),
        pkg('alpha', '3', [file('alpha-3-py3-none-any.whl', H('d'))])
      ],
      want: [
        { name: 'alpha', requirement: 'alpha==3', hashes: [H('d')], index: REG },
        { name: 'zeta', requirement: 'zeta==1', hashes: [H('c')], index: 'https://pkgs.example.com/simple' }
      ]
    },
    {
      name: 'a direct URL: the `name @ url` form with the archive’s hash',
      entries: [
        pkg('direct', '0.3', [file('direct-0.3.tar.gz', H('e'))], {
          kind: 'url',
          url: 'https://example.com/direct-0.3.tar.gz',
          subdirectory: null
        })
      ],
      want: [
        {
          name: 'direct',
          requirement: 'direct @ https://example.com/direct-0.3.tar.gz',
          hashes: [H('e')],
          index: null
        }
      ]
    },
    {
      name: 'a direct URL with a subdirectory',
      entries: [
        pkg('sub', null, [file('repo.zip', H('f'))], {
          kind: 'url',
          url: 'https://example.com/repo.zip',
          subdirectory: 'pkgs/sub'
        })
      ],
      want: [
        {
          name: 'sub',
          requirement: 'sub @ https://example.com/repo.zip#subdirectory=pkgs/sub',
          hashes: [H('f')],
          index: null
        }
      ]
    },
    {
      name: 'local source trees are left out (they ship with the source layer)',
      entries: [
        pkg('member', '0.1', [], { kind: 'directory', path: 'libs/member', editable: true, virtual: false })
      ],
      want: []
    }
  ]
  it.each(cases)('$name', ({ entries, platform, want }) => {
    const got = runtimeRequirements(entries, target(platform), LOCK)
    expect(got.map(({ version: _, ...r }) => r)).toEqual(want)
  })

  const refusals: { name: string; entry: ClosureEntry; message: RegExp }[] = [
    {
      name: 'git',
      entry: pkg('gitpkg', '1.0', [], {
        kind: 'git',
        url: 'https://github.com/o/r',
        commit: 'abc',
        requested: null,
        subdirectory: null
      }),
      message: /gitpkg 1\.0 from git https:\/\/github\.com\/o\/r: pip cannot check a git checkout/
    },
    {
      name: 'a local archive',
      entry: pkg('localwhl', '1.0', [file('localwhl-1.0-py3-none-any.whl', H('a'))], {
        kind: 'file',
        path: 'dist/localwhl-1.0-py3-none-any.whl'
      }),
      message: /localwhl 1\.0 from the local archive dist\/localwhl.*not in the image/
    },
    {
      name: 'a file without sha256',
      entry: pkg('nohash', '1.0', [file('nohash-1.0-py3-none-any.whl', null)]),
      message: /nohash 1\.0 file nohash-1\.0-py3-none-any\.whl: the lock records no sha256/
    },
    {
      name: 'no file for the platform',
      entry: pkg('winonly', '1.0', [file('winonly-1.0-cp311-cp311-win_amd64.whl', H('a'))]),
      message: /winonly 1\.0 on linux\/amd64: no wheel for linux\/amd64/
    }
  ]
  it.each(refusals)('refuses $name, naming the package, the lock and the fix', ({ entry, message }) => {
    let error: unknown
    try {
      runtimeRequirements([entry], target(), LOCK)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(RuntimeGroupError)
    const text = describeError(error)
    expect(text).toMatch(message)
    expect(text).toMatch(new RegExp(`^${LOCK}:10: run-time package`))
    expect(text).toMatch(/fix: move \S+ out of the runtime group \(tool\.fast-build\.runtime-groups\)/)
  })
})

describe('runtimeIndexes', () => {
  const r = (index: string | null): RuntimeRequirement => ({
    name: 'x',
    version: '1',
    requirement: 'x==1',
    hashes: [],
    index
  })
  it.each([
    { name: 'none named: PyPI', indexes: [null], want: { index: REG, extra: [] } },
    {
      name: 'the lock’s index',
      indexes: ['http://127.0.0.1:9/simple'],
      want: { index: 'http://127.0.0.1:9/simple', extra: [] }
    },
    {
      name: 'several: the first, then the others once each',
      indexes: ['https://a/simple', null, 'https://b/simple', 'https://a/simple'],
      want: { index: 'https://a/simple', extra: ['https://b/simple'] }
    }
  ])('$name', ({ indexes, want }) => {
    expect(runtimeIndexes(indexes.map(r))).toEqual(want)
  })
})

describe('requirementsText', () => {
  it('has a header and one requirement per package with continuation lines for its hashes', () => {
    const reqs = runtimeRequirements(
      [
        pkg('b-pkg', '2.0', [file('b_pkg-2.0-py3-none-any.whl', H('2')), file('b_pkg-2.0.tar.gz', H('3'))]),
        pkg('a-pkg', '1.0', [file('a_pkg-1.0-py3-none-any.whl', H('1'))])
      ],
      target(),
      LOCK
    )
    expect(requirementsText('ml', AMD64, reqs)).toBe(
      [
        '# Generated by fast-build for variant ml, platform linux/amd64.',
        `# The run-time group packages: ${SHIM_PATH} installs them with pip when the container starts.`,
        "# They are not in the image's hash: the deps image does not change when they do.",
        '',
        'a-pkg==1.0 \\',
        `    --hash=sha256:${H('1')}`,
        'b-pkg==2.0 \\',
        `    --hash=sha256:${H('2')} \\`,
        `    --hash=sha256:${H('3')}`,
        ''
      ].join('\n')
    )
  })
})

describe('shimText', () => {
  const reqs = runtimeRequirements(
    [pkg('exp', '1.0', [file('exp-1.0-py3-none-any.whl', H('a'))])],
    target(),
    LOCK
  )
  const shim = (over: Partial<Parameters<typeof shimText>[0]> = {}) =>
    shimText({
      variant: 'base',
      platform: AMD64,
      requirements: reqs,
      requirementsSha256: H('9'),
      install: LAYOUT,
      ...over
    })

  it('installs with pip from the lock’s index into the layout’s site-packages, then execs', () => {
    const text = shim()
    expect(
      text.startsWith('#!/bin/sh\n# Generated by fast-build for variant base, platform linux/amd64.\n')
    ).toBe(true)
    expect(text).toContain(
      '\'/usr/local/bin/python3.11\' -m pip install --no-deps --require-hashes --no-input --disable-pip-version-check --quiet \\\n    --target \'/usr/local/lib/python3.11/site-packages\' "$@" -r "$req"'
    )
    expect(text).toContain(`fast_build_pip --index-url '${REG}'\n`)
    expect(text).toContain(`fast_build_pip --index-url "$${INDEX_ENV}"`)
    expect(text).toContain(`marker="\${TMPDIR:-/tmp}/fast-build-runtime-${H('9').slice(0, 16)}"`)
    expect(text).toContain(`req='${REQUIREMENTS_PATH}'`)
    expect(text.trimEnd().endsWith('exec "$@"')).toBe(true)
  })

  it('passes further indexes as --extra-index-url', () => {
    const two = [
      ...reqs,
      { name: 'y', version: '1', requirement: 'y==1', hashes: [H('b')], index: 'https://corp.example/simple' }
    ]
    expect(shim({ requirements: two })).toContain(
      `fast_build_pip --index-url '${REG}' --extra-index-url 'https://corp.example/simple'\n`
    )
  })

  it('only execs when there is nothing to install', () => {
    const text = shim({ requirements: [] })
    expect(text).not.toContain('-m pip')
    expect(text).toContain('No run-time group packages on this platform')
    expect(text.trimEnd().endsWith('exec "$@"')).toBe(true)
  })

  it('quotes paths for sh', () => {
    expect(shQuote("it's")).toBe(`'it'\\''s'`)
    expect(shim({ install: { ...LAYOUT, sitePackages: "/opt/o'dd $dir" } })).toContain(
      `--target '/opt/o'\\''dd $dir'`
    )
  })

  it('is the same text for the same input', () => {
    expect(shim()).toBe(shim())
    expect(shim({ requirementsSha256: H('8') })).not.toBe(shim())
  })
})

describe('the shim under sh', () => {
  /**
   * A stand-in interpreter: `-m pip --version` fails when $FAKE_NO_PIP is set; `-m pip install …`
   * logs its arguments and exits with $FAKE_PIP_STATUS.
   */
  function setup(requirements = reqsOf(['exp'])) {
    const dir = tempDir()
    const log = join(dir, 'pip.log')
    const python = join(dir, 'python')
    writeFileSync(
      python,
      `#!/bin/sh
[ "$1 $2" = "-m pip" ] || exit 99
if [ "$3" = "--version" ]; then [ -z "\${FAKE_NO_PIP:-}" ] || { echo "No module named pip" >&2; exit 1; }; echo pip; exit 0; fi
[ -z "\${FAKE_NO_PIP:-}" ] || { echo "No module named pip" >&2; exit 1; }
shift 2
echo "$*" >> ${shQuote(log)}
[ -z "\${FAKE_PIP_STATUS:-}" ] || echo "ERROR: THESE PACKAGES DO NOT MATCH THE HASHES" >&2
exit "\${FAKE_PIP_STATUS:-0}"
`
    )
    chmodSync(python, 0o755)
    const shim = join(dir, 'entrypoint')
    writeFileSync(
      shim,
      shimText({
        variant: 'base',
        platform: AMD64,
        requirements,
        requirementsSha256: H('7'),
        install: { ...LAYOUT, interpreter: python }
      })
    )
    chmodSync(shim, 0o755)
    const tmp = join(dir, 'tmp')
    mkdirSync(tmp)
    const go = (args: string[], env: Record<string, string> = {}) =>
      run(shim, args, { env: { PATH: process.env['PATH'], TMPDIR: tmp, ...env } })
    return { go, log, tmp }
  }
  function reqsOf(names: string[]): RuntimeRequirement[] {
    return names.map((n) => ({
      name: n,
      version: '1.0',
      requirement: `${n}==1.0`,
      hashes: [H('a')],
      index: null
    }))
  }

  it('installs once per container, says so on stderr, and runs the command with its arguments', async () => {
    const { go, log, tmp } = setup()
    const first = await go(['sh', '-c', 'echo "ran $0 $1"', 'a b', 'c'])
    expect(first).toMatchObject({ code: 0, stdout: 'ran a b c\n' })
    expect(first.stderr).toBe(
      `fast-build: installing 1 run-time package (exp==1.0) into ${LAYOUT.sitePackages} from ${REG}\n`
    )
    expect(readFileSync(log, 'utf8')).toBe(
      `install --no-deps --require-hashes --no-input --disable-pip-version-check --quiet --target ${LAYOUT.sitePackages} --index-url ${REG} -r ${REQUIREMENTS_PATH}\n`
    )
    expect(readdirSync(tmp)).toEqual([`fast-build-runtime-${H('7').slice(0, 16)}`])
    const second = await go(['echo', 'again'])
    expect(second).toMatchObject({ code: 0, stdout: 'again\n', stderr: '' })
    expect(readFileSync(log, 'utf8').split('\n')).toHaveLength(2) // not installed again
  })

  it(`takes the index from ${INDEX_ENV}, and does not echo a URL with credentials`, async () => {
    const { go, log } = setup()
    const r = await go(['true'], { [INDEX_ENV]: 'https://me:s3cret@mirror.example/simple' })
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(/from FAST_BUILD_INDEX_URL\n$/)
    expect(r.stderr).not.toContain('s3cret')
    expect(readFileSync(log, 'utf8')).toContain('--index-url https://me:s3cret@mirror.example/simple -r')
    const plain = setup()
    const r2 = await plain.go(['true'], { [INDEX_ENV]: 'http://127.0.0.1:1/simple' })
    expect(r2.stderr).toMatch(/from http:\/\/127\.0\.0\.1:1\/simple\n$/)
  })

  it('fails with pip’s status and a clear message when the install fails; the command does not run', async () => {
    const { go, tmp } = setup()
    const r = await go(['echo', 'should not run'], { FAKE_PIP_STATUS: '3' })
    expect(r.code).toBe(3)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/THESE PACKAGES DO NOT MATCH THE HASHES/)
    expect(r.stderr).toMatch(
      new RegExp(
        `fast-build: installing the run-time packages of ${REQUIREMENTS_PATH} failed \\(pip says why above\\)`
      )
    )
    expect(readdirSync(tmp)).toEqual([]) // tried again next time
  })

  it('says the image needs pip when the interpreter has none', async () => {
    const { go } = setup()
    const r = await go(['echo', 'should not run'], { FAKE_NO_PIP: '1' })
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(
      /fast-build: the run-time group needs pip in the image, but \S+ -m pip does not run: add pip/
    )
  })

  it('without packages it only runs the command (and never the interpreter)', async () => {
    const { go, log } = setup([])
    const r = await go(['echo', 'hi'])
    expect(r).toMatchObject({ code: 0, stdout: 'hi\n', stderr: '' })
    expect(existsSync(log)).toBe(false)
  })

  it('summarizes many packages in its one line', async () => {
    const { go } = setup(reqsOf(['a', 'b', 'c', 'd', 'e']))
    const r = await go(['true'])
    expect(r.stderr).toMatch(/installing 5 run-time packages \(a==1\.0, b==1\.0, c==1\.0 and 2 more\)/)
  })
})

describe('runtime layer and image config', () => {
  it('holds the directories, the requirements (0644) and the shim (0755), byte-identical per input', async () => {
    const entry = pkg('exp', '1.0', [file('exp-1.0-py3-none-any.whl', H('a'))])
    const platform = {
      platform: AMD64,
      target: target(),
      closure: { installed: [], local: [] },
      runtime: [entry],
      unavailable: []
    }
    const files = runtimeFiles({ variant: 'base', platform, install: LAYOUT, lockPath: LOCK })
    expect(files.requirements.map((r) => r.requirement)).toEqual(['exp==1.0'])
    expect(files.shimText).toContain(`fast-build-runtime-${sha256(files.requirementsText).slice(7, 23)}`)
    const entries = runtimeEntries(files)
    expect(entries.map((e) => [e.path, e.type, e.type === 'file' ? e.executable : null])).toEqual([
      ['opt', 'dir', null],
      ['opt/fast-build', 'dir', null],
      ['opt/fast-build/entrypoint', 'file', true],
      ['opt/fast-build/runtime-requirements.txt', 'file', false]
    ])
    const a = await buildLayer(entries, { mtime: RUNTIME_MTIME })
    const b = await buildLayer(
      runtimeEntries(runtimeFiles({ variant: 'base', platform, install: LAYOUT, lockPath: LOCK })),
      {
        mtime: RUNTIME_MTIME
      }
    )
    expect(b.digest).toBe(a.digest)
    const tar = gunzipSync(a.data!)
    // ustar mode field of each header: 0755 for the shim, 0644 for the requirements.
    const modes = new Map<string, string>()
    for (let at = 0; at + 512 <= tar.length; at += 512) {
      const name = tar
        .subarray(at, at + 100)
        .toString('utf8')
        .replace(/\0.*$/s, '')
      if (!name) break
      modes.set(name, tar.subarray(at + 100, at + 107).toString('ascii'))
      const size = parseInt(tar.subarray(at + 124, at + 135).toString('ascii'), 8)
      at += Math.ceil(size / 512) * 512
    }
    expect(modes.get('opt/fast-build/entrypoint')).toBe('0000755')
    expect(modes.get('opt/fast-build/runtime-requirements.txt')).toBe('0000644')
    const other = await buildLayer(
      runtimeEntries(
        runtimeFiles({
          variant: 'base',
          platform: { ...platform, runtime: [pkg('exp', '1.1', [file('exp-1.1-py3-none-any.whl', H('b'))])] },
          install: LAYOUT,
          lockPath: LOCK
        })
      ),
      { mtime: RUNTIME_MTIME }
    )
    expect(other.digest).not.toBe(a.digest)
  })

  it('hasRuntime: any platform with run-time packages', () => {
    expect(hasRuntime([{ runtime: [] }, { runtime: [] }])).toBe(false)
    expect(hasRuntime([{ runtime: [] }, { runtime: [pkg('x', '1', [])] }])).toBe(true)
  })

  it.each([
    { name: 'none', entrypoint: null, want: [SHIM_PATH] },
    { name: 'an entrypoint', entrypoint: ['python', '-m', 'app'], want: [SHIM_PATH, 'python', '-m', 'app'] },
    { name: 'already wrapped', entrypoint: [SHIM_PATH, 'x'], want: [SHIM_PATH, 'x'] }
  ])('wrapEntrypoint: $name', ({ entrypoint, want }) => {
    expect(wrapEntrypoint(entrypoint)).toEqual(want)
  })

  const deps: ImageConfig = {
    architecture: 'amd64',
    os: 'linux',
    config: { Entrypoint: ['tini', '--'], Cmd: ['python3'] },
    rootfs: { type: 'layers', diff_ids: [sha256('base')] },
    history: [{ created_by: 'base' }]
  }
  const src = { digest: sha256('s'), size: 1, mediaType: 'x', diffId: sha256('src-tar'), files: 1 }
  const rt = { digest: sha256('r'), size: 1, mediaType: 'x', diffId: sha256('rt-tar'), files: 4, packages: 2 }
  const settings: AppSettings = {
    workdir: '/app',
    env: {},
    pythonPath: [],
    entrypoint: null,
    cmd: null,
    labels: {},
    created: '2025-01-01T00:00:00.000Z'
  }
  it.each([
    {
      name: 'the deps entrypoint, CMD kept',
      s: settings,
      entrypoint: [SHIM_PATH, 'tini', '--'],
      cmd: ['python3']
    },
    {
      name: 'the project’s entrypoint (which drops the inherited CMD)',
      s: { ...settings, entrypoint: ['python3', '-m', 'app'] },
      entrypoint: [SHIM_PATH, 'python3', '-m', 'app'],
      cmd: null
    },
    {
      name: 'the project’s cmd under the deps entrypoint',
      s: { ...settings, cmd: ['python3', '/app/main.py'] },
      entrypoint: [SHIM_PATH, 'tini', '--'],
      cmd: ['python3', '/app/main.py']
    }
  ])('appConfig puts the shim in front of $name', ({ s, entrypoint, cmd }) => {
    const c = appConfig(deps, src, s, rt)
    expect(c.config!.Entrypoint).toEqual(entrypoint)
    expect(c.config!.Cmd).toEqual(cmd)
    expect(c.config!.Labels).toEqual({ [RUNTIME_LABEL]: '2' })
    expect(c.rootfs.diff_ids).toEqual([sha256('base'), sha256('rt-tar'), sha256('src-tar')])
    expect(c.history!.map((h) => h.created_by)).toEqual([
      'base',
      `fast-build: run-time packages (2), installed at start by ${SHIM_PATH}`,
      'fast-build: source layer (1 files) at /app'
    ])
  })

  it('appConfig without a run-time layer is as before', () => {
    const c = appConfig(deps, src, settings)
    expect(c.config!.Entrypoint).toEqual(['tini', '--'])
    expect(c.config!.Labels).toEqual({})
    expect(c.rootfs.diff_ids).toEqual([sha256('base'), sha256('src-tar')])
  })
})

describe('on real locks', () => {
  it.each([
    { name: 'poetry-private-gpt', group: 'dev', some: 'mypy' },
    { name: 'uv-flask', group: 'tests', some: 'pytest' }
  ])(
    '$name: every platform’s requirements are pinned and hashed, the hash ignores them',
    ({ name, group, some }) => {
      const dir = copyCorpusCase(name)
      addFastBuildConfig(
        dir,
        `[tool.fast-build]
python = "3.11"
platforms = ["linux/amd64", "linux/arm64"]
runtime-groups = ["${group}"]
[tool.fast-build.variants]
base = { groups = ["main"] }
`
      )
      const plan = planDir(dir)
      const v = plan.variants[0]!
      expect(hasRuntime(v.platforms)).toBe(true)
      for (const p of v.platforms) {
        const files = runtimeFiles({
          variant: v.name,
          platform: p,
          install: plan.install,
          lockPath: plan.lock.path
        })
        expect(files.requirements.map((r) => r.name)).toContain(some)
        expect(files.requirements.length).toBe(p.runtime.length)
        const lines = files.requirementsText.split('\n').filter((l) => l && !l.startsWith('#'))
        for (const l of lines)
          expect(l).toMatch(/^([a-z0-9-]+==\S+ \\| {4}--hash=sha256:[0-9a-f]{64}( \\)?)$/)
        // Every requirement has at least one hash; none is installed by the deps image.
        for (const r of files.requirements) expect(r.hashes.length).toBeGreaterThan(0)
        const installed = new Set(p.closure.installed.map((e) => e.package.name))
        for (const r of files.requirements) expect(installed.has(normalizeName(r.name))).toBe(false)
      }
    }
  )
})
