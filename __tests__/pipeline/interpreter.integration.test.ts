// Images that run, whatever Python the base image has: with no site-packages, interpreter or
// python configured, fast-build reads the base image's layers to find its interpreter and where
// it reads packages (Debian's python3: /usr/local/lib/python3.11/dist-packages; a python.org
// build: /usr/local/lib/python3.11/site-packages), installs the project itself (its .dist-info
// and [project.scripts] commands), and podman runs the result. A python that does not match the
// base image's, and a site-packages setting its Python never reads, fail before any tag is written.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { cli } from '../support/cli.js'
import { startPodman, type Podman } from '../support/podman.js'
import { pushPythonBase, pythonBaseImage } from '../support/python-base.js'
import {
  pushPythonOrgBase,
  pushVenvBase,
  pythonOrgBaseImage,
  venvBaseImage
} from '../support/python-bases.js'
import { startPypiServer, type PypiServer } from '../support/pypi-server.js'
import { tempDir } from '../support/project.js'
import { startRegistry, type TestRegistry } from '../support/registry.js'
import { buildFixtureWheels, type FixtureWheel } from '../support/wheel-fixtures.js'
import { servedFiles, wheelProject } from '../support/wheel-project.js'
import { RegistryClient } from '../../src/registry/client.js'

let reg: TestRegistry
let podman: Podman
let index: PypiServer
let debianRef: string
let pythonOrgRef: string
let venvRef: string
let fixtures: FixtureWheel[]
/** Real numpy from the machine's wheel mirror when it has one (fbext, a C extension, always). */
let numpy: FixtureWheel | null = null

function mirroredNumpy(): FixtureWheel | null {
  const dirs = ['/opt/pypi/simple/numpy', '/opt/pypi/files', '/opt/wheels'].filter((d) => existsSync(d))
  for (const d of dirs) {
    const file = readdirSync(d).find((f) =>
      /^numpy-2\.2\.\d+-cp311-cp311-manylinux_2_17_x86_64.*\.whl$/.test(f)
    )
    if (!file) continue
    const bytes = readFileSync(join(d, file))
    return {
      project: 'numpy',
      version: file.split('-')[1]!,
      filename: file,
      path: join(d, file),
      sha256: createHash('sha256').update(bytes).digest('hex'),
      size: bytes.length
    }
  }
  return null
}

const byProject = (name: string) => fixtures.find((w) => w.project === name && !w.broken)!

beforeAll(async () => {
  const dir = tempDir()
  const [f] = await Promise.all([
    buildFixtureWheels(join(dir, 'fixtures'), { heavyMb: 1 }),
    pythonBaseImage(),
    pythonOrgBaseImage(),
    venvBaseImage()
  ])
  fixtures = f
  numpy = mirroredNumpy()
  reg = await startRegistry()
  podman = startPodman()
  index = await startPypiServer({
    files: [...servedFiles(fixtures.filter((w) => !w.broken)), ...(numpy ? servedFiles([numpy]) : [])]
  })
  debianRef = await pushPythonBase(reg.host, 'base/debian')
  pythonOrgRef = await pushPythonOrgBase(reg.host, 'base/python-org')
  venvRef = await pushVenvBase(reg.host, 'base/venv')
}, 900_000)

afterAll(async () => {
  podman?.close()
  await index?.close()
  await reg?.stop()
})

/** A uv project `app` (fbext, a C extension, and fbpure) with a console script `app-hello`. */
function project(baseImage: string, extra = ''): string {
  return wheelProject({
    indexUrl: index.simpleUrl,
    fileUrl: (f) => index.fileUrl(f),
    main: [byProject('fbext'), byProject('fbpure'), ...(numpy ? [numpy] : [])],
    config: `
[project.scripts]
app-hello = "app.cli:main"

[tool.fast-build]
platforms = ["linux/amd64"]
base-image = "${baseImage}"
workdir = "/app"
${extra}
`,
    files: {
      'app/__init__.py': 'GREETING = "hello from app"\n',
      'app/cli.py':
        'import sys\nimport fbext\nfrom app import GREETING\n\ndef main():\n    print(GREETING, fbext.add(2, 3), sys.executable)\n'
    }
  })
}

/** The repository's tags; a repository nothing was ever tagged in has none (the registry says 404). */
async function tagsOf(repository: string): Promise<string[]> {
  const client = new RegistryClient({ host: reg.host, repository }, {})
  try {
    expect(await client.getManifest('v1-default')).toBeNull()
    return await client.listTags().catch((e: unknown) => {
      if (/404|NAME_UNKNOWN|not found/i.test(String(e))) return []
      throw e
    })
  } finally {
    client.close?.()
  }
}

const CHECK =
  'import fbext, fbpure, app; import importlib.metadata as m; print(m.version("app"), fbext.add(1, 1), fbpure.__file__)'
/** numpy's own C extensions load too, when the mirror gave us numpy. */
const NUMPY = 'import numpy; print(numpy.__version__, int(numpy.arange(5).sum()))'

async function build(dir: string, repo: string) {
  return cli(
    'build',
    '--project',
    dir,
    '--registry',
    `${reg.host}/${repo}`,
    '--tag',
    'v1-{variant}',
    '--cache-dir',
    tempDir(),
    '--json'
  )
}

