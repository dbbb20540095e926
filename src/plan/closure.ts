// The exact set of packages a selection installs on one target: walk the lock's graph from the
// roots through the selected groups and extras (Poetry, uv), or keep what the recorded markers
// select (pylock). Pure: lock + selection + target in, closure out.
import { PlanError } from '../errors.js'
import {
  isLocalSource,
  sourceLabel,
  type DependencyEdge,
  type Lock,
  type LockedPackage,
  type RootPackage
} from '../lock/model.js'
import { markerToString, type Marker } from '../markers/index.js'
import type { NormalizedName } from '../names.js'
import { formatPlatform, formatPython, pythonFull, type Target } from '../target.js'
import { TargetContext } from './target-context.js'

export const MAIN_GROUP = 'main' as NormalizedName

export interface Selection {
  /** Group names; `main` is the project's own dependencies. */
  readonly groups: readonly NormalizedName[]
  readonly extras: readonly NormalizedName[]
  /** Restrict the roots to these workspace members (empty: the lock's default roots). */
  readonly members: readonly NormalizedName[]
}

export interface ClosureEntry {
  readonly package: LockedPackage
  /** Extras of this package that the selection turns on. */
  readonly extras: readonly NormalizedName[]
  /** Who first pulled it in (a root's name for direct dependencies), for explanations. */
  readonly requiredBy: string
}

export interface Closure {
  /** Third-party packages: what a deps image installs. Sorted by name, then version. */
  readonly installed: readonly ClosureEntry[]
  /** Roots, workspace members and path packages: they ship with the source layer. */
  readonly local: readonly ClosureEntry[]
}

const MAX_CONFLICT_ROUNDS = 8

/**
 * `context` carries per-target memos; pass the same one for every variant of a plan (it is
 * created from `target` when omitted).
 */
export function computeClosure(
  lock: Lock,
  selection: Selection,
  target: Target,
  context?: TargetContext
): Closure {
  const ctx = context ?? new TargetContext(target)
  return lock.selection === 'markers'
    ? selectByMarkers(lock, selection, ctx)
    : walkGraph(lock, selection, ctx)
}

// --- graph walk (Poetry, uv) -------------------------------------------------------------------

interface State {
  chosen: Map<NormalizedName, LockedPackage>
  extras: Map<LockedPackage, Set<NormalizedName>>
  requiredBy: Map<LockedPackage, string>
}

function walkGraph(lock: Lock, selection: Selection, ctx: TargetContext): Closure {
  const roots = selectRoots(lock, selection)
  // uv encodes declared conflicts as synthetic extras; which ones are on depends on the result,
  // so walk until the set of active conflict names stops changing.
  let active: ReadonlySet<NormalizedName> = new Set()
  let state = walkOnce(lock, roots, selection, ctx, active)
  for (let round = 1; lock.conflictNames.size > 0; round++) {
    const next = activeConflictNames(lock, roots, selection, state)
    if (sameSet(next, active)) break
    if (round === MAX_CONFLICT_ROUNDS) {
      throw new PlanError(
        `the conflict markers in the lock do not settle for ${describeSelection(selection)} on ${describeTarget(ctx.target)}`,
        { file: lock.path, keyPath: 'conflicts' },
        'the selection combines groups/extras that the lock declares as conflicting; choose a different set'
      )
    }
    active = next
    state = walkOnce(lock, roots, selection, ctx, active)
  }
  return toClosure(state, roots)
}

