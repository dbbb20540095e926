// Project + lock → the plan: per variant, per platform, the closure and the canonical hash.
// Pure; reading files and printing happen in the CLI and the action.
import { ConfigError, describeError, PlanError, type FastBuildError, type Location } from '../errors.js'
import type { Lock, LockedPackage } from '../lock/model.js'
import { pep440Matcher, type VersionMatcher } from '../packaging/version-matcher.js'
import { isLocalSource, sourceLabel } from '../lock/model.js'
import { normalizeGroup, type NormalizedName } from '../names.js'
import type { BuilderKind, VariantSpec } from '../project/config.js'
import {
  DEFAULT_COMMAND,
  defaultDockerfile,
  type DockerfileSettings
} from '../project/dockerfile-settings.js'
import { chooseWheels, type WheelProblem } from './wheel-choice.js'
import { digestHex, sha256 } from '../oci/digest.js'
import type { Project } from '../project/pyproject.js'
import {
  formatPlatform,
  formatPython,
  pythonFull,
  pythonMinor,
  type Libc,
  type Platform,
  type PythonVersion,
  type Target
} from '../target.js'
import { computeClosure, MAIN_GROUP, type Closure, type ClosureEntry, type Selection } from './closure.js'
import {
  buildHashInput,
  filesForTarget,
  packageIdentity,
  shortHash,
  unavailableReason,
  variantHash,
  type HashInput,
  type PackageIdentity
} from './hash.js'
import { TargetContext } from './target-context.js'

export interface PlanOptions {
  /** Only these variants (by name); empty or undefined means all. */
  readonly variants?: readonly string[]
  /** Override [tool.fast-build] platforms. */
  readonly platforms?: readonly Platform[]
  /** Override [tool.fast-build] python. */
  readonly python?: PythonVersion
  /** Override the base image reference (the action resolves it to a digest). */
  readonly baseImage?: string
  /** Mixed into every hash (the action's `cache-epoch`). */
  readonly epoch?: string
  /** Override [tool.fast-build] builder. */
  readonly builder?: BuilderKind
  /** The Dockerfile (path as given, text read by the caller); else [tool.fast-build] dockerfile. */
  readonly dockerfile?: { readonly path: string; readonly text: string } | null
  readonly dockerfileTarget?: string | null
  /** Override [tool.fast-build] dockerfile-command. */
  readonly dockerfileCommand?: readonly string[]
}

/** How a variant's deps image is built, and why the Dockerfile builder when it is. */
export type VariantBuilder =
  | { readonly kind: 'wheels' }
  | {
      readonly kind: 'dockerfile'
      readonly reason: string
      /** The reason in a few words, for a table cell (`auto: no wheel for pytest 8.3.3`). */
      readonly summary: string
      readonly settings: DockerfileSettings
    }

/** `wheels`, or `dockerfile (why)`: the `builder` column of `fast-build plan`. */
export function describeBuilder(b: VariantBuilder): string {
  return b.kind === 'wheels' ? 'wheels' : `dockerfile (${b.summary})`
}

/**
 * wheels and dockerfile are what they say; auto takes the wheels builder unless it refuses one
 * of the variant's packages (an sdist-only package, a git dependency…), and says which.
 */
function chooseBuilder(
  platforms: readonly PlatformPlan[],
  kind: BuilderKind,
  settings: DockerfileSettings,
  /** The wheels builder's objection to a platform's package, or null (memoized by the caller). */
  refusal: (p: PlatformPlan, pkg: ClosureEntry['package']) => WheelProblem | null
): VariantBuilder {
  if (kind === 'wheels') return { kind: 'wheels' }
  if (kind === 'dockerfile')
    return { kind: 'dockerfile', reason: 'builder = dockerfile', summary: 'builder = dockerfile', settings }
  for (const p of platforms) {
    const problems = p.closure.installed.flatMap((e) => refusal(p, e.package) ?? [])
    const [first] = problems
    if (first) {
      const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''
      const what = `${first.name}${first.version ? ` ${first.version}` : ''}`
      return {
        kind: 'dockerfile',
        reason: `the wheels builder cannot install ${what}: ${first.reason}${more}`,
        summary: `auto: no wheel for ${what}${problems.length > 1 ? ` and ${problems.length - 1} more` : ''}`,
        settings
      }
    }
  }
  return { kind: 'wheels' }
}

