// The action: read inputs → plan → decide per variant → build (or only plan) → outputs, job
// summary, Actions cache. One catch turns any error into setFailed with the error's own
// description (file, line, fix), never a stack trace. Side effects it needs (the cache service,
// the environment) come in through `deps`, so tests can hand in their own.
import * as core from '@actions/core'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { pinBase, runBuild, type BuildResult, type VariantResult } from './build/build.js'
import { decideVariants, matrixOf, type VariantDecision } from './build/decide.js'
import { formatBytes } from './build/fast-path.js'
import { ConfigError, describeError, isFastBuildError } from './errors.js'
import { actionsCacheBackend, BuildCache, type CacheBackend } from './github/cache.js'
import { readRunContext, type RunContext } from './github/context.js'
import { reasonsFor, summaryRow, summaryTable, type SummaryRow } from './github/summary.js'
import { getInputs, type Inputs } from './inputs.js'
import { readLock } from './lock/index.js'
import { planProject, planToJson, type Plan, type PlanJson } from './plan/plan.js'
import { readProject } from './project/pyproject.js'
import type { Credential } from './registry/credentials.js'
import { openStore, parseStoreSpec } from './registry/open.js'
import { parseImageReference } from './registry/client.js'
import type { ImageStore } from './registry/store.js'
import { ArtifactCache } from './wheels/fetch.js'

export interface RunDeps {
  readonly env?: NodeJS.ProcessEnv
  readonly cacheBackend?: CacheBackend
}

type VariantJson = PlanJson['variants'][number]

export async function run(deps: RunDeps = {}): Promise<void> {
  const env = deps.env ?? process.env
  try {
    const inputs = getInputs()
    const context = readRunContext(env)
    if (inputs.builder === 'dockerfile') {
      throw new ConfigError(
        'input builder: the Dockerfile builder is not part of this version of fast-build',
        { keyPath: 'with.builder' },
        'use builder: auto or wheels (deps images from the lock’s wheels)'
      )
    }
    const plan0 = loadPlan(inputs)
    for (const n of plan0.notes) core.notice(n)
    const mode = effectiveMode(inputs, context)
    const image = inputs.image ?? plan0.project.config.image
    if (!image) {
      if (mode === 'build') {
        throw new ConfigError(
          'no image to build: the images need a registry repository',
          { keyPath: 'with.image' },
          'set the image input (ghcr.io/owner/app) or image under [tool.fast-build]'
        )
      }
      core.notice(
        'no image configured: the deps images cannot be looked up, so every variant is listed in the matrix'
      )
      const all = plan0.variants.map((v): VariantDecision => ({
        variant: v.name,
        hash: v.hash,
        shortHash: v.shortHash,
        decision: 'full',
        depsRef: ''
      }))
      setPlanOutputs(plan0, all)
      await writeSummary(plan0, all, null, new Map(), null, context, mode)
      return
    }
    const store = await openStore(parseStoreSpec(image, 'image'), {
      ...(credentialFor(image, inputs, context) ?? {}),
      onRetry: (m, delay) => core.info(`retrying in ${(delay / 1000).toFixed(1)} s: ${m}`)
    })
    try {
      await buildOrPlan({
        inputs,
        context,
        env,
        mode,
        plan0,
        store,
        cacheBackend: deps.cacheBackend ?? actionsCacheBackend()
      })
    } finally {
      ;(store as { close?: () => void }).close?.()
    }
  } catch (e) {
    if (isFastBuildError(e) && e.location.file) {
      core.error(e.message, {
        title: 'fast-build',
        file: e.location.file,
        ...(e.location.line ? { startLine: e.location.line } : {})
      })
    }
    core.setFailed(describeError(e))
  }
}

function loadPlan(inputs: Inputs): Plan {
  const project = readProject(resolve(inputs.project), inputs.project === '.' ? undefined : inputs.project)
  const { lock, notes } = readLock(project)
  const plan = planProject(project, lock, {
    variants: [...inputs.variants],
    platforms: [...inputs.platforms],
    ...(inputs.cacheEpoch ? { epoch: inputs.cacheEpoch } : {})
  })
  return { ...plan, notes: [...notes, ...plan.notes] }
}

