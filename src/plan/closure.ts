// The exact set of packages a selection installs on one target: walk the lock's graph from the
// roots through the selected groups and extras (Poetry, uv), or keep what the recorded markers
// select (pylock). Pure: lock + selection + target in, closure out.
import { LockError, PlanError } from '../errors.js'
import {
  isLocalSource,
  sourceLabel,
  type DependencyEdge,
  type Lock,
  type LockedPackage,
  type RootPackage
} from '../lock/model.js'
import {
  conflictName,
  declaredConflicts,
  describeConflictItem,
  type ConflictItem,
  type DeclaredConflicts
} from '../lock/uv.js'
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
  /** The variant's name, for messages (`conflicting packages … in variant ml`). */
  readonly variant?: string
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
  const state =
    lock.format === 'uv' ? walkUv(lock, roots, selection, ctx) : walkPoetry(lock, roots, selection, ctx)
  return toClosure(state, roots)
}

/** The selected extras that a root declares. */
function rootExtras(root: RootPackage, selection: Selection): NormalizedName[] {
  return selection.extras.filter((e) => root.extraNames.includes(e))
}

/**
 * Poetry: markers on a package's edges see that package's own active extras (`extra == "x"`
 * written by the depending package), so a package is walked again when an edge turns on more.
 */
function walkPoetry(
  lock: Lock,
  roots: readonly RootPackage[],
  selection: Selection,
  ctx: TargetContext
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
      if (existing && existing !== to) throw conflict(lock, to, existing, from, state, ctx.target, selection)
      state.chosen.set(to.name, to)
      activate(to, edge.extras, from.name)
    }
  }

  for (const root of roots) {
    state.chosen.set(root.name, root.package)
    activate(root.package, rootExtras(root, selection), root.name)
  }

  // Breadth first, so that what the project asks for directly decides among same-name packages
  // before anything deeper does.
  for (let i = 0; i < queue.length; i++) {
    const pkg = queue[i]!
    const extras = state.extras.get(pkg)!
    const active = new Set(extras)
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

/**
 * uv, as its installer reads a lock (uv-resolver `Installable::to_resolution`). Markers in a uv
 * lock never name a package's own extras (those edges sit under `optional-dependencies`); the
 * only `extra` they test are the encoded conflict items (`extra-16-pydantic-ai-slim-mcp-tasks`,
 * `group-11-pydantic-ai-dev`, `project-3-foo`), which mean "this extra / group / project is on
 * anywhere in the environment". So, when the lock declares conflicts:
 * 1. the variant's extras and groups of each root are on from the start (its project too, when
 *    it installs main); the roots' group edges are decided against just those;
 * 2. a first breadth-first pass over (package, extra) collects every extra that edges turn on,
 *    each edge judged with the extras it turns on itself added (`foo[x]` guarded by
 *    `extra == 'extra-3-foo-x'` holds) — the set only grows;
 * 3. two items of one declared conflict set both on is an error (uv refuses to install them);
 * 4. a second pass judges every edge against that final set: this is the closure.
 * Without declared conflicts the set stays empty and the second pass is the whole walk.
 */
function walkUv(lock: Lock, roots: readonly RootPackage[], selection: Selection, ctx: TargetContext): State {
  const declared = declaredConflicts(lock)
  const prod = selection.groups.includes(MAIN_GROUP)
  const active = new Set<NormalizedName>()
  /** Encoded item → what turned it on, for the conflict message. */
  const why = new Map<string, string>()
  const turnOn = (encoded: string, by: string) => {
    if (active.has(encoded as NormalizedName)) return
    active.add(encoded as NormalizedName)
    why.set(encoded, by)
  }
  const groupsOf = (root: RootPackage) =>
    selection.groups.filter((g) => g !== MAIN_GROUP && root.package.groups.has(g))
  if (declared) {
    for (const root of roots) {
      for (const e of rootExtras(root, selection)) turnOn(conflictName(root.name, { extra: e }), '')
      for (const g of groupsOf(root)) turnOn(conflictName(root.name, { group: g }), '')
      if (prod) turnOn(conflictName(root.name, {}), '')
    }
  }
  // uv decides the roots' group edges once, before any extra is collected from the graph.
  const groupEdges = new Map<RootPackage, DependencyEdge[]>()
  for (const root of roots) {
    groupEdges.set(
      root,
      groupsOf(root).flatMap((g) =>
        root.package.groups.get(g)!.filter((edge) => !edge.marker || ctx.evaluate(edge.marker, active))
      )
    )
  }
  const pass = (holds: UvEdgeTest, strict: boolean) =>
    traverseUv(lock, roots, selection, ctx, prod, groupEdges, holds, strict)

  if (declared) {
    pass((from, extra, edge) => {
      const more = edge.extras
        .map((e) => conflictName(edge.name, { extra: e }) as NormalizedName)
        .filter((n) => !active.has(n))
      const env = more.length === 0 ? active : new Set([...active, ...more])
      if (edge.marker && !ctx.evaluate(edge.marker, env)) return false
      for (const n of more) turnOn(n, extra ? `${from.name}[${extra}]` : from.name)
      return true
    }, false)
    const clashes = declared.sets
      .map((set) => set.filter((item) => active.has(item.encoded as NormalizedName)))
      .filter((on) => on.length > 1)
    if (clashes.length > 0) throw declaredConflict(lock, declared, clashes, why, selection)
  }
  return pass((_from, _extra, edge) => !edge.marker || ctx.evaluate(edge.marker, active), true)
}

type UvEdgeTest = (from: LockedPackage, extra: NormalizedName | null, edge: DependencyEdge) => boolean

/** One breadth-first pass over (package, extra|null), each visited once, as uv's queue does. */
function traverseUv(
  lock: Lock,
  roots: readonly RootPackage[],
  selection: Selection,
  ctx: TargetContext,
  prod: boolean,
  groupEdges: ReadonlyMap<RootPackage, readonly DependencyEdge[]>,
  holds: UvEdgeTest,
  /** Two packages of one name is an error (the final pass); the first pass may overreach. */
  strict: boolean
): State {
  const state: State = { chosen: new Map(), extras: new Map(), requiredBy: new Map() }
  const queue: [LockedPackage, NormalizedName | null][] = []
  const seen = new Set<string>()
  const enqueue = (pkg: LockedPackage, extra: NormalizedName | null) => {
    const key = `${pkg.id}\n${extra ?? ''}`
    if (seen.has(key)) return
    seen.add(key)
    queue.push([pkg, extra])
  }
  const take = (from: LockedPackage, edge: DependencyEdge) => {
    const to = resolveEdge(lock, from, edge, state, selection, ctx)
    const existing = state.chosen.get(to.name)
    if (strict && existing && existing !== to)
      throw conflict(lock, to, existing, from, state, ctx.target, selection)
    state.chosen.set(to.name, to)
    let extras = state.extras.get(to)
    if (!extras) {
      state.extras.set(to, (extras = new Set()))
      state.requiredBy.set(to, from.name)
    }
    for (const e of edge.extras) extras.add(e)
    enqueue(to, null)
    for (const e of edge.extras) enqueue(to, e)
  }

  for (const root of roots) {
    const extras = rootExtras(root, selection)
    state.chosen.set(root.name, root.package)
    state.extras.set(root.package, new Set(extras))
    state.requiredBy.set(root.package, root.name)
    // Not marked seen: uv queues the roots directly (a cycle back to one walks it again, harmlessly).
    if (prod) queue.push([root.package, null])
    for (const e of extras) queue.push([root.package, e])
    for (const edge of groupEdges.get(root) ?? []) take(root.package, edge)
  }
  for (let i = 0; i < queue.length; i++) {
    const [pkg, extra] = queue[i]!
    const edges = extra === null ? pkg.dependencies : (pkg.extras.get(extra) ?? [])
    for (const edge of edges) if (holds(pkg, extra, edge)) take(pkg, edge)
  }
  return state
}

function declaredConflict(
  lock: Lock,
  declared: DeclaredConflicts,
  clashes: readonly (readonly ConflictItem[])[],
  why: ReadonlyMap<string, string>,
  selection: Selection
): PlanError {
  const item = (i: ConflictItem) => {
    const by = why.get(i.encoded)
    return `${describeConflictItem(i)}${by ? ` (turned on by ${by})` : ''}`
  }
  return new PlanError(
    `${selection.variant ? `variant ${selection.variant} selects` : 'the selection turns on'} conflicting items: ${clashes.map((on) => on.map(item).join(' with ')).join('; ')}. The \`conflicts\` table of uv.lock (\`[tool.uv] conflicts\` in pyproject.toml) declares them as conflicting; uv refuses to install them together`,
    { file: lock.path, keyPath: 'conflicts', ...(declared.line ? { line: declared.line } : {}) },
    'drop one of them from the variant, or make two variants, one with each'
  )
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
    // The lock does not agree with itself: a problem of the whole lock, not of this selection.
    throw new LockError(
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
  target: Target,
  selection: Selection
): PlanError {
  return new PlanError(
    `conflicting packages for ${a.name} on ${describeTarget(target)}: ${b.version ?? '(dynamic)'} from ${sourceLabel(b.source)} (required by ${state.requiredBy.get(b) ?? '?'}) and ${a.version ?? '(dynamic)'} from ${sourceLabel(a.source)} (required by ${from.name})${selection.variant ? `, both in variant ${selection.variant}` : ''}`,
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
