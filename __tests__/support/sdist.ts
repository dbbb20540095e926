// Source distributions for tests: a real PEP 517 sdist (`<name>-<version>.tar.gz`) of a one-module
// setuptools project whose module exposes VERSION, servable by the test index like the wheels of
// wheel-project.ts (`servedFiles([...wheels, sdist])`). pip builds it with setuptools.build_meta; with
// build isolation it fetches the build requirements (setuptools>=61, and `wheel`, which setuptools
// 66 asks for) from the same index: serve `buildBackendWheels()` (Debian's wheels) there too.
//
// The archive is written by Python's tarfile with a fixed mtime, owner and order, so the same spec
// gives the same bytes (and sha256) on every run.
import { execFile } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { promisify } from 'node:util'
import { debianWheel } from './buildah.js'
import type { FixtureWheel } from './wheel-fixtures.js'

const exec = promisify(execFile)

export interface SdistSpec {
  readonly project: string
  readonly version: string
  /** The importable module (default: the project name, lowercased, `-`/`.` as `_`). */
  readonly module?: string
}

/** The same record as a built wheel's (servable by `servedFiles`), for an sdist. */
export interface BuiltSdist extends FixtureWheel {
  readonly module: string
}

export function defaultModule(project: string): string {
  return project.toLowerCase().replace(/[-.]+/g, '_')
}

/**
 * The source tree of a setuptools project with one module (`<module>.py`, `VERSION = "<version>"`):
 * `pyproject.toml` (PEP 621 metadata, build-system setuptools>=61) and the module. Shared with the
 * git server's repositories.
 */
export function pythonPackageFiles(spec: SdistSpec): Record<string, string> {
  const module = spec.module ?? defaultModule(spec.project)
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(module)) throw new Error(`not a module name: ${module}`)
  return {
    'pyproject.toml': `[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "${spec.project}"
version = "${spec.version}"
description = "A test package for fast-build"
requires-python = ">=3.8"

[tool.setuptools]
py-modules = ["${module}"]
`,
    [`${module}.py`]: `VERSION = "${spec.version}"\n`
  }
}

// Writes `<name>-<version>.tar.gz` with a top directory `<name>-<version>/`: PKG-INFO (core metadata
// 2.1), pyproject.toml, the module, and setup.cfg as setuptools writes it.
const SCRIPT = `
import gzip, hashlib, io, json, os, re, sys, tarfile
spec = json.loads(sys.argv[1])
out = sys.argv[2]
name = re.sub(r"[-_.]+", "_", spec["project"]).lower()
base = f"{name}-{spec['version']}"
files = dict(spec["files"])
files["PKG-INFO"] = (
    "Metadata-Version: 2.1\\n"
    f"Name: {spec['project']}\\n"
    f"Version: {spec['version']}\\n"
    "Summary: A test package for fast-build\\n"
    "Requires-Python: >=3.8\\n"
)
files["setup.cfg"] = "[egg_info]\\ntag_build = \\ntag_date = 0\\n\\n"
raw = io.BytesIO()
with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
    def add_dir(path):
        info = tarfile.TarInfo(path)
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        info.mtime = 1704067200
        tar.addfile(info)
    add_dir(base)
    for path in sorted(files):
        data = files[path].encode()
        info = tarfile.TarInfo(f"{base}/{path}")
        info.size = len(data)
        info.mode = 0o644
        info.mtime = 1704067200
        tar.addfile(info, io.BytesIO(data))
path = os.path.join(out, base + ".tar.gz")
with open(path, "wb") as f:
    with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0) as gz:
        gz.write(raw.getvalue())
data = open(path, "rb").read()
print(json.dumps({"filename": base + ".tar.gz", "path": path,
                  "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}))
`

/** Write the sdist of `spec` into `dir` (created if missing); its record, with sha256 and size. */
export async function buildSdist(dir: string, spec: SdistSpec): Promise<BuiltSdist> {
  mkdirSync(dir, { recursive: true })
  const module = spec.module ?? defaultModule(spec.project)
  const files = pythonPackageFiles({ ...spec, module })
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' }
  delete env['PYTHONPATH']
  const { stdout } = await exec(
    'python3',
    ['-c', SCRIPT, JSON.stringify({ project: spec.project, version: spec.version, files }), dir],
    { env, timeout: 60_000 }
  )
  const r = JSON.parse(stdout) as { filename: string; path: string; sha256: string; size: number }
  return { project: spec.project, version: spec.version, module, ...r }
}

/**
 * What pip's build isolation installs to build a setuptools sdist: Debian's setuptools (66.1.1,
 * python3-setuptools-whl) and wheel (0.38.4, python3-wheel-whl) wheels, to serve from the index.
 */
export function buildBackendWheels(): FixtureWheel[] {
  return [debianWheel('setuptools'), debianWheel('wheel')]
}