describe('a Debian bookworm base with python3 from apt, nothing configured', () => {
  let out: string
  beforeAll(async () => {
    const r = await build(project(debianRef), 'debian/app')
    expect(r.err).not.toMatch(/failed/)
    expect(r.code).toBe(0)
    out = r.err
  }, 600_000)

  it('finds the interpreter and installs where it reads packages', () => {
    expect(out).toMatch(
      /python 3\.11 at \/usr\/bin\/python3\.11 \(Debian layout\): packages in \/usr\/local\/lib\/python3\.11\/dist-packages/
    )
    expect(out).toMatch(/python 3\.11: the base image's/)
  })

  it('the image runs: the C extension and the project import, its metadata has the version', async () => {
    const r = await podman.run(`docker://${reg.host}/debian/app:v1-default`, ['python3', '-c', CHECK], {
      timeoutMs: 180_000
    })
    expect(r.stderr).not.toMatch(/Traceback/)
    expect(r.stdout.trim()).toBe('0.1.0 2 /usr/local/lib/python3.11/dist-packages/fbpure/__init__.py')
    if (numpy) {
      const n = await podman.run(`docker://${reg.host}/debian/app:v1-default`, ['python3', '-c', NUMPY], {
        timeoutMs: 180_000
      })
      expect(n.stdout.trim()).toBe(`${numpy.version} 10`)
    }
  })

  it("the project's console script runs, with the base image's interpreter", async () => {
    const r = await podman.run(`docker://${reg.host}/debian/app:v1-default`, ['app-hello'], {
      timeoutMs: 180_000
    })
    expect(r.stderr).toBe('')
    expect(r.stdout.trim()).toBe('hello from app 5 /usr/bin/python3.11')
  })

  it('imports the project without PYTHONPATH too (the .pth of its editable install)', async () => {
    const r = await podman.run(
      `docker://${reg.host}/debian/app:v1-default`,
      [
        'env',
        '-u',
        'PYTHONPATH',
        'python3',
        '-c',
        'import app, importlib.metadata as m; print(app.GREETING, m.distribution("app").read_text("INSTALLER").strip())'
      ],
      { timeoutMs: 180_000 }
    )
    expect(r.stdout.trim()).toBe('hello from app fast-build')
  })

  it('python = "3.13" on that base fails, naming both versions, and pushes nothing', async () => {
    const r = await build(project(debianRef, 'python = "3.13"'), 'debian/mismatch')
    expect(r.code).toBe(1)
    expect(r.err).toMatch(
      /python 3\.13 .*does not match base image .*its python3 is 3\.11 \(\/usr\/bin\/python3\.11\)/
    )
    expect(await tagsOf('debian/mismatch')).toEqual([])
  }, 600_000)

  it('a site-packages its Python never reads is caught from the layers before any tag is written', async () => {
    const r = await build(
      project(debianRef, 'site-packages = "/usr/lib/python3.11/site-packages"'),
      'debian/wrong'
    )
    expect(r.code).toBe(1)
    expect(r.err).toMatch(
      /would not import: .*fbext.*went into \/usr\/lib\/python3\.11\/site-packages, which \/usr\/bin\/python3 \(\/usr\/bin\/python3\.11\) does not read/
    )
    expect(r.err).toMatch(/remove site-packages/)
    expect(await tagsOf('debian/wrong')).toEqual([])
  }, 600_000)
})

describe('a python.org-layout base (as the official python images), nothing configured', () => {
  beforeAll(async () => {
    const r = await build(project(pythonOrgRef), 'org/app')
    expect(r.err).not.toMatch(/failed/)
    expect(r.code).toBe(0)
    expect(r.err).toMatch(
      /python 3\.11\.\d+ at \/usr\/local\/bin\/python3\.11 \(python\.org layout\): packages in \/usr\/local\/lib\/python3\.11\/site-packages/
    )
  }, 600_000)

  it('the image runs and the script starts the /usr/local interpreter', async () => {
    const ref = `docker://${reg.host}/org/app:v1-default`
    const r = await podman.run(ref, ['python3', '-c', CHECK], { timeoutMs: 180_000 })
    expect(r.stderr).not.toMatch(/Traceback/)
    expect(r.stdout.trim()).toBe('0.1.0 2 /usr/local/lib/python3.11/site-packages/fbpure/__init__.py')
    const s = await podman.run(ref, ['app-hello'], { timeoutMs: 180_000 })
    expect(s.stdout.trim()).toBe('hello from app 5 /usr/local/bin/python3.11')
  })
})

describe('a virtualenv base (/opt/venv on PATH), nothing configured', () => {
  it('installs into the venv and the image runs', async () => {
    const r = await build(project(venvRef), 'venv/app')
    expect(r.code).toBe(0)
    expect(r.err).toMatch(
      /\(virtualenv\): packages in \/opt\/venv\/lib\/python3\.11\/site-packages, scripts in \/opt\/venv\/bin/
    )
    const ref = `docker://${reg.host}/venv/app:v1-default`
    const c = await podman.run(ref, ['python3', '-c', CHECK], { timeoutMs: 180_000 })
    expect(c.stdout.trim()).toBe('0.1.0 2 /opt/venv/lib/python3.11/site-packages/fbpure/__init__.py')
    const s = await podman.run(ref, ['app-hello'], { timeoutMs: 180_000 })
    expect(s.stdout.trim()).toBe('hello from app 5 /opt/venv/bin/python3.11')
  }, 600_000)
})
