// The GitHub REST API stand-in against the REAL client: getOctokit from @actions/github (Octokit with
// the REST endpoint methods and pagination plugins) runs unmodified against it. The main stand-in is
// found the way the action finds it, through GITHUB_API_URL: @actions/github reads that once, when it
// is first loaded, so the module is imported only after the variable is set. The other stand-ins
// are reached with the `baseUrl` option.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals'
import * as cache from '@actions/cache'
// Types only: the module itself is loaded in beforeAll, after GITHUB_API_URL is set.
import type * as GitHub from '@actions/github'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { restCacheStore, startCacheServer, type CacheServer } from './cache-server.js'
import { startGitHubApi, type GitHubApi } from './github-api.js'

type GitHubModule = typeof GitHub
type Octokit = ReturnType<GitHubModule['getOctokit']>

const SHA = 'a94a8fe5ccb19ba61c4c0873d391e987982fbbd3'
const owner = 'acme'
const repo = 'app'

const savedEnv = new Map<string, string | undefined>()
function setEnv(vars: Record<string, string | undefined>): void {
  for (const [k, v] of Object.entries(vars)) {
    if (!savedEnv.has(k)) savedEnv.set(k, process.env[k])
    if (v === undefined) delete process.env[k]
    else process.env[k] = v
  }
}

let api: GitHubApi
let github: GitHubModule
let octokit: Octokit
const servers: { close(): Promise<void> }[] = []

async function startApi(...args: Parameters<typeof startGitHubApi>): Promise<GitHubApi> {
  const s = await startGitHubApi(...args)
  servers.push(s)
  return s
}

beforeAll(async () => {
  api = await startApi()
  setEnv({ ...api.env })
  github = await import('@actions/github')
  octokit = github.getOctokit(api.token)
})

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()))
  for (const [k, v] of savedEnv) {
    if (v === undefined) delete process.env[k]
    else process.env[k] = v
  }
})

/** The rejection of `p` (an Octokit RequestError), or a failure when it resolves. */
async function rejection(p: Promise<unknown>): Promise<{
  name: string
  status: number
  message: string
  response?: { headers: Record<string, string>; data: unknown }
}> {
  try {
    await p
  } catch (e) {
    return e as Awaited<ReturnType<typeof rejection>>
  }
  throw new Error('expected the request to fail')
}

const annotation = (i: number) => ({
  path: `src/file${i}.py`,
  start_line: i + 1,
  end_line: i + 1,
  annotation_level: 'warning' as const,
  message: `problem ${i}`
})

describe('the client finds the stand-in through GITHUB_API_URL', () => {
  it('sends its requests there, with the token', async () => {
    const before = api.requests.length
    const { data, status, headers } = await octokit.rest.checks.create({
      owner,
      repo,
      name: 'probe',
      head_sha: SHA
    })
    expect(status).toBe(201)
    expect(data.name).toBe('probe')
    expect(api.requests.slice(before)).toEqual([
      {
        method: 'POST',
        path: '/repos/acme/app/check-runs',
        body: { name: 'probe', head_sha: SHA },
        status: 201
      }
    ])
    expect(headers['content-type']).toBe('application/json; charset=utf-8')
    expect(headers['x-github-request-id']).toMatch(/^[0-9A-F]+(:[0-9A-F]+){4}$/)
    expect(Number(headers['x-ratelimit-remaining'])).toBeLessThan(5000)
  })
})