function walkOnce(
  lock: Lock,
  roots: readonly RootPackage[],
  selection: Selection,
  ctx: TargetContext,
  conflictNames: ReadonlySet<NormalizedName>
): State {
  const state: State = { chosen: new Map(), extras: new Map(), requiredBy: new Map() }
  const queue: LockedPackage[] = []
  const rootPackages = new Set(roots.map((r) => r.package))

  const activate = (pkg: LockedPackage, extras: readonly NormalizedName[], by: string) => {
    let set = state.extras.get(pkg)
    let changed = false
    if (!set) {
      set = new Set()
      state.extras.set(pkg, set)
      state.requiredBy.set(pkg, by)
      changed = true
    }
    for (const e of extras) {
      if (!set.has(e)) {
        set.add(e)
        changed = true
      }
    }
    if (changed) queue.push(pkg)
  }

  const follow = (
    from: LockedPackage,
    edges: readonly DependencyEdge[],
    active: ReadonlySet<NormalizedName>
  ) => {
    for (const edge of edges) {
      if (edge.marker && !ctx.evaluate(edge.marker, active)) continue
      const to = resolveEdge(lock, from, edge, state, selection, ctx)
      const existing = state.chosen.get(to.name)
      if (existing && existing !== to) throw conflict(lock, to, existing, from, state, ctx.target)
      state.chosen.set(to.name, to)
      activate(to, edge.extras, from.name)
    }
  }

  for (const root of roots) {
    state.chosen.set(root.name, root.package)
    activate(
      root.package,
      selection.extras.filter((e) => root.extraNames.includes(e)),
      root.name
    )
  }

  // Breadth first, so that what the project asks for directly decides among same-name packages
  // before anything deeper does.
  for (let i = 0; i < queue.length; i++) {
    const pkg = queue[i]!
    const extras = state.extras.get(pkg)!
    // Markers on a package's edges see its own active extras (and uv's active conflict names).
    const active = conflictNames.size === 0 ? new Set(extras) : new Set([...extras, ...conflictNames])
    if (rootPackages.has(pkg)) {
      if (selection.groups.includes(MAIN_GROUP)) follow(pkg, pkg.dependencies, active)
      for (const g of selection.groups) {
        const edges = pkg.groups.get(g)
        if (edges) follow(pkg, edges, active)
      }
    } else {
      follow(pkg, pkg.dependencies, active)
    }
    for (const e of extras) {
      const edges = pkg.extras.get(e)
      if (edges) follow(pkg, edges, active)
    }
  }
  return state
}

function selectRoots(lock: Lock, selection: Selection): RootPackage[] {
  if (selection.members.length === 0) return [...lock.roots]
  return selection.members.map((m) => {
    const root = lock.roots.find((r) => r.name === m)
    if (root) return root
    const pkg = lock.packages.find((p) => p.name === m && isLocalSource(p.source))
    if (!pkg) {
      const known = lock.packages.filter((p) => isLocalSource(p.source)).map((p) => p.name)
      throw new PlanError(
        `no workspace member named ${JSON.stringify(m)} in the lock`,
        { file: lock.path },
        `members are: ${known.join(', ')}`
      )
    }
    return {
      name: m,
      package: pkg,
      groupNames: [MAIN_GROUP, ...pkg.groups.keys()],
      extraNames: [...pkg.extras.keys()]
    }
  })
}

/** The declared conflict names that this result turns on (see `conflictName` in lock/uv.ts). */
function activeConflictNames(
  lock: Lock,
  roots: readonly RootPackage[],
  selection: Selection,
  state: State
): Set<NormalizedName> {
  const names = new Set<NormalizedName>()
  const add = (n: string) => {
    if (lock.conflictNames.has(n)) names.add(n as NormalizedName)
  }
  for (const [pkg, extras] of state.extras) {
    add(`project-${pkg.name.length}-${pkg.name}`)
    for (const e of extras) add(`extra-${pkg.name.length}-${pkg.name}-${e}`)
  }
  for (const root of roots) {
    for (const g of selection.groups) add(`group-${root.name.length}-${root.name}-${g}`)
  }
  return names
}

function sameSet<T>(a: ReadonlySet<T>, b: ReadonlySet<T>): boolean {
  if (a.size !== b.size) return false
  for (const x of a) if (!b.has(x)) return false
  return true
}

