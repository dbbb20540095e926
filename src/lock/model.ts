// One model for every lock format. Readers (poetry.ts, uv.ts, pylock.ts) turn their file into
// this; the planner only ever sees this. Everything is plain frozen data.
import type { Location } from '../errors.js'
import { parseMarker, type Marker } from '../markers/index.js'
import type { NormalizedName } from '../names.js'
import type { DependencyEdge } from '../packaging/dependency.js'
import { filenameVersion, isSdistFilename } from '../packaging/filename.js'
import type { VersionMatcher } from '../packaging/version-matcher.js'
import { withoutUserinfo } from '../packaging/index-credentials.js'

export type LockFormat = 'poetry' | 'uv' | 'pylock'

/**
 * Where a locked package comes from; the part of its identity that is not name and version.
 * Every URL here (and in LockedFile.url) is without userinfo: the readers take `user:password@`
 * out and keep it aside for requests only (keepUserinfo in packaging/index-credentials.ts, which
 * splitUserinfo and the fetch code consult by URL). So whatever prints, hashes, labels or writes
 * these URLs cannot leak a credential, and rotating one changes no hash.
 */
export type PackageSource =
  /**
   * A package index (PyPI or a private one). `url` is the index base ('' when the lock does not
   * say, as pylock files may omit `index`); `name` the configured source name.
   */
  | { readonly kind: 'registry'; readonly url: string; readonly name: string | null }
  /** A git repository at a resolved commit. */
  | {
      readonly kind: 'git'
      readonly url: string
      readonly commit: string | null
      readonly requested: string | null
      readonly subdirectory: string | null
    }
  /** A direct URL to an archive. */
  | { readonly kind: 'url'; readonly url: string; readonly subdirectory: string | null }
  /** A local archive (wheel or sdist) referenced by path. */
  | { readonly kind: 'file'; readonly path: string }
  /**
   * A local source tree: a workspace member, a path dependency, the project itself. These ship
   * with the source layer, so they are never part of a deps image or its hash.
   */
  | {
      readonly kind: 'directory'
      readonly path: string
      readonly editable: boolean
      /** uv's `virtual` sources: a project that is not itself installed. */
      readonly virtual: boolean
    }

export const PYPI_SIMPLE = 'https://pypi.org/simple'

export function isLocalSource(s: PackageSource): boolean {
  return s.kind === 'directory'
}

/** Hash algorithm → lowercase hex digest. */
export type FileHashes = Readonly<Record<string, string>>

export interface LockedFile {
  readonly name: string
  /**
   * Absolute URL when the lock records one (uv, pylock); null for Poetry (resolved through the
   * index). Without userinfo (see PackageSource).
   */
  readonly url: string | null
  /** Local path for path-sourced files, relative to the lock's directory. */
  readonly path: string | null
  readonly hashes: FileHashes
  readonly size: number | null
  readonly kind: 'wheel' | 'sdist' | 'other'
}

export interface LockedPackage {
  /** Unique within its lock: `name==version` plus the source when names repeat. */
  readonly id: string
  readonly name: NormalizedName
  /** As written in the lock (null for uv's dynamic-version packages). */
  readonly version: string | null
  readonly source: PackageSource
  /** uv: the `source = {…}` table as text, which edges name when several packages share a name. */
  readonly sourceRef: string | null
  readonly files: readonly LockedFile[]
  /** Unconditional edges (subject to their markers). */
  readonly dependencies: readonly DependencyEdge[]
  /** Edges that an extra of this package turns on. */
  readonly extras: ReadonlyMap<NormalizedName, readonly DependencyEdge[]>
  /** Dependency groups (uv `dev-dependencies`, PEP 735) of a project package, by group name. */
  readonly groups: ReadonlyMap<NormalizedName, readonly DependencyEdge[]>
  /**
   * When the lock itself records under which condition a package is installed (Poetry 2.1
   * `markers`, pylock `marker`), by group; `null` marker means "always". Used to tell apart
   * several packages of one name that survive the graph walk.
   */
  readonly recorded: RecordedSelection | null
  /** 1-based line of the package's entry in the lock, for annotations. */
  readonly line: number
}

export interface RecordedSelection {
  /** Group name → marker (null = unconditional). For pylock the single key is `*`. */
  readonly byGroup: ReadonlyMap<string, Marker | null>
  /** pylock: the package's requires-python; selecting it for another python is an error. */
  readonly requiresPython?: VersionMatcher | null
}

/** A project (the root, or a workspace member) whose dependencies start the walk. */
export interface RootPackage {
  readonly name: NormalizedName
  /** The lock entry for it, when the lock has one (uv); Poetry roots come from pyproject. */
  readonly package: LockedPackage
  /** Group names as the user writes them, for error messages. */
  readonly groupNames: readonly NormalizedName[]
  readonly extraNames: readonly NormalizedName[]
}

