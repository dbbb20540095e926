// The one writer of uv projects for tests: pyproject.toml's [project] of an app named `app`, and a
// uv.lock as uv writes it (revision 3: the app as an editable package with its metadata, then one
// [[package]] table per locked package, with registry source, sdist and wheels). fixtures.ts
// fills it with made-up files, wheel-project.ts with wheels a test index serves.

/** A requirement as pyproject.toml and the lock's metadata write it: a name and its specifier. */
export interface Requirement {
  readonly name: string
  readonly specifier?: string
}

export interface UvApp {
  readonly requiresPython: string
  readonly dependencies: readonly Requirement[]
  /** [project.optional-dependencies], in order. */
  readonly extras?: Readonly<Record<string, readonly Requirement[]>>
  /** [dependency-groups], in order. */
  readonly groups?: Readonly<Record<string, readonly Requirement[]>>
}

/** An edge of the lock: `{ name = "x", version = "1", extra = ["e"], marker = "…" }`. */
export interface LockEdge {
  readonly name: string
  readonly version?: string
  readonly extra?: readonly string[]
  readonly marker?: string
}

export interface LockFile {
  readonly url: string
  /** Hex sha256. */
  readonly sha256: string
  readonly size: number
}

export interface LockPackage {
  readonly name: string
  readonly version: string
  /** The index URL of `source = { registry = … }`. */
  readonly registry: string
  readonly dependencies?: readonly LockEdge[]
  readonly sdist?: LockFile
  readonly wheels: readonly LockFile[]
  readonly optionalDependencies?: Readonly<Record<string, readonly LockEdge[]>>
}

const quoted = (rs: readonly Requirement[]) => rs.map((r) => `"${r.name}${r.specifier ?? ''}"`).join(', ')

/** pyproject.toml of `app` up to the end of its [dependency-groups] (a [tool.*] section follows). */
export function appPyproject(app: UvApp): string {
  const extras = Object.entries(app.extras ?? {})
  const groups = Object.entries(app.groups ?? {})
  const table = (name: string, entries: [string, readonly Requirement[]][]) =>
    entries.length ? `\n[${name}]\n${entries.map(([k, rs]) => `${k} = [${quoted(rs)}]`).join('\n')}\n` : ''
  return `[project]
name = "app"
version = "0.1.0"
requires-python = "${app.requiresPython}"
dependencies = [${quoted(app.dependencies)}]
${table('project.optional-dependencies', extras)}${table('dependency-groups', groups)}`
}

function edge(d: LockEdge): string {
  return `    { name = "${d.name}"${d.version ? `, version = "${d.version}"` : ''}${d.extra ? `, extra = [${d.extra.map((e) => `"${e}"`).join(', ')}]` : ''}${d.marker ? `, marker = "${d.marker}"` : ''} },`
}

/** uv.lock up to the app's package and its metadata; the [[package]] tables follow. */
export function uvAppLock(app: UvApp): string {
  const extras = Object.entries(app.extras ?? {})
  const groups = Object.entries(app.groups ?? {})
  const edges = (rs: readonly Requirement[]) => rs.map((r) => edge({ name: r.name })).join('\n')
  const tables = (name: string, entries: [string, readonly Requirement[]][]) =>
    entries.length ? `\n[${name}]\n${entries.map(([k, rs]) => `${k} = [\n${edges(rs)}\n]`).join('\n')}\n` : ''
  const dist = (r: Requirement & { marker?: string }) =>
    `{ name = "${r.name}"${r.marker ? `, marker = "${r.marker}"` : ''}${r.specifier ? `, specifier = "${r.specifier}"` : ''} }`
  // uv lists requires-dist by name, the optional dependencies folded in with their extra's marker.
  const requiresDist = [
    ...app.dependencies,
    ...extras.flatMap(([e, rs]) => rs.map((r) => ({ ...r, marker: `extra == '${e}'` })))
  ].sort((a, b) => a.name.localeCompare(b.name))
  const provides = extras.length ? `provides-extras = [${extras.map(([e]) => `"${e}"`).join(', ')}]\n` : ''
  const requiresDev = groups.length
    ? `\n[package.metadata.requires-dev]\n${groups.map(([g, rs]) => `${g} = [${rs.map(dist).join(', ')}]`).join('\n')}\n`
    : ''
  return `version = 1
revision = 3
requires-python = "${app.requiresPython}"

[[package]]
name = "app"
version = "0.1.0"
source = { editable = "." }
dependencies = [
${edges(app.dependencies)}
]
${tables('package.optional-dependencies', extras)}${tables('package.dev-dependencies', groups)}
[package.metadata]
requires-dist = [
${requiresDist.map((r) => `    ${dist(r)},`).join('\n')}
]
${provides}${requiresDev}
`
}

/** One [[package]] table, as uv writes it (ending in a newline). */
export function uvPackageToml(p: LockPackage): string {
  const file = (f: LockFile) => `{ url = "${f.url}", hash = "sha256:${f.sha256}", size = ${f.size} }`
  const lines = [
    '[[package]]',
    `name = "${p.name}"`,
    `version = "${p.version}"`,
    `source = { registry = "${p.registry}" }`
  ]
  if (p.dependencies?.length) lines.push('dependencies = [', ...p.dependencies.map(edge), ']')
  if (p.sdist) lines.push(`sdist = ${file(p.sdist)}`)
  lines.push('wheels = [', ...p.wheels.map((w) => `    ${file(w)},`), ']')
  const optional = Object.entries(p.optionalDependencies ?? {})
  if (optional.length) {
    lines.push('', '[package.optional-dependencies]')
    for (const [e, deps] of optional) lines.push(`${e} = [`, ...deps.map(edge), ']')
  }
  return lines.join('\n') + '\n'
}
