// poetry.lock (lock-version 1.1, 2.0, 2.1) → the common lock model.
import type { Project } from '../project/pyproject.js'
import { MAIN } from '../project/pyproject.js'
import { LockError } from '../errors.js'
import { parseMarker, type Marker } from '../markers/index.js'
import { normalizeGroup, normalizeName, type NormalizedName } from '../names.js'
import { versionsEqual } from '../pep440.js'
import { isTable, TomlReader, type TomlTable } from '../util/toml.js'
import { keepUserinfo } from '../packaging/index-credentials.js'
import { arrayTableLines } from './lines.js'
import {
  fileKind,
  filenameVersion,
  packagesByName,
  lazyMarker,
  lazyProperty,
  parseHashString,
  PYPI_SIMPLE,
  type DependencyEdge,
  type Lock,
  type LockedFile,
  type LockedPackage,
  type PackageSource,
  type RootPackage
} from './model.js'
import { poetryContentHashes } from './poetry-content-hash.js'
import { readCutFiles, type CutFiles } from './poetry-files.js'
import { poetryMatcher } from '../packaging/version-matcher.js'

const SUPPORTED = ['1.0', '1.1', '2.0', '2.1']

export function readPoetryLock(
  text: string,
  data: TomlTable,
  file: string,
  project: Project,
  /** The `files` arrays cut out of `data` before the parse, if any (see poetry-files.ts). */
  cut: CutFiles | null = null
): Lock {
  const r = new TomlReader(file, LockError)
  const metadata = r.table(
    data['metadata'] ?? r.fail('metadata', 'no [metadata] table', 'regenerate the lock with `poetry lock`'),
    'metadata'
  )
  const version = r.optString(metadata['lock-version'], 'metadata.lock-version') ?? '1.0'
  if (!SUPPORTED.includes(version)) {
    r.fail(
      'metadata.lock-version',
      `unknown Poetry lock-version ${JSON.stringify(version)} (fast-build reads ${SUPPORTED.slice(1).join(', ')})`,
      /^[2-9]/.test(version)
        ? 'upgrade fast-build, or write the lock with a Poetry that produces a supported lock-version'
        : 'regenerate the lock with `poetry lock`'
    )
  }

  const expected = r.optString(metadata['content-hash'], 'metadata.content-hash')
  if (expected !== undefined && !poetryContentHashes(project.data).includes(expected)) {
    throw new LockError(
      `lock is stale: ${project.file} changed since the lock was written (content-hash does not match)`,
      { file, keyPath: 'metadata.content-hash' },
      'run `poetry lock` (Poetry 2) or `poetry lock --no-update` (Poetry 1.x) and commit the result'
    )
  }

  const lines = arrayTableLines(text)
  const legacyFiles = r.optTable(metadata['files'], 'metadata.files')
  const packages = r
    .tables(data['package'] ?? [], 'package')
    .map((p, i) => readPackage(r, p, i, lines[i] ?? 0, legacyFiles, cut?.bodies.get(i)))
  const byName = packagesByName(packages)

  const root = poetryRoot(project)
  return {
    path: file,
    format: 'poetry',
    version,
    packages,
    byName,
    requiresPython: r.optString(metadata['python-versions'], 'metadata.python-versions') ?? null,
    selection: 'graph',
    roots: [root],
    conflictNames: new Set(),
    declared: null
  }
}

