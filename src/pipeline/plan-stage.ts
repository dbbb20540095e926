// The first stage of a build: the plan, made once, with the base image pinned first (its digest
// is part of every variant hash, and with python taken from the base image, its Python decides
// the target). What the later stages ask of the plan again and again (the wheel each package
// installs on each platform, which variants share a wheel) is worked out here, once, on demand.
import { ConfigError } from '../errors.js'
import type { Lock } from '../lock/model.js'
import {
  baseImageFor,
  derivePython,
  planProject,
  type Plan,
  type PlanOptions,
  type PlatformPlan
} from '../plan/plan.js'
import { chooseWheels, type Chosen, type WheelProblem } from '../plan/wheel-choice.js'
import type { Project } from '../project/pyproject.js'
import { formatPlatform, type Platform, type PythonVersion } from '../target.js'
import { resolveBase, type BaseOptions, type ResolvedBase } from './base-image.js'
import { imagePythonFacts } from './image-python.js'

/** What a plan is made from: the project, its lock, the options asked for, the lock's notes. */
export interface PlanInput {
  readonly project: Project
  readonly lock: Lock
  readonly options: PlanOptions
  /** Notes of reading the lock, printed with the plan's own. */
  readonly notes: readonly string[]
}

/** The wheel of each installed package of one platform of a variant, or why there is none. */
export interface WheelChoices {
  readonly chosen: readonly Chosen[]
  readonly problems: readonly WheelProblem[]
}

export interface BuildPlan {
  readonly plan: Plan
  /** The base image as resolved while pinning; null when its reference was pinned already. */
  readonly base: ResolvedBase | null
  /** The wheels of a platform of a variant (chosen once per platform plan). */
  readonly wheelsOf: (p: PlatformPlan) => WheelChoices
  /** Variants of the whole configuration that install this wheel on this platform. */
  readonly sharing: (platform: Platform, sha256: string) => readonly string[]
}

export interface PlanStageOptions {
  /** Credentials and retries for the base image's registry. */
  readonly base?: BaseOptions
  /** Pin the base image (default true); false plans as configured (nothing to look up). */
  readonly pin?: boolean
  /** Where the base image's Python facts are kept (see imagePythonFacts). */
  readonly cacheDir?: string | null
  readonly onProgress?: (message: string) => void
}

const PINNED = /@sha256:[a-f0-9]{64}$/

/** The python and base image a plan of these options targets, before any variant is planned. */
function targetOf(input: PlanInput): { python: PythonVersion; baseImage: string } | null {
  const { project, lock, options } = input
  try {
    const python = options.python ?? project.config.python ?? derivePython(project, lock, [])
    return { python, baseImage: baseImageFor(project.config, python, options) }
  } catch (e) {
    // No python to target: planProject says so, with the same error.
    if (e instanceof ConfigError) return null
    throw e
  }
}

/**
 * The base image reference to look up before planning; null when there is none to look up (pinned
 * already, and the python is not the base image's).
 */
function toPin(input: PlanInput): string | null {
  const target = targetOf(input)
  if (!target) return null
  return !PINNED.test(target.baseImage) || pythonFromBase(input) ? target.baseImage : null
}

function platformsOf(input: PlanInput): readonly Platform[] {
  const asked = input.options.platforms ?? []
  return asked.length > 0 ? asked : input.project.config.platforms
}

/**
 * With a base image of its own and no python set, the target python is the base image's: the one
 * its packages must load in (requires-python's lowest would install wheels of another ABI).
 */
function pythonFromBase(input: PlanInput): boolean {
  const c = input.project.config
  return c.baseImage !== null && c.python === null && input.options.python === undefined && c.pythonInBase
}

/** The base image pinned (and, when it decides the python, that python and a note saying so). */
async function pinBaseOf(
  input: PlanInput,
  reference: string,
  o: PlanStageOptions
): Promise<{ base: ResolvedBase; options: PlanOptions; note: string | null }> {
  const base = await resolveBase(reference, platformsOf(input), { ...o.base, cwd: input.project.dir })
  const options: PlanOptions = { ...input.options, baseImage: base.pinned }
  if (!pythonFromBase(input)) return { base, options, note: null }
  const pi = base.image.platforms[0]!
  const facts = await imagePythonFacts({
    store: base.store,
    manifestDigest: pi.manifestDigest,
    layers: pi.manifest.layers,
    config: pi.config,
    cacheDir: o.cacheDir ?? null,
    what: `base image ${reference} (${formatPlatform(pi.platform)})`,
    ...(o.onProgress ? { onProgress: o.onProgress } : {})
  }).catch((e: unknown) => {
    base.store.close?.()
    throw e
  })
  // No Python at all is reported where the layout is decided (with the fix), not here.
  if (!facts.python) return { base, options, note: null }
  const v = facts.python.version
  return {
    base,
    options: { ...options, python: { major: v.major, minor: v.minor, patch: v.patch ?? undefined } },
    note: `python ${v.major}.${v.minor}${v.patch !== null ? `.${v.patch}` : ''}: the base image's (${facts.python.executable} in ${reference}); set python under [tool.fast-build] to choose it yourself`
  }
}

