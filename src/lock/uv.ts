// uv.lock (version 1, revisions 1–3) → the common lock model, plus uv's freshness check:
// the workspace members and each member's requirements must agree with [manifest] and
// [package.metadata].
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { LockError } from '../errors.js'
import { normalizeGroup, normalizeName, type NormalizedName } from '../names.js'
import { readProject, MAIN, type Project } from '../project/pyproject.js'
import { describeType, isTable, TomlReader, type TomlTable } from '../util/toml.js'
import { keepUserinfo, withoutUserinfo } from '../packaging/index-credentials.js'
import { arrayTableLines } from './lines.js'
import {
  fileKind,
  fileNameFromUrl,
  packagesByName,
  lazyMarker,
  lazyProperty,
  parseHashString,
  type DependencyEdge,
  type Lock,
  type LockedFile,
  type LockedPackage,
  type PackageSource,
  type RootPackage
} from './model.js'

const MAX_REVISION = 3

export interface UvReadOptions {
  /** Skip the pyproject agreement check (used when the caller has no workspace on disk). */
  readonly checkFreshness?: boolean
}

export function readUvLock(
  text: string,
  data: TomlTable,
  file: string,
  project: Project,
  opts: UvReadOptions = {}
): Lock & { notes: string[] } {
  const r = new TomlReader(file, LockError)
  const notes: string[] = []
  const version = data['version']
  if (version !== 1) {
    r.fail(
      'version',
      `unknown uv.lock version ${typeof version === 'number' || typeof version === 'string' ? JSON.stringify(version) : describeType(version)} (fast-build reads version 1)`,
      typeof version === 'number' && version > 1
        ? 'upgrade fast-build, or lock with a uv release that writes version 1'
        : 'regenerate the lock with `uv lock`'
    )
  }
  const rev = data['revision']
  if (rev !== undefined && !(typeof rev === 'number' && Number.isInteger(rev) && rev >= 1))
    r.fail(
      'revision',
      `expected a revision number, found ${describeType(rev)}`,
      'regenerate the lock with `uv lock`'
    )
  const revision = typeof rev === 'number' ? rev : 1
  if (revision > MAX_REVISION) {
    notes.push(
      `${file}: revision ${revision} is newer than the revisions fast-build was tested with (up to ${MAX_REVISION}); reading it as revision ${MAX_REVISION}`
    )
  }

  const lines = arrayTableLines(text)
  const metadata = new Map<LockedPackage, LockMetadata>()
  const packages = r
    .tables(data['package'] ?? [], 'package')
    .map((p, i) => readPackage(r, p, i, lines[i] ?? 0, metadata))
  const byName = packagesByName(packages)

  const manifest = r.optTable(data['manifest'], 'manifest')
  const memberNames = (r.optStrings(manifest?.['members'], 'manifest.members') ?? []).map(normalizeName)
  const roots = uvRoots(r, project, packages, memberNames)

  if (opts.checkFreshness !== false) checkFreshness(r, project, packages, metadata, memberNames, roots)

  return {
    path: file,
    format: 'uv',
    version: `${version}.${revision}`,
    packages,
    byName,
    requiresPython: r.optString(data['requires-python'], 'requires-python') ?? null,
    selection: 'graph',
    roots,
    conflictNames: conflictNames(r, data['conflicts'], text),
    declared: null,
    notes
  }
}

interface LockMetadata {
  /** requires-dist, plus requires-dev by group, as comparable keys. */
  readonly requirements: ReadonlyMap<string, readonly string[]>
}

