// Small, well-formed projects for tests that need a precise shape (bad-input cases, the CLI): a uv
// project whose lock (written by uv-lock.ts, as uv writes it) names made-up files with made-up
// hashes; nothing is downloaded from them.
import { createHash } from 'node:crypto'
import { writeFiles, tempDir } from './project.js'
import { appPyproject, uvAppLock, uvPackageToml, type LockPackage } from './uv-lock.js'

export interface FixturePackage {
  name: string
  version: string
  deps?: { name: string; marker?: string; extra?: string[]; version?: string }[]
  /** Wheel tags, e.g. 'py3-none-any' or 'cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64'. */
  wheels?: string[]
  extras?: Record<string, { name: string; marker?: string }[]>
}

function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

/** The lock's table of a fixture package: made-up files on files.example, with made-up hashes. */
export function fixtureLockPackage(p: FixturePackage): LockPackage {
  const file = p.name.replace(/-/g, '_')
  const edges = (ds: readonly { name: string; marker?: string; extra?: string[]; version?: string }[]) =>
    ds.map((d) => ({ ...d }))
  return {
    name: p.name,
    version: p.version,
    registry: 'https://pypi.org/simple',
    ...(p.deps ? { dependencies: edges(p.deps) } : {}),
    sdist: {
      url: `https://files.example/${file}-${p.version}.tar.gz`,
      sha256: sha(`${p.name}-${p.version}-sdist`),
      size: 1000
    },
    wheels: (p.wheels ?? ['py3-none-any']).map((tags) => {
      const name = `${file}-${p.version}-${tags}.whl`
      return { url: `https://files.example/${name}`, sha256: sha(name), size: 2000 }
    }),
    ...(p.extras
      ? {
          optionalDependencies: Object.fromEntries(Object.entries(p.extras).map(([e, ds]) => [e, edges(ds)]))
        }
      : {})
  }
}

export interface UvProjectSpec {
  /** Extra text appended to pyproject.toml (e.g. a [tool.fast-build] section). */
  config?: string
  /** Third-party packages in the lock; defaults to a small realistic set. */
  packages?: FixturePackage[]
}

export const DEFAULT_PACKAGES: FixturePackage[] = [
  { name: 'certifi', version: '2024.8.30' },
  { name: 'idna', version: '3.10' },
  { name: 'requests', version: '2.32.3', deps: [{ name: 'certifi' }, { name: 'idna' }] },
  {
    name: 'numpy',
    version: '2.1.3',
    wheels: [
      'cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64',
      'cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64'
    ]
  },
  { name: 'pytest', version: '8.3.3', deps: [{ name: 'iniconfig' }] },
  { name: 'iniconfig', version: '2.0.0' },
  { name: 'rich', version: '13.9.4' }
]

/**
 * A uv project `app`: main = requests, extra `ml` = numpy, groups `dev` = pytest and `exp` = rich.
 */
export function uvProject(spec: UvProjectSpec = {}): string {
  const packages = spec.packages ?? DEFAULT_PACKAGES
  const app = {
    requiresPython: '>=3.12',
    dependencies: [{ name: 'requests', specifier: '>=2' }],
    extras: { ml: [{ name: 'numpy', specifier: '>=2' }] },
    groups: { dev: [{ name: 'pytest', specifier: '>=8' }], exp: [{ name: 'rich' }] }
  }
  const pyproject = `${appPyproject(app)}${spec.config ?? ''}`
  const lock = `${uvAppLock(app)}${packages.map((p) => uvPackageToml(fixtureLockPackage(p))).join('\n')}`
  return writeFiles(tempDir(), { 'pyproject.toml': pyproject, 'uv.lock': lock })
}

/**
 * [tool.fast-build] of the fast path's tests: an app in /app started by /app/run.sh, an env
 * variable, three variants; the deps images are put where the test wants them.
 */
export const appImageConfig = (baseImage: string, platforms = '"linux/amd64"'): string => `
[tool.fast-build]
python = "3.12"
base-image = "${baseImage}"
platforms = [${platforms}]
workdir = "/app"
entrypoint = ["/bin/sh", "/app/run.sh"]
env = { APP_ENV = "test" }
[tool.fast-build.variants]
base = { groups = ["main"] }
ml = { groups = ["main"], extras = ["ml"] }
dev = { groups = ["main", "dev"] }
`

export const VARIANTS_CONFIG = `
[tool.fast-build]
python = "3.12"
runtime-groups = ["exp"]
[tool.fast-build.variants]
base = { groups = ["main"] }
ml = { groups = ["main"], extras = ["ml"] }
dev = { groups = ["main", "dev"] }
`
