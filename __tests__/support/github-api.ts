// A stand-in for the GitHub REST API on 127.0.0.1, for end-to-end tests. It answers the routes the
// action uses as api.github.com does (status codes, JSON shapes, the headers Octokit reads), so the
// real client from @actions/github (getOctokit, with GITHUB_API_URL or `baseUrl` pointing here)
// runs unmodified against it:
//
//   POST   /repos/{o}/{r}/check-runs                     201 check run          checks:write
//   GET    /repos/{o}/{r}/check-runs/{id}                200 check run          checks:read
//   PATCH  /repos/{o}/{r}/check-runs/{id}                200 check run          checks:write
//   GET    /repos/{o}/{r}/check-runs/{id}/annotations    200 [annotation]       checks:read
//   POST   /repos/{o}/{r}/statuses/{sha}                 201 status             statuses:write
//   GET    /repos/{o}/{r}/issues/{n}/comments            200 [comment]          pull-requests:read or issues:read
//   POST   /repos/{o}/{r}/issues/{n}/comments            201 comment            pull-requests:write or issues:write
//   PATCH  /repos/{o}/{r}/issues/comments/{id}           200 comment            pull-requests:write or issues:write
//   GET    /repos/{o}/{r}/actions/caches                 200 {total_count, actions_caches}   actions:read
//   DELETE /repos/{o}/{r}/actions/caches/{id}            204                    actions:write
//   DELETE /repos/{o}/{r}/actions/caches?key=K[&ref=R]   200 {total_count, actions_caches}   actions:write
//
// What GitHub does and the stand-in reproduces:
//   - Authorization `token X` or `Bearer X`; a wrong token is 401 "Bad credentials", none is 401
//     "Requires authentication". Authentication comes first, then the route (an unknown route, an
//     unknown method on a known path, or another repository is 404 "Not Found"), then permissions,
//     then the body.
//   - A permission the token lacks is 403 "Resource not accessible by integration" with
//     `x-accepted-github-permissions` naming the sets that would do (`checks=write`;
//     `pull_requests=write; issues=write`). `write` implies `read`.
//   - Check runs are validated against the endpoint's JSON schema, and GitHub answers a schema
//     violation with 422 {"message": "Invalid request.\n\n<one line per problem>"} (no `errors`
//     array), e.g. `"head_sha" wasn't supplied.` or `No more than 50 items are allowed; 51 were
//     supplied.`; summary and text are limited to 65535 characters. A conclusion sets the status to
//     completed; completed (or completed_at) without a conclusion is refused. Annotations given to an
//     update are appended to the run's, never replacing them.
//   - Commit statuses and comments answer model validation errors the older way, 422
//     {"message": "Validation Failed", "errors": [{resource, code, field, message}]}: a state not in
//     error|failure|pending|success, a description over 140 characters, a blank comment body, a body
//     over 65536 characters.
//   - Lists are paginated with `per_page` (default 30, at most 100) and `page`, and carry a `Link`
//     header (rel="next", "last", "first", "prev") when there is more than one page, so
//     octokit.paginate walks them.
//   - Every JSON answer has `content-type: application/json; charset=utf-8`, `x-github-request-id`
//     and the `x-ratelimit-*` headers; error bodies carry `documentation_url` and `status`.
//
// Not modelled: commits (any head_sha / sha is accepted), which issue numbers exist (any positive
// number is an issue or pull request), secondary rate limits, conditional requests (ETag / 304).
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { listenOnLoopback } from './process.js'

export type GitHubPermission = 'checks' | 'statuses' | 'pull-requests' | 'issues' | 'actions' | 'contents'
export type GitHubAccess = 'none' | 'read' | 'write'

/** A cache entry as the REST API lists it. */
export interface CacheStoreEntry {
  readonly id: number
  readonly key: string
  readonly version: string
  readonly sizeInBytes: number
  /** ISO 8601. */
  readonly createdAt: string
  /** Default refs/heads/main. */
  readonly ref?: string
}

/** Where the cache entries live (see restCacheStore in cache-server.ts for the cache-service stand-in). */
export interface CacheStore {
  list(): CacheStoreEntry[]
  /** Remove it; false when it is not there. */
  delete(id: number): boolean
}

/** What seedCaches takes: everything but the key is optional. */
export interface SeedCache {
  readonly key: string
  readonly id?: number
  readonly version?: string
  readonly sizeInBytes?: number
  readonly createdAt?: string
  readonly ref?: string
}

export interface CheckRunAnnotation {
  path: string
  blob_href: string
  start_line: number
  start_column: number | null
  end_line: number
  end_column: number | null
  annotation_level: 'notice' | 'warning' | 'failure'
  title: string | null
  message: string
  raw_details: string | null
}

