// The bundled action on pull requests and from the Actions tab, as GitHub runs it: against a real
// registry, the Actions cache stand-in, and a stand-in for GitHub's REST API (GITHUB_API_URL) that
// records check runs, annotations, statuses, comments and cache deletions, and answers 403 naming
// the permission a token lacks, as GitHub does.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  commitAll,
  gitInit,
  rebuiltOf,
  runAction,
  startActionFixture,
  type ActionFixture,
  type ActionRun,
  type ProjectVersions
} from './support/action-run.js'
import { restCacheStore, startCacheServer, type CacheServer } from './support/cache-server.js'
import { startGitHubApi, type GitHubApi } from './support/github-api.js'
import { tempDir } from './support/project.js'

let fixture: ActionFixture
let cacheServer: CacheServer
let api: GitHubApi

beforeAll(async () => {
  fixture = await startActionFixture()
  cacheServer = await startCacheServer()
  api = await startGitHubApi({ caches: restCacheStore(cacheServer) })
}, 300_000)

afterAll(async () => {
  await api?.close()
  await cacheServer?.close()
  await fixture?.close()
})

const pullRequest = (number: number, headSha: string, headRepo = 'acme/app') => ({
  repository: { full_name: 'acme/app', default_branch: 'main' },
  pull_request: { number, head: { sha: headSha, ref: 'feature', repo: { full_name: headRepo } } }
})

/** A repository of its own (its own registry repository), with a first build on main. */
async function repository(name: string, v: ProjectVersions = {}): Promise<{ dir: string; runner: string }> {
  const dir = tempDir()
  fixture.writeProject(dir, { ...v, repository: `acme/${name}` })
  gitInit(dir)
  const runner = tempDir()
  const first = await step(dir, commitAll(dir, 'init'), runner)
  expect(first.code).toBe(0)
  return { dir, runner }
}

function step(
  dir: string,
  sha: string,
  runner: string,
  o: { inputs?: Record<string, string>; event?: string; payload?: unknown } = {}
): Promise<ActionRun> {
  return runAction({
    dir,
    sha,
    runner,
    inputs: { 'github-token': api.token, ...o.inputs },
    ...(o.event ? { event: o.event } : {}),
    ...(o.payload ? { payload: o.payload } : {}),
    env: { ...cacheServer.env, ...api.env, GITHUB_REPOSITORY: 'acme/app' }
  })
}

async function tags(repository: string): Promise<string[]> {
  const r = await fetch(`http://${fixture.reg.host}/v2/${repository}/tags/list`)
  if (r.status === 404) return []
  return ((await r.json()) as { tags: string[] | null }).tags ?? []
}