export interface PlatformPlan {
  readonly platform: Platform
  readonly target: Target
  readonly closure: Closure
  /** Packages that only the runtime groups add, installed when the container starts. */
  readonly runtime: readonly ClosureEntry[]
  /** Installed packages whose lock entry has no file for this target (no wheel, no sdist). */
  readonly unavailable: readonly { readonly entry: ClosureEntry; readonly reason: string }[]
}

export interface VariantPlan {
  readonly name: string
  readonly spec: VariantSpec
  readonly hash: string
  readonly shortHash: string
  readonly python: PythonVersion
  readonly libc: Libc
  readonly baseImage: string
  readonly platforms: readonly PlatformPlan[]
  readonly hashInput: HashInput
  readonly builder: VariantBuilder
}

/** Where the wheels builder installs packages in the image: part of each variant's hash. */
export interface InstallLayout {
  readonly prefix: string
  readonly sitePackages: string
  readonly scripts: string
  readonly interpreter: string
}

export function installLayout(config: Project['config'], python: PythonVersion): InstallLayout {
  const prefix = config.pythonPrefix
  const minor = pythonMinor(python)
  const root = prefix === '/' ? '' : prefix
  return {
    prefix,
    sitePackages: config.sitePackages ?? `${root}/lib/python${minor}/site-packages`,
    scripts: `${root}/bin`,
    interpreter: config.interpreter ?? `${root}/bin/python${minor}`
  }
}

export interface Plan {
  readonly project: Project
  readonly lock: Lock
  /** The options it was made with (a build re-plans with the base image pinned). */
  readonly options: PlanOptions
  readonly install: InstallLayout
  /** The variants that planned. */
  readonly variants: readonly VariantPlan[]
  /**
   * Variants that did not plan, each with its own error (a closure that cannot be formed, a
   * declared conflict, an unknown group or extra): one bad variant does not hide the others.
   * Errors of the whole project (python, runtime groups, an unknown variant asked for) throw.
   */
  readonly failed: readonly VariantFailure[]
  /** Things to tell the user that are not errors (derived python, newer lock revision...). */
  readonly notes: readonly string[]
}

export interface VariantFailure {
  readonly name: string
  /** Its message names the variant (`variant ml: …`, `…, both in variant ml`). */
  readonly error: FastBuildError
}

const KNOWN_MINORS = [7, 8, 9, 10, 11, 12, 13, 14]

/** The lowest CPython 3.x minor that requires-python allows. */
export function pythonFromRequiresPython(constraint: VersionMatcher): PythonVersion | null {
  for (const minor of KNOWN_MINORS) {
    // Any patch release of the minor will do: ">=3.10.2" still allows 3.10.
    for (const patch of [0, 99]) {
      if (constraint.matches(`3.${minor}.${patch}`)) return { major: 3, minor, patch: undefined }
    }
  }
  return null
}

