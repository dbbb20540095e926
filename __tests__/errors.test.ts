// What bad input gets: a clear error naming the file (and line or key) and the fix, exit code 1,
// never a stack trace.
import { describe, expect, it } from '@jest/globals'
import { readFileSync, writeFileSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from '../src/cli.js'
import { DEFAULT_PACKAGES, uvProject, VARIANTS_CONFIG } from './support/fixtures.js'
import { addFastBuildConfig, copyCorpusCase, tempDir, writeFiles } from './support/project.js'

async function plan(dir: string, ...extra: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  const code = await runCli(['plan', '--project', dir, ...extra], {
    out: (t) => (out += t),
    err: (t) => (err += t)
  })
  return { code, out, err }
}

async function fails(dir: string, pattern: RegExp, ...extra: string[]): Promise<string> {
  const r = await plan(dir, ...extra)
  expect(r.err).toMatch(pattern)
  expect(r.code).toBe(1)
  expect(r.err).not.toMatch(/\n\s+at /) // no stack trace
  expect(r.err).not.toMatch(/internal error/)
  return r.err
}

function edit(dir: string, file: string, f: (text: string) => string): void {
  const path = join(dir, file)
  writeFileSync(path, f(readFileSync(path, 'utf8')))
}

describe('malformed files', () => {
  it('pyproject.toml: file, line and column', async () => {
    const dir = uvProject()
    edit(dir, 'pyproject.toml', (t) =>
      t.replace('dependencies = ["requests>=2"]', 'dependencies = ["requests>=2"')
    )
    await fails(dir, /pyproject\.toml:\d+:\d+: malformed TOML/)
  })

  it('uv.lock: file, line and column', async () => {
    const dir = uvProject()
    edit(dir, 'uv.lock', (t) => t.replace('name = "certifi"', 'name = certifi"'))
    const err = await fails(dir, /uv\.lock:\d+:\d+: malformed TOML/)
    expect(err).toMatch(/fix: /)
  })

  it('a marker that does not parse: the key path and the position', async () => {
    const dir = uvProject()
    edit(dir, 'uv.lock', (t) =>
      t.replace('{ name = "certifi" }', `{ name = "certifi", marker = "python_version >= " }`)
    )
    await fails(dir, /uv\.lock: package\[\d+\]\.dependencies\[0\]\.marker: .*column/)
  })

  it('a missing pyproject.toml', async () => {
    await fails(tempDir(), /pyproject\.toml: file not found\n {2}fix: /)
  })
})

describe('lock versions', () => {
  it('refuses an unknown Poetry lock-version', async () => {
    const dir = copyCorpusCase('poetry-poetry-2.1')
    edit(dir, 'poetry.lock', (t) => t.replace('lock-version = "2.1"', 'lock-version = "3.0"'))
    await fails(
      dir,
      /poetry\.lock: metadata\.lock-version: unknown Poetry lock-version "3\.0" .*\n {2}fix: upgrade fast-build/
    )
  })

  it('refuses uv.lock version 2', async () => {
    const dir = uvProject()
    edit(dir, 'uv.lock', (t) => t.replace('version = 1\n', 'version = 2\n'))
    await fails(dir, /uv\.lock: version: unknown uv\.lock version 2/)
  })

  it('reads a newer uv revision with a note', async () => {
    const dir = uvProject()
    edit(dir, 'uv.lock', (t) => t.replace('revision = 3', 'revision = 4'))
    const r = await plan(dir)
    expect(r.code).toBe(0)
    expect(r.err).toMatch(/note: .*uv\.lock: revision 4 is newer/)
  })

  it('refuses pylock lock-version 2', async () => {
    const dir = writeFiles(tempDir(), {
      'pyproject.toml': '[project]\nname = "x"\nversion = "1"\nrequires-python = ">=3.12"\n',
      'pylock.toml': 'lock-version = "2.0"\ncreated-by = "test"\n'
    })
    await fails(dir, /pylock\.toml: lock-version: unknown pylock lock-version "2\.0"/)
  })
})

describe('stale locks', () => {
  it('Poetry: pyproject changed since the lock was written', async () => {
    const dir = copyCorpusCase('poetry-private-gpt')
    edit(dir, 'pyproject.toml', (t) =>
      t.replace('[tool.poetry.dependencies]', '[tool.poetry.dependencies]\nleftpad = "^1.0"')
    )
    const err = await fails(
      dir,
      /poetry\.lock: metadata\.content-hash: lock is stale: .*pyproject\.toml changed/
    )
    expect(err).toMatch(/fix: run `poetry lock`/)
  })

  it('Poetry: [tool.fast-build] edits do not make the lock stale', async () => {
    const dir = copyCorpusCase('poetry-private-gpt')
    addFastBuildConfig(dir, '[tool.fast-build]\npython = "3.11"\n')
    expect((await plan(dir)).code).toBe(0)
  })

  it('uv: a requirement added to pyproject', async () => {
    const dir = uvProject()
    edit(dir, 'pyproject.toml', (t) =>
      t.replace('dependencies = ["requests>=2"]', 'dependencies = ["requests>=2", "httpx>=0.27"]')
    )
    const err = await fails(
      dir,
      /uv\.lock: .*lock is stale: dependencies of app in .*pyproject\.toml differ from the lock; only in pyproject: httpx>=0\.27/
    )
    expect(err).toMatch(/fix: run `uv lock`/)
  })

  it('uv: a changed specifier and a removed group', async () => {
    const dir = uvProject()
    edit(dir, 'pyproject.toml', (t) => t.replace('ml = ["numpy>=2"]', 'ml = ["numpy>=2.1"]'))
    await fails(dir, /extra ml of app .* only in pyproject: numpy>=2\.1; only in the lock: numpy>=2/)
    const dir2 = uvProject()
    edit(dir2, 'pyproject.toml', (t) => t.replace('exp = ["rich"]\n', ''))
    await fails(dir2, /group exp of app .*only in the lock: rich/)
  })

  it('uv: workspace members that disagree with [manifest]', async () => {
    const dir = copyCorpusCase('uv-tiny-workspace')
    edit(dir, 'pyproject.toml', (t) => t.replace('"packages/pkg_versioned",\n', ''))
    await fails(
      dir,
      /uv\.lock: manifest\.members: lock is stale: workspace members differ .*in the lock but not in the workspace: pkg-versioned/
    )
  })

  it('a dependency missing from the lock', async () => {
    const dir = uvProject({ packages: DEFAULT_PACKAGES.filter((p) => p.name !== 'idna') })
    await fails(
      dir,
      /uv\.lock:\d+: requests depends on idna, which is not in the lock\n {2}fix: the lock is out of date: run `uv lock`/
    )
  })
})

describe('selection errors', () => {
  it('an unknown group lists the groups that exist', async () => {
    const dir = uvProject({
      config: VARIANTS_CONFIG.replace('groups = ["main", "dev"]', 'groups = ["main", "devel"]')
    })
    await fails(
      dir,
      /pyproject\.toml: tool\.fast-build\.variants\.dev\.groups: variant dev: unknown group "devel"\n {2}fix: groups are: dev, exp, main/
    )
  })

  it('an unknown extra lists the extras that exist', async () => {
    const dir = uvProject({ config: VARIANTS_CONFIG.replace('extras = ["ml"]', 'extras = ["gpu"]') })
    await fails(dir, /variant ml: unknown extra "gpu"\n {2}fix: extras are: ml/)
  })

  it('an unknown variant on the command line lists the variants', async () => {
    const dir = uvProject({ config: VARIANTS_CONFIG })
    await fails(dir, /unknown variant "prod"\n {2}fix: variants are: base, ml, dev/, '--variant', 'prod')
  })

  it('bad [tool.fast-build] settings', async () => {
    await fails(
      uvProject({ config: '[tool.fast-build]\nplatform = ["linux/amd64"]\n' }),
      /tool\.fast-build\.platform: unknown setting\n {2}fix: known settings are: image, base-image/
    )
    await fails(
      uvProject({ config: '[tool.fast-build]\nplatforms = ["windows/amd64"]\n' }),
      /tool\.fast-build\.platforms\[0\]: unsupported platform "windows\/amd64"/
    )
    await fails(
      uvProject({ config: '[tool.fast-build]\npython = "three"\n' }),
      /tool\.fast-build\.python: "three" is not a Python version/
    )
    await fails(
      uvProject({ config: '[tool.fast-build.variants]\nML = {}\n' }),
      /variant name "ML" cannot be used in an image tag/
    )
    await fails(
      uvProject({ config: '[tool.fast-build]\nplatforms = "linux/amd64"\n' }),
      /tool\.fast-build\.platforms: expected an array, found the string "linux\/amd64"/
    )
  })

  it('two packages of one name that both survive for a platform', async () => {
    const packages = [
      ...DEFAULT_PACKAGES.filter((p) => p.name !== 'requests'),
      {
        name: 'requests',
        version: '2.32.3',
        deps: [{ name: 'certifi' }, { name: 'idna' }, { name: 'numpy', version: '1.26.4' }]
      },
      { name: 'numpy', version: '1.26.4' }
    ]
    const dir = uvProject({ packages, config: VARIANTS_CONFIG })
    edit(dir, 'uv.lock', (t) =>
      t.replace('ml = [\n    { name = "numpy" },', 'ml = [\n    { name = "numpy", version = "2.1.3" },')
    )
    // base alone is fine; ml asks for numpy 2.1.3 next to requests' numpy 1.26.4.
    expect((await plan(dir, '--variant', 'base')).code).toBe(0)
    await fails(
      dir,
      /uv\.lock:\d+: conflicting packages for numpy on linux\/amd64 \(python 3\.12\): 2\.1\.3 from pypi \(required by app\) and 1\.26\.4 from pypi \(required by requests\)/,
      '--variant',
      'ml'
    )
  })

  it('an include-group cycle in [dependency-groups]', async () => {
    const dir = uvProject()
    edit(dir, 'pyproject.toml', (t) =>
      t.replace(
        'exp = ["rich"]',
        'exp = ["rich", {include-group = "loop"}]\nloop = [{include-group = "exp"}]'
      )
    )
    await fails(dir, /pyproject\.toml: dependency-groups\.exp: include-group cycle: exp → loop → exp/)
  })
})

describe('cycles', () => {
  it('a cycle between packages is legal in Python locks: it plans, without hanging', async () => {
    const packages = DEFAULT_PACKAGES.map((p) =>
      p.name === 'certifi' ? { ...p, deps: [{ name: 'requests' }] } : p
    )
    const r = await plan(uvProject({ packages }), '--json')
    expect(r.code).toBe(0)
    const names = JSON.parse(r.out).variants[0].platforms[0].packages.map((p: { name: string }) => p.name)
    expect(names).toEqual(['certifi', 'idna', 'requests'])
  })
})

describe('finding the lock', () => {
  it('no lock at all', async () => {
    const dir = uvProject()
    unlinkSync(join(dir, 'uv.lock'))
    await fails(
      dir,
      /pyproject\.toml: no lock file next to pyproject\.toml .*\n {2}fix: create one with `poetry lock`, `uv lock` or `pip lock`/
    )
  })

  it('several locks ask which one', async () => {
    const dir = uvProject()
    writeFileSync(join(dir, 'poetry.lock'), '')
    await fails(
      dir,
      /several lock files next to pyproject\.toml: poetry\.lock, uv\.lock\n {2}fix: say which one to use, e\.g\. lock = "poetry\.lock"/
    )
  })
})