describe('check runs', () => {
  it('are created, updated with appended annotations, and listed like GitHub', async () => {
    const created = await octokit.rest.checks.create({
      owner,
      repo,
      name: 'fast-build',
      head_sha: SHA,
      status: 'in_progress',
      details_url: 'https://example.test/run/1',
      output: { title: 'Building', summary: 'two so far', annotations: [annotation(0), annotation(1)] }
    })
    expect(created.status).toBe(201)
    expect(created.data).toMatchObject({
      name: 'fast-build',
      head_sha: SHA,
      status: 'in_progress',
      conclusion: null,
      details_url: 'https://example.test/run/1',
      html_url: `https://github.com/acme/app/runs/${created.data.id}`,
      output: { title: 'Building', summary: 'two so far', text: null, annotations_count: 2 }
    })
    const id = created.data.id

    const updated = await octokit.rest.checks.update({
      owner,
      repo,
      check_run_id: id,
      conclusion: 'failure',
      output: {
        title: 'Built',
        summary: 'five problems',
        text: 'details',
        annotations: [2, 3, 4].map(annotation)
      }
    })
    expect(updated.status).toBe(200)
    expect(updated.data).toMatchObject({
      id,
      status: 'completed',
      conclusion: 'failure',
      output: { title: 'Built', summary: 'five problems', text: 'details', annotations_count: 5 }
    })
    expect(updated.data.completed_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)

    // An update without annotations keeps them.
    await octokit.rest.checks.update({ owner, repo, check_run_id: id, output: { summary: 'still five' } })

    const listed = await octokit.rest.checks.listAnnotations({ owner, repo, check_run_id: id })
    expect(listed.data.map((a) => a.message)).toEqual([0, 1, 2, 3, 4].map((i) => `problem ${i}`))
    expect(listed.data[0]).toEqual({
      path: 'src/file0.py',
      blob_href: `https://github.com/acme/app/blob/${SHA}/src/file0.py`,
      start_line: 1,
      start_column: null,
      end_line: 1,
      end_column: null,
      annotation_level: 'warning',
      title: null,
      message: 'problem 0',
      raw_details: null
    })
    const stored = api.checkRuns().find((r) => r.id === id)
    expect(stored?.output.annotations).toHaveLength(5)
    expect(stored?.output.summary).toBe('still five')
    expect(
      (await octokit.rest.checks.get({ owner, repo, check_run_id: id })).data.output.annotations_count
    ).toBe(5)
  })

  it('takes 50 annotations per request and more over updates; the annotation list is paginated', async () => {
    const { data } = await octokit.rest.checks.create({
      owner,
      repo,
      name: 'many',
      head_sha: SHA,
      output: { title: 't', summary: 's', annotations: Array.from({ length: 50 }, (_, i) => annotation(i)) }
    })
    for (const start of [50, 100]) {
      await octokit.rest.checks.update({
        owner,
        repo,
        check_run_id: data.id,
        output: { summary: 's', annotations: Array.from({ length: 50 }, (_, i) => annotation(start + i)) }
      })
    }
    const first = await octokit.rest.checks.listAnnotations({ owner, repo, check_run_id: data.id })
    expect(first.data).toHaveLength(30)
    expect(first.headers.link).toContain('rel="next"')
    const all = await octokit.paginate(octokit.rest.checks.listAnnotations, {
      owner,
      repo,
      check_run_id: data.id,
      per_page: 100
    })
    expect(all.map((a) => a.message)).toEqual(Array.from({ length: 150 }, (_, i) => `problem ${i}`))
  })

  it('refuses 51 annotations in one request with a 422 RequestError, storing nothing', async () => {
    const runs = api.checkRuns().length
    const err = await rejection(
      octokit.rest.checks.create({
        owner,
        repo,
        name: 'too-many',
        head_sha: SHA,
        output: { title: 't', summary: 's', annotations: Array.from({ length: 51 }, (_, i) => annotation(i)) }
      })
    )
    expect(err.name).toBe('HttpError')
    expect(err.status).toBe(422)
    expect(err.message).toBe(
      'Invalid request.\n\nNo more than 50 items are allowed; 51 were supplied. - ' +
        'https://docs.github.com/rest/checks/runs#create-a-check-run'
    )
    expect(api.checkRuns()).toHaveLength(runs)

    const { data } = await octokit.rest.checks.create({ owner, repo, name: 'x', head_sha: SHA })
    const onUpdate = await rejection(
      octokit.rest.checks.update({
        owner,
        repo,
        check_run_id: data.id,
        output: { summary: 's', annotations: Array.from({ length: 51 }, (_, i) => annotation(i)) }
      })
    )
    expect(onUpdate.status).toBe(422)
    expect(api.checkRuns().find((r) => r.id === data.id)?.output.annotations).toEqual([])
  })

  it('validates the body as GitHub does', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ name: 'n' }, '"head_sha" wasn\'t supplied.'],
      [{}, '"name", "head_sha" weren\'t supplied.'],
      [{ name: 'n', head_sha: SHA, status: 'completed' }, '"conclusion" wasn\'t supplied.'],
      [
        { name: 'n', head_sha: SHA, conclusion: 'great' },
        `For 'properties/conclusion', "great" is not a member of`
      ],
      [{ name: 'n', head_sha: SHA, output: { summary: 's' } }, '"title" wasn\'t supplied.'],
      [
        {
          name: 'n',
          head_sha: SHA,
          output: { title: 't', summary: 's', annotations: [{ ...annotation(0), annotation_level: 'error' }] }
        },
        `For 'properties/annotation_level', "error" is not a member of ["notice","warning","failure"].`
      ],
      [
        { name: 'n', head_sha: SHA, output: { title: 't', summary: 's', annotations: [{ message: 'm' }] } },
        '"path", "start_line", "end_line", "annotation_level" weren\'t supplied.'
      ],
      [
        { name: 'n', head_sha: SHA, output: { title: 't', summary: 'x'.repeat(65536) } },
        'Only 65535 characters are allowed; 65536 were supplied.'
      ]
    ]
    for (const [body, problem] of cases) {
      const err = await rejection(
        octokit.request('POST /repos/{owner}/{repo}/check-runs' as string, { owner, repo, ...body })
      )
      expect({ body, status: err.status, message: err.message }).toEqual({
        body,
        status: 422,
        message: expect.stringContaining(`Invalid request.\n\n${problem}`)
      })
    }
  })

  it('404s an unknown check run', async () => {
    const err = await rejection(
      octokit.rest.checks.update({ owner, repo, check_run_id: 1, status: 'completed', conclusion: 'success' })
    )
    expect(err.status).toBe(404)
    expect(err.response?.data).toEqual({
      message: 'Not Found',
      documentation_url: 'https://docs.github.com/rest/checks/runs#update-a-check-run',
      status: '404'
    })
  })
})

