// pyproject.toml → the project model: who the project is, its groups and extras as edges.
// Poetry ([tool.poetry] dependencies, groups, dev-dependencies, extras), PEP 621 ([project]
// dependencies, optional-dependencies), PEP 735 ([dependency-groups] with include-group) and
// uv ([tool.uv] dev-dependencies, workspace, sources) all land in the same shape.
import { join, relative } from 'node:path'
import { ConfigError } from '../errors.js'
import type { DependencyEdge, DirectReference } from '../packaging/dependency.js'
import {
  pep440Matcher,
  poetryMatcher,
  poetryToPep440,
  type VersionMatcher
} from '../packaging/version-matcher.js'
import { parseMarker, parseRequirement, type Marker } from '../markers/index.js'
import { normalizeGroup, normalizeName, type NormalizedName } from '../names.js'
import { isTable, readTomlFile, TomlReader, type TomlTable } from '../util/toml.js'
import { withoutUserinfo } from '../packaging/index-credentials.js'
import { readConfig, type FastBuildConfig } from './config.js'

export const MAIN = 'main' as NormalizedName

export interface PoetrySource {
  readonly name: string
  readonly url: string | null
  readonly priority: string | null
}

export interface Project {
  /** Absolute directory holding pyproject.toml. */
  readonly dir: string
  /** pyproject.toml as the user should read it in messages. */
  readonly file: string
  readonly text: string
  readonly data: TomlTable
  readonly name: NormalizedName | null
  readonly requiresPython: string | null
  /** requires-python as a predicate (PEP 440, or Poetry's syntax for tool.poetry python). */
  readonly pythonConstraint: VersionMatcher | null
  /** Names that [tool.uv.sources] points at a path, git, url or workspace member. */
  readonly uvSourced: ReadonlySet<NormalizedName>
  /** `main` plus every named group, each as edges from the project. */
  readonly groups: ReadonlyMap<NormalizedName, readonly DependencyEdge[]>
  readonly extras: ReadonlyMap<NormalizedName, readonly DependencyEdge[]>
  /** True when [tool.poetry] declares dependencies or groups (a Poetry-managed project). */
  readonly usesPoetry: boolean
  readonly poetrySources: readonly PoetrySource[]
  /** [tool.uv.workspace] members/exclude globs, when declared. */
  readonly uvWorkspace: { readonly members: readonly string[]; readonly exclude: readonly string[] } | null
  readonly config: FastBuildConfig
}

/** Read `<dir>/pyproject.toml`. `display` is how to name the directory in messages. */
export function readProject(dir: string, display?: string): Project {
  const path = join(dir, 'pyproject.toml')
  const file = display ? join(display, 'pyproject.toml') : relative(process.cwd(), path) || path
  const { text, data } = readTomlFile(
    path,
    file,
    ConfigError,
    'run fast-build from the project directory or pass --project DIR'
  )
  return projectFromToml(dir, file, text, data)
}

