// What the CLI's commands share: where they write (CliIO), the error that means "wrong flags"
// (UsageError, printed with the usage text), and the plan they read from --project, --variant,
// --platform, --python and the builder flags (loadPlan). Apart from cli.ts so that `build`
// (cli-build.ts, loaded on demand by cli.ts) takes them without importing its own loader.
import { resolve } from 'node:path'
import { readLock } from './lock/index.js'
import { planProject, type Plan, type PlanOptions } from './plan/plan.js'
import type { PlanInput } from './pipeline/plan-stage.js'
import { BUILDERS, type BuilderKind } from './project/config.js'
import { readDockerfile } from './project/dockerfile-file.js'
import { readProject } from './project/pyproject.js'
import { parsePlatform, parsePythonVersion } from './target.js'

export interface CliIO {
  out(text: string): void
  err(text: string): void
}

export class UsageError extends Error {}

/** The flags a plan is made from. */
export interface PlanFlags {
  project: string
  variants?: string[]
  platforms?: string[]
  python?: string
  builder?: string
  dockerfile?: string
  dockerfileTarget?: string
  dockerfileCommand?: string
}

/** The project, its lock and the flags as plan options: what `build` plans from (once, base pinned). */
export function planInputOf(opts: PlanFlags): PlanInput {
  const dir = resolve(opts.project)
  const project = readProject(dir, opts.project === '.' ? undefined : opts.project)
  const { lock, notes } = readLock(project)
  if (opts.builder !== undefined && !(BUILDERS as readonly string[]).includes(opts.builder))
    throw new UsageError(`--builder must be one of ${BUILDERS.join(', ')}`)
  const command = opts.dockerfileCommand?.split(/\s+/).filter((w) => w !== '')
  if (command !== undefined && command.length === 0) throw new UsageError('--dockerfile-command is empty')
  const options: PlanOptions = {
    variants: opts.variants ?? [],
    platforms: (opts.platforms ?? []).map((p) => parsePlatform(p, '--platform')),
    ...(opts.python ? { python: parsePythonVersion(opts.python, '--python') } : {}),
    ...(opts.builder ? { builder: opts.builder as BuilderKind } : {}),
    dockerfile: readDockerfile(project, opts.dockerfile ?? null, '--dockerfile'),
    ...(opts.dockerfileTarget ? { dockerfileTarget: opts.dockerfileTarget } : {}),
    ...(command ? { dockerfileCommand: command } : {})
  }
  return { project, lock, options, notes }
}

export function loadPlan(opts: PlanFlags): Plan {
  const { project, lock, options, notes } = planInputOf(opts)
  const plan = planProject(project, lock, options)
  return { ...plan, notes: [...notes, ...plan.notes] }
}