/** planProject, with a requires-python the base image's Python falls outside of said so. */
function planWith(input: PlanInput, options: PlanOptions, fromBase: boolean): Plan {
  try {
    return planProject(input.project, input.lock, options)
  } catch (e) {
    if (fromBase && e instanceof ConfigError && /requires-python/.test(e.message))
      throw new ConfigError(
        `the base image's ${e.message}`,
        e.location,
        `choose a base image whose Python requires-python allows, or set python under [tool.fast-build] (it must match the base image's)`
      )
    throw e
  }
}

/**
 * Plan once: the base image pinned to its digest first (no lookup when the reference is pinned
 * already and the python is not the base image's), then every variant asked for.
 */
export async function planBuild(input: PlanInput, o: PlanStageOptions = {}): Promise<BuildPlan> {
  const reference = o.pin === false ? null : toPin(input)
  const fromBase = pythonFromBase(input)
  const pinned = reference !== null ? await pinBaseOf(input, reference, o) : null
  let plan: Plan
  try {
    plan = planWith(input, pinned?.options ?? input.options, fromBase && pinned?.note != null)
  } catch (e) {
    pinned?.base.store.close?.()
    throw e
  }
  // A python the base image decided replaces the note of requires-python's lowest.
  const notes = [...new Set([...input.notes, ...plan.notes])].filter(
    (n) => !(pinned?.note && n.includes(': the lowest version '))
  )
  return withChoices({ ...plan, notes: pinned?.note ? [...notes, pinned.note] : notes }, pinned?.base ?? null)
}

/**
 * An existing plan with the base image pinned (planned again when there is something to pin): for
 * callers that planned already. A build plans once through planBuild.
 */
export async function pinPlan(plan: Plan, o: PlanStageOptions = {}): Promise<BuildPlan> {
  const input: PlanInput = {
    project: plan.project,
    lock: plan.lock,
    options: plan.options,
    notes: plan.notes
  }
  return toPin(input) === null ? withChoices(plan, null) : planBuild(input, o)
}

/** The plan with its wheel choices and sharing, worked out when first asked. */
export function withChoices(plan: Plan, base: ResolvedBase | null): BuildPlan {
  const choices = new Map<PlatformPlan, WheelChoices>()
  const wheelsOf = (p: PlatformPlan): WheelChoices => {
    let c = choices.get(p)
    if (!c) {
      c = chooseWheels(
        p.closure.installed.map((e) => e.package),
        p.target
      )
      choices.set(p, c)
    }
    return c
  }
  let shared: Map<string, string[]> | null = null
  const sharing = (platform: Platform, sha256: string): readonly string[] => {
    shared ??= sharingOf(plan, wheelsOf)
    return shared.get(`${formatPlatform(platform)}|${sha256}`) ?? []
  }
  return { plan, base, wheelsOf, sharing }
}

/**
 * Which variants of the whole configuration install each wheel, per platform. A plan of some
 * variants (--variant) plans the others too, only those, with the same (pinned) options.
 */
function sharingOf(plan: Plan, wheelsOf: (p: PlatformPlan) => WheelChoices): Map<string, string[]> {
  const planned = new Set(plan.variants.map((v) => v.name))
  const others = plan.project.config.variants.map((v) => v.name).filter((n) => !planned.has(n))
  const rest =
    others.length === 0 || (plan.options.variants ?? []).length === 0
      ? []
      : planProject(plan.project, plan.lock, { ...plan.options, variants: others }).variants
  // In the configuration's order, as layering names the variants of a shared layer.
  const order = plan.project.config.variants.map((v) => v.name)
  const all = [...plan.variants, ...rest].sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name))
  const map = new Map<string, string[]>()
  for (const v of all) {
    for (const p of v.platforms) {
      for (const c of wheelsOf(p).chosen) {
        const key = `${formatPlatform(p.platform)}|${c.sha256}`
        map.set(key, [...(map.get(key) ?? []), v.name])
      }
    }
  }
  return map
}
