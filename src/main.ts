// The action, a translator into and out of the build's stages: inputs → plan (once, base image
// pinned) → resolve (each deps image looked up once) → execute (mode build; mode plan stops
// before it) → publish (outputs, job summary, Actions cache, check run, statuses, comment). One
// catch turns any error into setFailed with the error's own description (file, line, fix), never
// a stack trace. Side effects it needs (the cache service, the environment) come in through
// `deps`, so tests can hand in their own.
import * as core from '@actions/core'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { relative, resolve, sep } from 'node:path'
import { runBuild } from './pipeline/build.js'
import { planBuild, type BuildPlan, type PlanInput } from './pipeline/plan-stage.js'
import { matrixOf, resolveVariants, type Decision } from './pipeline/resolve.js'
import type { BuildResult, VariantResult } from './pipeline/results.js'
import { formatBytes, plural } from './util/format.js'
import { ConfigError, describeError, isFastBuildError } from './errors.js'
import { actionsCacheBackend, BuildCache, CACHE_PREFIX, type CacheBackend } from './github/cache.js'
import { readRunContext, type RunContext } from './github/context.js'
import { deleteCacheEntries, publishReport, type GitHubTarget } from './github/publish.js'
import { rebuildAnnotations, type RebuildCause, type RunReport } from './github/report.js'
import { escapeHtml, reasonsFor, summaryRow, summaryTable, type SummaryRow } from './github/summary.js'
import { diffVariant } from './plan/diff.js'
import { getInputs, netEnvironment, type Inputs } from './inputs.js'
import { findLock, readLock } from './lock/index.js'
import { planToJson, type Plan, type PlanJson } from './plan/plan.js'
import { readDockerfile } from './project/dockerfile-file.js'
import { readProject } from './project/pyproject.js'
import type { Credential } from './registry/credentials.js'
import { openStore, parseStoreSpec } from './registry/open.js'
import { parseImageReference } from './registry/client.js'
import type { ImageStore } from './registry/store.js'
import { ArtifactCache } from './cache/artifacts.js'
import { CacheLayout, defaultCacheDir } from './cache/layout.js'

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
    const input = planInputOf(inputs)
    const mode = effectiveMode(inputs, context)
    const image = inputs.image ?? input.project.config.image
    if (!image) {
      if (mode === 'build') {
        throw new ConfigError(
          'no image to build: the images need a registry repository',
          { keyPath: 'with.image' },
          'set the image input (ghcr.io/owner/app) or image under [tool.fast-build]'
        )
      }
      await planWithoutImage(input, inputs, context)
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
        input,
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

/** What the plan stage plans from: the project, its lock, and the inputs as plan options. */
function planInputOf(inputs: Inputs): PlanInput {
  const project = readProject(resolve(inputs.project), inputs.project === '.' ? undefined : inputs.project)
  const { lock, notes } = readLock(project)
  return {
    project,
    lock,
    notes,
    options: {
      variants: [...inputs.variants],
      platforms: [...inputs.platforms],
      ...(inputs.cacheEpoch ? { epoch: inputs.cacheEpoch } : {}),
      ...(inputs.builder ? { builder: inputs.builder } : {}),
      dockerfile: readDockerfile(project, inputs.dockerfile, 'with.dockerfile'),
      ...(inputs.target ? { dockerfileTarget: inputs.target } : {}),
      ...(inputs.dockerfileCommand ? { dockerfileCommand: inputs.dockerfileCommand } : {})
    }
  }
}

/** The plan's notes, and its run-time groups checked against the branch. */
function announce(plan: Plan, inputs: Inputs, context: RunContext): void {
  for (const n of plan.notes) core.notice(n)
  checkRuntimeGroups(plan, inputs, context)
}

/**
 * Plan mode without an image: the plan as configured (no base image to pin for a registry that is
 * not there), every variant in the matrix.
 */
async function planWithoutImage(input: PlanInput, inputs: Inputs, context: RunContext): Promise<void> {
  const { plan } = await planBuild(input, { pin: false })
  announce(plan, inputs, context)
  core.notice(
    'no image configured: the deps images cannot be looked up, so every variant is listed in the matrix'
  )
  const all = plan.variants.map((v): Decision => ({
    variant: v.name,
    hash: v.hash,
    shortHash: v.shortHash,
    tag: '',
    depsRef: '',
    depsImage: null,
    reason: 'full',
    error: null
  }))
  setPlanOutputs(plan, all)
  await writeSummary(plan, all, null, new Map(), null, context, 'plan')
  failUnplanned(plan)
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
  readonly input: PlanInput
  readonly store: ImageStore
  readonly cacheBackend: CacheBackend
}

function cacheDirOf(env: NodeJS.ProcessEnv): string {
  return defaultCacheDir(env, env['HOME'] || homedir(), 'action')
}

/** FAST_BUILD_CACHE_TIMEOUT_S bounds every cache call (default: 15 s an index, 300 s a wheel). */
function cacheTimeouts(env: NodeJS.ProcessEnv): { indexTimeoutMs?: number; wheelTimeoutMs?: number } {
  const s = Number(env['FAST_BUILD_CACHE_TIMEOUT_S'])
  return Number.isFinite(s) && s > 0 ? { indexTimeoutMs: s * 1000, wheelTimeoutMs: s * 1000 } : {}
}

function readPrevious(cacheDir: string, variant: string): VariantJson | null {
  const path = new CacheLayout(cacheDir).plan(variant)
  if (!existsSync(path)) return null
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as VariantJson
  } catch {
    return null
  }
}

