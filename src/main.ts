// The action: read inputs → plan → decide per variant → build (or only plan) → outputs, job
// summary, Actions cache. One catch turns any error into setFailed with the error's own
// description (file, line, fix), never a stack trace. Side effects it needs (the cache service,
// the environment) come in through `deps`, so tests can hand in their own.
import * as core from '@actions/core'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, relative, resolve, sep } from 'node:path'
import { pinBase, runBuild, type BuildResult, type VariantResult } from './build/build.js'
import { decideVariants, matrixOf, type VariantDecision } from './build/decide.js'
import { formatBytes } from './build/fast-path.js'
import { ConfigError, describeError, isFastBuildError } from './errors.js'
import { actionsCacheBackend, BuildCache, CACHE_PREFIX, type CacheBackend } from './github/cache.js'
import { readRunContext, type RunContext } from './github/context.js'
import { deleteCacheEntries, publishReport, type GitHubTarget } from './github/publish.js'
import { rebuildAnnotations, type RebuildCause, type RunReport } from './github/report.js'
import { escapeHtml, reasonsFor, summaryRow, summaryTable, type SummaryRow } from './github/summary.js'
import { diffVariant } from './plan/diff.js'
import { getInputs, netEnvironment, type Inputs } from './inputs.js'
import { findLock, readLock } from './lock/index.js'
import { planProject, planToJson, type Plan, type PlanJson } from './plan/plan.js'
import { readDockerfile } from './project/dockerfile-file.js'
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