describe('commit statuses', () => {
  it('are created in order, with the context defaulting to "default"', async () => {
    const a = await octokit.rest.repos.createCommitStatus({
      owner,
      repo,
      sha: SHA,
      state: 'pending',
      context: 'fast-build/base',
      description: 'building',
      target_url: 'https://example.test/1'
    })
    expect(a.status).toBe(201)
    expect(a.data).toMatchObject({
      state: 'pending',
      context: 'fast-build/base',
      description: 'building',
      target_url: 'https://example.test/1',
      creator: { login: 'github-actions[bot]', type: 'Bot' }
    })
    await octokit.rest.repos.createCommitStatus({ owner, repo, sha: SHA, state: 'success' })
    expect(api.statuses()).toEqual([
      {
        sha: SHA,
        state: 'pending',
        context: 'fast-build/base',
        description: 'building',
        target_url: 'https://example.test/1'
      },
      { sha: SHA, state: 'success', context: 'default', description: null, target_url: null }
    ])
  })

  it('refuse an unknown state and an over-long description with Validation Failed', async () => {
    const bad = await rejection(
      // A state Octokit's types would not let through.
      octokit.request('POST /repos/{owner}/{repo}/statuses/{sha}' as string, {
        owner,
        repo,
        sha: SHA,
        state: 'cancelled'
      })
    )
    expect(bad.status).toBe(422)
    expect(bad.response?.data).toEqual({
      message: 'Validation Failed',
      errors: [
        { resource: 'Status', code: 'custom', field: 'state', message: 'state is not included in the list' }
      ],
      documentation_url: 'https://docs.github.com/rest/commits/statuses#create-a-commit-status',
      status: '422'
    })
    const long = await rejection(
      octokit.rest.repos.createCommitStatus({
        owner,
        repo,
        sha: SHA,
        state: 'success',
        description: 'd'.repeat(141)
      })
    )
    expect(long.status).toBe(422)
    expect(long.message).toContain('description is too long (maximum is 140 characters)')
  })
})