export function planProject(project: Project, lock: Lock, options: PlanOptions = {}): Plan {
  const notes: string[] = []
  const config = project.config
  const python = options.python ?? config.python ?? derivePython(project, lock, notes)
  const allowed =
    project.pythonConstraint ?? (lock.requiresPython ? pep440Matcher(lock.requiresPython) : null)
  if (allowed && !allowed.matches(pythonFull(python))) {
    throw new ConfigError(
      `python ${formatPython(python)} is outside requires-python ${JSON.stringify(allowed.text)}`,
      { file: project.file, keyPath: config.python ? 'tool.fast-build.python' : undefined },
      'choose a python that requires-python allows, or widen requires-python and lock again'
    )
  }
  const platforms = options.platforms && options.platforms.length > 0 ? options.platforms : config.platforms
  const baseImage = baseImageFor(config, python, options)

  const wanted = options.variants && options.variants.length > 0 ? options.variants : null
  if (wanted) {
    for (const v of wanted) {
      if (!config.variants.some((x) => x.name === v)) {
        throw new ConfigError(
          `unknown variant ${JSON.stringify(v)}`,
          { file: project.file, keyPath: 'tool.fast-build.variants' },
          `variants are: ${config.variants.map((x) => x.name).join(', ')}`
        )
      }
    }
  }
  const specs = config.variants.filter((v) => !wanted || wanted.includes(v.name))
  const known = knownNames(project, lock)
  for (const g of config.runtimeGroups) {
    if (!known.groups.includes(g)) {
      throw new ConfigError(
        `unknown runtime group ${JSON.stringify(g)}`,
        { file: project.file, keyPath: 'tool.fast-build.runtime-groups' },
        `groups are: ${known.groups.join(', ') || '(none)'}`
      )
    }
  }

  // One context per platform, shared by every variant: markers, wheel choices and identities
  // are worked out once per target rather than once per variant.
  const contexts = new Map(
    platforms.map((platform) => [platform, new TargetContext({ python, platform, libc: config.libc })])
  )
  const identities = new Map<TargetContext, Map<ClosureEntry['package'], PackageIdentity>>()
  const identity = (ctx: TargetContext, pkg: ClosureEntry['package']) => {
    let m = identities.get(ctx)
    if (!m) identities.set(ctx, (m = new Map()))
    let id = m.get(pkg)
    if (!id) m.set(pkg, (id = packageIdentity(pkg, ctx.installFiles(pkg))))
    return id
  }

  // The same per target: a package the wheels builder cannot install is looked at once, not once
  // per variant that has it (auto checks every package of every variant).
  const refusals = new Map<TargetContext, Map<ClosureEntry['package'], WheelProblem | null>>()
  const refusal = (p: PlatformPlan, pkg: ClosureEntry['package']) => {
    const ctx = contexts.get(p.platform)!
    let m = refusals.get(ctx)
    if (!m) refusals.set(ctx, (m = new Map()))
    let r = m.get(pkg)
    if (r === undefined) m.set(pkg, (r = chooseWheels([pkg], ctx.target).problems[0] ?? null))
    return r
  }

  const install = installLayout(config, python)
  const builderKind = options.builder ?? config.builder
  const dockerfileSettings: DockerfileSettings = {
    path: options.dockerfile?.path ?? null,
    text: options.dockerfile?.text ?? defaultDockerfile(install),
    target: options.dockerfileTarget ?? config.dockerfile.target,
    buildArgs: config.dockerfile.buildArgs,
    command: options.dockerfileCommand ?? config.dockerfile.command ?? [...DEFAULT_COMMAND]
  }
  const failed: VariantFailure[] = []
  const planVariant = (spec: VariantSpec): VariantPlan => {
    validateSelection(project, spec, known)
    const selection: Selection = {
      groups: spec.groups,
      extras: spec.extras,
      members: spec.members,
      variant: spec.name
    }
    const withRuntime: Selection = { ...selection, groups: [...spec.groups, ...config.runtimeGroups] }
    const platformPlans: PlatformPlan[] = platforms.map((platform) => {
      const ctx = contexts.get(platform)!
      const target = ctx.target
      const closure = computeClosure(lock, selection, target, ctx)
      const runtime =
        config.runtimeGroups.length === 0
          ? []
          : runtimeOnly(closure, computeClosure(lock, withRuntime, target, ctx))
      const unavailable = closure.installed.flatMap((entry) => {
        const reason = unavailableReason(entry.package, target, ctx.installFiles(entry.package))
        return reason ? [{ entry, reason }] : []
      })
      return { platform, target, closure, runtime, unavailable }
    })
    const builder = chooseBuilder(platformPlans, builderKind, dockerfileSettings, refusal)
    const hashInput = buildHashInput({
      python,
      libc: config.libc,
      baseImage,
      epoch: options.epoch,
      // The Dockerfile builder's image is what its Dockerfile makes of the pins: its text, target
      // and build args are part of the hash (the engine is not: both build the same Dockerfile).
      builder:
        builder.kind === 'wheels'
          ? { wheels: install }
          : {
              dockerfile: {
                sha256: digestHex(sha256(builder.settings.text)),
                target: builder.settings.target,
                buildArgs: Object.entries(builder.settings.buildArgs).sort(([a], [b]) =>
                  a < b ? -1 : a > b ? 1 : 0
                )
              }
            },
      platforms: platformPlans.map((p) => ({
        platform: p.platform,
        packages: p.closure.installed.map((e) => identity(contexts.get(p.platform)!, e.package))
      }))
    })
    for (const p of platformPlans) {
      const disagreement = recordedDisagreement(lock, spec, selection, p, contexts.get(p.platform)!)
      if (disagreement) notes.push(disagreement)
      for (const u of p.unavailable) {
        notes.push(
          `${spec.name} on ${formatPlatform(p.platform)}: ${u.entry.package.name} ${u.entry.package.version ?? ''} cannot be installed from the lock's files: ${u.reason}`
        )
      }
    }
    const hash = variantHash(hashInput)
    return {
      name: spec.name,
      spec,
      hash,
      shortHash: shortHash(hash),
      python,
      libc: config.libc,
      baseImage,
      platforms: platformPlans,
      hashInput,
      builder
    }
  }
  const variants: VariantPlan[] = []
  for (const spec of specs) {
    try {
      variants.push(planVariant(spec))
    } catch (e) {
      // The variant's own selection cannot be planned; anything else (a lock that does not agree
      // with itself, a marker that does not parse) is the whole project's problem.
      if (!(e instanceof PlanError || e instanceof ConfigError)) throw e
      failed.push({ name: spec.name, error: forVariant(spec.name, e) })
    }
  }
  return { project, lock, options, install, variants, failed, notes }
}