export interface Lock {
  /** The path as the user should read it in messages. */
  readonly path: string
  readonly format: LockFormat
  /** `lock-version` (Poetry), `version.revision` (uv), `lock-version` (pylock). */
  readonly version: string
  readonly packages: readonly LockedPackage[]
  readonly byName: ReadonlyMap<NormalizedName, readonly LockedPackage[]>
  readonly requiresPython: string | null
  /**
   * How packages are selected: `graph` walks edges from the roots (Poetry, uv); `markers`
   * keeps every package whose recorded marker holds (pylock).
   */
  readonly selection: 'graph' | 'markers'
  /** Roots of the walk (graph selection), ordered as the lock/pyproject lists them. */
  readonly roots: readonly RootPackage[]
  /**
   * uv encodes declared conflicts as synthetic extras inside markers (`extra-11-pydantic-ai-mcp-tasks`,
   * `group-11-pydantic-ai-dev`, `project-…`); these are the names the lock's `conflicts` declare,
   * which the walk turns on when their package, extra or group is selected.
   */
  readonly conflictNames: ReadonlySet<string>
  /** pylock: extras and groups the lock declares, which groups are on by default, and the
   * environments it was locked for (a target must satisfy one of them). */
  readonly declared: {
    readonly extras: readonly NormalizedName[]
    readonly groups: readonly NormalizedName[]
    readonly defaultGroups: readonly NormalizedName[]
    readonly environments: readonly Marker[]
  } | null
}

/** The packages of each name (a lock may hold several of one name: other versions, other sources). */
export function packagesByName(packages: readonly LockedPackage[]): Map<NormalizedName, LockedPackage[]> {
  const byName = new Map<NormalizedName, LockedPackage[]>()
  for (const p of packages) {
    const list = byName.get(p.name)
    if (list) list.push(p)
    else byName.set(p.name, [p])
  }
  return byName
}

/**
 * A short, stable identity for a source, used in ids, diffs and `plan --json` ("pypi",
 * "git+url@commit"). Never with userinfo, even for a model a reader did not build.
 */
export function sourceLabel(s: PackageSource): string {
  switch (s.kind) {
    case 'registry':
      return s.url === PYPI_SIMPLE ? 'pypi' : s.url === '' ? 'index' : withoutUserinfo(s.url)
    case 'git':
      return `git+${withoutUserinfo(s.url)}${s.commit ? `@${s.commit}` : ''}${s.subdirectory ? `#subdirectory=${s.subdirectory}` : ''}`
    case 'url':
      return withoutUserinfo(s.url)
    case 'file':
      return `file:${s.path}`
    case 'directory':
      return `path:${s.path}`
  }
}

export function fileKind(name: string): LockedFile['kind'] {
  if (name.endsWith('.whl')) return 'wheel'
  if (isSdistFilename(name)) return 'sdist'
  return 'other'
}

/** Parse `sha256:abc…` (Poetry, uv) into a hashes record. */
export function parseHashString(h: string): FileHashes | null {
  const m = /^([a-z0-9_]+)[:=]([0-9a-fA-F]+)$/.exec(h.trim())
  if (!m) return null
  return { [m[1]!]: m[2]!.toLowerCase() }
}

/** The last path segment of a URL, decoded (wheel file names are in URLs). */
export function fileNameFromUrl(url: string): string {
  const noQuery = url.split(/[?#]/)[0] ?? url
  const last = noQuery.slice(noQuery.lastIndexOf('/') + 1)
  try {
    return decodeURIComponent(last)
  } catch {
    return last
  }
}

export { filenameVersion }
// Edges are part of this model (LockedPackage.dependencies); pyproject.ts makes them too, which is
// why they are defined below both, in packaging/.
export type { DependencyEdge, DirectReference } from '../packaging/dependency.js'

/**
 * Defines `obj[key]` as computed on first read, then kept. Locks describe far more than one
 * selection uses (thousands of markers on edges no variant reaches, thousands of files for other
 * platforms); deferring that work keeps reading a large lock cheap. Errors raised by `compute`
 * carry their own file and key path, so reporting them late loses nothing.
 */
export function lazyProperty<T extends object, K extends keyof T>(
  obj: Omit<T, K>,
  key: K,
  compute: () => T[K]
): T {
  return Object.defineProperty(obj, key, {
    enumerable: true,
    configurable: true,
    get(this: T) {
      const value = compute()
      Object.defineProperty(this, key, { value, enumerable: true })
      return value
    }
  }) as T
}

/** An edge whose marker is parsed on first use (see lazyProperty). */
export function lazyMarker<T extends { marker: Marker | null }>(
  obj: Omit<T, 'marker'>,
  text: string | undefined,
  at: Location
): T {
  if (!text) return { ...obj, marker: null } as T
  return lazyProperty<T, 'marker'>(obj, 'marker', () => parseMarker(text, at) as T['marker'])
}