describe('issue comments', () => {
  it('are created, listed across pages with a Link header, paginated, and updated', async () => {
    const issue = 7
    const ids: number[] = []
    for (let i = 0; i < 105; i++) {
      const { data, status } = await octokit.rest.issues.createComment({
        owner,
        repo,
        issue_number: issue,
        body: `c${i}`
      })
      expect(status).toBe(201)
      ids.push(data.id)
    }
    const one = await octokit.rest.issues.createComment({ owner, repo, issue_number: 8, body: 'elsewhere' })
    expect(one.data).toMatchObject({
      body: 'elsewhere',
      user: { login: 'github-actions[bot]', type: 'Bot' },
      html_url: `https://github.com/acme/app/issues/8#issuecomment-${one.data.id}`
    })
    expect(one.data.created_at).toBe(one.data.updated_at)

    const page1 = await octokit.rest.issues.listComments({ owner, repo, issue_number: issue, per_page: 100 })
    expect(page1.data).toHaveLength(100)
    const links = Object.fromEntries(
      (page1.headers.link ?? '').split(', ').map((l) => {
        const m = /^<([^>]+)>; rel="(\w+)"$/.exec(l)
        return [m?.[2], m?.[1]]
      })
    )
    expect(links).toEqual({
      next: `${api.url}/repos/acme/app/issues/7/comments?per_page=100&page=2`,
      last: `${api.url}/repos/acme/app/issues/7/comments?per_page=100&page=2`
    })
    const page2 = await octokit.rest.issues.listComments({
      owner,
      repo,
      issue_number: issue,
      per_page: 100,
      page: 2
    })
    expect(page2.data.map((c) => c.body)).toEqual(['c100', 'c101', 'c102', 'c103', 'c104'])
    expect(page2.headers.link).toContain('rel="prev"')
    expect(page2.headers.link).not.toContain('rel="next"')

    const all = await octokit.paginate(octokit.rest.issues.listComments, {
      owner,
      repo,
      issue_number: issue,
      per_page: 100
    })
    expect(all.map((c) => c.id)).toEqual(ids)

    const edited = await octokit.rest.issues.updateComment({
      owner,
      repo,
      comment_id: ids[3]!,
      body: 'edited'
    })
    expect(edited.status).toBe(200)
    expect(edited.data).toMatchObject({ id: ids[3], body: 'edited' })
    expect(api.comments(issue)).toHaveLength(105)
    expect(api.comments(issue)[3]?.body).toBe('edited')
    expect(api.comments(8).map((c) => c.body)).toEqual(['elsewhere'])
    expect(api.comments(9)).toEqual([])

    const unknown = await rejection(
      octokit.rest.issues.updateComment({ owner, repo, comment_id: 1, body: 'x' })
    )
    expect(unknown.status).toBe(404)
    const blank = await rejection(
      octokit.rest.issues.createComment({ owner, repo, issue_number: issue, body: ' ' })
    )
    expect(blank.status).toBe(422)
    expect(blank.message).toContain('Body cannot be blank')
  })
})