describe('a pull request bumping a package in an extra', () => {
  it('gets a check run annotated on the lock line, a status per variant, and one comment kept up to date', async () => {
    const { dir, runner } = await repository('pr')
    fixture.writeProject(dir, { torch: '2.6.0', repository: 'acme/pr' })
    const head = commitAll(dir, 'bump torch in the ml extra')
    const r = await step(dir, head, runner, {
      event: 'pull_request',
      payload: pullRequest(7, head),
      inputs: { annotate: 'checks,status,comment' }
    })
    expect(r.stdout).not.toMatch(/::warning::/)
    expect(r.code).toBe(0)
    expect(rebuiltOf(r)).toEqual(['ml'])

    const [check] = api.checkRuns()
    expect(api.checkRuns()).toHaveLength(1)
    expect(check).toMatchObject({
      name: 'fast-build',
      head_sha: head,
      status: 'completed',
      conclusion: 'success',
      output: { title: 'ml rebuilt; 1 on the fast path' }
    })
    expect(check!.output.summary).toMatch(/\| ml \| full \| .*torch-ish 2\.5\.1 → 2\.6\.0/)
    // The annotation sits on the `name = "torch-ish"` line of the torch-ish 2.6.0 entry.
    const lockLines = readFileSync(join(dir, 'uv.lock'), 'utf8').split('\n')
    expect(check!.output.annotations).toHaveLength(1)
    const [a] = check!.output.annotations
    expect(a).toMatchObject({
      path: 'uv.lock',
      annotation_level: 'notice',
      message: 'torch-ish 2.5.1 → 2.6.0: the deps image of ml was rebuilt for this change'
    })
    expect(lockLines[a!.start_line - 1]).toBe('name = "torch-ish"')
    expect(lockLines[a!.start_line]).toBe('version = "2.6.0"')

    expect(api.statuses().map((s) => [s.sha, s.context, s.state])).toEqual([
      [head, 'fast-build/base', 'success'],
      [head, 'fast-build/ml', 'success']
    ])
    expect(api.statuses()[1]!.description).toMatch(/^full: .*torch-ish 2\.5\.1 → 2\.6\.0/)

    const comments = api.comments(7)
    expect(comments).toHaveLength(1)
    expect(comments[0]!.body).toContain('fast-build: ml rebuilt')

    // A second push to the pull request: the same comment, updated.
    writeFileSync(join(dir, 'app', 'main.py'), 'print("v2")\n')
    const head2 = commitAll(dir, 'code only')
    const r2 = await step(dir, head2, runner, {
      event: 'pull_request',
      payload: pullRequest(7, head2),
      inputs: { annotate: 'checks,status,comment' }
    })
    expect(r2.code).toBe(0)
    expect(rebuiltOf(r2)).toEqual([])
    expect(api.comments(7)).toHaveLength(1)
    expect(api.comments(7)[0]!.id).toBe(comments[0]!.id)
    expect(api.comments(7)[0]!.body).toContain(`for ${head2.slice(0, 12)}`)
    expect(api.comments(7)[0]!.body).toContain('fast path for all 2 variants')
  }, 300_000)

  it('without checks: write, the step warns naming the permission and the build stays green', async () => {
    const { dir, runner } = await repository('noperm')
    fixture.writeProject(dir, { six: '1.1.0', repository: 'acme/noperm' })
    const head = commitAll(dir, 'bump six')
    api.setPermissions({ checks: 'read' })
    try {
      const before = api.checkRuns().length
      const r = await step(dir, head, runner, { event: 'pull_request', payload: pullRequest(8, head) })
      expect(r.code).toBe(0)
      expect(rebuiltOf(r)).toEqual(['base', 'ml'])
      expect(r.stdout).toMatch(
        /::warning::fast-build could not create the fast-build check run: the workflow token lacks checks: write\. Add it to the job: permissions: \{ checks: write \}/
      )
      expect(api.checkRuns().length).toBe(before)
    } finally {
      api.setPermissions({ checks: 'write' })
    }
  }, 300_000)
})

describe('a pull request from a fork', () => {
  it('plans only: every hash and path reported, nothing pushed, nothing posted', async () => {
    const { dir, runner } = await repository('forked')
    fixture.writeProject(dir, { torch: '2.6.0', repository: 'acme/forked' })
    const head = commitAll(dir, 'bump from a fork')
    const tagsBefore = await tags('acme/forked')
    const requestsBefore = api.requests.length
    const r = await step(dir, head, runner, {
      event: 'pull_request',
      payload: pullRequest(9, head, 'someone/app'),
      inputs: { annotate: 'checks,status,comment' }
    })
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/::notice::pull request from a fork: fast-build plans only and pushes nothing/)
    expect(r.summary).toMatch(/Pull request from a fork: planned only, nothing was pushed/)
    expect(r.summary).toMatch(/full \(planned\)/)
    expect(JSON.parse(r.outputs['matrix']!).include.map((i: { variant: string }) => i.variant)).toEqual([
      'ml'
    ])
    expect(JSON.parse(r.outputs['plan']!).variants).toHaveLength(2)
    expect(r.outputs['images']).toBeUndefined()
    expect(await tags('acme/forked')).toEqual(tagsBefore)
    expect(api.requests.length).toBe(requestsBefore)
    // The token reaches the log only inside the runner's mask command, which the runner consumes.
    const shown = r.stdout
      .split('\n')
      .filter((l) => !l.startsWith('::add-mask::'))
      .join('\n')
    expect(shown).not.toContain(api.token)
  }, 300_000)
})