/** Invalidation is a maintainer's act: honoured on workflow_dispatch only (the CLI has --rebuild). */
function effectiveInvalidate(inputs: Inputs, context: RunContext): Inputs['invalidate'] {
  const asked = inputs.invalidate === 'all' || inputs.invalidate.length > 0
  if (!asked || context.eventName === 'workflow_dispatch') return inputs.invalidate
  core.notice(
    `invalidate is honoured only on workflow_dispatch; this run is a ${context.eventName ?? 'local'} run, so it is ignored`
  )
  return []
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/** Run-time groups skip the hash: fine on a branch, refused on the default branch unless allowed. */
function checkRuntimeGroups(plan: Plan, inputs: Inputs, context: RunContext): void {
  const runtime = plan.variants.flatMap((v) =>
    v.platforms.some((p) => p.runtime.length > 0)
      ? [`${v.name} (${plural(Math.max(...v.platforms.map((p) => p.runtime.length)), 'package')})`]
      : []
  )
  if (runtime.length === 0 || !context.onDefaultBranch) return
  if (inputs.allowRuntimeGroupsOnDefaultBranch) {
    core.warning(
      `run-time groups on the default branch: ${runtime.join(', ')} install packages when the container starts (allowed by allow-runtime-groups-on-default-branch)`
    )
    return
  }
  throw new ConfigError(
    `run-time groups on the default branch ${context.defaultBranch}: ${runtime.join(', ')} would install packages outside the image's hash when the container starts`,
    { file: plan.project.file, keyPath: 'tool.fast-build.runtime-groups' },
    'move those packages into a variant (or empty runtime-groups) before merging, or set allow-runtime-groups-on-default-branch: true'
  )
}

type VariantJson = PlanJson['variants'][number]

export async function run(deps: RunDeps = {}): Promise<void> {
  const env = deps.env ?? process.env
  try {
    const inputs = getInputs()
    // The network code reads its bounds from the environment (as the CLI does): the inputs set them.
    Object.assign(process.env, netEnvironment(inputs))
    const context = readRunContext(env)
    const plan0 = loadPlan(inputs)
    for (const n of plan0.notes) core.notice(n)
    checkRuntimeGroups(plan0, inputs, context)
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
      failUnplanned(plan0)
      return
    }
    const store = await openStore(parseStoreSpec(image, 'image'), {
      ...(credentialFor(image, inputs, context) ?? {}),
      onRetry: (m, delay) => core.info(`retrying in ${(delay / 1000).toFixed(1)} s: ${m}`)
    })
    try {
      await buildOrPlan({
        inputs: { ...inputs, invalidate: effectiveInvalidate(inputs, context) },
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
    ...(inputs.cacheEpoch ? { epoch: inputs.cacheEpoch } : {}),
    ...(inputs.builder ? { builder: inputs.builder } : {}),
    dockerfile: readDockerfile(project, inputs.dockerfile, 'with.dockerfile'),
    ...(inputs.target ? { dockerfileTarget: inputs.target } : {}),
    ...(inputs.dockerfileCommand ? { dockerfileCommand: inputs.dockerfileCommand } : {})
  })
  return { ...plan, notes: [...notes, ...plan.notes] }
}

/** `plan` when asked, and whenever pushing is off: a run with a read-only token never pushes. */
function effectiveMode(inputs: Inputs, context: RunContext): 'build' | 'plan' {
  if (context.readOnly) {
    core.notice(
      `${context.readOnly}: fast-build plans only and pushes nothing (its token is read-only and it gets no registry credentials)`
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
  const cacheDir = cacheDirOf(env)
  const { plan } = await pinBase(job.plan0, {}, { cacheDir, onProgress: (m) => core.info(m) })
  const decisions = await decideVariants(plan, store, inputs.invalidate)
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
  const causes: RebuildCause[] = []
  const invalidated = decisions.filter((d) => d.decision === 'invalidated').map((d) => d.variant)
  for (const d of decisions) {
    // An invalidated variant is rebuilt from nothing the caches say: its index is not restored.
    if (d.decision === 'full' && cache) {
      const hit = await cache.restoreIndex(d.variant, d.shortHash)
      if (hit) core.info(`${d.variant}: layer index restored from the Actions cache (${hit})`)
    }
    const previous = readPrevious(cacheDir, d.variant)
    const now = current.get(d.variant)!
    reasons.set(d.variant, reasonsFor(d.decision, previous, now))
    if (d.decision !== 'fast' && previous && previous.hash !== now.hash) {
      const diff = diffVariant(d.variant, previous, now)
      causes.push({ variant: d.variant, changes: diff.platforms.flatMap((p) => p.changes) })
    }
  }
  setPlanOutputs(plan, decisions)
  if (invalidated.length > 0 && mode === 'build') await forget(job, invalidated)

  if (mode === 'plan') {
    const full = decisions.filter((d) => d.decision !== 'fast').map((d) => d.variant)
    core.info(
      full.length ? `full path needed for: ${full.join(', ')}` : 'every deps image exists: fast path only'
    )
    await writeSummary(plan, decisions, null, reasons, cache, job.context, mode)
    failUnplanned(plan)
    return
  }

  let group: string | null = null
  const result = await runBuild({
    plan,
    store,
    tags: inputs.tags,
    env: { ...env, ...(job.context.sha ? { GITHUB_SHA: job.context.sha } : {}) },
    rebuild: inputs.invalidate === 'all' ? 'all' : inputs.invalidate,
    // A fan-out's jobs build one variant each with the same tags: every variant needs its own.
    distinctTagsFor: plan.project.config.variants.map((v) => v.name),
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
  const rows = await writeSummary(plan, decisions, result, reasons, cache, job.context, mode)

  const failed = result.variants.filter((v) => v.path !== 'fast' && v.path !== 'full')
  await report(
    job,
    plan,
    rows,
    causes,
    failed.map((v) => v.variant)
  )
  if (failed.length > 0) {
    for (const v of failed) core.error(`${v.variant}: ${v.error}`, { title: `fast-build: ${v.variant}` })
    core.setFailed(
      `${failed.length} of ${result.variants.length} variants failed: ${failed.map((v) => v.variant).join(', ')} (see the errors above)`
    )
  }
}

/** Variants that could not be planned fail the run, after the others have been planned. */
function failUnplanned(plan: Plan): void {
  const failed = plan.failed ?? []
  if (failed.length === 0) return
  for (const f of failed) {
    core.error(describeError(f.error), {
      title: `fast-build: ${f.name}`,
      ...(f.error.location.file ? { file: f.error.location.file } : {}),
      ...(f.error.location.line ? { startLine: f.error.location.line } : {})
    })
  }
  core.setFailed(
    `${plural(failed.length, 'variant')} could not be planned: ${failed.map((f) => f.name).join(', ')} (see the errors above)`
  )
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
): Promise<SummaryRow[]> {
  const byName = new Map<string, VariantResult>((result?.variants ?? []).map((v) => [v.variant, v]))
  const rows: SummaryRow[] = decisions.map((d) =>
    summaryRow(d, reasons.get(d.variant) ?? [], byName.get(d.variant) ?? null)
  )
  try {
    const s = core.summary
      .addHeading(mode === 'plan' ? 'fast-build plan' : 'fast-build', 2)
      .addTable(summaryTable(rows))
    const notes: string[] = []
    if (mode === 'plan')
      notes.push(
        context.readOnly
          ? `${context.readOnly[0]!.toUpperCase()}${context.readOnly.slice(1)}: planned only, nothing was pushed.`
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
    // A failed build's last lines (the Dockerfile builder's log tail), under its variant's name.
    for (const v of result?.variants ?? []) {
      const lines = v.error?.split('\n').slice(1) ?? []
      if (lines.length > 0)
        s.addDetails(`${v.variant}: the build's last lines`, `<pre>${escapeHtml(lines.join('\n'))}</pre>`)
    }
    await s.write()
  } catch (e) {
    // The summary is an extra: failing to write it only warns.
    core.warning(`could not write the job summary: ${describeError(e)}`)
  }
  return rows
}

function githubTarget(job: Job): GitHubTarget | null {
  const { inputs, context } = job
  if (!inputs.githubToken || !context.repository) return null
  return { token: inputs.githubToken, apiUrl: context.apiUrl, repository: context.repository }
}

/**
 * Invalidated variants: their Actions cache entries (layer index, last plan) are deleted through
 * the REST API, so neither this run nor a later one trusts them. Wheels stay: each is checked
 * against its digest before use.
 */
async function forget(job: Job, variants: readonly string[]): Promise<void> {
  const target = githubTarget(job)
  if (!target) {
    core.info('invalidate: no github-token, so the Actions cache entries of the invalidated variants stay')
    return
  }
  const n = await deleteCacheEntries(
    target,
    variants.map((v) => `${CACHE_PREFIX}-index-${v}-`),
    { info: core.info, warning: core.warning }
  )
  if (n !== null) core.info(`invalidate: ${n} Actions cache entries of ${variants.join(', ')} deleted`)
}

/** The check run, statuses and comment, as the annotate input asks; never from a fork's run. */
async function report(
  job: Job,
  plan: Plan,
  rows: readonly SummaryRow[],
  causes: readonly RebuildCause[],
  failed: readonly string[]
): Promise<void> {
  const { inputs, context } = job
  const modes = inputs.annotate.filter((m) => m === 'status' || context.pullRequest !== null)
  if (modes.length === 0 || context.readOnly || !context.headSha) return
  const target = githubTarget(job)
  if (!target) {
    core.info('annotate: no github-token and repository, so only the job summary reports this run')
    return
  }
  const lock = findLock(plan.project)
  const workspace = resolve(job.env['GITHUB_WORKSPACE'] || '.')
  let annotations: ReturnType<typeof rebuildAnnotations> = []
  try {
    annotations = rebuildAnnotations(
      relative(workspace, lock.path).split(sep).join('/'),
      readFileSync(lock.path, 'utf8'),
      causes
    )
  } catch (e) {
    core.info(`annotations skipped: ${describeError(e)}`)
  }
  const runReport: RunReport = {
    rows,
    failed,
    planOnly: false,
    notes: [`Lock: \`${lock.display}\`; ${plan.variants.length} variants.`]
  }
  await publishReport({
    target,
    modes,
    headSha: context.headSha,
    pullRequest: context.pullRequest,
    report: runReport,
    annotations,
    log: { info: core.info, warning: core.warning }
  })
}
