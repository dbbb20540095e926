// A dependency as both the project (pyproject.toml) and a lock state it: which package, with
// which extras, under which marker, within which versions, from where. pyproject.ts and the lock
// readers make these; the planner walks them. Here, below project/ and lock/, so that neither
// has to import the other for it.
import type { Marker } from '../markers/index.js'
import type { NormalizedName } from '../names.js'
import type { VersionMatcher } from './version-matcher.js'

/** An edge in the dependency graph: "this package (or project) needs `name`". */
export interface DependencyEdge {
  readonly name: NormalizedName
  /** Extras requested on the target (`foo[bar]`); these activate the target's optional edges. */
  readonly extras: readonly NormalizedName[]
  /** Evaluated with `extra` bound to the *depending* package's active extras. */
  readonly marker: Marker | null
  /** Constraint used to choose among several locked packages of the same name. */
  readonly version: VersionMatcher | null
  /** uv writes `version`/`source` on an edge when several packages share its name. */
  readonly pinVersion: string | null
  readonly pinSource: string | null
  /** Poetry root dependencies may name an index source (`source = "pytorch-cpu"`). */
  readonly sourceName: string | null
  /** Poetry root dependencies may be git/path/url dependencies: matched against the package source. */
  readonly direct: DirectReference | null
}

export type DirectReference =
  | { readonly kind: 'git'; readonly url: string; readonly subdirectory: string | null }
  | { readonly kind: 'url'; readonly url: string }
  | { readonly kind: 'path'; readonly path: string }