function writePlanOf(cacheDir: string, variant: VariantJson): void {
  const paths = new CacheLayout(cacheDir)
  mkdirSync(paths.plans, { recursive: true })
  writeFileSync(paths.plan(variant.name), JSON.stringify(variant))
}

/** What the last builds say about each variant: why it is rebuilt, and what changed in the lock. */
interface History {
  readonly current: ReadonlyMap<string, VariantJson>
  readonly reasons: ReadonlyMap<string, readonly string[]>
  readonly causes: readonly RebuildCause[]
}

function buildCacheOf(job: Job, cacheDir: string): BuildCache | null {
  if (!job.inputs.cache) return null
  const paths = new CacheLayout(cacheDir)
  return new BuildCache(
    job.cacheBackend,
    paths,
    new ArtifactCache(paths.artifacts),
    { info: core.info, warning: core.warning },
    cacheTimeouts(job.env)
  )
}

/**
 * What changed since the last build of each variant that needs the full path: the cache's layer
 * index carries the plan it was built from (and the layer descriptors the build reuses).
 */
async function historyOf(
  plan: Plan,
  decisions: readonly Decision[],
  cache: BuildCache | null,
  cacheDir: string
): Promise<History> {
  const current = new Map(planToJson(plan).variants.map((v) => [v.name, v]))
  const reasons = new Map<string, string[]>()
  const causes: RebuildCause[] = []
  for (const d of decisions) {
    // An invalidated variant is rebuilt from nothing the caches say: its index is not restored.
    if (d.reason === 'full' && cache) {
      const hit = await cache.restoreIndex(d.variant, d.shortHash)
      if (hit) core.info(`${d.variant}: layer index restored from the Actions cache (${hit})`)
    }
    const previous = readPrevious(cacheDir, d.variant)
    const now = current.get(d.variant)!
    reasons.set(d.variant, reasonsFor(d.reason, previous, now))
    if ((d.reason === 'full' || d.reason === 'invalidated') && previous && previous.hash !== now.hash) {
      const diff = diffVariant(d.variant, previous, now)
      causes.push({ variant: d.variant, changes: diff.platforms.flatMap((p) => p.changes) })
    }
  }
  return { current, reasons, causes }
}

async function buildOrPlan(job: Job): Promise<void> {
  const { inputs, mode, store, env } = job
  const cacheDir = cacheDirOf(env)
  const planned = await planBuild(job.input, { cacheDir, onProgress: (m) => core.info(m) })
  const { plan } = planned
  try {
    announce(plan, inputs, job.context)
    const decisions = await resolveVariants(plan, store, inputs.invalidate)
    const cache = buildCacheOf(job, cacheDir)
    const history = await historyOf(plan, decisions, cache, cacheDir)
    setPlanOutputs(plan, decisions)
    if (mode === 'plan') return await planOnly(job, plan, decisions, history, cache)
    const invalidated = decisions.filter((d) => d.reason === 'invalidated').map((d) => d.variant)
    if (invalidated.length > 0) await forget(job, invalidated)
    const result = await execute(job, planned, decisions, cache, cacheDir)
    await publish(job, plan, decisions, result, history, cache, cacheDir)
  } finally {
    // The base image's registry connection, kept from the plan stage for the full path.
    planned.base?.store.close?.()
  }
}

/** Mode plan: plan and resolve only. Variants that did not plan or could not be looked up fail the run. */
async function planOnly(
  job: Job,
  plan: Plan,
  decisions: readonly Decision[],
  history: History,
  cache: BuildCache | null
): Promise<void> {
  const full = decisions
    .filter((d) => d.reason === 'full' || d.reason === 'invalidated')
    .map((d) => d.variant)
  core.info(
    full.length ? `full path needed for: ${full.join(', ')}` : 'every deps image exists: fast path only'
  )
  await writeSummary(plan, decisions, null, history.reasons, cache, job.context, 'plan')
  failUnplanned(plan)
  failLookups(decisions)
}