describe('Actions caches (its own list)', () => {
  it('are listed with a key prefix and deleted by id and by key', async () => {
    const seeded = api.seedCaches([
      { key: 'fast-build-deps-base-aaa', sizeInBytes: 100, createdAt: '2026-01-01T00:00:00.000Z' },
      { key: 'fast-build-deps-ml-bbb', sizeInBytes: 300, createdAt: '2026-01-02T00:00:00.000Z' },
      {
        key: 'fast-build-deps-ml-bbb',
        sizeInBytes: 200,
        createdAt: '2026-01-03T00:00:00.000Z',
        ref: 'refs/pull/4/merge'
      },
      { key: 'other', createdAt: '2026-01-04T00:00:00.000Z' }
    ])
    const prefixed = await octokit.rest.actions.getActionsCacheList({ owner, repo, key: 'fast-build-deps-' })
    expect(prefixed.data.total_count).toBe(3)
    // Most recently used first.
    expect(prefixed.data.actions_caches.map((c) => c.id)).toEqual([
      seeded[2]!.id,
      seeded[1]!.id,
      seeded[0]!.id
    ])
    expect(prefixed.data.actions_caches[2]).toEqual({
      id: seeded[0]!.id,
      ref: 'refs/heads/main',
      key: 'fast-build-deps-base-aaa',
      version: seeded[0]!.version,
      last_accessed_at: '2026-01-01T00:00:00.000Z',
      created_at: '2026-01-01T00:00:00.000Z',
      size_in_bytes: 100
    })
    const bySize = await octokit.rest.actions.getActionsCacheList({
      owner,
      repo,
      sort: 'size_in_bytes',
      direction: 'asc',
      ref: 'refs/heads/main'
    })
    expect(bySize.data.actions_caches.map((c) => c.size_in_bytes)).toEqual([100, 300, 1024])
    const paged = await octokit.paginate(octokit.rest.actions.getActionsCacheList, {
      owner,
      repo,
      per_page: 3
    })
    expect(paged).toHaveLength(4)

    const byId = await octokit.rest.actions.deleteActionsCacheById({ owner, repo, cache_id: seeded[0]!.id })
    expect(byId.status).toBe(204)
    expect(byId.data as unknown).toBe('') // Octokit's data for a 204
    const again = await rejection(
      octokit.rest.actions.deleteActionsCacheById({ owner, repo, cache_id: seeded[0]!.id })
    )
    expect(again.status).toBe(404)

    const byKey = await octokit.rest.actions.deleteActionsCacheByKey({
      owner,
      repo,
      key: 'fast-build-deps-ml-bbb'
    })
    expect(byKey.status).toBe(200)
    expect(byKey.data.total_count).toBe(2)
    expect(byKey.data.actions_caches.map((c) => c.id).sort()).toEqual([seeded[1]!.id, seeded[2]!.id].sort())
    // The key is exact, not a prefix.
    const prefix = await rejection(
      octokit.rest.actions.deleteActionsCacheByKey({ owner, repo, key: 'fast-build' })
    )
    expect(prefix.status).toBe(404)

    expect(api.cacheDeletions()).toEqual([
      { id: seeded[0]!.id, key: 'fast-build-deps-base-aaa' },
      { id: seeded[1]!.id, key: 'fast-build-deps-ml-bbb' },
      { id: seeded[2]!.id, key: 'fast-build-deps-ml-bbb' }
    ])
    const left = await octokit.rest.actions.getActionsCacheList({ owner, repo })
    expect(left.data).toEqual({ total_count: 1, actions_caches: [expect.objectContaining({ key: 'other' })] })
  })

  it('deletes by key and ref only that ref', async () => {
    const gh = await startApi()
    const client = github.getOctokit(gh.token, { baseUrl: gh.url })
    gh.seedCaches([{ key: 'k' }, { key: 'k', ref: 'refs/pull/1/merge' }])
    const { data } = await client.rest.actions.deleteActionsCacheByKey({
      owner,
      repo,
      key: 'k',
      ref: 'refs/pull/1/merge'
    })
    expect(data.actions_caches.map((c) => c.ref)).toEqual(['refs/pull/1/merge'])
    expect((await client.rest.actions.getActionsCacheList({ owner, repo })).data.total_count).toBe(1)
  })
})

