// The project's own editable install (dist-info, .pth, scripts), as pure data; then the entries are
// written into a real virtualenv and Python checks what it sees: importlib.metadata finds the
// distributions and entry points, RECORD's hashes and sizes match the files, the package imports
// through the .pth file alone, the scripts run, and packaging accepts the METADATA.
import { describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import {
  directUrlText,
  distInfoName,
  projectInstallFiles,
  type LocalProject,
  type ProjectInstall,
  type ProjectInstallLayout
} from '../../src/pipeline/project-install.js'
import { ConfigError, describeError } from '../../src/errors.js'
import type { LayerEntry } from '../../src/oci/entry.js'
import { buildLayer } from '../../src/oci/layer.js'
import { parseToml } from '../../src/util/toml.js'
import { parseRecord } from '../../src/wheels/install/records.js'
import { run } from '../support/process.js'
import { tempDir } from '../support/project.js'

const LAYOUT: ProjectInstallLayout = {
  sitePackages: '/usr/local/lib/python3.12/site-packages',
  scripts: '/usr/local/bin',
  interpreter: '/usr/local/bin/python3.12'
}
const SITE = LAYOUT.sitePackages.slice(1)

function pkg(toml: string, over: Partial<LocalProject> = {}): LocalProject {
  return {
    pyproject: parseToml(toml, 'pyproject.toml'),
    file: 'pyproject.toml',
    dirInImage: '/app',
    importRoots: ['/app/src'],
    lockVersion: null,
    ...over
  }
}

function install(packages: LocalProject[], layout = LAYOUT): ProjectInstall {
  return projectInstallFiles({ packages, layout })
}

async function bytesOf(entries: readonly LayerEntry[], path: string): Promise<Buffer> {
  const e = entries.find((x) => x.path === path)
  if (!e || e.type !== 'file') throw new Error(`no file ${path} in ${entries.map((x) => x.path).join(', ')}`)
  const bytes = await e.content()
  expect(bytes.length).toBe(e.size)
  return bytes
}

async function textOf(entries: readonly LayerEntry[], path: string): Promise<string> {
  return (await bytesOf(entries, path)).toString('utf8')
}

function thrown(f: () => unknown): unknown {
  try {
    f()
  } catch (e) {
    return e
  }
  throw new Error('expected an error')
}

const PEP621 = `
[project]
name = "My.App"
version = "1.0.0-RC1"
description = "An app\\n  on two lines"
requires-python = ">=3.9"
dependencies = ["requests >= 2 ; python_version > '3.8'", "click"]

[project.optional-dependencies]
Dev_X = ["pytest", "mypy; sys_platform == 'linux' or sys_platform == 'darwin'"]
fast = ["orjson>=3"]

[project.scripts]
app-cli = "app.main:run"

[project.gui-scripts]
app-gui = "app.main:gui"

[project.entry-points."fast_build.plugins"]
one = "app.plugins:One"
"two words" = "app.plugins"
`

describe('projectInstallFiles: a PEP 621 project', () => {
  const out = install([pkg(PEP621)])
  const distInfo = `${SITE}/my_app-1.0.0rc1.dist-info`

  it('names the dist-info directory with the normalized name and version', () => {
    expect(distInfoName('My.App', '1.0.0-RC1')).toBe('my_app-1.0.0rc1.dist-info')
    expect(distInfoName('a-b_c', '2!1.0.post1')).toBe('a_b_c-2!1.0.post1.dist-info')
    expect(out.distributions).toEqual([{ name: 'My.App', version: '1.0.0rc1', distInfo: '/' + distInfo }])
    expect(out.notes).toEqual([])
  })

  it('writes METADATA with the name as written, requirements and extras', async () => {
    expect(await textOf(out.entries, `${distInfo}/METADATA`)).toBe(
      [
        'Metadata-Version: 2.1',
        'Name: My.App',
        'Version: 1.0.0rc1',
        'Summary: An app on two lines',
        'Requires-Python: >=3.9',
        'Requires-Dist: requests>=2; python_version > "3.8"',
        'Requires-Dist: click',
        'Provides-Extra: dev-x',
        'Requires-Dist: pytest; extra == "dev-x"',
        'Requires-Dist: mypy; (sys_platform == "linux" or sys_platform == "darwin") and extra == "dev-x"',
        'Provides-Extra: fast',
        'Requires-Dist: orjson>=3; extra == "fast"',
        ''
      ].join('\n')
    )
  })

  it('writes entry_points.txt: console, gui, then the other groups', async () => {
    expect(await textOf(out.entries, `${distInfo}/entry_points.txt`)).toBe(
      '[console_scripts]\napp-cli = app.main:run\n\n[gui_scripts]\napp-gui = app.main:gui\n\n' +
        '[fast_build.plugins]\none = app.plugins:One\ntwo words = app.plugins\n\n'
    )
  })

  it('writes INSTALLER, direct_url.json and the .pth with the import roots', async () => {
    expect(await textOf(out.entries, `${distInfo}/INSTALLER`)).toBe('fast-build\n')
    const direct = await textOf(out.entries, `${distInfo}/direct_url.json`)
    expect(direct).toBe('{"dir_info": {"editable": true}, "url": "file:///app"}')
    expect(directUrlText('/srv/my app/ü')).toBe(
      '{"dir_info": {"editable": true}, "url": "file:///srv/my%20app/%C3%BC"}'
    )
    expect(await textOf(out.entries, `${SITE}/__editable__.my_app-1.0.0rc1.pth`)).toBe('/app/src\n')
  })

  it('writes the scripts as the wheel installer does (pip 23 template), executable', async () => {
    expect(out.scripts).toEqual(['/usr/local/bin/app-cli', '/usr/local/bin/app-gui'])
    expect(await textOf(out.entries, 'usr/local/bin/app-cli')).toBe(
      '#!/usr/local/bin/python3.12\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom app.main import run\n' +
        "if __name__ == '__main__':\n    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n" +
        '    sys.exit(run())\n'
    )
    expect(await textOf(out.entries, 'usr/local/bin/app-gui')).toContain('from app.main import gui\n')
  })

  it('lists every file in RECORD with a verifiable sha256 and size, RECORD last without a hash', async () => {
    const record = await textOf(out.entries, `${distInfo}/RECORD`)
    expect(record.endsWith('\r\n')).toBe(true)
    const rows = parseRecord(record)
    expect(rows.map((r) => r.path)).toEqual([
      '../../../bin/app-cli',
      '../../../bin/app-gui',
      '__editable__.my_app-1.0.0rc1.pth',
      'my_app-1.0.0rc1.dist-info/INSTALLER',
      'my_app-1.0.0rc1.dist-info/METADATA',
      'my_app-1.0.0rc1.dist-info/direct_url.json',
      'my_app-1.0.0rc1.dist-info/entry_points.txt',
      'my_app-1.0.0rc1.dist-info/RECORD'
    ])
    expect(rows.at(-1)).toEqual({ path: 'my_app-1.0.0rc1.dist-info/RECORD', hash: '', size: '' })
    for (const row of rows.slice(0, -1)) {
      const path = join('/', SITE, row.path).slice(1)
      const bytes = await bytesOf(out.entries, path)
      const hash = createHash('sha256').update(bytes).digest('base64').replace(/\+/g, '-').replace(/\//g, '_')
      expect(row.hash).toBe(`sha256=${hash.replace(/=+$/, '')}`)
      expect(row.size).toBe(String(bytes.length))
    }
    // Every file of the install is in RECORD.
    const files = out.entries.filter((e) => e.type === 'file').map((e) => e.path)
    expect(files.map((p) => join('/', p)).sort()).toEqual(rows.map((r) => join('/', SITE, r.path)).sort())
  })

  it('gives directories above the files, sorted, scripts executable and nothing else', async () => {
    const paths = out.entries.map((e) => e.path)
    expect(paths).toEqual([...paths].sort())
    expect(out.entries.filter((e) => e.type === 'dir').map((e) => e.path)).toEqual([
      'usr',
      'usr/local',
      'usr/local/bin',
      'usr/local/lib',
      'usr/local/lib/python3.12',
      SITE,
      distInfo
    ])
    for (const e of out.entries) {
      if (e.type !== 'file') continue
      expect(e.executable).toBe(e.path.startsWith('usr/local/bin/'))
    }
    // Deterministic: the same input gives the same layer bytes.
    const again = install([pkg(PEP621)])
    const a = await buildLayer(out.entries, { mtime: 0 })
    const b = await buildLayer(again.entries, { mtime: 0 })
    expect(a.digest).toBe(b.digest)
  })
})

describe('projectInstallFiles: Poetry projects', () => {
  const POETRY = `
[tool.poetry]
name = "poetry-app"
version = "0.3.0"
description = "Poetry made"

[tool.poetry.dependencies]
python = "^3.10"
requests = "^2.28"
rich = { version = "~13.1", extras = ["jupyter"], python = ">=3.11" }
pywin32 = { version = "*", markers = "sys_platform == 'win32'" }
numpy = [
  { version = ">=1.26", python = ">=3.12" },
  { version = "<1.26", python = "<3.12" },
]
tool-lib = { git = "https://github.com/org/tool-lib.git", tag = "v1.0" }
mylib = { path = "../mylib", develop = true }
orjson = { version = "^3.9", optional = true }
dead = { version = "1.0", optional = true }

[tool.poetry.extras]
Fast = ["orjson"]

[tool.poetry.scripts]
plain = "poetry_app.cli:main"
old = { callable = "poetry_app.cli:old" }
new = { reference = "poetry_app.cli:new", type = "console" }
shell = { reference = "bin/run.sh", type = "file" }

[tool.poetry.plugins."poetry_app.hooks"]
hook = "poetry_app.hooks:Hook"
`
  it('writes METADATA as poetry-core would (constraints as PEP 440, python as markers)', async () => {
    const out = install([pkg(POETRY, { file: 'svc/pyproject.toml' })])
    expect(out.distributions.map((d) => `${d.name} ${d.version}`)).toEqual(['poetry-app 0.3.0'])
    const meta = await textOf(out.entries, `${SITE}/poetry_app-0.3.0.dist-info/METADATA`)
    expect(meta).toBe(
      [
        'Metadata-Version: 2.1',
        'Name: poetry-app',
        'Version: 0.3.0',
        'Summary: Poetry made',
        'Requires-Python: >=3.10,<4.0.0',
        'Requires-Dist: requests>=2.28,<3.0.0',
        'Requires-Dist: rich[jupyter]>=13.1,<13.2.0; python_version >= "3.11"',
        'Requires-Dist: pywin32; sys_platform == "win32"',
        'Requires-Dist: numpy>=1.26; python_version >= "3.12"',
        'Requires-Dist: numpy<1.26; python_version < "3.12"',
        'Requires-Dist: tool-lib @ git+https://github.com/org/tool-lib.git@v1.0',
        'Requires-Dist: mylib',
        'Provides-Extra: fast',
        'Requires-Dist: orjson>=3.9,<4.0.0; extra == "fast"',
        ''
      ].join('\n')
    )
    expect(await textOf(out.entries, `${SITE}/poetry_app-0.3.0.dist-info/entry_points.txt`)).toBe(
      '[console_scripts]\nplain = poetry_app.cli:main\nold = poetry_app.cli:old\nnew = poetry_app.cli:new\n\n' +
        '[poetry_app.hooks]\nhook = poetry_app.hooks:Hook\n\n'
    )
    expect(out.scripts).toEqual(['/usr/local/bin/new', '/usr/local/bin/old', '/usr/local/bin/plain'])
    expect(await textOf(out.entries, 'usr/local/bin/old')).toContain('from poetry_app.cli import old\n')
    expect(out.notes).toEqual([
      'svc/pyproject.toml: tool.poetry.scripts.shell: a script of type "file" is not installed (its file is copied by poetry build only); run it by its path'
    ])
  })

  it('takes [project] first and [tool.poetry] for what it leaves out (Poetry 2)', async () => {
    const out = install([
      pkg(`
[project]
name = "p2"
dynamic = ["version", "dependencies"]
[tool.poetry]
version = "2.0"
[tool.poetry.dependencies]
httpx = ">=0.27"
`)
    ])
    const meta = await textOf(out.entries, `${SITE}/p2-2.0.dist-info/METADATA`)
    expect(meta).toBe('Metadata-Version: 2.1\nName: p2\nVersion: 2.0\nRequires-Dist: httpx>=0.27\n')
  })
})

describe('projectInstallFiles: versions, names, several packages', () => {
  const DYNAMIC = '[project]\nname = "dyn"\ndynamic = ["version"]\n'

  it('takes a dynamic version from the lock, else 0+unknown with a note', () => {
    expect(install([pkg(DYNAMIC, { lockVersion: '1.2.3' })]).distributions[0]!.version).toBe('1.2.3')
    const out = install([pkg(DYNAMIC)])
    expect(out.distributions[0]!.version).toBe('0+unknown')
    expect(out.distributions[0]!.distInfo).toBe(`/${SITE}/dyn-0+unknown.dist-info`)
    expect(out.notes).toEqual([
      'pyproject.toml: the version is dynamic and the lock has none, so the project is installed as version 0+unknown (importlib.metadata.version() returns that)'
    ])
  })

  it('skips a package without a name, with a note', () => {
    const out = install([pkg('[tool.uv]\npackage = false\n', { file: 'ws/pyproject.toml' })])
    expect(out.entries).toEqual([])
    expect(out.distributions).toEqual([])
    expect(out.notes).toEqual([
      'ws/pyproject.toml: names no project ([project] name or [tool.poetry] name), so it is not installed (no .dist-info, no scripts)'
    ])
  })

  it('installs local packages next to the project; a name or script given twice is kept from the first', async () => {
    const out = install([
      pkg('[project]\nname = "app"\nversion = "1"\n[project.scripts]\ngo = "app:go"\n'),
      pkg('[project]\nname = "lib"\nversion = "2"\n[project.scripts]\ngo = "lib:go"\nlib = "lib:main"\n', {
        file: 'libs/lib/pyproject.toml',
        dirInImage: '/app/libs/lib',
        importRoots: ['/app/libs/lib', '/app/libs/lib/src']
      }),
      pkg('[project]\nname = "App"\nversion = "3"\n', { file: 'other/pyproject.toml' })
    ])
    expect(out.distributions.map((d) => d.distInfo)).toEqual([
      `/${SITE}/app-1.dist-info`,
      `/${SITE}/lib-2.dist-info`
    ])
    expect(out.scripts).toEqual(['/usr/local/bin/go', '/usr/local/bin/lib'])
    expect(await textOf(out.entries, 'usr/local/bin/go')).toContain('from app import go\n')
    expect(await textOf(out.entries, `${SITE}/__editable__.lib-2.pth`)).toBe(
      '/app/libs/lib\n/app/libs/lib/src\n'
    )
    expect(await textOf(out.entries, `${SITE}/lib-2.dist-info/direct_url.json`)).toContain(
      '"file:///app/libs/lib"'
    )
    // The lib's RECORD does not claim the script it did not write.
    expect(
      parseRecord(await textOf(out.entries, `${SITE}/lib-2.dist-info/RECORD`)).map((r) => r.path)
    ).toContain('../../../bin/lib')
    expect(
      parseRecord(await textOf(out.entries, `${SITE}/lib-2.dist-info/RECORD`)).map((r) => r.path)
    ).not.toContain('../../../bin/go')
    expect(out.notes).toEqual([
      'libs/lib/pyproject.toml: the script go is already installed from pyproject.toml; this one is skipped',
      'other/pyproject.toml: App is already installed from pyproject.toml; this one is skipped'
    ])
  })
})

describe('projectInstallFiles: errors', () => {
  const cases: [string, string, string][] = [
    [
      '[project]\nname = "a"\nversion = "1"\n[project.scripts]\nname = "not a callable"\n',
      'project.scripts.name',
      'module:function'
    ],
    [
      '[project]\nname = "a"\nversion = "1"\n[project.scripts]\nname = "app.main"\n',
      'project.scripts.name',
      'module:function'
    ],
    [
      '[project]\nname = "a"\nversion = "1"\n[project.gui-scripts]\n"a/b" = "m:f"\n',
      'project.gui-scripts."a/b"',
      'name'
    ],
    [
      '[tool.poetry]\nname = "a"\nversion = "1"\n[tool.poetry.scripts]\nx = { reference = "m:f g" }\n',
      'tool.poetry.scripts.x.reference',
      'module:function'
    ],
    [
      '[project]\nname = "a"\nversion = "1"\n[project.entry-points."my.group"]\nx = "bad ref!"\n',
      'project.entry-points."my.group".x',
      'object reference'
    ],
    [
      '[project]\nname = "a"\nversion = "1"\n[project.entry-points.console_scripts]\nx = "m:f"\n',
      'project.entry-points.console_scripts',
      'entry-point group'
    ],
    ['[project]\nname = "a"\nversion = "one"\n', 'project.version', 'PEP 440'],
    ['[project]\nname = "-a-"\nversion = "1"\n', 'project.name', 'valid project name'],
    ['[project]\nname = "a"\nversion = "1"\ndependencies = ["requests >="]\n', 'project.dependencies[0]', '']
  ]
  it.each(cases)('refuses %j at %s', (toml, keyPath, words) => {
    const e = thrown(() => install([pkg(toml, { file: 'svc/pyproject.toml' })]))
    expect(e).toBeInstanceOf(Error)
    const err = e as ConfigError
    expect(err.location.file).toBe('svc/pyproject.toml')
    expect(err.location.keyPath).toBe(keyPath)
    expect(err.message).toContain(words)
    if (err instanceof ConfigError) expect(err.hint).toBeTruthy()
  })

  it('describes a bad script with the file, key path and the fix', () => {
    const e = thrown(() =>
      install([pkg('[project]\nname = "a"\nversion = "1"\n[project.scripts]\nname = "not a callable"\n')])
    )
    expect(e).toBeInstanceOf(ConfigError)
    expect(describeError(e)).toBe(
      'pyproject.toml: project.scripts.name: "not a callable" is not a "module:function" reference\n' +
        '  fix: write name = "package.module:function", naming the function the command runs'
    )
  })

  it('refuses relative layout paths', () => {
    expect(thrown(() => install([], { ...LAYOUT, sitePackages: 'lib/site-packages' }))).toBeInstanceOf(
      ConfigError
    )
    expect(thrown(() => install([pkg(PEP621, { importRoots: ['src'] })]))).toBeInstanceOf(ConfigError)
  })
})

// ---------------------------------------------------------------------------------------------
// Python reads what we wrote

async function python(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const clean: NodeJS.ProcessEnv = { ...process.env, PIP_CONFIG_FILE: '/dev/null', ...env }
  delete clean['PYTHONPATH']
  delete clean['PIP_FIND_LINKS']
  const [file, ...rest] = args
  const r = await run(file!, rest, { env: clean, cwd: '/' })
  if (r.code !== 0) throw new Error(`${args.join(' ')} failed (${r.code}):\n${r.stdout}\n${r.stderr}`)
  return r.stdout
}

async function writeEntries(entries: readonly LayerEntry[]): Promise<void> {
  for (const e of entries) {
    const path = '/' + e.path
    if (e.type === 'dir') mkdirSync(path, { recursive: true })
    else if (e.type === 'file') {
      mkdirSync(dirname(path), { recursive: true })
      writeFileSync(path, await e.content(), { mode: e.executable ? 0o755 : 0o644 })
    }
  }
}

const CHECK = `
import base64, hashlib, json, sys, importlib.metadata as m
import app.main, mylib
out = {
  'version': m.version('app'),
  'lib_version': m.version('my-lib'),
  'summary': m.metadata('app')['Summary'],
  'requires': m.requires('app'),
  'console': sorted([e.name, e.value] for e in m.entry_points(group='console_scripts')),
  'plugins': sorted([e.name, e.load().__name__] for e in m.entry_points(group='app.plugins')),
  'app_file': app.main.__file__,
  'lib_file': mylib.__file__,
  'direct_url': json.loads(m.distribution('app').read_text('direct_url.json')),
  'installer': m.distribution('app').read_text('INSTALLER'),
  'bad': [],
  'files': [],
}
for name in ('app', 'my-lib'):
  for f in m.distribution(name).files:
    out['files'].append(str(f))
    p = f.locate()
    if f.hash is None:
      if not str(f).endswith('RECORD'): out['bad'].append('no hash: ' + str(f))
      continue
    data = p.read_bytes()
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
    if f.hash.mode != 'sha256' or digest != f.hash.value or len(data) != f.size: out['bad'].append(str(f))
print(json.dumps(out))
`

describe('projectInstallFiles: the install in a real virtualenv', () => {
  it('imports, reports versions and entry points, verifies RECORD and runs the scripts', async () => {
    const tmp = tempDir('fast-build-project-install-')
    try {
      await checkVirtualenv(tmp)
    } finally {
      rmSync(tmp, { recursive: true, force: true })
    }
  })
})

async function checkVirtualenv(tmp: string): Promise<void> {
  const venv = join(tmp, 'venv')
  await python(['python3', '-m', 'venv', '--without-pip', venv])
  const interpreter = join(venv, 'bin', 'python')
  const sitePackages = (
    await python([interpreter, '-c', "import sysconfig; print(sysconfig.get_path('purelib'))"])
  ).trim()
  // The project (src layout) and a Poetry path package under _local, as the source layer ships them.
  const app = join(tmp, 'app')
  const lib = join(app, '_local', 'mylib')
  const files: Record<string, string> = {
    [join(app, 'src/app/__init__.py')]: '',
    [join(app, 'src/app/main.py')]:
      'import sys\ndef run():\n    print("hello from app", sys.argv[1:])\n    return 3\n' +
      'def gui():\n    print("gui")\n',
    [join(app, 'src/app/plugins.py')]: 'class One: pass\n',
    [join(lib, 'mylib/__init__.py')]: 'def main():\n    print("hello from mylib")\n'
  }
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(path, text)
  }
  const out = projectInstallFiles({
    packages: [
      pkg(
        `
[project]
name = "app"
dynamic = ["version"]
description = "The app"
dependencies = ["my-lib"]
[project.scripts]
app-cli = "app.main:run"
[project.gui-scripts]
app-gui = "app.main:gui"
[project.entry-points."app.plugins"]
one = "app.plugins:One"
`,
        { dirInImage: app, importRoots: [join(app, 'src')], lockVersion: '0.1.0' }
      ),
      pkg(
        `
[tool.poetry]
name = "My_Lib"
version = "2.0.0"
packages = [{ include = "mylib" }]
[tool.poetry.scripts]
lib-cli = { callable = "mylib:main" }
`,
        { file: '_local/mylib/pyproject.toml', dirInImage: lib, importRoots: [lib] }
      )
    ],
    layout: { sitePackages, scripts: join(venv, 'bin'), interpreter }
  })
  expect(out.notes).toEqual([])
  await writeEntries(out.entries)

  const seen = JSON.parse(await python([interpreter, '-c', CHECK])) as Record<string, unknown>
  expect(seen).toMatchObject({
    version: '0.1.0',
    lib_version: '2.0.0',
    summary: 'The app',
    requires: ['my-lib'],
    console: [
      ['app-cli', 'app.main:run'],
      ['lib-cli', 'mylib:main']
    ],
    plugins: [['one', 'One']],
    app_file: join(app, 'src/app/main.py'),
    lib_file: join(lib, 'mylib/__init__.py'),
    direct_url: { dir_info: { editable: true }, url: `file://${app}` },
    installer: 'fast-build\n',
    bad: []
  })
  expect(seen['files']).toContain('../../../bin/app-cli')

  // The scripts run by their shebang (the venv's python), and pass the exit status on.
  const cli = await run(join(venv, 'bin', 'app-cli'), ['a', 'b'], {
    env: { ...process.env, PYTHONPATH: '' }
  })
  expect(cli.stdout).toBe("hello from app ['a', 'b']\n")
  expect(cli.code).toBe(3)
  expect((await run(join(venv, 'bin', 'lib-cli'), [])).stdout).toBe('hello from mylib\n')
  expect((await run(join(venv, 'bin', 'app-gui'), [])).stdout).toBe('gui\n')

  // packaging (the reference for metadata) accepts both METADATA files.
  const metadataFiles = out.distributions.map((d) => join(d.distInfo, 'METADATA'))
  const parsed = await python([
    'python3',
    '-c',
    'import json, sys\nfrom packaging.metadata import Metadata\n' +
      'print(json.dumps([[str(m.name), str(m.version), [str(r) for r in (m.requires_dist or [])]] for m in ' +
      '(Metadata.from_email(open(p, encoding="utf-8").read(), validate=True) for p in sys.argv[1:])]))',
    ...metadataFiles
  ])
  expect(JSON.parse(parsed)).toEqual([
    ['app', '0.1.0', ['my-lib']],
    ['My_Lib', '2.0.0', []]
  ])
}
