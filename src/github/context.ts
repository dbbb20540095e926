// What the workflow run is, from the environment GitHub sets and the event payload file: pure
// over its inputs (env and a file reader), so tests give it any event.
import { readFileSync } from 'node:fs'

export interface RunContext {
  readonly eventName: string | null
  /** The commit being built. */
  readonly sha: string | null
  /** The branch or tag as a ref name (`main`, `feature/x`); a pull request's head branch. */
  readonly refName: string | null
  readonly actor: string | null
  /** `owner/name` of the repository the workflow runs in. */
  readonly repository: string | null
  /** A pull request whose head is in another repository: no secrets, nothing may be pushed. */
  readonly forkPullRequest: boolean
  /**
   * Why this run's token cannot write packages, when it cannot: a fork's pull request, or one
   * Dependabot opened (GitHub gives both a read-only token and no secrets). Such a run plans only.
   */
  readonly readOnly: string | null
  readonly pullRequest: number | null
  /** The commit results are reported on: a pull request's head (GITHUB_SHA is its merge commit). */
  readonly headSha: string | null
  /** The repository's default branch, from the event payload. */
  readonly defaultBranch: string | null
  /** A run for a commit on the default branch (a push, a dispatch, a schedule; never a pull request). */
  readonly onDefaultBranch: boolean
  /** GITHUB_API_URL (GitHub Enterprise Server has its own). */
  readonly apiUrl: string
}

type Env = Readonly<Record<string, string | undefined>>

interface Payload {
  readonly repository?: { readonly full_name?: string; readonly default_branch?: string }
  readonly pull_request?: {
    readonly number?: number
    readonly head?: { readonly sha?: string; readonly repo?: { readonly full_name?: string } | null }
  }
}

/**
 * The pull request's head commit, from the event payload, when the run is for a pull request
 * (`pull_request`, `pull_request_target`, the review events): GITHUB_SHA is then a merge commit
 * (or the base branch's head) that nobody pushed, while checks and people talk about the head.
 * null for other events, or when the payload cannot be read or names no valid sha.
 */
export function pullRequestHeadSha(
  env: Env,
  readPayload: (path: string) => string = (p) => readFileSync(p, 'utf8')
): string | null {
  if (!(env['GITHUB_EVENT_NAME'] ?? '').startsWith('pull_request')) return null
  const path = env['GITHUB_EVENT_PATH']
  if (!path) return null
  try {
    const sha = (JSON.parse(readPayload(path)) as Payload).pull_request?.head?.sha
    return typeof sha === 'string' && /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(sha) ? sha : null
  } catch {
    return null
  }
}

export function readRunContext(
  env: Env,
  readPayload: (path: string) => string = (p) => readFileSync(p, 'utf8')
): RunContext {
  const eventName = env['GITHUB_EVENT_NAME'] || null
  let payload: Payload = {}
  const path = env['GITHUB_EVENT_PATH']
  if (path) {
    try {
      payload = JSON.parse(readPayload(path)) as Payload
    } catch {
      payload = {} // no payload (a local run): not a pull request
    }
  }
  const pr = payload.pull_request
  const base = payload.repository?.full_name ?? env['GITHUB_REPOSITORY'] ?? null
  const head = pr?.head?.repo
  // A fork's head repository differs from the base; a deleted fork has head.repo null. (`fork`
  // on the head repository says whether that repository is a fork at all, not whether it is
  // another one than the base: a repository that is itself a fork has it on its own PRs.)
  const fork =
    (eventName === 'pull_request' || eventName === 'pull_request_review') &&
    pr !== undefined &&
    (head === null || head === undefined || head.full_name !== base)
  const sha = env['GITHUB_SHA'] || null
  const defaultBranch = payload.repository?.default_branch ?? null
  const isPullRequest = pr !== undefined || (eventName ?? '').startsWith('pull_request')
  return {
    eventName,
    sha,
    refName: env['GITHUB_HEAD_REF'] || env['GITHUB_REF_NAME'] || null,
    actor: env['GITHUB_ACTOR'] || null,
    repository: base,
    forkPullRequest: fork,
    readOnly: fork
      ? 'pull request from a fork'
      : isPullRequest && env['GITHUB_ACTOR'] === 'dependabot[bot]'
        ? 'pull request from Dependabot'
        : null,
    pullRequest: typeof pr?.number === 'number' ? pr.number : null,
    headSha: pr?.head?.sha ?? sha,
    defaultBranch,
    onDefaultBranch:
      !isPullRequest && defaultBranch !== null && env['GITHUB_REF'] === `refs/heads/${defaultBranch}`,
    apiUrl: env['GITHUB_API_URL'] || 'https://api.github.com'
  }
}