function readPackage(
  r: TomlReader,
  p: TomlTable,
  i: number,
  line: number,
  metadata: Map<LockedPackage, LockMetadata>
): LockedPackage {
  const at = `package[${i}]`
  const displayName = r.string(p['name'], `${at}.name`)
  const name = normalizeName(displayName)
  const version = r.optString(p['version'], `${at}.version`) ?? null
  const sourceTable = r.table(
    p['source'] ??
      r.fail(
        `${at}.source`,
        `package ${displayName} has no source`,
        'regenerate the lock with `uv lock`',
        line
      ),
    `${at}.source`
  )
  const source = readSource(r, sourceTable, `${at}.source`)
  const ref = sourceKey(r, sourceTable, `${at}.source`)

  const files = (): LockedFile[] => {
    const out: LockedFile[] = []
    const sdist = r.optTable(p['sdist'], `${at}.sdist`)
    if (sdist) out.push(readFile(r, sdist, `${at}.sdist`, displayName, version, 'sdist'))
    for (const [j, w] of (p['wheels'] === undefined ? [] : r.tables(p['wheels'], `${at}.wheels`)).entries()) {
      out.push(readFile(r, w, `${at}.wheels[${j}]`, displayName, version, 'wheel'))
    }
    return out
  }

  const edges = (v: unknown, kp: string) =>
    v === undefined ? [] : r.tables(v, kp).map((e, j) => readEdge(r, e, `${kp}[${j}]`))
  const groupTable = (v: unknown, kp: string) => {
    const m = new Map<NormalizedName, DependencyEdge[]>()
    for (const [k, list] of Object.entries(r.optTable(v, kp) ?? {}))
      m.set(normalizeGroup(k), edges(list, `${kp}.${k}`))
    return m
  }

  const pkg = lazyProperty<LockedPackage, 'files'>(
    {
      id: version === null ? `${name} (${ref})` : `${name}==${version} (${ref})`,
      name,
      version,
      source,
      sourceRef: ref,
      dependencies: edges(p['dependencies'], `${at}.dependencies`),
      extras: groupTable(p['optional-dependencies'], `${at}.optional-dependencies`),
      groups: groupTable(p['dev-dependencies'], `${at}.dev-dependencies`),
      recorded: null,
      line
    },
    'files',
    files
  )
  const meta = r.optTable(p['metadata'], `${at}.metadata`)
  if (meta && source.kind === 'directory') metadata.set(pkg, readMetadata(r, meta, `${at}.metadata`))
  return pkg
}

function readMetadata(r: TomlReader, meta: TomlTable, at: string): LockMetadata {
  const requirements = new Map<string, string[]>()
  const add = (section: string, t: TomlTable, kp: string) => {
    const extras = t['extras'] === undefined ? [] : r.strings(t['extras'], `${kp}.extras`)
    const marker = typeof t['marker'] === 'string' ? t['marker'] : ''
    // Optional dependencies are folded into requires-dist with an `extra == '…'` marker.
    const extra = /extra\s*==\s*['"]([^'"]+)['"]/.exec(marker)?.[1]
    const direct = ['path', 'git', 'url', 'editable', 'directory', 'workspace'].some((k) => k in t)
    const spec = !direct && typeof t['specifier'] === 'string' ? t['specifier'] : ''
    const key = requirementKey(r.string(t['name'], `${kp}.name`), extras, spec)
    const where = section === 'main' && extra ? `extra:${normalizeGroup(extra)}` : section
    // Appended in place: copying the list for every entry made reading quadratic.
    const list = requirements.get(where)
    if (list) list.push(key)
    else requirements.set(where, [key])
  }
  const dist =
    meta['requires-dist'] === undefined ? [] : r.tables(meta['requires-dist'], `${at}.requires-dist`)
  for (const [i, t] of dist.entries()) add('main', t, `${at}.requires-dist[${i}]`)
  for (const [g, list] of Object.entries(r.optTable(meta['requires-dev'], `${at}.requires-dev`) ?? {})) {
    for (const [i, t] of r.tables(list, `${at}.requires-dev.${g}`).entries())
      add(`group:${normalizeGroup(g)}`, t, `${at}.requires-dev.${g}[${i}]`)
  }
  return { requirements }
}

/**
 * uv's encoding of a declared conflict item as a marker extra: `extra-<len>-<package>-<extra>`,
 * `group-<len>-<package>-<group>`, or `project-<len>-<package>` (len is the package name's length).
 */
