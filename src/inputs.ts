// The only reader of @actions/core inputs: action.yml names in, a typed object out. Every input is
// validated here, and a bad one names itself (`with.<input>`) and says what it takes.
import * as core from '@actions/core'
import { ConfigError } from './errors.js'
import { parseSeconds, REQUEST_TIMEOUT_ENV, RETRY_BUDGET_ENV } from './net/retry.js'
import { parseImageReference } from './registry/client.js'
import { lowercaseRepository } from './registry/open.js'
import { TAG_PATTERN } from './registry/store.js'
import { parsePlatform, type Platform } from './target.js'

export type Mode = 'build' | 'plan'
export type Builder = 'auto' | 'wheels' | 'dockerfile'
export type Annotate = 'checks' | 'status' | 'comment'

export interface Inputs {
  readonly project: string
  /** Registry repository for the images (`ghcr.io/acme/app`); null: [tool.fast-build] image. */
  readonly image: string | null
  readonly variants: readonly string[]
  readonly platforms: readonly Platform[]
  readonly push: boolean
  /** Tag templates with {variant}, {sha}, {ref}; empty: `{variant}-{sha}`. */
  readonly tags: readonly string[]
  /** null: [tool.fast-build] builder (default auto). */
  readonly builder: Builder | null
  /** null: [tool.fast-build] compression (default gzip). */
  readonly compression: 'gzip' | 'zstd' | null
  readonly maxLayers: number | null
  readonly registryUsername: string | null
  readonly registryPassword: string | null
  readonly githubToken: string | null
  /** Variants whose deps image is rebuilt whatever exists. */
  readonly invalidate: readonly string[] | 'all'
  /** Mixed into every variant hash: changing it rebuilds everything, once. */
  readonly cacheEpoch: string | null
  readonly cache: boolean
  readonly mode: Mode
  /** How a pull request is told what rebuilt (empty: only the job summary). */
  readonly annotate: readonly Annotate[]
  /** Let a run-time group through on the default branch (off: such a run fails). */
  readonly allowRuntimeGroupsOnDefaultBranch: boolean
  /** The Dockerfile builder: its Dockerfile (relative to the project), stage, and command. */
  readonly dockerfile: string | null
  readonly target: string | null
  readonly dockerfileCommand: readonly string[] | null
  /** Seconds each registry or index request may go without an answer (absent: the default, 30). */
  readonly requestTimeout?: number
  /** Seconds of retrying each registry or index operation may take (absent: the default, 120). */
  readonly retryBudget?: number
}

/** Split a list input on commas and newlines, dropping blanks. */
export function listInput(value: string): string[] {
  return value
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter((s) => s !== '')
}

function bad(input: string, message: string, hint: string): ConfigError {
  return new ConfigError(`input ${input}: ${message}`, { keyPath: `with.${input}` }, hint)
}

/** true/false as YAML 1.2 core schema spells them (what core.getBooleanInput takes). */
export function booleanInput(name: string, value: string, dflt: boolean): boolean {
  if (value === '') return dflt
  if (['true', 'True', 'TRUE'].includes(value)) return true
  if (['false', 'False', 'FALSE'].includes(value)) return false
  throw bad(name, `${JSON.stringify(value)} is not a boolean`, 'write true or false')
}

function oneOf<T extends string>(name: string, value: string, allowed: readonly T[], dflt: T): T {
  if (value === '') return dflt
  if ((allowed as readonly string[]).includes(value)) return value as T
  throw bad(
    name,
    `${JSON.stringify(value)} is not one of ${allowed.join(', ')}`,
    `write one of ${allowed.join(', ')}`
  )
}

/** Tag templates must give valid tags whatever the variant, sha and ref (checked with samples). */
function tagTemplates(value: string): string[] {
  const templates = listInput(value)
  for (const t of templates) {
    const sample = t
      .replace(/\{variant\}/g, 'ml')
      .replace(/\{sha\}/g, '0123456789ab')
      .replace(/\{ref\}/g, 'main')
    if (/\{[^}]*\}/.test(sample) || !TAG_PATTERN.test(sample)) {
      throw bad(
        'tags',
        `${JSON.stringify(t)} does not make a valid tag`,
        'use letters, digits, ".", "_", "-" and the placeholders {variant}, {sha}, {ref}'
      )
    }
  }
  return templates
}

/** checks, status, comment (any of them, comma-separated), or none. */
function annotateInput(value: string): Annotate[] {
  const list = listInput(value)
  if (list.length === 0) return ['checks']
  if (list.length === 1 && list[0] === 'none') return []
  const allowed = ['checks', 'status', 'comment'] as const
  for (const a of list) {
    if (!(allowed as readonly string[]).includes(a))
      throw bad(
        'annotate',
        `${JSON.stringify(a)} is not one of checks, status, comment, none`,
        'write checks, status or comment (several with commas), or none'
      )
  }
  return [...new Set(list)] as Annotate[]
}

/**
 * The image input, its repository path lowercased: `ghcr.io/${{ github.repository }}` is the
 * usual way to write it, and GitHub keeps an owner's capitals while registries refuse them. The
 * change is said (`notice`), since the image then has another name than the one written.
 */
