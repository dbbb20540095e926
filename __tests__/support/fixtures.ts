// Small, well-formed projects for tests that need a precise shape (bad-input cases, the CLI).
// The uv lock follows what uv writes (revision 3): registry sources, sdist + wheels with hashes,
// [package.metadata] mirroring pyproject.
import { createHash } from 'node:crypto'
import { writeFiles, tempDir } from './project.js'

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

export function uvPackageToml(p: FixturePackage): string {
  const file = p.name.replace(/-/g, '_')
  const lines = [
    '[[package]]',
    `name = "${p.name}"`,
    `version = "${p.version}"`,
    'source = { registry = "https://pypi.org/simple" }'
  ]
  const edge = (d: { name: string; marker?: string; extra?: string[]; version?: string }) =>
    `    { name = "${d.name}"${d.version ? `, version = "${d.version}"` : ''}${d.extra ? `, extra = [${d.extra.map((e) => `"${e}"`).join(', ')}]` : ''}${d.marker ? `, marker = "${d.marker}"` : ''} },`
  if (p.deps?.length) lines.push('dependencies = [', ...p.deps.map(edge), ']')
  lines.push(
    `sdist = { url = "https://files.example/${file}-${p.version}.tar.gz", hash = "sha256:${sha(`${p.name}-${p.version}-sdist`)}", size = 1000 }`
  )
  lines.push('wheels = [')
  for (const tags of p.wheels ?? ['py3-none-any']) {
    const name = `${file}-${p.version}-${tags}.whl`
    lines.push(`    { url = "https://files.example/${name}", hash = "sha256:${sha(name)}", size = 2000 },`)
  }
  lines.push(']')
  if (p.extras) {
    lines.push('', '[package.optional-dependencies]')
    for (const [e, deps] of Object.entries(p.extras)) lines.push(`${e} = [`, ...deps.map(edge), ']')
  }
  return lines.join('\n') + '\n'
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
  const pyproject = `[project]
name = "app"
version = "0.1.0"
requires-python = ">=3.12"
dependencies = ["requests>=2"]

[project.optional-dependencies]
ml = ["numpy>=2"]

[dependency-groups]
dev = ["pytest>=8"]
exp = ["rich"]
${spec.config ?? ''}`
  const lock = `version = 1
revision = 3
requires-python = ">=3.12"

[[package]]
name = "app"
version = "0.1.0"
source = { editable = "." }
dependencies = [
    { name = "requests" },
]

[package.optional-dependencies]
ml = [
    { name = "numpy" },
]

[package.dev-dependencies]
dev = [
    { name = "pytest" },
]
exp = [
    { name = "rich" },
]

[package.metadata]
requires-dist = [
    { name = "numpy", marker = "extra == 'ml'", specifier = ">=2" },
    { name = "requests", specifier = ">=2" },
]
provides-extras = ["ml"]

[package.metadata.requires-dev]
dev = [{ name = "pytest", specifier = ">=8" }]
exp = [{ name = "rich" }]

${packages.map(uvPackageToml).join('\n')}`
  return writeFiles(tempDir(), { 'pyproject.toml': pyproject, 'uv.lock': lock })
}

export const VARIANTS_CONFIG = `
[tool.fast-build]
python = "3.12"
runtime-groups = ["exp"]
[tool.fast-build.variants]
base = { groups = ["main"] }
ml = { groups = ["main"], extras = ["ml"] }
dev = { groups = ["main", "dev"] }
`