/** Choose the locked package an edge means; several of one name are told apart step by step. */
function resolveEdge(
  lock: Lock,
  from: LockedPackage,
  edge: DependencyEdge,
  state: State,
  selection: Selection,
  ctx: TargetContext
): LockedPackage {
  const all = lock.byName.get(edge.name)
  if (all?.length === 1) return all[0]!
  if (!all || all.length === 0) {
    // A dependency back on the project itself (a plugin requiring its host) is the root.
    const root = lock.roots.find((r) => r.name === edge.name)
    if (root) return root.package
    throw new PlanError(
      `${from.name} depends on ${edge.name}, which is not in the lock`,
      { file: lock.path, ...(from.line ? { line: from.line } : {}) },
      lock.format === 'poetry'
        ? 'the lock is out of date: run `poetry lock`'
        : 'the lock is out of date: run `uv lock`'
    )
  }

  let c: readonly LockedPackage[] = all
  const narrow = (keep: (p: LockedPackage) => boolean) => {
    const next = c.filter(keep)
    if (next.length > 0) c = next
  }
  if (edge.pinVersion !== null) narrow((p) => p.version === edge.pinVersion)
  if (edge.pinSource !== null) narrow((p) => p.sourceRef === edge.pinSource)
  if (edge.sourceName !== null)
    narrow((p) => p.source.kind === 'registry' && p.source.name === edge.sourceName)
  if (edge.direct) {
    const d = edge.direct
    narrow((p) =>
      d.kind === 'git'
        ? p.source.kind === 'git' && sameUrl(p.source.url, d.url)
        : d.kind === 'url'
          ? p.source.kind === 'url' && sameUrl(p.source.url, d.url)
          : (p.source.kind === 'directory' || p.source.kind === 'file') && samePath(p.source.path, d.path)
    )
  }
  if (edge.version) narrow((p) => p.version === null || edge.version!.matches(p.version))
  if (c.length > 1) {
    // Poetry 2.1 records under which markers each package installs; drop those that do not apply.
    const extras = new Set(selection.extras)
    narrow((p) => recordedApplies(p, selection, ctx, extras))
  }
  if (c.length > 1) {
    const already = state.chosen.get(edge.name)
    if (already && c.includes(already)) return already
    throw new PlanError(
      `${c.length} locked packages named ${edge.name} fit ${from.name}'s requirement on ${describeTarget(ctx.target)}: ${c.map((p) => `${p.version ?? '(dynamic)'} from ${sourceLabel(p.source)}`).join(', ')}`,
      { file: lock.path, ...(c[0]!.line ? { line: c[0]!.line } : {}) },
      'the lock holds several candidates whose markers overlap for this platform; pin the source or version in pyproject.toml and re-lock'
    )
  }
  return c[0]!
}

function recordedApplies(
  p: LockedPackage,
  selection: Selection,
  ctx: TargetContext,
  extras: ReadonlySet<NormalizedName>
): boolean {
  if (!p.recorded) return true
  for (const g of selection.groups) {
    if (!p.recorded.byGroup.has(g)) continue
    const m = p.recorded.byGroup.get(g) ?? null
    if (m === null || ctx.evaluate(m, extras)) return true
  }
  return false
}

function sameUrl(a: string, b: string): boolean {
  const norm = (u: string) =>
    u
      .replace(/^git\+/, '')
      .replace(/\.git$/, '')
      .replace(/\/+$/, '')
      .toLowerCase()
  return norm(a) === norm(b)
}