export function conflictName(pkg: string, item: { extra?: string; group?: string }): string {
  const p = normalizeName(pkg)
  if (item.extra !== undefined) return `extra-${p.length}-${p}-${normalizeGroup(item.extra)}`
  if (item.group !== undefined) return `group-${p.length}-${p}-${normalizeGroup(item.group)}`
  return `project-${p.length}-${p}`
}

/** One item of a declared conflict set: a package's extra, a package's group, or a package. */
export interface ConflictItem {
  readonly package: NormalizedName
  readonly kind: 'extra' | 'group' | 'project'
  /** The extra or group name (null for a project item). */
  readonly name: NormalizedName | null
  /** How markers in the lock spell it (see conflictName). */
  readonly encoded: string
}

/**
 * The lock's `conflicts`: the encoded names (what `Lock.conflictNames` promises) plus the sets
 * themselves, which the planner needs to refuse a selection that turns on two items of one set.
 * A Set subclass so that the common lock model keeps its shape; `declaredConflicts` reads it back.
 */
export class DeclaredConflicts extends Set<string> {
  constructor(
    readonly sets: readonly (readonly ConflictItem[])[],
    /** 1-based line of `conflicts =` in the lock (0 when unknown). */
    readonly line: number
  ) {
    super(sets.flatMap((s) => s.map((i) => i.encoded)))
  }
}

/** The declared conflict sets of a uv lock (none for other formats or a lock without them). */
export function declaredConflicts(lock: Lock): DeclaredConflicts | null {
  return lock.conflictNames instanceof DeclaredConflicts && lock.conflictNames.sets.length > 0
    ? lock.conflictNames
    : null
}

/** `pydantic-ai-slim[mcp-tasks]`, `group dev of pydantic-ai`, `project foo`: as a user reads it. */
export function describeConflictItem(item: ConflictItem): string {
  switch (item.kind) {
    case 'extra':
      return `${item.package}[${item.name}]`
    case 'group':
      return `group ${item.name} of ${item.package}`
    case 'project':
      return `project ${item.package}`
  }
}

function conflictNames(r: TomlReader, value: unknown, text: string): DeclaredConflicts {
  const sets: ConflictItem[][] = []
  for (const [i, set] of (value === undefined ? [] : r.array(value, 'conflicts')).entries()) {
    sets.push(
      r.tables(set, `conflicts[${i}]`).map((item, j) => {
        const at = `conflicts[${i}][${j}]`
        const pkg = normalizeName(r.string(item['package'], `${at}.package`))
        const extra = r.optString(item['extra'], `${at}.extra`)
        const group = r.optString(item['group'], `${at}.group`)
        const kind = extra !== undefined ? 'extra' : group !== undefined ? 'group' : 'project'
        const name = extra ?? group
        return {
          package: pkg,
          kind,
          name: name === undefined ? null : normalizeGroup(name),
          encoded: conflictName(pkg, {
            ...(extra !== undefined ? { extra } : {}),
            ...(group !== undefined ? { group } : {})
          })
        }
      })
    )
  }
  const at = sets.length > 0 ? /^conflicts\s*=/m.exec(text) : null
  const line = at ? text.slice(0, at.index).split('\n').length : 0
  return new DeclaredConflicts(sets, line)
}

const SOURCE_KINDS = ['registry', 'git', 'url', 'path', 'directory', 'editable', 'virtual']

/**
 * A stable text for a `source = {…}` table, used to match edges that pin a source: its kind (the
 * key that says it, wherever it stands in the table) and that key's value. It enters package ids,
 * which messages print: URLs lose their userinfo (see keepUserinfo).
 */
function sourceKey(r: TomlReader, t: TomlTable, at: string): string {
  const kind = SOURCE_KINDS.find((k) => t[k] !== undefined) ?? Object.keys(t)[0]
  return kind === undefined ? '' : `${kind}+${withoutUserinfo(r.string(t[kind], `${at}.${kind}`))}`
}