/** `plan` when asked, and whenever pushing is off: a fork's pull request never pushes. */
function effectiveMode(inputs: Inputs, context: RunContext): 'build' | 'plan' {
  if (context.forkPullRequest) {
    core.notice(
      'pull request from a fork: fast-build plans only and pushes nothing (a fork gets no registry credentials)'
    )
    return 'plan'
  }
  if (!inputs.push) {
    if (inputs.mode === 'build') core.notice('push is false: fast-build plans only and pushes nothing')
    return 'plan'
  }
  return inputs.mode
}

/** registry-username/password, else github-token for ghcr.io, else (undefined) the Docker config. */
function credentialFor(
  image: string,
  inputs: Inputs,
  context: RunContext
): { credential: Credential } | null {
  if (inputs.registryUsername && inputs.registryPassword) {
    return {
      credential: {
        kind: 'basic',
        username: inputs.registryUsername,
        password: inputs.registryPassword,
        source: 'the registry-username and registry-password inputs'
      }
    }
  }
  const host = parseImageReference(image, 'image').host
  if (host === 'ghcr.io' && inputs.githubToken) {
    return {
      credential: {
        kind: 'basic',
        username: context.actor ?? 'github-actions',
        password: inputs.githubToken,
        source: 'the github-token input'
      }
    }
  }
  return null
}

interface Job {
  readonly inputs: Inputs
  readonly context: RunContext
  readonly env: NodeJS.ProcessEnv
  readonly mode: 'build' | 'plan'
  readonly plan0: Plan
  readonly store: ImageStore
  readonly cacheBackend: CacheBackend
}

function cacheDirOf(env: NodeJS.ProcessEnv): string {
  return (
    env['FAST_BUILD_CACHE_DIR'] ||
    join(env['RUNNER_TEMP'] || join(env['HOME'] || '.', '.cache'), 'fast-build')
  )
}

/** FAST_BUILD_CACHE_TIMEOUT_S bounds every cache call (default: 15 s an index, 300 s a wheel). */
function cacheTimeouts(env: NodeJS.ProcessEnv): { indexTimeoutMs?: number; wheelTimeoutMs?: number } {
  const s = Number(env['FAST_BUILD_CACHE_TIMEOUT_S'])
  return Number.isFinite(s) && s > 0 ? { indexTimeoutMs: s * 1000, wheelTimeoutMs: s * 1000 } : {}
}

function readPrevious(cacheDir: string, variant: string): VariantJson | null {
  const path = join(cacheDir, 'work', 'plans', `${variant}.json`)
  if (!existsSync(path)) return null
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as VariantJson
  } catch {
    return null
  }
}

function writePlanOf(cacheDir: string, variant: VariantJson): void {
  const dir = join(cacheDir, 'work', 'plans')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, `${variant.name}.json`), JSON.stringify(variant))
}

