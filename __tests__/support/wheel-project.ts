// Projects whose lock pins real wheel files served by a test index (pypi-server.ts), for the full
// path end to end: the wheels are built here (make_wheels.py, make_simple_wheels.py), the uv.lock
// lists them with their URLs, sha256 and sizes as uv writes them.
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { parse } from 'smol-toml'
import { poetryContentHashes } from '../../src/lock/poetry-content-hash.js'
import type { TomlTable } from '../../src/util/toml.js'
import { tempDir, writeFiles } from './project.js'
import type { ServedFile } from './pypi-server.js'

const run = promisify(execFile)
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'make_simple_wheels.py')

export interface BuiltWheel {
  readonly project: string
  readonly version: string
  readonly filename: string
  readonly path: string
  readonly sha256: string
  readonly size: number
  /** The importable module (simple wheels). */
  readonly module?: string
}

export interface SimpleWheelSpec {
  readonly project: string
  readonly version: string
  readonly modules?: number
  /** Random KiB per module (incompressible). */
  readonly kb?: number
  /** A console script that prints "<project> <version>". */
  readonly script?: string
}

/** Build small pure wheels (deterministic for a given spec). */
export async function buildSimpleWheels(
  dir: string,
  specs: readonly SimpleWheelSpec[]
): Promise<BuiltWheel[]> {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' }
  delete env['PYTHONPATH']
  const child = run('python3', [SCRIPT, dir], { env, maxBuffer: 16 * 1024 * 1024, timeout: 300_000 })
  child.child.stdin!.end(JSON.stringify(specs))
  return JSON.parse((await child).stdout) as BuiltWheel[]
}

export function servedFiles(wheels: readonly BuiltWheel[]): ServedFile[] {
  return wheels.map((w) => ({ project: w.project, filename: w.filename, bytes: readFileSync(w.path) }))
}

export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-')
}

export interface WheelProjectSpec {
  /** The index the lock names as each package's registry (`http://127.0.0.1:PORT/simple`). */
  readonly indexUrl: string
  /** A wheel's download URL as the lock records it. */
  readonly fileUrl: (filename: string) => string
  readonly main: readonly BuiltWheel[]
  /** Dependency groups: name → wheels. */
  readonly groups?: Readonly<Record<string, readonly BuiltWheel[]>>
  /** Extras ([project.optional-dependencies]): name → wheels. */
  readonly extras?: Readonly<Record<string, readonly BuiltWheel[]>>
  /** Raw [[package]] tables appended to the lock (sdist-only or git packages), with their names in main. */
  readonly extraPackages?: readonly { name: string; toml: string }[]
  /** [tool.fast-build] and anything else, appended to pyproject.toml. */
  readonly config: string
  /** Source files besides pyproject.toml and uv.lock. */
  readonly files?: Readonly<Record<string, string>>
  readonly requiresPython?: string
}

function packageToml(w: BuiltWheel, spec: WheelProjectSpec): string {
  return [
    '[[package]]',
    `name = "${normalizeName(w.project)}"`,
    `version = "${w.version}"`,
    `source = { registry = "${spec.indexUrl}" }`,
    'wheels = [',
    `    { url = "${spec.fileUrl(w.filename)}", hash = "sha256:${w.sha256}", size = ${w.size} },`,
    ']',
    ''
  ].join('\n')
}