function readSource(r: TomlReader, t: TomlTable, at: string): PackageSource {
  const str = (k: string) => r.string(t[k], `${at}.${k}`)
  if (t['registry'] !== undefined)
    return { kind: 'registry', url: keepUserinfo(str('registry')).replace(/\/+$/, ''), name: null }
  if (t['git'] !== undefined) return parseGitSource(str('git'))
  if (t['url'] !== undefined)
    return {
      kind: 'url',
      url: keepUserinfo(str('url')),
      subdirectory: r.optString(t['subdirectory'], `${at}.subdirectory`) ?? null
    }
  if (t['path'] !== undefined) return { kind: 'file', path: str('path') }
  if (t['directory'] !== undefined)
    return { kind: 'directory', path: str('directory'), editable: false, virtual: false }
  if (t['editable'] !== undefined)
    return { kind: 'directory', path: str('editable'), editable: true, virtual: false }
  if (t['virtual'] !== undefined)
    return { kind: 'directory', path: str('virtual'), editable: false, virtual: true }
  return r.fail(
    at,
    `unknown source ${JSON.stringify(Object.keys(t))}`,
    'fast-build reads registry, git, url, path, directory, editable and virtual sources'
  )
}

/** `https://host/repo.git?subdirectory=x&rev=v1#<commit>` → git source (its URL without userinfo). */
export function parseGitSource(text: string): PackageSource {
  const hash = text.indexOf('#')
  const commit = hash === -1 ? null : text.slice(hash + 1)
  const noFragment = hash === -1 ? text : text.slice(0, hash)
  const q = noFragment.indexOf('?')
  const url = keepUserinfo(q === -1 ? noFragment : noFragment.slice(0, q))
  const params = new URLSearchParams(q === -1 ? '' : noFragment.slice(q + 1))
  return {
    kind: 'git',
    url,
    commit,
    requested: params.get('rev') ?? params.get('tag') ?? params.get('branch'),
    subdirectory: params.get('subdirectory')
  }
}

function readFile(
  r: TomlReader,
  t: TomlTable,
  at: string,
  pkg: string,
  version: string | null,
  kind: 'wheel' | 'sdist'
): LockedFile {
  const rawUrl = r.optString(t['url'], `${at}.url`)
  const url = rawUrl === undefined ? null : keepUserinfo(rawUrl)
  const path = r.optString(t['path'], `${at}.path`) ?? null
  const name =
    r.optString(t['filename'], `${at}.filename`) ??
    (url
      ? fileNameFromUrl(url)
      : path
        ? fileNameFromUrl(path)
        : `${pkg}-${version ?? '0'}.${kind === 'wheel' ? 'whl' : 'tar.gz'}`)
  const hash = r.optString(t['hash'], `${at}.hash`)
  const size = t['size']
  return {
    name,
    url,
    path,
    hashes: (hash && parseHashString(hash)) || {},
    size: typeof size === 'number' ? size : typeof size === 'bigint' ? Number(size) : null,
    kind: fileKind(name) === 'other' ? kind : fileKind(name)
  }
}

function readEdge(r: TomlReader, t: TomlTable, at: string): DependencyEdge {
  const marker = r.optString(t['marker'], `${at}.marker`)
  const extra = t['extra']
  const src = r.optTable(t['source'], `${at}.source`)
  return lazyMarker<DependencyEdge>(
    {
      name: normalizeName(r.string(t['name'], `${at}.name`)),
      extras: (extra === undefined ? [] : r.strings(extra, `${at}.extra`)).map(normalizeGroup),
      version: null,
      pinVersion: r.optString(t['version'], `${at}.version`) ?? null,
      pinSource: src ? sourceKey(r, src, `${at}.source`) : null,
      sourceName: null,
      direct: null
    },
    marker,
    { file: r.file, keyPath: `${at}.marker` }
  )
}

/**
 * Where the walk starts: the project in --project DIR when it is a package in the lock, else
 * (a virtual workspace root with no [project]) every workspace member.
 */