async function buildOrPlan(job: Job): Promise<void> {
  const { inputs, mode, store, env } = job
  const { plan } = await pinBase(job.plan0)
  const decisions = await decideVariants(plan, store, inputs.invalidate)
  const cacheDir = cacheDirOf(env)
  const artifacts = new ArtifactCache(join(cacheDir, 'artifacts'))
  const cache = inputs.cache
    ? new BuildCache(
        job.cacheBackend,
        cacheDir,
        artifacts,
        { info: core.info, warning: core.warning },
        cacheTimeouts(env)
      )
    : null
  const json = planToJson(plan)
  const current = new Map(json.variants.map((v) => [v.name, v]))

  // What changed since the last build of each variant that needs the full path: the cache's
  // layer index carries the plan it was built from (and the layer descriptors the build reuses).
  const reasons = new Map<string, string[]>()
  for (const d of decisions) {
    if (d.decision !== 'fast' && cache) {
      const hit = await cache.restoreIndex(d.variant, d.shortHash)
      if (hit) core.info(`${d.variant}: layer index restored from the Actions cache (${hit})`)
    }
    reasons.set(d.variant, reasonsFor(d.decision, readPrevious(cacheDir, d.variant), current.get(d.variant)!))
  }
  setPlanOutputs(plan, decisions)

  if (mode === 'plan') {
    const full = decisions.filter((d) => d.decision !== 'fast').map((d) => d.variant)
    core.info(
      full.length ? `full path needed for: ${full.join(', ')}` : 'every deps image exists: fast path only'
    )
    await writeSummary(plan, decisions, null, reasons, cache, job.context, mode)
    return
  }

  let group: string | null = null
  const result = await runBuild({
    plan,
    store,
    tags: inputs.tags,
    env: { ...env, ...(job.context.sha ? { GITHUB_SHA: job.context.sha } : {}) },
    rebuild: inputs.invalidate === 'all' ? 'all' : inputs.invalidate,
    cacheDir,
    ...(inputs.maxLayers !== null ? { maxLayers: inputs.maxLayers } : {}),
    ...(cache ? { restoreWheels: (shas: readonly string[]) => cache.restoreWheels(shas) } : {}),
    onProgress: (variant, message) => {
      // One collapsible group per variant in the log (the source layer's lines stay outside).
      if (variant && variant !== group) {
        if (group) core.endGroup()
        core.startGroup(`fast-build: ${variant}`)
        group = variant
      }
      core.info(message)
    }
  })
  if (group) core.endGroup()

  for (const v of result.variants)
    if (v.path === 'full' || v.path === 'fast') writePlanOf(cacheDir, current.get(v.variant)!)
  if (cache) {
    const downloaded = [...new Set(result.variants.flatMap((v) => v.full?.downloadedSha256 ?? []))]
    for (const v of result.variants)
      if (v.path === 'full') await cache.saveIndex(v.variant, v.hash.slice(0, 16))
    await cache.saveWheels(downloaded)
    if (cache.saved.entries > 0)
      core.info(
        `Actions cache: saved ${cache.saved.entries} entries (${formatBytes(cache.saved.bytes)} of wheels)`
      )
  }

  const images: Record<string, string> = {}
  for (const v of result.variants) if (v.appRef) images[v.variant] = v.appRef
  core.setOutput(
    'rebuilt',
    JSON.stringify(result.variants.filter((v) => v.path === 'full').map((v) => v.variant))
  )
  core.setOutput('images', JSON.stringify(images))
  if (result.variants.length === 1 && result.variants[0]!.digest)
    core.setOutput('digest', result.variants[0]!.digest)
  await writeSummary(plan, decisions, result, reasons, cache, job.context, mode)

  const failed = result.variants.filter((v) => v.path !== 'fast' && v.path !== 'full')
  if (failed.length > 0) {
    for (const v of failed) core.error(`${v.variant}: ${v.error}`, { title: `fast-build: ${v.variant}` })
    core.setFailed(
      `${failed.length} of ${result.variants.length} variants failed: ${failed.map((v) => v.variant).join(', ')} (see the errors above)`
    )
  }
}

function setPlanOutputs(plan: Plan, decisions: readonly VariantDecision[]): void {
  core.setOutput('plan', JSON.stringify(planToJson(plan)))
  core.setOutput('matrix', JSON.stringify(matrixOf(decisions)))
}

async function writeSummary(
  plan: Plan,
  decisions: readonly VariantDecision[],
  result: BuildResult | null,
  reasons: ReadonlyMap<string, readonly string[]>,
  cache: BuildCache | null,
  context: RunContext,
  mode: 'build' | 'plan'
): Promise<void> {
  try {
    const byName = new Map<string, VariantResult>((result?.variants ?? []).map((v) => [v.variant, v]))
    const rows: SummaryRow[] = decisions.map((d) =>
      summaryRow(d, reasons.get(d.variant) ?? [], byName.get(d.variant) ?? null)
    )
    const s = core.summary
      .addHeading(mode === 'plan' ? 'fast-build plan' : 'fast-build', 2)
      .addTable(summaryTable(rows))
    const notes: string[] = []
    if (mode === 'plan')
      notes.push(
        context.forkPullRequest
          ? 'Pull request from a fork: planned only, nothing was pushed.'
          : 'Planned only: nothing was built or pushed.'
      )
    if (result?.sourceLayer)
      notes.push(
        `Source layer <code>${result.sourceLayer.digest.slice(0, 19)}</code>: ${result.sourceLayer.files} files, ${formatBytes(result.sourceLayer.size)}.`
      )
    if (cache)
      notes.push(
        `Actions cache: ${cache.restored.entries} entries restored, ${cache.saved.entries} saved (${formatBytes(cache.saved.bytes)} of wheels).`
      )
    notes.push(`Lock: <code>${plan.lock.path}</code>; ${plan.variants.length} variants.`)
    s.addRaw(`<p>${notes.join('<br>')}</p>`)
    await s.write()
  } catch (e) {
    // The summary is an extra: failing to write it only warns.
    core.warning(`could not write the job summary: ${describeError(e)}`)
  }
}
