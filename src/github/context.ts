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
  readonly pullRequest: number | null
}

type Env = Readonly<Record<string, string | undefined>>

interface Payload {
  readonly repository?: { readonly full_name?: string }
  readonly pull_request?: {
    readonly number?: number
    readonly head?: { readonly repo?: { readonly full_name?: string } | null }
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
  return {
    eventName,
    sha: env['GITHUB_SHA'] || null,
    refName: env['GITHUB_HEAD_REF'] || env['GITHUB_REF_NAME'] || null,
    actor: env['GITHUB_ACTOR'] || null,
    repository: base,
    forkPullRequest: fork,
    pullRequest: typeof pr?.number === 'number' ? pr.number : null
  }
}