export interface CheckRun {
  id: number
  name: string
  head_sha: string
  external_id: string | null
  details_url: string
  html_url: string
  status: 'queued' | 'in_progress' | 'completed'
  conclusion: string | null
  started_at: string | null
  completed_at: string | null
  output: {
    title: string | null
    summary: string | null
    text: string | null
    /** Every annotation, over the create and all updates, in order. */
    annotations: CheckRunAnnotation[]
  }
}

export interface CommitStatus {
  sha: string
  state: 'error' | 'failure' | 'pending' | 'success'
  context: string
  description: string | null
  target_url: string | null
}

export interface IssueComment {
  id: number
  node_id: string
  url: string
  html_url: string
  issue_url: string
  body: string
  user: { login: string; id: number; type: string }
  author_association: string
  created_at: string
  updated_at: string
}

export interface GitHubApiRequest {
  method: string
  /** Path and query, as sent. */
  path: string
  /** The parsed JSON body, the raw text when it is not JSON, undefined when there is none. */
  body: unknown
  /** 0 while in progress. */
  status: number
}

export interface GitHubApiOptions {
  /** The token it accepts (default 'ghs_test_token'). */
  token?: string
  owner?: string
  repo?: string
  /** Where cache entries live (default: a list of its own, see seedCaches). */
  caches?: CacheStore
}

export interface GitHubApi {
  /** `http://127.0.0.1:PORT` */
  readonly url: string
  readonly env: { GITHUB_API_URL: string }
  readonly token: string
  readonly owner: string
  readonly repo: string
  /** Every request, in order. */
  readonly requests: GitHubApiRequest[]
  checkRuns(): CheckRun[]
  statuses(): CommitStatus[]
  comments(issue: number): IssueComment[]
  cacheDeletions(): { id: number; key: string }[]
  /** Add entries to its own cache list (throws when a `caches` store was given); returns them. */
  seedCaches(entries: readonly SeedCache[]): CacheStoreEntry[]
  /** Change some permissions of the token; the others stay (initially everything is write). */
  setPermissions(p: Partial<Record<GitHubPermission, GitHubAccess>>): void
  close(): Promise<void>
}

const DOCS = 'https://docs.github.com/rest'
const DOC = {
  root: DOCS,
  createCheckRun: `${DOCS}/checks/runs#create-a-check-run`,
  getCheckRun: `${DOCS}/checks/runs#get-a-check-run`,
  updateCheckRun: `${DOCS}/checks/runs#update-a-check-run`,
  listAnnotations: `${DOCS}/checks/runs#list-check-run-annotations`,
  createStatus: `${DOCS}/commits/statuses#create-a-commit-status`,
  listComments: `${DOCS}/issues/comments#list-issue-comments`,
  createComment: `${DOCS}/issues/comments#create-an-issue-comment`,
  updateComment: `${DOCS}/issues/comments#update-an-issue-comment`,
  listCaches: `${DOCS}/actions/cache#list-github-actions-caches-for-a-repository`,
  deleteCacheById: `${DOCS}/actions/cache#delete-a-github-actions-cache-for-a-repository-using-a-cache-id`,
  deleteCachesByKey: `${DOCS}/actions/cache#delete-github-actions-caches-for-a-repository-using-a-cache-key`
}

const BOT = {
  login: 'github-actions[bot]',
  id: 41898282,
  node_id: 'MDM6Qm90NDE4OTgyODI=',
  avatar_url: 'https://avatars.githubusercontent.com/in/15368?v=4',
  gravatar_id: '',
  html_url: 'https://github.com/apps/github-actions',
  type: 'Bot',
  site_admin: false
}

const ACTIONS_APP = {
  id: 15368,
  slug: 'github-actions',
  node_id: 'MDM6QXBwMTUzNjg=',
  name: 'GitHub Actions',
  owner: { login: 'github', id: 9919, type: 'Organization' }
}

const CHECK_STATUSES = ['queued', 'in_progress', 'completed'] as const
const CHECK_CONCLUSIONS = [
  'action_required',
  'cancelled',
  'failure',
  'neutral',
  'success',
  'skipped',
  'timed_out'
] as const
const ANNOTATION_LEVELS = ['notice', 'warning', 'failure'] as const
const STATUS_STATES = ['error', 'failure', 'pending', 'success'] as const
const MAX_ANNOTATIONS = 50
const MAX_OUTPUT_CHARS = 65535
const MAX_COMMENT_CHARS = 65536
const MAX_STATUS_DESCRIPTION = 140

/** A permission requirement: any one of the sets grants it. */
type Need = readonly (readonly [GitHubPermission, 'read' | 'write'])[]

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {}
  ) {
    super(String(body.message))
  }
}

const fail = (status: number, message: string, doc: string, extra: Record<string, unknown> = {}) =>
  new ApiError(status, { message, ...extra, documentation_url: doc, status: String(status) })

const notFound = (doc = DOC.root) => fail(404, 'Not Found', doc)

/** A JSON-schema violation, as the schema-validated endpoints (check runs) answer it. */
const invalidRequest = (problems: string[], doc: string) =>
  fail(422, `Invalid request.\n\n${problems.join('\n')}`, doc)