export function projectFromToml(dir: string, file: string, text: string, data: TomlTable): Project {
  const r = new TomlReader(file, ConfigError)
  const project = r.optTable(data['project'], 'project')
  const tool = r.optTable(data['tool'], 'tool')
  const poetry = tool ? r.optTable(tool['poetry'], 'tool.poetry') : undefined
  const uv = tool ? r.optTable(tool['uv'], 'tool.uv') : undefined

  const nameText =
    r.optString(project?.['name'], 'project.name') ?? r.optString(poetry?.['name'], 'tool.poetry.name')
  const groups = new Map<NormalizedName, DependencyEdge[]>()
  const extras = new Map<NormalizedName, DependencyEdge[]>()

  // --- main dependencies -------------------------------------------------------------------
  const poetryDeps =
    poetry?.['dependencies'] !== undefined
      ? readPoetryDependencyTable(r, poetry['dependencies'], 'tool.poetry.dependencies')
      : []
  const pep621Deps =
    project?.['dependencies'] !== undefined
      ? readRequirementList(r, project['dependencies'], 'project.dependencies')
      : null
  let main: DependencyEdge[]
  if (pep621Deps) {
    // Poetry 2: [project] is the truth; [tool.poetry.dependencies] only adds sources and the like.
    const enrich = new Map(poetryDeps.map((d) => [d.edge.name, d.edge]))
    main = pep621Deps.map((e) => {
      const extra = enrich.get(e.name)
      return extra ? { ...e, sourceName: extra.sourceName, direct: e.direct ?? extra.direct } : e
    })
  } else {
    main = poetryDeps.filter((d) => !d.optional).map((d) => d.edge)
  }
  groups.set(MAIN, main)

  // --- extras ---------------------------------------------------------------------------------
  const optional = r.optTable(project?.['optional-dependencies'], 'project.optional-dependencies')
  if (optional) {
    for (const [extra, list] of Object.entries(optional)) {
      extras.set(
        normalizeGroup(extra),
        readRequirementList(r, list, `project.optional-dependencies.${extra}`)
      )
    }
  }
  const poetryExtras = r.optTable(poetry?.['extras'], 'tool.poetry.extras')
  if (poetryExtras && !optional) {
    for (const [extra, names] of Object.entries(poetryExtras)) {
      const keyPath = `tool.poetry.extras.${extra}`
      const edges: DependencyEdge[] = []
      for (const [i, n] of r.strings(names, keyPath).entries()) {
        const name = normalizeName(n.replace(/\[.*$/, ''))
        // Usually optional dependencies; Poetry also accepts naming a required one.
        const found = poetryDeps.filter((d) => d.edge.name === name)
        if (found.length === 0) {
          r.fail(
            `${keyPath}[${i}]`,
            `extra ${JSON.stringify(extra)} names ${JSON.stringify(n)}, which is not a dependency`,
            `declare it in [tool.poetry.dependencies] with optional = true`
          )
        }
        edges.push(...found.map((d) => d.edge))
      }
      extras.set(normalizeGroup(extra), edges)
    }
  }

  // --- groups -----------------------------------------------------------------------------------
  const addGroup = (name: string, edges: DependencyEdge[]) => {
    const g = normalizeGroup(name)
    groups.set(g, [...(groups.get(g) ?? []), ...edges])
  }
  if (poetry?.['dev-dependencies'] !== undefined) {
    addGroup(
      'dev',
      readPoetryDependencyTable(r, poetry['dev-dependencies'], 'tool.poetry.dev-dependencies').map(
        (d) => d.edge
      )
    )
  }
  const poetryGroups = r.optTable(poetry?.['group'], 'tool.poetry.group')
  if (poetryGroups) {
    for (const [g, body] of Object.entries(poetryGroups)) {
      const t = r.table(body, `tool.poetry.group.${g}`)
      addGroup(
        g,
        readPoetryDependencyTable(r, t['dependencies'] ?? {}, `tool.poetry.group.${g}.dependencies`).map(
          (d) => d.edge
        )
      )
    }
  }
  const depGroups = r.optTable(data['dependency-groups'], 'dependency-groups')
  if (depGroups) {
    for (const [g, edges] of resolveDependencyGroups(r, depGroups)) addGroup(g, edges)
  }
  if (uv?.['dev-dependencies'] !== undefined) {
    addGroup('dev', readRequirementList(r, uv['dev-dependencies'], 'tool.uv.dev-dependencies'))
  }

  const sources = (
    poetry?.['source'] !== undefined ? r.tables(poetry['source'], 'tool.poetry.source') : []
  ).map((s, i) => ({
    name: r.string(s['name'], `tool.poetry.source[${i}].name`),
    url: r.optString(s['url'], `tool.poetry.source[${i}].url`) ?? null,
    priority: r.optString(s['priority'], `tool.poetry.source[${i}].priority`) ?? null
  }))

  const ws = uv ? r.optTable(uv['workspace'], 'tool.uv.workspace') : undefined
  const pep621Python = r.optString(project?.['requires-python'], 'project.requires-python')
  const poetryPython = isTable(poetry?.['dependencies']) ? pythonOfPoetry(r, poetry['dependencies']) : null
  const requiresPython = pep621Python ?? poetryPython
  const pythonConstraint = pep621Python
    ? pep440Matcher(pep621Python)
    : poetryPython
      ? poetryMatcher(poetryPython)
      : null

  const uvSourced = new Set<NormalizedName>()
  for (const [n, src] of Object.entries(r.optTable(uv?.['sources'], 'tool.uv.sources') ?? {})) {
    const entries = Array.isArray(src) ? src : [src]
    if (
      entries.some((e) => isTable(e) && ['path', 'git', 'url', 'workspace', 'editable'].some((k) => k in e))
    )
      uvSourced.add(normalizeName(n))
  }

  return {
    dir,
    file,
    text,
    data,
    name: nameText ? normalizeName(nameText) : null,
    requiresPython,
    pythonConstraint,
    uvSourced,
    groups,
    extras,
    usesPoetry:
      poetry !== undefined && (poetry['dependencies'] !== undefined || poetry['group'] !== undefined),
    poetrySources: sources,
    uvWorkspace: ws
      ? {
          members: r.optStrings(ws['members'], 'tool.uv.workspace.members') ?? [],
          exclude: r.optStrings(ws['exclude'], 'tool.uv.workspace.exclude') ?? []
        }
      : null,
    config: readConfig(data, file)
  }
}

function pythonOfPoetry(r: TomlReader, deps: TomlTable): string | null {
  const p = deps['python']
  if (p === undefined) return null
  return r.string(p, 'tool.poetry.dependencies.python')
}

/** PEP 508 strings → edges. */
export function readRequirementList(r: TomlReader, list: unknown, keyPath: string): DependencyEdge[] {
  return r.strings(list, keyPath).map((text, i) => requirementEdge(text, r.file, `${keyPath}[${i}]`))
}

export function requirementEdge(text: string, file: string, keyPath: string): DependencyEdge {
  const req = parseRequirement(text, { file, keyPath })
  return {
    name: req.name,
    extras: req.extras,
    marker: req.marker,
    version: pep440Matcher(req.specifier),
    pinVersion: null,
    pinSource: null,
    sourceName: null,
    direct: req.url ? directFromUrl(req.url) : null
  }
}

/**
 * `git+https://host/repo.git@rev#subdirectory=x`, `https://…/x.whl`, `file:///…` → a direct
 * reference, its URL without userinfo (as the lock model keeps the package's, which it is matched to).
 */
export function directFromUrl(written: string): DirectReference {
  const url = written.startsWith('file:') ? written : withoutUserinfo(written)
  if (url.startsWith('git+')) {
    const [base, fragment] = url.slice(4).split('#', 2) as [string, string | undefined]
    const sub = fragment ? (/(?:^|&)subdirectory=([^&]+)/.exec(fragment)?.[1] ?? null) : null
    return { kind: 'git', url: stripGitRev(base), subdirectory: sub }
  }
  if (url.startsWith('file:'))
    return { kind: 'path', path: decodeURIComponent(url.replace(/^file:(\/\/)?/, '')) }
  return { kind: 'url', url }
}

/** `https://host/repo.git@v1.2` → `https://host/repo.git` (the rev is in the lock's commit). */
export function stripGitRev(url: string): string {
  const at = url.lastIndexOf('@')
  const slash = url.lastIndexOf('/')
  // An @ after the last slash is a revision; one before it is user@host.
  return at > slash ? url.slice(0, at) : url
}

interface PoetryDep {
  edge: DependencyEdge
  optional: boolean
}

/** [tool.poetry.dependencies]-style table → edges (one per constraint; lists give several). */
export function readPoetryDependencyTable(r: TomlReader, value: unknown, keyPath: string): PoetryDep[] {
  const table = r.table(value, keyPath)
  const out: PoetryDep[] = []
  for (const [rawName, spec] of Object.entries(table)) {
    if (rawName.toLowerCase() === 'python') continue
    const name = normalizeName(rawName)
    const specs = Array.isArray(spec) ? spec : [spec]
    specs.forEach((s, i) => {
      const kp = Array.isArray(spec) ? `${keyPath}.${rawName}[${i}]` : `${keyPath}.${rawName}`
      out.push(poetryDependency(r, name, s, kp))
    })
  }
  return out
}

function poetryDependency(r: TomlReader, name: NormalizedName, spec: unknown, keyPath: string): PoetryDep {
  if (typeof spec === 'string') {
    return { edge: edge(name, [], null, poetryMatcher(spec)), optional: false }
  }
  const t = r.table(spec, keyPath)
  const markerParts: string[] = []
  const markers = r.optString(t['markers'], `${keyPath}.markers`)
  if (markers) markerParts.push(markers)
  const python = r.optString(t['python'], `${keyPath}.python`)
  if (python) {
    const m = pythonConstraintMarker(python)
    if (m) markerParts.push(m)
  }
  const platform = r.optString(t['platform'], `${keyPath}.platform`)
  if (platform) markerParts.push(`sys_platform == ${JSON.stringify(platform)}`)
  const marker =
    markerParts.length === 0
      ? null
      : parseMarker(markerParts.map((m) => (markerParts.length > 1 ? `(${m})` : m)).join(' and '), {
          file: r.file,
          keyPath
        })

  let direct: DirectReference | null = null
  const git = r.optString(t['git'], `${keyPath}.git`)
  const path = r.optString(t['path'], `${keyPath}.path`)
  const url = r.optString(t['url'], `${keyPath}.url`)
  if (git)
    direct = {
      kind: 'git',
      url: withoutUserinfo(git),
      subdirectory: r.optString(t['subdirectory'], `${keyPath}.subdirectory`) ?? null
    }
  else if (path) direct = { kind: 'path', path }
  else if (url) direct = { kind: 'url', url: withoutUserinfo(url) }

  const e: DependencyEdge = {
    ...edge(
      name,
      (r.optStrings(t['extras'], `${keyPath}.extras`) ?? []).map(normalizeGroup),
      marker,
      poetryMatcher(r.optString(t['version'], `${keyPath}.version`) ?? '*')
    ),
    sourceName: r.optString(t['source'], `${keyPath}.source`) ?? null,
    direct
  }
  return { edge: e, optional: r.optBool(t['optional'], `${keyPath}.optional`) ?? false }
}

function edge(
  name: NormalizedName,
  extras: NormalizedName[],
  marker: Marker | null,
  version: DependencyEdge['version']
): DependencyEdge {
  return { name, extras, marker, version, pinVersion: null, pinSource: null, sourceName: null, direct: null }
}

/**
 * Poetry's `python = "^3.8"` on a dependency → a marker string. Versions with two components
 * compare `python_version`; longer ones `python_full_version`, as Poetry itself writes them.
 */
export function pythonConstraintMarker(constraint: string): string | null {
  const alternatives = poetryToPep440(constraint)
  if (alternatives === null || alternatives.some((a) => a.length === 0)) return null
  const parts = alternatives.map((clauses) =>
    clauses
      .map((clause) => {
        const [, op = '==', version = ''] = /^(===|==|!=|~=|>=|<=|>|<)?(.*)$/.exec(clause) ?? []
        const variable =
          version.split('.').length <= 2 && !version.includes('*') ? 'python_version' : 'python_full_version'
        return `${variable} ${op} ${JSON.stringify(version)}`
      })
      .join(' and ')
  )
  return parts.length === 1 ? parts[0]! : parts.map((a) => `(${a})`).join(' or ')
}

/** PEP 735: resolve `{include-group = "…"}` entries, refusing cycles and unknown groups. */
function resolveDependencyGroups(r: TomlReader, groups: TomlTable): Map<string, DependencyEdge[]> {
  const byNormalized = new Map<string, string>()
  for (const g of Object.keys(groups)) {
    const n = normalizeGroup(g)
    if (byNormalized.has(n))
      r.fail(
        `dependency-groups.${g}`,
        `group ${JSON.stringify(g)} is declared twice (as ${JSON.stringify(byNormalized.get(n))})`
      )
    byNormalized.set(n, g)
  }
  const done = new Map<string, DependencyEdge[]>()
  const visit = (g: string, stack: string[]): DependencyEdge[] => {
    const cached = done.get(g)
    if (cached) return cached
    if (stack.includes(g)) {
      r.fail(
        `dependency-groups.${g}`,
        `include-group cycle: ${[...stack, g].join(' → ')}`,
        'remove one of the include-group entries'
      )
    }
    const keyPath = `dependency-groups.${g}`
    const edges: DependencyEdge[] = []
    for (const [i, item] of r.array(groups[g], keyPath).entries()) {
      if (typeof item === 'string') {
        edges.push(requirementEdge(item, r.file, `${keyPath}[${i}]`))
      } else {
        const t = r.table(item, `${keyPath}[${i}]`)
        const inc = r.string(t['include-group'], `${keyPath}[${i}].include-group`)
        const target = byNormalized.get(normalizeGroup(inc))
        if (!target) {
          r.fail(
            `${keyPath}[${i}].include-group`,
            `unknown group ${JSON.stringify(inc)}`,
            `groups are: ${[...byNormalized.values()].join(', ')}`
          )
        }
        edges.push(...visit(target, [...stack, g]))
      }
    }
    done.set(g, edges)
    return edges
  }
  const out = new Map<string, DependencyEdge[]>()
  for (const g of Object.keys(groups)) out.set(g, visit(g, []))
  return out
}
