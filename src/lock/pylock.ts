// pylock.toml (PEP 751, lock-version 1.x) → the common lock model. A pylock file is already a
// flat install list: each package says by its `marker` (over `extras` and `dependency_groups`)
// when it is installed, so selection evaluates markers instead of walking a graph.
import { LockError } from '../errors.js'
import { parseMarker } from '../markers/index.js'
import { normalizeGroup, normalizeName } from '../names.js'
import { TomlReader, type TomlTable } from '../util/toml.js'
import { keepUserinfo } from '../packaging/index-credentials.js'
import { arrayTableLines } from './lines.js'
import { pep440Matcher } from '../packaging/version-matcher.js'
import {
  fileKind,
  fileNameFromUrl,
  packagesByName,
  type FileHashes,
  type Lock,
  type LockedFile,
  type LockedPackage,
  type PackageSource
} from './model.js'

export function readPylock(text: string, data: TomlTable, file: string): Lock {
  const r = new TomlReader(file, LockError)
  const version = r.string(
    data['lock-version'] ??
      r.fail('lock-version', 'no lock-version', 'a pylock.toml must say lock-version = "1.0"'),
    'lock-version'
  )
  if (!/^1(\.\d+)?$/.test(version)) {
    r.fail(
      'lock-version',
      `unknown pylock lock-version ${JSON.stringify(version)} (fast-build reads 1.x)`,
      'upgrade fast-build, or export the lock in lock-version 1.0'
    )
  }
  const lines = arrayTableLines(text, 'packages')
  const packages = r
    .tables(data['packages'] ?? [], 'packages')
    .map((p, i) => readPackage(r, p, i, lines[i] ?? 0))
  return {
    path: file,
    format: 'pylock',
    version,
    packages,
    byName: packagesByName(packages),
    requiresPython: r.optString(data['requires-python'], 'requires-python') ?? null,
    selection: 'markers',
    roots: [],
    conflictNames: new Set(),
    declared: {
      extras: (r.optStrings(data['extras'], 'extras') ?? []).map(normalizeGroup),
      groups: (r.optStrings(data['dependency-groups'], 'dependency-groups') ?? []).map(normalizeGroup),
      defaultGroups: (r.optStrings(data['default-groups'], 'default-groups') ?? []).map(normalizeGroup),
      environments: (r.optStrings(data['environments'], 'environments') ?? []).map((m, i) =>
        parseMarker(m, { file, keyPath: `environments[${i}]` })
      )
    }
  }
}

function readHashes(r: TomlReader, v: unknown, at: string): FileHashes {
  const out: Record<string, string> = {}
  for (const [alg, hex] of Object.entries(r.optTable(v, at) ?? {}))
    out[alg.toLowerCase()] = r.string(hex, `${at}.${alg}`).toLowerCase()
  return out
}

function readFile(r: TomlReader, t: TomlTable, at: string, fallbackName: string): LockedFile {
  const written = r.optString(t['url'], `${at}.url`)
  // Without userinfo (kept aside for the request, see keepUserinfo); the name comes from it too.
  const url = written === undefined ? null : keepUserinfo(written)
  const path = r.optString(t['path'], `${at}.path`) ?? null
  const name =
    r.optString(t['name'], `${at}.name`) ??
    (url ? fileNameFromUrl(url) : path ? fileNameFromUrl(path) : fallbackName)
  const size = t['size']
  return {
    name,
    url,
    path,
    hashes: readHashes(r, t['hashes'], `${at}.hashes`),
    size: typeof size === 'number' ? size : typeof size === 'bigint' ? Number(size) : null,
    kind: fileKind(name)
  }
}

function readPackage(r: TomlReader, p: TomlTable, i: number, line: number): LockedPackage {
  const at = `packages[${i}]`
  const displayName = r.string(p['name'], `${at}.name`)
  const name = normalizeName(displayName)
  const version = r.optString(p['version'], `${at}.version`) ?? null
  const marker = r.optString(p['marker'], `${at}.marker`)

  let source: PackageSource
  const files: LockedFile[] = []
  const vcs = r.optTable(p['vcs'], `${at}.vcs`)
  const directory = r.optTable(p['directory'], `${at}.directory`)
  const archive = r.optTable(p['archive'], `${at}.archive`)
  if (vcs) {
    source = {
      kind: 'git',
      url: keepUserinfo(r.optString(vcs['url'], `${at}.vcs.url`) ?? r.string(vcs['path'], `${at}.vcs.path`)),
      commit: r.string(vcs['commit-id'], `${at}.vcs.commit-id`),
      requested: r.optString(vcs['requested-revision'], `${at}.vcs.requested-revision`) ?? null,
      subdirectory: r.optString(vcs['subdirectory'], `${at}.vcs.subdirectory`) ?? null
    }
  } else if (directory) {
    source = {
      kind: 'directory',
      path: r.string(directory['path'], `${at}.directory.path`),
      editable: r.optBool(directory['editable'], `${at}.directory.editable`) ?? false,
      virtual: false
    }
  } else if (archive) {
    const f = readFile(r, archive, `${at}.archive`, `${displayName}-${version ?? '0'}.tar.gz`)
    files.push(f)
    source = f.url
      ? {
          kind: 'url',
          url: f.url,
          subdirectory: r.optString(archive['subdirectory'], `${at}.archive.subdirectory`) ?? null
        }
      : { kind: 'file', path: f.path ?? f.name }
  } else {
    source = {
      kind: 'registry',
      url: keepUserinfo(r.optString(p['index'], `${at}.index`) ?? '').replace(/\/+$/, ''),
      name: null
    }
    const sdist = r.optTable(p['sdist'], `${at}.sdist`)
    if (sdist) files.push(readFile(r, sdist, `${at}.sdist`, `${displayName}-${version ?? '0'}.tar.gz`))
    for (const [j, w] of (p['wheels'] === undefined ? [] : r.tables(p['wheels'], `${at}.wheels`)).entries()) {
      files.push(readFile(r, w, `${at}.wheels[${j}]`, `${displayName}.whl`))
    }
    if (files.length === 0) {
      r.fail(
        at,
        `package ${displayName} has no wheels, sdist, archive, vcs or directory`,
        'PEP 751 requires one of them; re-export the lock',
        line
      )
    }
  }

  return {
    id: `${name}${version ? `==${version}` : ''}${source.kind === 'registry' ? '' : ` (${source.kind})`}`,
    name,
    version,
    source,
    sourceRef: null,
    files,
    dependencies: [],
    extras: new Map(),
    groups: new Map(),
    recorded: {
      byGroup: new Map([
        ['*', marker ? parseMarker(marker, { file: r.file, keyPath: `${at}.marker` }) : null]
      ]),
      requiresPython: pep440Matcher(r.optString(p['requires-python'], `${at}.requires-python`) ?? '')
    },
    line
  }
}