/** A model validation error, as statuses and comments answer it. */
const validationFailed = (
  resource: string,
  field: string,
  code: string,
  message: string | undefined,
  doc: string
) =>
  fail(422, 'Validation Failed', doc, {
    errors: [{ resource, code, field, ...(message === undefined ? {} : { message }) }]
  })

/** GitHub's timestamps: ISO 8601 to the second. */
const timestamp = (ms = Date.now()) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')

const show = (v: unknown) => JSON.stringify(v) ?? 'undefined'

type Json = Record<string, unknown>

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** `"a" wasn't supplied.` / `"a", "b" weren't supplied.` for the required properties missing from `obj`. */
function missing(obj: Json, required: readonly string[]): string[] {
  const absent = required.filter((k) => obj[k] === undefined || obj[k] === null)
  if (absent.length === 0) return []
  return [`${absent.map((k) => `"${k}"`).join(', ')} ${absent.length === 1 ? "wasn't" : "weren't"} supplied.`]
}

function typeProblems(obj: Json, types: Record<string, 'string' | 'integer' | 'object' | 'array'>): string[] {
  const out: string[] = []
  for (const [k, t] of Object.entries(types)) {
    const v = obj[k]
    if (v === undefined || v === null) continue
    const ok =
      t === 'string'
        ? typeof v === 'string'
        : t === 'integer'
          ? Number.isInteger(v)
          : t === 'object'
            ? isObject(v)
            : Array.isArray(v)
    if (!ok) out.push(`For 'properties/${k}', ${show(v)} is not ${t === 'integer' ? 'an' : 'a'} ${t}.`)
  }
  return out
}

function enumProblem(obj: Json, key: string, values: readonly string[]): string[] {
  const v = obj[key]
  if (v === undefined || v === null || values.includes(v as string)) return []
  return [`For 'properties/${key}', ${show(v)} is not a member of ${show(values)}.`]
}

function lengthProblem(obj: Json, key: string, max: number): string[] {
  const v = obj[key]
  if (typeof v !== 'string' || v.length <= max) return []
  return [`Only ${max} characters are allowed; ${v.length} were supplied.`]
}

/** per_page (default 30, 1..100) and page (default 1). */
function pageParams(q: URLSearchParams): { perPage: number; page: number } {
  const perPage = Number.parseInt(q.get('per_page') ?? '', 10)
  const page = Number.parseInt(q.get('page') ?? '', 10)
  return {
    perPage: Number.isFinite(perPage) && perPage > 0 ? Math.min(perPage, 100) : 30,
    page: Number.isFinite(page) && page > 0 ? page : 1
  }
}