function uvRoots(
  r: TomlReader,
  project: Project,
  packages: LockedPackage[],
  members: NormalizedName[]
): RootPackage[] {
  const local = (n: NormalizedName) => packages.find((p) => p.name === n && p.source.kind === 'directory')
  const names = project.name && local(project.name) ? [project.name] : members
  if (names.length === 0) {
    r.fail(
      'package',
      project.name
        ? `the project ${JSON.stringify(project.name)} from ${project.file} is not in the lock`
        : `${project.file} has no [project] name and the lock lists no workspace members`,
      'run `uv lock` in the project directory'
    )
  }
  return names.map((n) => {
    const pkg =
      local(n) ??
      r.fail(
        'manifest.members',
        `workspace member ${JSON.stringify(n)} has no package entry`,
        'run `uv lock`'
      )
    const meta = pkg // group and extra names: the lock's own tables
    return {
      name: n,
      package: pkg,
      groupNames: [MAIN, ...meta.groups.keys()],
      extraNames: [...meta.extras.keys()]
    }
  })
}

// --- freshness ---------------------------------------------------------------------------------

interface MemberOnDisk {
  name: NormalizedName
  dir: string
  project: Project
}

/** Workspace members from [tool.uv.workspace]: the root (if it has a [project]) plus matching dirs. */
function workspaceMembers(project: Project): MemberOnDisk[] {
  const out: MemberOnDisk[] = []
  if (project.name) out.push({ name: project.name, dir: project.dir, project })
  const ws = project.uvWorkspace
  if (!ws) return out
  const excluded = new Set(ws.exclude.flatMap((g) => expandGlob(project.dir, g)))
  for (const pattern of ws.members) {
    for (const dir of expandGlob(project.dir, pattern)) {
      if (excluded.has(dir) || !existsSync(join(dir, 'pyproject.toml'))) continue
      const member = readProject(dir, relative(process.cwd(), dir) || '.')
      if (member.name && !out.some((m) => m.name === member.name))
        out.push({ name: member.name, dir, project: member })
    }
  }
  return out
}