/** Mode build: the plan and decisions handed to the build, its log grouped per variant. */
async function execute(
  job: Job,
  planned: BuildPlan,
  decisions: readonly Decision[],
  cache: BuildCache | null,
  cacheDir: string
): Promise<BuildResult> {
  const { inputs, env } = job
  const { plan } = planned
  let group: string | null = null
  const result = await runBuild({
    plan: planned,
    decisions,
    store: job.store,
    tags: inputs.tags,
    ...(inputs.compression ? { compression: inputs.compression } : {}),
    env: { ...env, ...(job.context.sha ? { GITHUB_SHA: job.context.sha } : {}) },
    rebuild: inputs.invalidate === 'all' ? 'all' : inputs.invalidate,
    // A fan-out's jobs build one variant each with the same tags: every variant needs its own.
    distinctTagsFor: plan.project.config.variants.map((v) => v.name),
    cacheDir,
    ...(inputs.maxLayers !== null ? { maxLayers: inputs.maxLayers } : {}),
    // The artifact cache the Actions cache restores wheels into is the one the build reads.
    ...(cache
      ? { artifacts: cache.artifacts, restoreWheels: (shas: readonly string[]) => cache.restoreWheels(shas) }
      : {}),
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
  return result
}

/** What the next run starts from: the plans built, the layer indexes and wheels in the Actions cache. */
async function remember(
  result: BuildResult,
  history: History,
  cache: BuildCache | null,
  cacheDir: string
): Promise<void> {
  for (const v of result.variants)
    if (v.path === 'full' || v.path === 'fast') writePlanOf(cacheDir, history.current.get(v.variant)!)
  if (!cache) return
  const downloaded = [...new Set(result.variants.flatMap((v) => v.full?.downloadedSha256 ?? []))]
  for (const v of result.variants)
    if (v.path === 'full') await cache.saveIndex(v.variant, v.hash.slice(0, 16))
  await cache.saveWheels(downloaded)
  if (cache.saved.entries > 0)
    core.info(
      `Actions cache: saved ${cache.saved.entries} entries (${formatBytes(cache.saved.bytes)} of wheels)`
    )
}

/** The last stage: outputs, job summary, check run, statuses, comment; failed variants fail the run. */
async function publish(
  job: Job,
  plan: Plan,
  decisions: readonly Decision[],
  result: BuildResult,
  history: History,
  cache: BuildCache | null,
  cacheDir: string
): Promise<void> {
  await remember(result, history, cache, cacheDir)
  const images: Record<string, string> = {}
  for (const v of result.variants) if (v.appRef) images[v.variant] = v.appRef
  core.setOutput(
    'rebuilt',
    JSON.stringify(result.variants.filter((v) => v.path === 'full').map((v) => v.variant))
  )
  core.setOutput('images', JSON.stringify(images))
  if (result.variants.length === 1 && result.variants[0]!.digest)
    core.setOutput('digest', result.variants[0]!.digest)
  const rows = await writeSummary(plan, decisions, result, history.reasons, cache, job.context, job.mode)
  const failed = result.variants.filter((v) => v.path !== 'fast' && v.path !== 'full')
  await report(
    job,
    plan,
    rows,
    history.causes,
    failed.map((v) => v.variant)
  )
  if (failed.length > 0) {
    for (const v of failed) core.error(`${v.variant}: ${v.error}`, { title: `fast-build: ${v.variant}` })
    core.setFailed(
      `${failed.length} of ${result.variants.length} variants failed: ${failed.map((v) => v.variant).join(', ')} (see the errors above)`
    )
  }
}

/** Variants whose deps image could not be looked up (plan mode: the build would fail them too). */
function failLookups(decisions: readonly Decision[]): void {
  const failed = decisions.filter((d) => d.reason === 'failed')
  if (failed.length === 0) return
  for (const d of failed)
    core.error(`${d.variant}: ${describeError(d.error)}`, { title: `fast-build: ${d.variant}` })
  core.setFailed(
    `${plural(failed.length, 'variant')} could not be looked up: ${failed.map((d) => d.variant).join(', ')} (see the errors above)`
  )
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

function setPlanOutputs(plan: Plan, decisions: readonly Decision[]): void {
  core.setOutput('plan', JSON.stringify(planToJson(plan)))
  core.setOutput('matrix', JSON.stringify(matrixOf(decisions)))
}

async function writeSummary(
  plan: Plan,
  decisions: readonly Decision[],
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