describe('workflow_dispatch with invalidate', () => {
  it('rebuilds the named variant, overwrites its tag and deletes its cache entries; ignored on other events', async () => {
    const { dir, runner } = await repository('dispatch')
    const indexKeys = () =>
      cacheServer
        .entries()
        .map((e) => e.key)
        .filter((k) => k.startsWith('fast-build-v1-index-'))
    const mlKeysBefore = indexKeys().filter((k) => k.startsWith('fast-build-v1-index-ml-'))
    expect(mlKeysBefore.length).toBeGreaterThan(0)

    // On a pull request, invalidate is ignored.
    writeFileSync(join(dir, 'app', 'main.py'), 'print("pr")\n')
    let sha = commitAll(dir, 'code')
    let r = await step(dir, sha, runner, {
      event: 'pull_request',
      payload: pullRequest(10, sha),
      inputs: { invalidate: 'ml', annotate: 'none' }
    })
    expect(r.code).toBe(0)
    expect(rebuiltOf(r)).toEqual([])
    expect(r.stdout).toMatch(/::notice::invalidate is honoured only on workflow_dispatch/)

    const deletionsBefore = api.cacheDeletions().length
    writeFileSync(join(dir, 'app', 'main.py'), 'print("dispatch")\n')
    sha = commitAll(dir, 'code again')
    r = await step(dir, sha, runner, {
      event: 'workflow_dispatch',
      payload: {
        repository: { full_name: 'acme/app', default_branch: 'main' },
        inputs: { invalidate: 'ml' }
      },
      inputs: { invalidate: 'ml' }
    })
    expect(r.code).toBe(0)
    expect(rebuiltOf(r)).toEqual(['ml'])
    expect(r.summary).toMatch(/invalidated \(invalidate input\)/)
    const deleted = api.cacheDeletions().slice(deletionsBefore)
    expect(deleted.map((d) => d.key).sort()).toEqual([...mlKeysBefore].sort())
    expect(r.stdout).toMatch(/invalidate: \d+ Actions cache entries of ml deleted/)
    // The ml deps tag was pushed again (overwritten, to the same content: builds are reproducible).
    const mlHash = JSON.parse(r.outputs['plan']!).variants.find((v: { name: string }) => v.name === 'ml').hash
    const mlTag = `${fixture.reg.host}/acme/dispatch:deps-ml-${mlHash.slice(0, 16)}`
    expect(r.stdout).toContain(`rebuilding deps image ${mlTag}`)
    expect(r.stdout).toMatch(new RegExp(`deps image ${mlTag} pushed \\(sha256:`))
    expect(r.stdout).toMatch(/deps image \S+:deps-base-\w+ found/)
    expect(await tags('acme/dispatch')).toContain(`deps-ml-${mlHash.slice(0, 16)}`)
    // Base's cache entries were left alone.
    expect(deleted.some((d) => d.key.startsWith('fast-build-v1-index-base-'))).toBe(false)
  }, 300_000)
})

describe('run-time groups on the default branch', () => {
  it('fail the run unless allowed', async () => {
    const dir = tempDir()
    fixture.writeProject(dir, { exp: true, repository: 'acme/runtime' })
    gitInit(dir)
    const sha = commitAll(dir, 'init with an exp group')
    const refused = await step(dir, sha, tempDir())
    expect(refused.code).toBe(1)
    expect(refused.stdout).toMatch(
      /::error::.*run-time groups on the default branch main: base \(1 package\), ml \(1 package\)/
    )
    expect(refused.stdout).toMatch(/allow-runtime-groups-on-default-branch: true/)
    expect(await tags('acme/runtime')).toEqual([])

    const allowed = await step(dir, sha, tempDir(), {
      inputs: { 'allow-runtime-groups-on-default-branch': 'true' }
    })
    expect(allowed.code).toBe(0)
    expect(allowed.stdout).toMatch(/::warning::run-time groups on the default branch/)

    // On a pull request the group is fine, no input needed.
    const pr = await step(dir, sha, tempDir(), { event: 'pull_request', payload: pullRequest(11, sha) })
    expect(pr.code).toBe(0)
  }, 300_000)
})