describe('Actions caches (the cache-service stand-in)', () => {
  let cacheServer: CacheServer
  let work: string
  beforeAll(async () => {
    cacheServer = await startCacheServer()
    servers.push(cacheServer)
    work = mkdtempSync(join(tmpdir(), 'fast-build-github-api-'))
    mkdirSync(join(work, '.runner-temp'))
    setEnv({
      ...cacheServer.env,
      GITHUB_WORKSPACE: work,
      RUNNER_TEMP: join(work, '.runner-temp'),
      ACTIONS_CACHE_URL: undefined,
      ACTIONS_CACHE_MODE: undefined,
      RUNNER_DEBUG: undefined
    })
  })
  afterAll(() => {
    rmSync(work, { recursive: true, force: true })
  })

  /** @actions/cache reports on stdout; keep the test output clean. */
  async function quietly<T>(f: () => Promise<T>): Promise<T> {
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation(() => true)
    try {
      return await f()
    } finally {
      spy.mockRestore()
    }
  }

  it('an entry deleted through REST is gone from the cache service', async () => {
    const gh = await startApi({ caches: restCacheStore(cacheServer) })
    const client = github.getOctokit(gh.token, { baseUrl: gh.url })
    const dir = join(work, 'deps')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'x.txt'), 'cached')
    const a = await quietly(() => cache.saveCache([dir], 'deps-base-1'))
    const b = await quietly(() => cache.saveCache([dir], 'deps-ml-1'))
    expect(a).toBeGreaterThan(0)
    expect(b).toBeGreaterThan(0)

    const listed = await client.rest.actions.getActionsCacheList({ owner, repo, key: 'deps-' })
    expect(listed.data.total_count).toBe(2)
    const base = listed.data.actions_caches.find((c) => c.key === 'deps-base-1')
    expect(base).toMatchObject({
      id: a,
      ref: 'refs/heads/main',
      version: expect.stringMatching(/^[0-9a-f]{64}$/)
    })
    expect(base?.size_in_bytes).toBeGreaterThan(0)
    expect(Date.parse(base?.created_at ?? '')).not.toBeNaN()

    expect((await client.rest.actions.deleteActionsCacheById({ owner, repo, cache_id: a })).status).toBe(204)
    expect(cacheServer.entries().map((e) => e.key)).toEqual(['deps-ml-1'])
    rmSync(dir, { recursive: true })
    await expect(quietly(() => cache.restoreCache([dir], 'deps-base-1'))).resolves.toBeUndefined()
    await expect(quietly(() => cache.restoreCache([dir], 'deps-ml-1'))).resolves.toBe('deps-ml-1')

    const byKey = await client.rest.actions.deleteActionsCacheByKey({ owner, repo, key: 'deps-ml-1' })
    expect(byKey.data.actions_caches.map((c) => c.id)).toEqual([b])
    expect(cacheServer.entries()).toEqual([])
    expect(gh.cacheDeletions()).toEqual([
      { id: a, key: 'deps-base-1' },
      { id: b, key: 'deps-ml-1' }
    ])
    expect(() => gh.seedCaches([{ key: 'x' }])).toThrow(/seedCaches/)
  })
})