/** Directory globs as uv takes them (`packages/*`, `libs/**`): `*` matches one path segment. */
function expandGlob(root: string, pattern: string): string[] {
  const segments = pattern.split('/').filter((s) => s !== '' && s !== '.')
  let dirs = [resolve(root)]
  for (const seg of segments) {
    const next: string[] = []
    for (const d of dirs) {
      if (seg === '**') {
        next.push(d, ...walkDirs(d))
      } else if (/[*?[]/.test(seg)) {
        const re = new RegExp(
          `^${seg
            .replace(/[.+^${}()|\\]/g, '\\$&')
            .replace(/\*/g, '[^/]*')
            .replace(/\?/g, '[^/]')}$`
        )
        for (const e of safeReaddir(d)) if (re.test(e) && isDir(join(d, e))) next.push(join(d, e))
      } else if (seg === '..') {
        next.push(resolve(d, '..'))
      } else if (isDir(join(d, seg))) {
        next.push(join(d, seg))
      }
    }
    dirs = next
  }
  return dirs
}

function walkDirs(d: string): string[] {
  const out: string[] = []
  for (const e of safeReaddir(d)) {
    if (e.startsWith('.')) continue
    const p = join(d, e)
    if (isDir(p)) out.push(p, ...walkDirs(p))
  }
  return out
}

function safeReaddir(d: string): string[] {
  try {
    return readdirSync(d).sort()
  } catch {
    return []
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory()
  } catch {
    return false
  }
}

function checkFreshness(
  r: TomlReader,
  project: Project,
  packages: LockedPackage[],
  metadata: Map<LockedPackage, LockMetadata>,
  manifestMembers: NormalizedName[],
  roots: RootPackage[]
): void {
  const stale = (message: string, keyPath: string): never =>
    r.fail(keyPath, `lock is stale: ${message}`, 'run `uv lock` and commit the result')

  const onDisk = workspaceMembers(project)
  if (manifestMembers.length > 0 || project.uvWorkspace) {
    const lockSet = [...new Set(manifestMembers)].sort()
    const diskSet = [...new Set(onDisk.map((m) => m.name))].sort()
    const missing = diskSet.filter((n) => !lockSet.includes(n))
    const extra = lockSet.filter((n) => !diskSet.includes(n))
    // A workspace whose root has no members besides itself writes no [manifest].
    if ((missing.length > 0 && !(lockSet.length === 0 && diskSet.length <= 1)) || extra.length > 0) {
      stale(
        `workspace members differ from ${project.file}` +
          (missing.length ? `; not in the lock: ${missing.join(', ')}` : '') +
          (extra.length ? `; in the lock but not in the workspace: ${extra.join(', ')}` : ''),
        'manifest.members'
      )
    }
  }

  const members = onDisk.length > 0 ? onDisk : roots.map((x) => ({ name: x.name, dir: project.dir, project }))
  for (const m of members) {
    const pkg = packages.find((p) => p.name === m.name && p.source.kind === 'directory')
    if (!pkg) return stale(`${m.name} (from ${m.project.file}) has no entry in the lock`, 'package')
    const meta = metadata.get(pkg)
    const sourced = new Set([...project.uvSourced, ...m.project.uvSourced])
    if (meta) compareRequirements(m.project, pkg, meta, sourced, stale)
  }
}

function requirementKey(name: string, extras: readonly string[], specifier: string): string {
  const spec = specifier.replace(/\s+/g, '').split(',').filter(Boolean).sort().join(',')
  const ex = [...extras].map(normalizeGroup).sort().join(',')
  return `${normalizeName(name)}${ex ? `[${ex}]` : ''}${spec}`
}

/** uv drops the specifier of a requirement that [tool.uv.sources] points at a path, git or url. */
function edgeKeys(edges: readonly DependencyEdge[], sourced: ReadonlySet<NormalizedName>): string[] {
  return edges
    .map((e) => requirementKey(e.name, e.extras, sourced.has(e.name) ? '' : (e.version?.text ?? '')))
    .sort()
}

/**
 * The member's declared requirements (main, each extra, each group) against what uv recorded.
 * Names, extras and specifiers are compared; markers are not, because uv rewrites them.
 * Sections pyproject declares dynamically (`dynamic = ["dependencies"]`) are skipped.
 */
function compareRequirements(
  member: Project,
  pkg: LockedPackage,
  meta: LockMetadata,
  sourced: ReadonlySet<NormalizedName>,
  stale: (message: string, keyPath: string) => never
): void {
  const project = isTable(member.data['project']) ? member.data['project'] : null
  const dynamic = project && Array.isArray(project['dynamic']) ? (project['dynamic'] as unknown[]) : []
  const sections: [string, readonly DependencyEdge[]][] = []
  if (project && !dynamic.includes('dependencies')) sections.push(['main', member.groups.get(MAIN) ?? []])
  if (project && !dynamic.includes('optional-dependencies')) {
    for (const [extra, edges] of member.extras) sections.push([`extra:${extra}`, edges])
  }
  for (const [g, edges] of member.groups) if (g !== MAIN) sections.push([`group:${g}`, edges])
  const declared = new Set(sections.map(([k]) => k))
  // Sections only the lock has (a group removed from pyproject) are stale too.
  for (const k of meta.requirements.keys()) {
    const dynamicSection =
      (k === 'main' && dynamic.includes('dependencies')) ||
      (k.startsWith('extra:') && dynamic.includes('optional-dependencies'))
    if (!declared.has(k) && !dynamicSection) sections.push([k, []])
  }

  for (const [section, edges] of sections) {
    const ours = edgeKeys(edges, sourced)
    const theirs = [...(meta.requirements.get(section) ?? [])].sort()
    // Set look-ups, not Array.includes: a section may list tens of thousands of requirements.
    const ourSet = new Set(ours)
    const theirSet = new Set(theirs)
    const added = ours.filter((k) => !theirSet.has(k))
    const removed = theirs.filter((k) => !ourSet.has(k))
    if (added.length || removed.length) {
      const what = section === 'main' ? 'dependencies' : section.replace(':', ' ')
      stale(
        `${what} of ${pkg.name} in ${member.file} differ from the lock` +
          (added.length ? `; only in pyproject: ${added.join(' ')}` : '') +
          (removed.length ? `; only in the lock: ${removed.join(' ')}` : ''),
        `package.metadata (${pkg.name}, line ${pkg.line})`
      )
    }
  }
}