function samePath(a: string, b: string): boolean {
  const norm = (p: string) => p.replace(/^\.\//, '').replace(/\/+$/, '')
  return norm(a) === norm(b)
}

function conflict(
  lock: Lock,
  a: LockedPackage,
  b: LockedPackage,
  from: LockedPackage,
  state: State,
  target: Target
): PlanError {
  return new PlanError(
    `conflicting packages for ${a.name} on ${describeTarget(target)}: ${b.version ?? '(dynamic)'} from ${sourceLabel(b.source)} (required by ${state.requiredBy.get(b) ?? '?'}) and ${a.version ?? '(dynamic)'} from ${sourceLabel(a.source)} (required by ${from.name})`,
    { file: lock.path, ...(a.line ? { line: a.line } : {}) },
    'both survive the markers for this target; the lock was not resolved for this platform or python, or the variant combines extras that conflict'
  )
}

function toClosure(state: State, roots: readonly RootPackage[]): Closure {
  const rootSet = new Set(roots.map((r) => r.package))
  const installed: ClosureEntry[] = []
  const local: ClosureEntry[] = []
  for (const [pkg, extras] of state.extras) {
    const entry = { package: pkg, extras: [...extras].sort(), requiredBy: state.requiredBy.get(pkg) ?? '' }
    if (rootSet.has(pkg) || isLocalSource(pkg.source)) local.push(entry)
    else installed.push(entry)
  }
  return { installed: installed.sort(byNameVersion), local: local.sort(byNameVersion) }
}

function byNameVersion(a: ClosureEntry, b: ClosureEntry): number {
  const x = a.package
  const y = b.package
  return x.name < y.name ? -1 : x.name > y.name ? 1 : x.id < y.id ? -1 : x.id > y.id ? 1 : 0
}

// --- marker selection (pylock) -------------------------------------------------------------------

function selectByMarkers(lock: Lock, selection: Selection, ctx: TargetContext): Closure {
  const declared = lock.declared ?? { extras: [], groups: [], defaultGroups: [], environments: [] }
  const groups = new Set<NormalizedName>()
  for (const g of selection.groups) {
    if (g === MAIN_GROUP) declared.defaultGroups.forEach((d) => groups.add(d))
    else groups.add(g)
  }
  const extras = new Set(selection.extras)
  // PEP 751: the target must be one of the environments the lock was made for.
  if (declared.environments.length > 0 && !declared.environments.some((m) => ctx.evaluate(m))) {
    throw new PlanError(
      `the lock was not made for ${describeTarget(ctx.target)}: it lists environments ${declared.environments.map((m) => JSON.stringify(markerToString(m))).join(', ')}`,
      { file: lock.path, keyPath: 'environments' },
      'lock again including this platform, or build for a platform the lock covers'
    )
  }
  const chosen = new Map<NormalizedName, LockedPackage>()
  const installed: ClosureEntry[] = []
  const local: ClosureEntry[] = []
  for (const p of lock.packages) {
    const m: Marker | null = p.recorded?.byGroup.get('*') ?? null
    if (m && !ctx.evaluate(m, extras, groups)) continue
    const requires = p.recorded?.requiresPython
    if (requires && !requires.matches(pythonFull(ctx.target.python))) {
      throw new PlanError(
        `${p.name} ${p.version ?? ''} requires python ${requires.text}, but the target is ${describeTarget(ctx.target)}`,
        { file: lock.path, line: p.line },
        'choose a python the lock supports (python under [tool.fast-build]) or lock again'
      )
    }
    const prev = chosen.get(p.name)
    if (prev) {
      throw new PlanError(
        `two packages named ${p.name} apply on ${describeTarget(ctx.target)}: ${prev.version ?? '?'} (line ${prev.line}) and ${p.version ?? '?'} (line ${p.line})`,
        { file: lock.path, line: p.line },
        'their markers overlap for this target; re-export the lock for the platforms you build'
      )
    }
    chosen.set(p.name, p)
    const entry = { package: p, extras: [], requiredBy: '' }
    if (isLocalSource(p.source)) local.push(entry)
    else installed.push(entry)
  }
  return { installed: installed.sort(byNameVersion), local: local.sort(byNameVersion) }
}

export function describeTarget(t: Target): string {
  return `${formatPlatform(t.platform)} (python ${formatPython(t.python)})`
}

function describeSelection(s: Selection): string {
  const parts = [`groups ${s.groups.join(', ') || '(none)'}`]
  if (s.extras.length) parts.push(`extras ${s.extras.join(', ')}`)
  return parts.join(', ')
}