export async function startGitHubApi(opts: GitHubApiOptions = {}): Promise<GitHubApi> {
  const token = opts.token ?? 'ghs_test_token'
  const owner = opts.owner ?? 'acme'
  const repo = opts.repo ?? 'app'
  const repoUrl = `https://github.com/${owner}/${repo}`

  const permissions: Record<GitHubPermission, GitHubAccess> = {
    checks: 'write',
    statuses: 'write',
    'pull-requests': 'write',
    issues: 'write',
    actions: 'write',
    contents: 'write'
  }

  interface StoredCheckRun extends CheckRun {
    node_id: string
    check_suite_id: number
  }
  const checkRuns: StoredCheckRun[] = []
  interface StoredStatus extends CommitStatus {
    id: number
    created_at: string
  }
  const statuses: StoredStatus[] = []
  const comments: (IssueComment & { issue: number })[] = []
  const deletions: { id: number; key: string }[] = []
  const ownCaches: CacheStoreEntry[] = []
  const caches: CacheStore = opts.caches ?? {
    list: () => [...ownCaches],
    delete: (id) => {
      const i = ownCaches.findIndex((c) => c.id === id)
      if (i < 0) return false
      ownCaches.splice(i, 1)
      return true
    }
  }
  const requests: GitHubApiRequest[] = []
  // Ids look like GitHub's (large, increasing), distinct per kind.
  let nextCheckRunId = 28_000_000_001
  let nextSuiteId = 23_000_000_001
  let nextStatusId = 31_000_000_001
  let nextCommentId = 2_100_000_001
  let nextCacheId = 1
  const rateLimit = 5000
  let rateUsed = 0
  const rateReset = Math.floor(Date.now() / 1000) + 3600
  const sockets = new Set<Socket>()
  let base = ''

  const api = () => `${base}/repos/${owner}/${repo}`

  // ---- JSON views ----

  const checkRunJson = (r: StoredCheckRun) => ({
    id: r.id,
    name: r.name,
    node_id: r.node_id,
    head_sha: r.head_sha,
    external_id: r.external_id ?? '',
    url: `${api()}/check-runs/${r.id}`,
    html_url: r.html_url,
    details_url: r.details_url,
    status: r.status,
    conclusion: r.conclusion,
    started_at: r.started_at,
    completed_at: r.completed_at,
    output: {
      title: r.output.title,
      summary: r.output.summary,
      text: r.output.text,
      annotations_count: r.output.annotations.length,
      annotations_url: `${api()}/check-runs/${r.id}/annotations`
    },
    check_suite: { id: r.check_suite_id },
    app: ACTIONS_APP,
    pull_requests: []
  })

  const statusJson = (s: StoredStatus) => ({
    url: `${api()}/statuses/${s.sha}`,
    avatar_url: BOT.avatar_url,
    id: s.id,
    node_id: Buffer.from(`StatusContext${s.id}`).toString('base64'),
    state: s.state,
    description: s.description,
    target_url: s.target_url,
    context: s.context,
    created_at: s.created_at,
    updated_at: s.created_at,
    creator: { ...BOT, url: `${base}/users/github-actions%5Bbot%5D` }
  })

  const commentJson = (c: IssueComment): IssueComment => ({ ...c, user: { ...c.user } })

  const cacheJson = (c: CacheStoreEntry) => ({
    id: c.id,
    ref: c.ref ?? 'refs/heads/main',
    key: c.key,
    version: c.version,
    last_accessed_at: c.createdAt,
    created_at: c.createdAt,
    size_in_bytes: c.sizeInBytes
  })

  // ---- responses ----

  const baseHeaders = (): Record<string, string> => ({
    date: new Date().toUTCString(),
    server: 'GitHub.com',
    'x-github-request-id': [4, 6, 6, 6, 8]
      .map((n) => randomBytes(n).toString('hex').slice(0, n).toUpperCase())
      .join(':'),
    'x-github-api-version-selected': '2022-11-28',
    'x-github-media-type': 'github.v3; format=json',
    'x-ratelimit-limit': String(rateLimit),
    'x-ratelimit-remaining': String(Math.max(0, rateLimit - rateUsed)),
    'x-ratelimit-reset': String(rateReset),
    'x-ratelimit-used': String(rateUsed),
    'x-ratelimit-resource': 'core'
  })

  /** A paginated list: the page's items and the Link header. */
  const paginate = <T>(u: URL, items: readonly T[]): { page: T[]; headers: Record<string, string> } => {
    const { perPage, page } = pageParams(u.searchParams)
    const last = Math.max(1, Math.ceil(items.length / perPage))
    const link = (p: number, rel: string) => {
      const q = new URLSearchParams(u.searchParams)
      q.set('per_page', String(perPage))
      q.set('page', String(p))
      return `<${base}${u.pathname}?${q.toString()}>; rel="${rel}"`
    }
    const links: string[] = []
    if (page > 1) links.push(link(Math.min(page - 1, last), 'prev'))
    if (page < last) links.push(link(page + 1, 'next'), link(last, 'last'))
    if (page > 1) links.push(link(1, 'first'))
    return {
      page: items.slice((page - 1) * perPage, page * perPage),
      headers: links.length ? { link: links.join(', ') } : {}
    }
  }

  interface Reply {
    status: number
    body?: unknown
    headers?: Record<string, string>
  }

  // ---- handlers ----

  const needBody = (body: unknown, doc: string): Json => {
    if (body === undefined) return {}
    if (!isObject(body)) throw fail(400, 'Body should be a JSON object', doc)
    return body
  }

  /** Check and normalize `output.annotations` (schema problems go to `problems`). */
  const annotationsOf = (output: Json, headSha: string, problems: string[]): CheckRunAnnotation[] => {
    const list = output.annotations
    if (list === undefined || list === null) return []
    if (!Array.isArray(list)) {
      problems.push(`For 'properties/annotations', ${show(list)} is not an array.`)
      return []
    }
    if (list.length > MAX_ANNOTATIONS) {
      problems.push(`No more than ${MAX_ANNOTATIONS} items are allowed; ${list.length} were supplied.`)
      return []
    }
    const out: CheckRunAnnotation[] = []
    for (const a of list) {
      if (!isObject(a)) {
        problems.push(`For 'items', ${show(a)} is not an object.`)
        continue
      }
      const p = [
        ...missing(a, ['path', 'start_line', 'end_line', 'annotation_level', 'message']),
        ...typeProblems(a, {
          path: 'string',
          start_line: 'integer',
          end_line: 'integer',
          start_column: 'integer',
          end_column: 'integer',
          annotation_level: 'string',
          message: 'string',
          title: 'string',
          raw_details: 'string'
        }),
        ...enumProblem(a, 'annotation_level', ANNOTATION_LEVELS)
      ]
      problems.push(...p)
      if (p.length) continue
      const path = a.path as string
      out.push({
        path,
        blob_href: `${repoUrl}/blob/${headSha}/${path.split('/').map(encodeURIComponent).join('/')}`,
        start_line: a.start_line as number,
        start_column: (a.start_column as number | undefined) ?? null,
        end_line: a.end_line as number,
        end_column: (a.end_column as number | undefined) ?? null,
        annotation_level: a.annotation_level as CheckRunAnnotation['annotation_level'],
        title: (a.title as string | undefined) ?? null,
        message: a.message as string,
        raw_details: (a.raw_details as string | undefined) ?? null
      })
    }
    return out
  }

  /** The fields of a create (`existing` undefined) or update body, validated; throws a 422. */
  const checkRunInput = (body: Json, existing: StoredCheckRun | undefined, doc: string) => {
    const problems: string[] = [
      ...(existing ? [] : missing(body, ['name', 'head_sha'])),
      ...typeProblems(body, {
        name: 'string',
        head_sha: 'string',
        details_url: 'string',
        external_id: 'string',
        status: 'string',
        conclusion: 'string',
        started_at: 'string',
        completed_at: 'string',
        output: 'object'
      }),
      ...enumProblem(body, 'status', CHECK_STATUSES),
      ...enumProblem(body, 'conclusion', CHECK_CONCLUSIONS)
    ]
    const conclusion = (body.conclusion as string | undefined) ?? null
    if (!conclusion && (body.status === 'completed' || (body.completed_at ?? null) !== null)) {
      problems.push(`"conclusion" wasn't supplied.`)
    }
    let annotations: CheckRunAnnotation[] = []
    const output = isObject(body.output) ? body.output : undefined
    if (output) {
      problems.push(
        // Creating needs a title and a summary; an update's output needs a summary.
        ...missing(output, existing ? ['summary'] : ['title', 'summary']),
        ...typeProblems(output, { title: 'string', summary: 'string', text: 'string' }),
        ...lengthProblem(output, 'summary', MAX_OUTPUT_CHARS),
        ...lengthProblem(output, 'text', MAX_OUTPUT_CHARS)
      )
      annotations = annotationsOf(output, existing?.head_sha ?? String(body.head_sha ?? ''), problems)
    }
    if (problems.length) throw invalidRequest(problems, doc)
    return { conclusion, output, annotations }
  }

  const createCheckRun = (body: Json): Reply => {
    const { conclusion, output, annotations } = checkRunInput(body, undefined, DOC.createCheckRun)
    const id = nextCheckRunId++
    const status = conclusion ? 'completed' : ((body.status as CheckRun['status'] | undefined) ?? 'queued')
    const now = timestamp()
    const run: StoredCheckRun = {
      id,
      node_id: Buffer.from(`CheckRun${id}`).toString('base64'),
      check_suite_id: nextSuiteId++,
      name: body.name as string,
      head_sha: body.head_sha as string,
      external_id: (body.external_id as string | undefined) ?? null,
      html_url: `${repoUrl}/runs/${id}`,
      details_url: (body.details_url as string | undefined) ?? `${repoUrl}/runs/${id}`,
      status,
      conclusion,
      started_at: (body.started_at as string | undefined) ?? now,
      completed_at: status === 'completed' ? ((body.completed_at as string | undefined) ?? now) : null,
      output: {
        title: (output?.title as string | undefined) ?? null,
        summary: (output?.summary as string | undefined) ?? null,
        text: (output?.text as string | undefined) ?? null,
        annotations
      }
    }
    checkRuns.push(run)
    return { status: 201, body: checkRunJson(run), headers: { location: `${api()}/check-runs/${id}` } }
  }

  const updateCheckRun = (run: StoredCheckRun, body: Json): Reply => {
    const { conclusion, output, annotations } = checkRunInput(body, run, DOC.updateCheckRun)
    if (typeof body.name === 'string') run.name = body.name
    if (typeof body.details_url === 'string') run.details_url = body.details_url
    if (typeof body.external_id === 'string') run.external_id = body.external_id
    if (typeof body.started_at === 'string') run.started_at = body.started_at
    if (conclusion) {
      run.status = 'completed'
      run.conclusion = conclusion
    } else if (typeof body.status === 'string') {
      run.status = body.status as CheckRun['status']
      if (run.status !== 'completed') {
        run.conclusion = null
        run.completed_at = null
      }
    }
    if (run.status === 'completed') {
      run.completed_at = (body.completed_at as string | undefined) ?? run.completed_at ?? timestamp()
    }
    if (output) {
      if (typeof output.title === 'string') run.output.title = output.title
      run.output.summary = output.summary as string
      if (typeof output.text === 'string') run.output.text = output.text
      run.output.annotations.push(...annotations)
    }
    return { status: 200, body: checkRunJson(run) }
  }

  const createStatus = (sha: string, body: Json): Reply => {
    const doc = DOC.createStatus
    const state = body.state
    if (typeof state !== 'string' || !(STATUS_STATES as readonly string[]).includes(state)) {
      throw validationFailed('Status', 'state', 'custom', 'state is not included in the list', doc)
    }
    for (const k of ['context', 'description', 'target_url']) {
      const v = body[k]
      if (v !== undefined && v !== null && typeof v !== 'string') {
        throw invalidRequest([`For 'properties/${k}', ${show(v)} is not a string or null.`], doc)
      }
    }
    const description = (body.description as string | null | undefined) ?? null
    if (description !== null && description.length > MAX_STATUS_DESCRIPTION) {
      throw validationFailed(
        'Status',
        'description',
        'custom',
        `description is too long (maximum is ${MAX_STATUS_DESCRIPTION} characters)`,
        doc
      )
    }
    const s: StoredStatus = {
      id: nextStatusId++,
      sha,
      state: state as CommitStatus['state'],
      context: (body.context as string | null | undefined) || 'default',
      description,
      target_url: (body.target_url as string | null | undefined) ?? null,
      created_at: timestamp()
    }
    statuses.push(s)
    return { status: 201, body: statusJson(s), headers: { location: `${api()}/statuses/${sha}` } }
  }

  const commentBody = (body: Json, doc: string): string => {
    if (body.body === undefined || body.body === null) throw invalidRequest([`"body" wasn't supplied.`], doc)
    if (typeof body.body !== 'string') {
      throw invalidRequest([`For 'properties/body', ${show(body.body)} is not a string.`], doc)
    }
    if (body.body.trim() === '') {
      throw validationFailed('IssueComment', 'data', 'unprocessable', 'Body cannot be blank', doc)
    }
    if (body.body.length > MAX_COMMENT_CHARS) {
      throw validationFailed(
        'IssueComment',
        'data',
        'unprocessable',
        `Body is too long (maximum is ${MAX_COMMENT_CHARS} characters)`,
        doc
      )
    }
    return body.body
  }

  const createComment = (issue: number, body: Json): Reply => {
    const text = commentBody(body, DOC.createComment)
    const id = nextCommentId++
    const now = timestamp()
    const c = {
      issue,
      id,
      node_id: Buffer.from(`IssueComment${id}`).toString('base64'),
      url: `${api()}/issues/comments/${id}`,
      html_url: `${repoUrl}/issues/${issue}#issuecomment-${id}`,
      issue_url: `${api()}/issues/${issue}`,
      body: text,
      user: { login: BOT.login, id: BOT.id, type: BOT.type },
      author_association: 'NONE',
      created_at: now,
      updated_at: now
    }
    comments.push(c)
    return { status: 201, body: publicComment(c), headers: { location: c.url } }
  }

  const publicComment = (c: IssueComment & { issue: number }): IssueComment => {
    const { issue: _issue, ...rest } = c
    return commentJson(rest)
  }

  const listCaches = (u: URL): Reply => {
    const q = u.searchParams
    const key = q.get('key')
    const ref = q.get('ref')
    const sort = q.get('sort') ?? 'last_accessed_at'
    const direction = q.get('direction') ?? 'desc'
    if (!['created_at', 'last_accessed_at', 'size_in_bytes'].includes(sort)) {
      throw invalidRequest([`For 'sort', ${show(sort)} is not a valid value.`], DOC.listCaches)
    }
    if (!['asc', 'desc'].includes(direction)) {
      throw invalidRequest([`For 'direction', ${show(direction)} is not a valid value.`], DOC.listCaches)
    }
    const all = caches
      .list()
      .filter(
        (c) =>
          (key === null || c.key.startsWith(key)) && (ref === null || (c.ref ?? 'refs/heads/main') === ref)
      )
      .map(cacheJson)
      .sort((a, b) => {
        const d =
          sort === 'size_in_bytes'
            ? a.size_in_bytes - b.size_in_bytes
            : Date.parse(sort === 'created_at' ? a.created_at : a.last_accessed_at) -
              Date.parse(sort === 'created_at' ? b.created_at : b.last_accessed_at)
        return (direction === 'asc' ? d : -d) || a.id - b.id
      })
    const { page, headers } = paginate(u, all)
    return { status: 200, body: { total_count: all.length, actions_caches: page }, headers }
  }

  const deleteCachesByKey = (u: URL): Reply => {
    const key = u.searchParams.get('key')
    const ref = u.searchParams.get('ref')
    if (!key) throw invalidRequest([`"key" wasn't supplied.`], DOC.deleteCachesByKey)
    const matching = caches
      .list()
      .filter((c) => c.key === key && (ref === null || (c.ref ?? 'refs/heads/main') === ref))
    const deleted = matching.filter((c) => caches.delete(c.id))
    if (deleted.length === 0) throw notFound(DOC.deleteCachesByKey)
    for (const c of deleted) deletions.push({ id: c.id, key: c.key })
    return { status: 200, body: { total_count: deleted.length, actions_caches: deleted.map(cacheJson) } }
  }

  const deleteCacheById = (id: number): Reply => {
    const c = caches.list().find((x) => x.id === id)
    if (!c || !caches.delete(id)) throw notFound(DOC.deleteCacheById)
    deletions.push({ id: c.id, key: c.key })
    return { status: 204 }
  }

  // ---- routes ----

  const CHECKS_READ: Need = [['checks', 'read']]
  const CHECKS_WRITE: Need = [['checks', 'write']]
  const COMMENTS_READ: Need = [
    ['pull-requests', 'read'],
    ['issues', 'read']
  ]
  const COMMENTS_WRITE: Need = [
    ['pull-requests', 'write'],
    ['issues', 'write']
  ]

  interface Route {
    method: string
    pattern: RegExp
    need: Need
    doc: string
    handle(m: RegExpExecArray, body: Json, u: URL): Reply
  }
  const checkRun = (id: string, doc: string) => {
    const run = checkRuns.find((r) => r.id === Number(id))
    if (!run) throw notFound(doc)
    return run
  }
  const issueNumber = (n: string, doc: string) => {
    const issue = Number(n)
    if (!(issue > 0)) throw notFound(doc)
    return issue
  }
  const routes: Route[] = [
    {
      method: 'POST',
      pattern: /^\/check-runs$/,
      need: CHECKS_WRITE,
      doc: DOC.createCheckRun,
      handle: (_m, body) => createCheckRun(body)
    },
    {
      method: 'GET',
      pattern: /^\/check-runs\/(\d+)$/,
      need: CHECKS_READ,
      doc: DOC.getCheckRun,
      handle: (m) => ({ status: 200, body: checkRunJson(checkRun(m[1]!, DOC.getCheckRun)) })
    },
    {
      method: 'PATCH',
      pattern: /^\/check-runs\/(\d+)$/,
      need: CHECKS_WRITE,
      doc: DOC.updateCheckRun,
      handle: (m, body) => updateCheckRun(checkRun(m[1]!, DOC.updateCheckRun), body)
    },
    {
      method: 'GET',
      pattern: /^\/check-runs\/(\d+)\/annotations$/,
      need: CHECKS_READ,
      doc: DOC.listAnnotations,
      handle: (m, _body, u) => {
        const { page, headers } = paginate(u, checkRun(m[1]!, DOC.listAnnotations).output.annotations)
        return { status: 200, body: page, headers }
      }
    },
    {
      method: 'POST',
      pattern: /^\/statuses\/([^/]+)$/,
      need: [['statuses', 'write']],
      doc: DOC.createStatus,
      handle: (m, body) => createStatus(decodeURIComponent(m[1]!), body)
    },
    {
      method: 'GET',
      pattern: /^\/issues\/(\d+)\/comments$/,
      need: COMMENTS_READ,
      doc: DOC.listComments,
      handle: (m, _body, u) => {
        const issue = issueNumber(m[1]!, DOC.listComments)
        const since = u.searchParams.get('since')
        const list = comments
          .filter(
            (c) => c.issue === issue && (since === null || Date.parse(c.updated_at) >= Date.parse(since))
          )
          .map(publicComment)
        const { page, headers } = paginate(u, list)
        return { status: 200, body: page, headers }
      }
    },
    {
      method: 'POST',
      pattern: /^\/issues\/(\d+)\/comments$/,
      need: COMMENTS_WRITE,
      doc: DOC.createComment,
      handle: (m, body) => createComment(issueNumber(m[1]!, DOC.createComment), body)
    },
    {
      method: 'PATCH',
      pattern: /^\/issues\/comments\/(\d+)$/,
      need: COMMENTS_WRITE,
      doc: DOC.updateComment,
      handle: (m, body) => {
        const c = comments.find((x) => x.id === Number(m[1]))
        if (!c) throw notFound(DOC.updateComment)
        c.body = commentBody(body, DOC.updateComment)
        c.updated_at = timestamp()
        return { status: 200, body: publicComment(c) }
      }
    },
    {
      method: 'GET',
      pattern: /^\/actions\/caches$/,
      need: [['actions', 'read']],
      doc: DOC.listCaches,
      handle: (_m, _body, u) => listCaches(u)
    },
    {
      method: 'DELETE',
      pattern: /^\/actions\/caches$/,
      need: [['actions', 'write']],
      doc: DOC.deleteCachesByKey,
      handle: (_m, _body, u) => deleteCachesByKey(u)
    },
    {
      method: 'DELETE',
      pattern: /^\/actions\/caches\/(\d+)$/,
      need: [['actions', 'write']],
      doc: DOC.deleteCacheById,
      handle: (m) => deleteCacheById(Number(m[1]))
    }
  ]

  const granted = (need: Need) =>
    need.some(([perm, level]) => {
      const have = permissions[perm]
      return level === 'read' ? have !== 'none' : have === 'write'
    })

  const authorized = (header: string | undefined): 'ok' | 'missing' | 'bad' => {
    if (!header) return 'missing'
    const m = /^(token|bearer)\s+(\S+)\s*$/i.exec(header)
    return m && m[2] === token ? 'ok' : 'bad'
  }

  const dispatch = (req: IncomingMessage, u: URL, body: unknown, malformed: boolean): Reply => {
    const auth = authorized(req.headers.authorization)
    if (auth === 'missing') throw fail(401, 'Requires authentication', DOC.root)
    if (auth === 'bad') throw fail(401, 'Bad credentials', DOC.root)
    rateUsed++
    const m = /^\/repos\/([^/]+)\/([^/]+)(\/.*)$/.exec(u.pathname)
    if (!m) throw notFound()
    const rest = m[3]!
    const method = req.method ?? 'GET'
    for (const route of routes) {
      if (route.method !== method) continue
      const hit = route.pattern.exec(rest)
      if (!hit) continue
      // Owner and repository names are not case sensitive.
      if (
        decodeURIComponent(m[1]!).toLowerCase() !== owner.toLowerCase() ||
        decodeURIComponent(m[2]!).toLowerCase() !== repo.toLowerCase()
      ) {
        throw notFound(route.doc)
      }
      if (!granted(route.need)) {
        throw new ApiError(
          403,
          {
            message: 'Resource not accessible by integration',
            documentation_url: route.doc,
            status: '403'
          },
          {
            'x-accepted-github-permissions': route.need
              .map(([p, level]) => `${p.replace(/-/g, '_')}=${level}`)
              .join('; ')
          }
        )
      }
      if (malformed) throw fail(400, 'Problems parsing JSON', route.doc)
      return route.handle(hit, needBody(body, route.doc), u)
    }
    throw notFound()
  }

  const send = (res: ServerResponse, entry: GitHubApiRequest, reply: Reply) => {
    entry.status = reply.status
    const headers: Record<string, string> = { ...baseHeaders(), ...(reply.headers ?? {}) }
    if (reply.status === 204 || reply.body === undefined) {
      res.writeHead(reply.status, headers)
      return res.end()
    }
    const text = JSON.stringify(reply.body)
    res.writeHead(reply.status, {
      ...headers,
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(text))
    })
    res.end(text)
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8')
      let body: unknown = undefined
      let malformed = false
      if (raw.trim() !== '') {
        try {
          body = JSON.parse(raw)
        } catch {
          body = raw
          malformed = true
        }
      }
      const entry: GitHubApiRequest = { method: req.method ?? 'GET', path: req.url ?? '/', body, status: 0 }
      requests.push(entry)
      let reply: Reply
      try {
        const u = new URL(req.url ?? '/', 'http://127.0.0.1')
        reply = dispatch(req, u, body, malformed)
      } catch (e) {
        if (e instanceof ApiError) reply = { status: e.status, body: e.body, headers: e.headers }
        else if (e instanceof URIError) reply = { status: 404, body: notFound().body }
        else {
          reply = {
            status: 500,
            body: { message: `stand-in error: ${(e as Error).message}`, documentation_url: DOC.root }
          }
        }
      }
      send(res, entry, reply)
    })
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })

  base = `http://127.0.0.1:${await listenOnLoopback(server)}`

  let closed = false
  return {
    url: base,
    env: { GITHUB_API_URL: base },
    token,
    owner,
    repo,
    requests,
    checkRuns: () =>
      checkRuns.map((r) => ({
        id: r.id,
        name: r.name,
        head_sha: r.head_sha,
        external_id: r.external_id,
        details_url: r.details_url,
        html_url: r.html_url,
        status: r.status,
        conclusion: r.conclusion,
        started_at: r.started_at,
        completed_at: r.completed_at,
        output: { ...r.output, annotations: r.output.annotations.map((a) => ({ ...a })) }
      })),
    statuses: () =>
      statuses.map((s) => ({
        sha: s.sha,
        state: s.state,
        context: s.context,
        description: s.description,
        target_url: s.target_url
      })),
    comments: (issue) => comments.filter((c) => c.issue === issue).map(publicComment),
    cacheDeletions: () => deletions.map((d) => ({ ...d })),
    seedCaches: (entries) => {
      if (opts.caches) throw new Error('seedCaches: this stand-in lists the `caches` store it was given')
      const added = entries.map((e) => {
        const id = e.id ?? nextCacheId
        if (ownCaches.some((c) => c.id === id)) throw new Error(`seedCaches: id ${id} is taken`)
        nextCacheId = Math.max(nextCacheId, id + 1)
        return {
          id,
          key: e.key,
          version: e.version ?? randomBytes(32).toString('hex'),
          sizeInBytes: e.sizeInBytes ?? 1024,
          createdAt: e.createdAt ?? new Date().toISOString(),
          ref: e.ref ?? 'refs/heads/main'
        }
      })
      ownCaches.push(...added)
      return added.map((c) => ({ ...c }))
    },
    setPermissions: (p) => {
      for (const [k, v] of Object.entries(p)) {
        if (!(k in permissions)) throw new Error(`setPermissions: unknown permission ${k}`)
        if (v !== undefined) permissions[k as GitHubPermission] = v
      }
    },
    close: async () => {
      if (closed) return
      closed = true
      const done = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeAllConnections()
      for (const s of sockets) s.destroy()
      await done
    }
  }
}