/** The same error, its message naming the variant (`variant ml: …`) unless it already does. */
function forVariant(name: string, e: FastBuildError): FastBuildError {
  const prefix = `variant ${name}`
  const m = e.message
  if (m.includes(`${prefix}:`) || m.includes(`${prefix} `) || m.endsWith(prefix)) return e
  const Class = e.constructor as new (message: string, location: Location, hint?: string) => FastBuildError
  const wrapped = new Class(`${prefix}: ${e.message}`, e.location, e.hint)
  wrapped.stack = e.stack
  return wrapped
}

/**
 * Poetry 2.1 locks record under which markers each package installs for each group. Poetry's
 * installer re-resolves from the graph by default (installer.re-resolve = true), as fast-build's
 * walk does, and reads the recorded markers only with re-resolve = false; where the two disagree
 * for a target, the user should know that the other setting installs something else.
 * Several packages of one name that the recorded markers all select are left out: the walk chose
 * among them (using those same markers first), which is not a disagreement.
 */
function recordedDisagreement(
  lock: Lock,
  spec: VariantSpec,
  selection: Selection,
  p: PlatformPlan,
  ctx: TargetContext
): string | null {
  if (lock.format !== 'poetry' || !lock.packages.some((x) => x.recorded)) return null
  const extras = new Set(selection.extras)
  const recorded = lock.packages.filter((pkg) => {
    if (!pkg.recorded || isLocalSource(pkg.source)) return false
    return selection.groups.some((g) => {
      if (!pkg.recorded!.byGroup.has(g)) return false
      const m = pkg.recorded!.byGroup.get(g) ?? null
      return m === null || ctx.evaluate(m, extras)
    })
  })
  const walked = new Set(p.closure.installed.map((e) => e.package))
  const walkedNames = new Set(p.closure.installed.map((e) => e.package.name))
  const recordedSet = new Set(recorded)
  const perName = new Map<string, number>()
  for (const pkg of recorded) perName.set(pkg.name, (perName.get(pkg.name) ?? 0) + 1)
  const chosenAmong = (pkg: LockedPackage) => perName.get(pkg.name)! > 1 && walkedNames.has(pkg.name)
  const onlyRecorded = recorded.filter((pkg) => !walked.has(pkg) && !chosenAmong(pkg))
  const onlyWalked = [...walked].filter((pkg) => !recordedSet.has(pkg))
  if (onlyRecorded.length === 0 && onlyWalked.length === 0) return null
  const some = (list: readonly LockedPackage[]) => {
    const names = list.slice(0, 3).map((pkg) => `${pkg.name} ${pkg.version ?? ''}`.trim())
    return list.length > 3 ? `${names.join(', ')} and ${list.length - 3} more` : names.join(', ')
  }
  const details = [
    ...(onlyWalked.length ? [`only the walk: ${some(onlyWalked)}`] : []),
    ...(onlyRecorded.length ? [`only the recorded markers: ${some(onlyRecorded)}`] : [])
  ]
  return (
    `variant ${spec.name} on ${formatPlatform(p.platform)}: ${lock.path}'s recorded markers select ${recorded.length} packages where the dependency walk installs ${walked.size} (${details.join('; ')}). ` +
    `Poetry's installer re-resolves by default, as fast-build does; the recorded markers are used only with installer.re-resolve = false`
  )
}