function imageInput(value: string | null, notice: (message: string) => void): string | null {
  if (value === null) return null
  const written = value.replace(/^(docker|registry):(\/\/)?/, '')
  const lower = lowercaseRepository(written)
  if (lower !== null)
    notice(
      `input image: ${written} has capitals in its repository name, which registries refuse: using ${lower}`
    )
  const image = lower ?? written
  try {
    parseImageReference(image, 'image')
  } catch {
    throw bad(
      'image',
      `${JSON.stringify(value)} is not an image repository`,
      'write it as host/repository without a tag, e.g. ghcr.io/acme/app or ghcr.io/${{ github.repository }}'
    )
  }
  return image
}

/**
 * `notice` is told about inputs that were taken in another form than written (an image with
 * capitals); getInputs passes core.notice.
 */
export function parseInputs(
  get: (name: string) => string,
  notice: (message: string) => void = () => undefined
): Inputs {
  const text = (name: string): string | null => {
    const v = get(name).trim()
    return v === '' ? null : v
  }
  const platforms = listInput(get('platforms')).map((p) => {
    try {
      return parsePlatform(p, 'platforms')
    } catch (e) {
      if (e instanceof ConfigError)
        throw new ConfigError(`input ${e.message}`, { keyPath: 'with.platforms' }, e.hint)
      throw e
    }
  })
  const maxLayersText = text('max-layers')
  let maxLayers: number | null = null
  if (maxLayersText !== null) {
    maxLayers = Number(maxLayersText)
    if (!Number.isInteger(maxLayers) || maxLayers < 2 || maxLayers > 500)
      throw bad(
        'max-layers',
        `${JSON.stringify(maxLayersText)} is not a whole number from 2 to 500`,
        'Docker refuses images past about 125 layers; the default is 100'
      )
  }
  const invalidateList = listInput(get('invalidate'))
  const invalidate = invalidateList.includes('all') ? 'all' : invalidateList
  const username = text('registry-username')
  const password = text('registry-password')
  if ((username === null) !== (password === null)) {
    throw bad(
      username === null ? 'registry-username' : 'registry-password',
      'is missing: give registry-username and registry-password together',
      'or give neither, to use the Docker config (docker/login-action) or github-token for ghcr.io'
    )
  }
  const epoch = text('cache-epoch')
  const seconds = (name: string): number | null => {
    const v = text(name)
    if (v === null) return null
    try {
      return parseSeconds(v, `input ${name}`, `with.${name}`)
    } catch (e) {
      if (e instanceof ConfigError)
        throw bad(name, `${JSON.stringify(v)} is not a number of seconds`, e.hint!)
      throw e
    }
  }
  const requestTimeout = seconds('request-timeout')
  const retryBudget = seconds('retry-budget')
  return {
    // Present only when given, so a workflow's FAST_BUILD_* environment applies otherwise.
    ...(requestTimeout !== null ? { requestTimeout } : {}),
    ...(retryBudget !== null ? { retryBudget } : {}),
    project: text('project') ?? '.',
    image: imageInput(text('image'), notice),
    variants: listInput(get('variants')),
    platforms,
    push: booleanInput('push', get('push').trim(), true),
    tags: tagTemplates(get('tags')),
    builder:
      get('builder').trim() === ''
        ? null
        : oneOf('builder', get('builder').trim(), ['auto', 'wheels', 'dockerfile'] as const, 'auto'),
    compression:
      get('compression').trim() === ''
        ? null
        : oneOf('compression', get('compression').trim(), ['gzip', 'zstd'] as const, 'gzip'),
    maxLayers,
    registryUsername: username,
    registryPassword: password,
    githubToken: text('github-token'),
    invalidate,
    cacheEpoch: epoch,
    cache: booleanInput('cache', get('cache').trim(), true),
    mode: oneOf('mode', get('mode').trim(), ['build', 'plan'] as const, 'build'),
    annotate: annotateInput(get('annotate')),
    dockerfile: text('dockerfile'),
    target: text('target'),
    dockerfileCommand: text('dockerfile-command')?.split(/\s+/) ?? null,
    allowRuntimeGroupsOnDefaultBranch: booleanInput(
      'allow-runtime-groups-on-default-branch',
      get('allow-runtime-groups-on-default-branch').trim(),
      false
    )
  }
}

/**
 * The environment variables that carry the reliability inputs to every registry and index client
 * (src/net/retry.ts reads them): set them in process.env before the first client is made. Empty
 * when the inputs are not given, so variables the workflow sets itself still apply.
 */
export function netEnvironment(
  inputs: Pick<Inputs, 'requestTimeout' | 'retryBudget'>
): Record<string, string> {
  return {
    ...(inputs.requestTimeout !== undefined ? { [REQUEST_TIMEOUT_ENV]: String(inputs.requestTimeout) } : {}),
    ...(inputs.retryBudget !== undefined ? { [RETRY_BUDGET_ENV]: String(inputs.retryBudget) } : {})
  }
}

export function getInputs(): Inputs {
  const inputs = parseInputs(
    (name) => core.getInput(name),
    (m) => core.notice(m)
  )
  // Masked in every log line from here on, whatever prints them.
  if (inputs.registryPassword) core.setSecret(inputs.registryPassword)
  if (inputs.githubToken) core.setSecret(inputs.githubToken)
  return inputs
}
