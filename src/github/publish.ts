// The edge to GitHub's REST API: the check run, commit statuses, the one comment, and deleting
// Actions cache entries on invalidation. Every call is bounded in time, and every failure is a
// warning: a missing permission names the permission to add (GitHub answers 403 "Resource not
// accessible by integration" and says which one in x-accepted-github-permissions), never a
// failed build. The token goes to Octokit only; nothing here prints it.
import { getOctokit } from '@actions/github'
import { describeError } from '../errors.js'
import {
  checkRunPayloads,
  commentBody,
  COMMENT_MARKER,
  statusPayloads,
  type Annotation,
  type RunReport
} from './report.js'

export type AnnotateMode = 'checks' | 'status' | 'comment'

export interface PublishLog {
  info(message: string): void
  warning(message: string): void
}

export interface GitHubTarget {
  readonly token: string
  /** GITHUB_API_URL (https://api.github.com, or a GitHub Enterprise Server's). */
  readonly apiUrl: string
  /** owner/name */
  readonly repository: string
}

type Octokit = ReturnType<typeof getOctokit>

const REQUEST_TIMEOUT_MS = 20_000

function client(t: GitHubTarget): Octokit {
  return getOctokit(t.token, { baseUrl: t.apiUrl })
}

function repoOf(t: GitHubTarget): { owner: string; repo: string } {
  const [owner, repo] = t.repository.split('/')
  return { owner: owner!, repo: repo! }
}

const request = () => ({ request: { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) } })

/** The warning for a failed call: the permission to add when GitHub refused one. */
export function failureMessage(what: string, permission: string, e: unknown): string {
  const err = e as { status?: number; response?: { headers?: Record<string, string | undefined> } }
  if (err.status === 403 || err.status === 404) {
    const accepted = err.response?.headers?.['x-accepted-github-permissions']
    const needed = accepted ? accepted.replace(/=/g, ': ').replace(/;\s*/g, ' or ') : permission
    return `fast-build could not ${what}: the workflow token lacks ${needed}. Add it to the job: permissions: { ${permission} } (the build itself is not affected)`
  }
  if (err.status === 401)
    return `fast-build could not ${what}: GitHub refused the token (401); check the github-token input`
  return `fast-build could not ${what}: ${describeError(e)}`
}

export interface PublishArgs {
  readonly target: GitHubTarget
  readonly modes: readonly AnnotateMode[]
  /** The commit the results belong to: a pull request's head, not its merge commit. */
  readonly headSha: string
  readonly pullRequest: number | null
  readonly report: RunReport
  readonly annotations: readonly Annotation[]
  readonly log: PublishLog
}

export async function publishReport(a: PublishArgs): Promise<void> {
  const octokit = client(a.target)
  const repo = repoOf(a.target)
  if (a.modes.includes('checks')) {
    try {
      const { create, more } = checkRunPayloads(a.headSha, a.report, a.annotations)
      const created = await octokit.rest.checks.create({ ...repo, ...create, ...request() })
      for (const batch of more) {
        await octokit.rest.checks.update({
          ...repo,
          check_run_id: created.data.id,
          output: { title: create.output.title, summary: create.output.summary, annotations: batch },
          ...request()
        })
      }
      a.log.info(`check run fast-build: ${created.data.html_url ?? created.data.id}`)
    } catch (e) {
      a.log.warning(failureMessage('create the fast-build check run', 'checks: write', e))
    }
  }
  if (a.modes.includes('status')) {
    try {
      for (const s of statusPayloads(a.report))
        await octokit.rest.repos.createCommitStatus({ ...repo, sha: a.headSha, ...s, ...request() })
      a.log.info(`commit statuses: ${a.report.rows.map((r) => `fast-build/${r.variant}`).join(', ')}`)
    } catch (e) {
      a.log.warning(failureMessage('post commit statuses', 'statuses: write', e))
    }
  }
  if (a.modes.includes('comment') && a.pullRequest !== null) {
    try {
      const body = commentBody(a.report, a.headSha)
      const comments = await octokit.paginate(octokit.rest.issues.listComments, {
        ...repo,
        issue_number: a.pullRequest,
        per_page: 100,
        ...request()
      })
      // Ours: the marker, written by a bot (a human quoting it does not count).
      const ours = comments.find((c) => c.body?.includes(COMMENT_MARKER) && c.user?.type === 'Bot')
      if (ours) {
        await octokit.rest.issues.updateComment({ ...repo, comment_id: ours.id, body, ...request() })
        a.log.info(`pull request comment updated (${ours.html_url})`)
      } else {
        const c = await octokit.rest.issues.createComment({
          ...repo,
          issue_number: a.pullRequest,
          body,
          ...request()
        })
        a.log.info(`pull request comment added (${c.data.html_url})`)
      }
    } catch (e) {
      a.log.warning(failureMessage('comment on the pull request', 'pull-requests: write', e))
    }
  }
}

/**
 * Delete the Actions cache entries whose keys start with these prefixes (an invalidation must
 * not hand the next build what it distrusts). Returns how many were deleted, or null on failure.
 */
export async function deleteCacheEntries(
  target: GitHubTarget,
  prefixes: readonly string[],
  log: PublishLog
): Promise<number | null> {
  const octokit = client(target)
  const repo = repoOf(target)
  let deleted = 0
  try {
    for (const key of prefixes) {
      const entries = await octokit.paginate(octokit.rest.actions.getActionsCacheList, {
        ...repo,
        key,
        per_page: 100,
        ...request()
      })
      for (const entry of entries) {
        if (entry.id === undefined || !entry.key?.startsWith(key)) continue
        await octokit.rest.actions.deleteActionsCacheById({ ...repo, cache_id: entry.id, ...request() })
        log.info(`Actions cache: deleted ${entry.key}`)
        deleted++
      }
    }
    return deleted
  } catch (e) {
    log.warning(failureMessage('delete the invalidated Actions cache entries', 'actions: write', e))
    return null
  }
}