function readPackage(
  r: TomlReader,
  p: TomlTable,
  i: number,
  line: number,
  legacyFiles: TomlTable | undefined,
  cutFiles: readonly string[] | undefined
): LockedPackage {
  const at = `package[${i}]`
  const fail = (key: string, message: string): never =>
    r.fail(`${at}.${key}`, message, 'regenerate the lock with `poetry lock`', line)
  const displayName = typeof p['name'] === 'string' ? p['name'] : fail('name', 'package has no name')
  const name = normalizeName(displayName)
  const version =
    typeof p['version'] === 'string' ? p['version'] : fail('version', `package ${displayName} has no version`)
  const source = readSource(r, p['source'], `${at}.source`)

  // Files: per package since lock 2.0; in 1.x under [metadata.files], keyed by name and shared by
  // every version of that name, so keep only those whose file name carries this version.
  const files = (): LockedFile[] => {
    let fileTables: TomlTable[]
    if (cutFiles) fileTables = readCutFiles(cutFiles)
    else if (p['files'] !== undefined) fileTables = r.tables(p['files'], `${at}.files`)
    else {
      const key = legacyFiles ? Object.keys(legacyFiles).find((k) => normalizeName(k) === name) : undefined
      fileTables = key
        ? r.tables(legacyFiles![key], `metadata.files.${key}`).filter((f) => fileHasVersion(f, version))
        : []
    }
    return fileTables.map((f, j) => {
      const fname = r.string(f['file'] ?? f['name'], `${at}.files[${j}].file`)
      const hash = r.optString(f['hash'], `${at}.files[${j}].hash`)
      return {
        name: fname,
        url: optUrl(r.optString(f['url'], `${at}.files[${j}].url`)),
        path: null,
        hashes: (hash && parseHashString(hash)) || {},
        size: null,
        kind: fileKind(fname)
      }
    })
  }

  const deps = readDependencies(r, p['dependencies'], `${at}.dependencies`)
  const extrasTable = r.optTable(p['extras'], `${at}.extras`) ?? {}
  const extras = new Map<NormalizedName, DependencyEdge[]>()
  for (const [extra, list] of Object.entries(extrasTable)) {
    const names = new Set(r.strings(list, `${at}.extras.${extra}`).map(requirementName))
    extras.set(
      normalizeGroup(extra),
      deps.filter((d) => names.has(d.edge.name)).map((d) => d.edge)
    )
  }

  return lazyProperty<LockedPackage, 'files'>(
    {
      id: `${name}==${version}${source.kind === 'registry' && source.name === null ? '' : ` (${source.kind === 'registry' ? source.name : source.kind})`}`,
      name,
      version,
      source,
      sourceRef: null,
      dependencies: deps.filter((d) => !d.optional).map((d) => d.edge),
      extras,
      groups: new Map(),
      recorded: readRecorded(r, p, at),
      line
    },
    'files',
    files
  )
}

/** A file URL of the lock, without userinfo (kept aside for the request: keepUserinfo). */
function optUrl(url: string | undefined): string | null {
  return url === undefined ? null : keepUserinfo(url)
}