/** The base image a plan targets: as asked, else [tool.fast-build] base-image, else python's slim image. */
export function baseImageFor(config: Project['config'], python: PythonVersion, options: PlanOptions): string {
  return options.baseImage ?? config.baseImage ?? `python:${pythonMinor(python)}-slim`
}

/** The lowest python requires-python allows (a note says so); a ConfigError when it allows none. */
export function derivePython(project: Project, lock: Lock, notes: string[]): PythonVersion {
  const spec = project.requiresPython ?? lock.requiresPython
  const from = project.requiresPython
    ? `requires-python ${JSON.stringify(spec)} in ${project.file}`
    : `requires-python ${JSON.stringify(spec)} in ${lock.path}`
  const constraint =
    project.pythonConstraint ?? (lock.requiresPython ? pep440Matcher(lock.requiresPython) : null)
  const v = constraint ? pythonFromRequiresPython(constraint) : null
  if (!v) {
    throw new ConfigError(
      spec
        ? `cannot choose a python version: ${from} allows none of 3.${KNOWN_MINORS[0]}–3.${KNOWN_MINORS.at(-1)}`
        : 'no target python: neither [tool.fast-build] python nor requires-python is set',
      { file: project.file, keyPath: 'tool.fast-build.python' },
      'set python = "3.12" (or "3.12.7") under [tool.fast-build]'
    )
  }
  notes.push(
    `python ${formatPython(v)}: the lowest version ${from} allows (set python under [tool.fast-build] to choose another)`
  )
  return v
}

interface KnownNames {
  groups: NormalizedName[]
  extras: NormalizedName[]
}

function knownNames(project: Project, lock: Lock): KnownNames {
  const groups = new Set<NormalizedName>([MAIN_GROUP])
  const extras = new Set<NormalizedName>()
  if (lock.declared) {
    lock.declared.groups.forEach((g) => groups.add(g))
    lock.declared.extras.forEach((e) => extras.add(e))
  }
  for (const r of lock.roots) {
    r.groupNames.forEach((g) => groups.add(g))
    r.extraNames.forEach((e) => extras.add(e))
  }
  for (const g of project.groups.keys()) groups.add(g)
  for (const e of project.extras.keys()) extras.add(e)
  // Workspace members' own groups and extras can be selected through `members`.
  for (const p of lock.packages) {
    if (!isLocalSource(p.source)) continue
    for (const g of p.groups.keys()) groups.add(g)
    for (const e of p.extras.keys()) extras.add(e)
  }
  return { groups: [...groups].sort(), extras: [...extras].sort() }
}