/** A uv project `app` depending on `main` (and groups) with a uv.lock pinning exactly those wheels. */
export function wheelProject(spec: WheelProjectSpec, dir = tempDir()): string {
  const requiresPython = spec.requiresPython ?? '>=3.11'
  const mainNames = [
    ...spec.main.map((w) => normalizeName(w.project)),
    ...(spec.extraPackages ?? []).map((p) => p.name)
  ]
  const groups = Object.entries(spec.groups ?? {}).map(
    ([g, ws]) => [g, ws.map((w) => normalizeName(w.project))] as const
  )
  const extras = Object.entries(spec.extras ?? {}).map(
    ([e, ws]) => [e, ws.map((w) => normalizeName(w.project))] as const
  )
  const list = (names: readonly string[]) => names.map((n) => `"${n}"`).join(', ')
  const pyproject = `[project]
name = "app"
version = "0.1.0"
requires-python = "${requiresPython}"
dependencies = [${list(mainNames)}]
${extras.length ? `\n[project.optional-dependencies]\n${extras.map(([e, ns]) => `${e} = [${list(ns)}]`).join('\n')}\n` : ''}${groups.length ? `\n[dependency-groups]\n${groups.map(([g, ns]) => `${g} = [${list(ns)}]`).join('\n')}\n` : ''}
${spec.config}`
  const edges = (names: readonly string[]) => names.map((n) => `    { name = "${n}" },`).join('\n')
  const all = new Map<string, BuiltWheel>()
  for (const w of [
    ...spec.main,
    ...Object.values(spec.groups ?? {}).flat(),
    ...Object.values(spec.extras ?? {}).flat()
  ])
    all.set(normalizeName(w.project), w)
  const lock = `version = 1
revision = 3
requires-python = "${requiresPython}"

[[package]]
name = "app"
version = "0.1.0"
source = { editable = "." }
dependencies = [
${edges(mainNames)}
]
${extras.length ? `\n[package.optional-dependencies]\n${extras.map(([e, ns]) => `${e} = [\n${edges(ns)}\n]`).join('\n')}\n` : ''}${groups.length ? `\n[package.dev-dependencies]\n${groups.map(([g, ns]) => `${g} = [\n${edges(ns)}\n]`).join('\n')}\n` : ''}
[package.metadata]
requires-dist = [
${[
  ...mainNames.map((n) => `    { name = "${n}" },`),
  ...extras.flatMap(([e, ns]) => ns.map((n) => `    { name = "${n}", marker = "extra == '${e}'" },`))
].join('\n')}
]
${extras.length ? `provides-extras = [${list(extras.map(([e]) => e))}]\n` : ''}${groups.length ? `\n[package.metadata.requires-dev]\n${groups.map(([g, ns]) => `${g} = [${ns.map((n) => `{ name = "${n}" }`).join(', ')}]`).join('\n')}\n` : ''}
${[...all.values()]
  .sort((a, b) => normalizeName(a.project).localeCompare(normalizeName(b.project)))
  .map((w) => packageToml(w, spec))
  .join('\n')}
${(spec.extraPackages ?? []).map((p) => p.toml).join('\n')}`
  return writeFiles(dir, { ...(spec.files ?? {}), 'pyproject.toml': pyproject, 'uv.lock': lock })
}

/**
 * A Poetry project whose poetry.lock (lock-version 2.1) pins `wheels` from a legacy source named
 * `sourceName` at `indexUrl`: Poetry records file names and hashes only, so the URLs must come
 * from the index's simple API. The content-hash is Poetry's, so the lock reads as fresh.
 */
export function poetryWheelProject(spec: {
  readonly indexUrl: string
  readonly sourceName: string
  readonly wheels: readonly BuiltWheel[]
  readonly config: string
  readonly files?: Readonly<Record<string, string>>
}): string {
  const deps = spec.wheels
    .map((w) => `${normalizeName(w.project)} = { version = "${w.version}", source = "${spec.sourceName}" }`)
    .join('\n')
  const pyproject = `[tool.poetry]
name = "app"
version = "0.1.0"
description = ""
authors = []
package-mode = false

[tool.poetry.dependencies]
python = "^3.11"
${deps}

[[tool.poetry.source]]
name = "${spec.sourceName}"
url = "${spec.indexUrl}"
priority = "explicit"
${spec.config}`
  const packages = [...spec.wheels]
    .sort((a, b) => normalizeName(a.project).localeCompare(normalizeName(b.project)))
    .map(
      (w) => `[[package]]
name = "${normalizeName(w.project)}"
version = "${w.version}"
description = ""
optional = false
python-versions = "*"
groups = ["main"]
files = [
    {file = "${w.filename}", hash = "sha256:${w.sha256}"},
]

[package.source]
type = "legacy"
url = "${spec.indexUrl}"
reference = "${spec.sourceName}"
`
    )
    .join('\n')
  const hash = poetryContentHashes(parse(pyproject) as TomlTable)[0]!
  const lock = `# This file is automatically @generated by Poetry 2.1.3 and should not be changed by hand.

${packages}
[metadata]
lock-version = "2.1"
python-versions = "^3.11"
content-hash = "${hash}"
`
  return writeFiles(tempDir(), { ...(spec.files ?? {}), 'pyproject.toml': pyproject, 'poetry.lock': lock })
}