/** `foo (>=1.0)`, `foo[bar] (>=1) ; marker`, `foo>=1` → the normalized name. */
function requirementName(text: string): NormalizedName {
  return normalizeName(/^\s*([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(text)?.[1] ?? text)
}

function fileHasVersion(f: TomlTable, version: string): boolean {
  const v = typeof f['file'] === 'string' ? filenameVersion(f['file']) : null
  if (v === null) return true
  return versionsEqual(v, version) || v === version
}

function readSource(r: TomlReader, value: unknown, at: string): PackageSource {
  if (value === undefined) return { kind: 'registry', url: PYPI_SIMPLE, name: null }
  const s = r.table(value, at)
  const type = r.string(s['type'], `${at}.type`)
  const written = r.optString(s['url'], `${at}.url`) ?? ''
  // Index, git and archive URLs lose their userinfo here (kept aside for requests: keepUserinfo).
  const url = type === 'file' || type === 'directory' ? written : keepUserinfo(written)
  const reference = r.optString(s['reference'], `${at}.reference`) ?? null
  switch (type) {
    case 'legacy':
      return { kind: 'registry', url: url.replace(/\/+$/, ''), name: reference }
    case 'git':
      return {
        kind: 'git',
        url,
        commit: r.optString(s['resolved_reference'], `${at}.resolved_reference`) ?? null,
        requested: reference,
        subdirectory: r.optString(s['subdirectory'], `${at}.subdirectory`) ?? null
      }
    case 'url':
      return { kind: 'url', url, subdirectory: r.optString(s['subdirectory'], `${at}.subdirectory`) ?? null }
    case 'file':
      return { kind: 'file', path: url }
    case 'directory':
      return { kind: 'directory', path: url, editable: false, virtual: false }
    default:
      return r.fail(
        `${at}.type`,
        `unknown source type ${JSON.stringify(type)}`,
        'fast-build reads legacy, git, url, file and directory sources'
      )
  }
}

interface PoetryEdge {
  edge: DependencyEdge
  optional: boolean
}

/** `[package.dependencies]`: a constraint string, a table, or a list of tables per name. */
function readDependencies(r: TomlReader, value: unknown, at: string): PoetryEdge[] {
  if (value === undefined) return []
  const out: PoetryEdge[] = []
  for (const [rawName, spec] of Object.entries(r.table(value, at))) {
    const name = normalizeName(rawName)
    const specs = Array.isArray(spec) ? spec : [spec]
    for (const [j, s] of specs.entries()) {
      const kp = Array.isArray(spec) ? `${at}.${rawName}[${j}]` : `${at}.${rawName}`
      if (typeof s === 'string') {
        out.push({ edge: plainEdge(name, [], null, s), optional: false })
        continue
      }
      const t = r.table(s, kp)
      const { marker: _, ...edge } = plainEdge(
        name,
        (r.optStrings(t['extras'], `${kp}.extras`) ?? []).map(normalizeGroup),
        null,
        r.optString(t['version'], `${kp}.version`) ?? '*'
      )
      out.push({
        edge: lazyMarker<DependencyEdge>(edge, r.optString(t['markers'], `${kp}.markers`), {
          file: r.file,
          keyPath: `${kp}.markers`
        }),
        optional: r.optBool(t['optional'], `${kp}.optional`) ?? false
      })
    }
  }
  return out
}

function plainEdge(
  name: NormalizedName,
  extras: NormalizedName[],
  marker: Marker | null,
  constraint: string
): DependencyEdge {
  return {
    name,
    extras,
    marker,
    version: poetryMatcher(constraint),
    pinVersion: null,
    pinSource: null,
    sourceName: null,
    direct: null
  }
}

/** Lock 2.1: `groups = [...]` and `markers` as one string or a table of group → marker. */
function readRecorded(r: TomlReader, p: TomlTable, at: string): LockedPackage['recorded'] {
  if (p['groups'] === undefined) return null
  const groups = r.strings(p['groups'], `${at}.groups`)
  const markers = p['markers']
  const byGroup = new Map<string, Marker | null>()
  const parse = (s: string, kp: string) => parseMarker(s, { file: r.file, keyPath: kp })
  for (const g of groups) {
    let m: Marker | null = null
    if (typeof markers === 'string') m = parse(markers, `${at}.markers`)
    else if (isTable(markers) && typeof markers[g] === 'string')
      m = parse(markers[g] as string, `${at}.markers.${g}`)
    byGroup.set(normalizeGroup(g), m)
  }
  return { byGroup }
}

/** The project itself, as a root package built from pyproject.toml. */
function poetryRoot(project: Project): RootPackage {
  const name = project.name ?? ('root' as NormalizedName)
  const groups = new Map([...project.groups].filter(([g]) => g !== MAIN))
  const pkg: LockedPackage = {
    id: `${name} (project)`,
    name,
    version: null,
    source: { kind: 'directory', path: '.', editable: true, virtual: false },
    sourceRef: null,
    files: [],
    dependencies: project.groups.get(MAIN) ?? [],
    extras: project.extras,
    groups,
    recorded: null,
    line: 0
  }
  return { name, package: pkg, groupNames: [MAIN, ...groups.keys()], extraNames: [...project.extras.keys()] }
}