describe('authentication, permissions, routes', () => {
  it('a wrong token is 401 Bad credentials; Bearer is accepted like token', async () => {
    const wrong = github.getOctokit('ghs_wrong')
    const err = await rejection(wrong.rest.issues.listComments({ owner, repo, issue_number: 1 }))
    expect(err.status).toBe(401)
    expect(err.response?.data).toEqual({
      message: 'Bad credentials',
      documentation_url: 'https://docs.github.com/rest',
      status: '401'
    })
    const bearer = await octokit.request('GET /repos/{owner}/{repo}/issues/{issue_number}/comments', {
      owner,
      repo,
      issue_number: 1,
      headers: { authorization: `Bearer ${api.token}` }
    })
    expect(bearer.status).toBe(200)
    const custom = await startApi({ token: 'ghp_custom', owner: 'o', repo: 'r' })
    const client = github.getOctokit('ghp_custom', { baseUrl: custom.url })
    expect((await client.rest.issues.listComments({ owner: 'o', repo: 'r', issue_number: 1 })).data).toEqual(
      []
    )
    expect((await rejection(client.rest.issues.listComments({ owner, repo, issue_number: 1 }))).status).toBe(
      404
    )
  })

  it('a permission set to none is 403 with x-accepted-github-permissions', async () => {
    const gh = await startApi()
    const client = github.getOctokit(gh.token, { baseUrl: gh.url })
    gh.setPermissions({ checks: 'none' })
    const err = await rejection(client.rest.checks.create({ owner, repo, name: 'n', head_sha: SHA }))
    expect(err.status).toBe(403)
    expect(err.message).toBe(
      'Resource not accessible by integration - https://docs.github.com/rest/checks/runs#create-a-check-run'
    )
    expect(err.response?.headers['x-accepted-github-permissions']).toBe('checks=write')
    expect(gh.checkRuns()).toEqual([])

    gh.setPermissions({ checks: 'read' })
    const read = await rejection(client.rest.checks.create({ owner, repo, name: 'n', head_sha: SHA }))
    expect(read.status).toBe(403)

    // Either pull-requests or issues write lets a comment through.
    gh.setPermissions({ 'pull-requests': 'none', issues: 'read' })
    const comment = await rejection(
      client.rest.issues.createComment({ owner, repo, issue_number: 3, body: 'b' })
    )
    expect(comment.status).toBe(403)
    expect(comment.response?.headers['x-accepted-github-permissions']).toBe(
      'pull_requests=write; issues=write'
    )
    expect((await client.rest.issues.listComments({ owner, repo, issue_number: 3 })).status).toBe(200)
    gh.setPermissions({ issues: 'write' })
    expect((await client.rest.issues.createComment({ owner, repo, issue_number: 3, body: 'b' })).status).toBe(
      201
    )

    gh.setPermissions({ statuses: 'read', actions: 'none' })
    const status = await rejection(
      client.rest.repos.createCommitStatus({ owner, repo, sha: SHA, state: 'success' })
    )
    expect(status.response?.headers['x-accepted-github-permissions']).toBe('statuses=write')
    const caches = await rejection(client.rest.actions.getActionsCacheList({ owner, repo }))
    expect(caches.status).toBe(403)
    expect(caches.response?.headers['x-accepted-github-permissions']).toBe('actions=read')
    gh.setPermissions({ actions: 'read' })
    gh.seedCaches([{ key: 'k' }])
    const del = await rejection(client.rest.actions.deleteActionsCacheByKey({ owner, repo, key: 'k' }))
    expect(del.response?.headers['x-accepted-github-permissions']).toBe('actions=write')
    expect(gh.requests.map((r) => r.status)).toEqual([403, 403, 403, 200, 201, 403, 403, 403])
  })

  it('another repository and unknown routes are 404 Not Found', async () => {
    const other = await rejection(
      octokit.rest.checks.create({ owner, repo: 'other', name: 'n', head_sha: SHA })
    )
    expect(other.status).toBe(404)
    expect(other.response?.headers['content-type']).toBe('application/json; charset=utf-8')
    const route = await rejection(octokit.request('GET /repos/{owner}/{repo}/pulls', { owner, repo }))
    expect(route.status).toBe(404)
    expect(route.response?.data).toMatchObject({ message: 'Not Found' })
    const method = await rejection(
      octokit.request('DELETE /repos/{owner}/{repo}/check-runs', { owner, repo })
    )
    expect(method.status).toBe(404)
    // Owner and repository are not case sensitive.
    expect(
      (await octokit.rest.issues.listComments({ owner: 'ACME', repo: 'App', issue_number: 1 })).status
    ).toBe(200)
  })

  it('malformed JSON is 400', async () => {
    const res = await fetch(`${api.url}/repos/acme/app/check-runs`, {
      method: 'POST',
      headers: { authorization: `token ${api.token}`, 'content-type': 'application/json' },
      body: '{"name":'
    })
    expect(res.status).toBe(400)
    expect(res.headers.get('x-ratelimit-remaining')).toMatch(/^\d+$/)
    expect(await res.json()).toMatchObject({ message: 'Problems parsing JSON' })
  })
})
