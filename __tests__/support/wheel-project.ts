// Projects whose lock pins real wheel files served by a test index (pypi-server.ts), for the full
// path end to end: the wheels are built by wheel-fixtures.ts, the uv.lock lists them with their
// URLs, sha256 and sizes as uv writes them.
import { readFileSync } from 'node:fs'
import { parse } from 'smol-toml'
import { poetryContentHashes } from '../../src/lock/poetry-content-hash.js'
import { normalizeName } from '../../src/names.js'
import type { TomlTable } from '../../src/util/toml.js'
import { tempDir, writeFiles } from './project.js'
import { appPyproject, uvAppLock, uvPackageToml, type LockPackage } from './uv-lock.js'
import type { ServedFile } from './pypi-server.js'
import type { FixtureWheel } from './wheel-fixtures.js'

export function servedFiles(wheels: readonly FixtureWheel[]): ServedFile[] {
  return wheels.map((w) => ({ project: w.project, filename: w.filename, bytes: readFileSync(w.path) }))
}

export interface WheelProjectSpec {
  /** The index the lock names as each package's registry (`http://127.0.0.1:PORT/simple`). */
  readonly indexUrl: string
  /** A wheel's download URL as the lock records it. */
  readonly fileUrl: (filename: string) => string
  readonly main: readonly FixtureWheel[]
  /** Dependency groups: name → wheels. */
  readonly groups?: Readonly<Record<string, readonly FixtureWheel[]>>
  /** Extras ([project.optional-dependencies]): name → wheels. */
  readonly extras?: Readonly<Record<string, readonly FixtureWheel[]>>
  /** Raw [[package]] tables appended to the lock (sdist-only or git packages), with their names in main. */
  readonly extraPackages?: readonly { name: string; toml: string }[]
  /** [tool.fast-build] and anything else, appended to pyproject.toml. */
  readonly config: string
  /** Source files besides pyproject.toml and uv.lock. */
  readonly files?: Readonly<Record<string, string>>
  readonly requiresPython?: string
}

/** The lock's table of a wheel the test index serves. */
function wheelLockPackage(w: FixtureWheel, spec: WheelProjectSpec): LockPackage {
  return {
    name: normalizeName(w.project),
    version: w.version,
    registry: spec.indexUrl,
    wheels: [{ url: spec.fileUrl(w.filename), sha256: w.sha256, size: w.size }]
  }
}

/** A uv project `app` depending on `main` (and groups) with a uv.lock pinning exactly those wheels. */
export function wheelProject(spec: WheelProjectSpec, dir = tempDir()): string {
  const requirements = (ws: readonly FixtureWheel[]) => ws.map((w) => ({ name: normalizeName(w.project) }))
  const byName = (ws: Readonly<Record<string, readonly FixtureWheel[]>> = {}) =>
    Object.fromEntries(Object.entries(ws).map(([k, v]) => [k, requirements(v)]))
  const app = {
    requiresPython: spec.requiresPython ?? '>=3.11',
    dependencies: [...requirements(spec.main), ...(spec.extraPackages ?? []).map((p) => ({ name: p.name }))],
    extras: byName(spec.extras),
    groups: byName(spec.groups)
  }
  const all = new Map<string, FixtureWheel>()
  for (const w of [
    ...spec.main,
    ...Object.values(spec.groups ?? {}).flat(),
    ...Object.values(spec.extras ?? {}).flat()
  ])
    all.set(normalizeName(w.project), w)
  const packages = [...all.values()]
    .sort((a, b) => normalizeName(a.project).localeCompare(normalizeName(b.project)))
    .map((w) => uvPackageToml(wheelLockPackage(w, spec)))
    .join('\n')
  const pyproject = `${appPyproject(app)}\n${spec.config}`
  const lock = `${uvAppLock(app)}${packages}\n${(spec.extraPackages ?? []).map((p) => p.toml).join('\n')}`
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
  readonly wheels: readonly FixtureWheel[]
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