function validateSelection(project: Project, spec: VariantSpec, known: KnownNames): void {
  const at = `tool.fast-build.variants.${spec.name}`
  for (const g of spec.groups) {
    if (!known.groups.includes(normalizeGroup(g))) {
      throw new ConfigError(
        `variant ${spec.name}: unknown group ${JSON.stringify(g)}`,
        { file: project.file, keyPath: `${at}.groups` },
        `groups are: ${known.groups.join(', ')}`
      )
    }
  }
  for (const e of spec.extras) {
    if (!known.extras.includes(normalizeGroup(e))) {
      throw new ConfigError(
        `variant ${spec.name}: unknown extra ${JSON.stringify(e)}`,
        { file: project.file, keyPath: `${at}.extras` },
        known.extras.length ? `extras are: ${known.extras.join(', ')}` : 'the project declares no extras'
      )
    }
  }
}

function runtimeOnly(base: Closure, withRuntime: Closure): ClosureEntry[] {
  const have = new Set(base.installed.map((e) => e.package))
  return withRuntime.installed.filter((e) => !have.has(e.package))
}

// --- the JSON the CLI prints and `diff` reads ------------------------------------------------------

export interface PackageJson {
  name: string
  version: string | null
  source: string
  /** The file this target installs (wheel, else sdist), and its sha256 when the lock has one. */
  file?: string
  sha256?: string
  /** Present when no file of the package fits this target: why. */
  unavailable?: string
}

export interface PlanJson {
  schema: 1
  project: string
  lock: string
  variants: {
    name: string
    hash: string
    python: string
    baseImage: string
    groups: string[]
    extras: string[]
    platforms: { platform: string; packages: PackageJson[] }[]
    local: { name: string; version: string | null; path: string }[]
    runtime: PackageJson[]
  }[]
  /** Variants that did not plan, with the error (file:line: message, and the fix). Absent in plans
   * written before it existed. */
  failed?: { name: string; error: string }[]
}

function packageJson(e: ClosureEntry, target: Target): PackageJson {
  const p = e.package
  const [file] = filesForTarget(p.files, target)
  const unavailable = unavailableReason(p, target)
  return {
    name: p.name,
    version: p.version,
    source: sourceLabel(p.source),
    ...(file ? { file: file.name } : {}),
    ...(file?.hashes['sha256'] ? { sha256: file.hashes['sha256'] } : {}),
    ...(unavailable ? { unavailable } : {})
  }
}

export function planToJson(plan: Plan): PlanJson {
  return {
    schema: 1,
    project: plan.project.file,
    lock: plan.lock.path,
    variants: plan.variants.map((v) => {
      const local = new Map<string, { name: string; version: string | null; path: string }>()
      const runtime = new Map<string, PackageJson>()
      for (const p of v.platforms) {
        for (const e of p.closure.local) {
          const path = e.package.source.kind === 'directory' ? e.package.source.path : '.'
          local.set(e.package.id, { name: e.package.name, version: e.package.version, path })
        }
        for (const e of p.runtime) runtime.set(e.package.id, packageJson(e, p.target))
      }
      return {
        name: v.name,
        hash: v.hash,
        python: formatPython(v.python),
        baseImage: v.baseImage,
        groups: [...v.spec.groups],
        extras: [...v.spec.extras],
        platforms: v.platforms.map((p) => ({
          platform: formatPlatform(p.platform),
          packages: p.closure.installed.map((e) => packageJson(e, p.target))
        })),
        local: [...local.values()].sort((a, b) => (a.name < b.name ? -1 : 1)),
        runtime: [...runtime.values()].sort((a, b) => (a.name < b.name ? -1 : 1))
      }
    }),
    failed: plan.failed.map((f) => ({ name: f.name, error: describeError(f.error) }))
  }
}
