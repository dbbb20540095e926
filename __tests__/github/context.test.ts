import { describe, expect, it } from '@jest/globals'
import { pullRequestHeadSha, readRunContext } from '../../src/github/context.js'

const payload = (p: unknown) => () => JSON.stringify(p)

describe('readRunContext', () => {
  it.each([
    ['same-repository pull request', 'acme/app', false],
    ['pull request from a fork', 'someone/app', true]
  ])('%s', (_, head, fork) => {
    const c = readRunContext(
      {
        GITHUB_EVENT_NAME: 'pull_request',
        GITHUB_EVENT_PATH: '/event.json',
        GITHUB_HEAD_REF: 'feature/x',
        GITHUB_REF_NAME: '7/merge',
        GITHUB_SHA: 'abc'
      },
      payload({
        repository: { full_name: 'acme/app' },
        pull_request: { number: 7, head: { repo: { full_name: head, fork } } }
      })
    )
    expect(c).toMatchObject({
      forkPullRequest: fork,
      pullRequest: 7,
      refName: 'feature/x',
      sha: 'abc',
      repository: 'acme/app'
    })
  })

  it('a repository that is itself a fork building its own pull request is not a fork pull request', () => {
    const c = readRunContext(
      { GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: '/e' },
      payload({
        repository: { full_name: 'me/app' },
        pull_request: { number: 1, head: { repo: { full_name: 'me/app', fork: true } } }
      })
    )
    expect(c.forkPullRequest).toBe(false)
  })

  it('a pull request whose fork was deleted counts as a fork; a push is not a pull request', () => {
    expect(
      readRunContext(
        { GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: '/e' },
        payload({ repository: { full_name: 'acme/app' }, pull_request: { number: 2, head: { repo: null } } })
      ).forkPullRequest
    ).toBe(true)
    const push = readRunContext({
      GITHUB_EVENT_NAME: 'push',
      GITHUB_REF_NAME: 'main',
      GITHUB_REPOSITORY: 'acme/app'
    })
    expect(push).toMatchObject({
      forkPullRequest: false,
      pullRequest: null,
      refName: 'main',
      repository: 'acme/app'
    })
  })

  it('an unreadable payload is no pull request', () => {
    const c = readRunContext({ GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: '/nope' }, () => {
      throw new Error('ENOENT')
    })
    expect(c.forkPullRequest).toBe(false)
  })

  it('a pull request reports on its head commit, never counts as the default branch', () => {
    const c = readRunContext(
      {
        GITHUB_EVENT_NAME: 'pull_request',
        GITHUB_EVENT_PATH: '/e',
        GITHUB_SHA: 'merge',
        GITHUB_REF: 'refs/pull/7/merge',
        GITHUB_API_URL: 'http://127.0.0.1:1'
      },
      payload({
        repository: { full_name: 'acme/app', default_branch: 'main' },
        pull_request: { number: 7, head: { sha: 'head', repo: { full_name: 'acme/app' } } }
      })
    )
    expect(c).toMatchObject({ headSha: 'head', onDefaultBranch: false, apiUrl: 'http://127.0.0.1:1' })
  })

  it.each([
    ['push', 'refs/heads/main', true],
    ['workflow_dispatch', 'refs/heads/main', true],
    ['push', 'refs/heads/feature', false],
    ['push', 'refs/tags/main', false]
  ])('%s of %s: on the default branch %s', (event, ref, expected) => {
    const c = readRunContext(
      { GITHUB_EVENT_NAME: event, GITHUB_EVENT_PATH: '/e', GITHUB_REF: ref, GITHUB_SHA: 's' },
      payload({ repository: { full_name: 'acme/app', default_branch: 'main' } })
    )
    expect(c.onDefaultBranch).toBe(expected)
    expect(c.headSha).toBe('s')
    expect(c.apiUrl).toBe('https://api.github.com')
  })

  it.each([
    ['a fork', 'someone/app', 'octocat', 'pull request from a fork'],
    ['Dependabot', 'acme/app', 'dependabot[bot]', 'pull request from Dependabot'],
    ['a member', 'acme/app', 'octocat', null]
  ])('a pull request from %s: read-only %s', (_, head, actor, readOnly) => {
    const c = readRunContext(
      { GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: '/e', GITHUB_ACTOR: actor },
      payload({
        repository: { full_name: 'acme/app' },
        pull_request: { number: 1, head: { repo: { full_name: head } } }
      })
    )
    expect(c.readOnly).toBe(readOnly)
  })
})

describe('pullRequestHeadSha', () => {
  const head = '0123456789abcdef0123456789abcdef01234567'
  const pr = payload({ pull_request: { number: 3, head: { sha: head } } })
  it.each<[string, Record<string, string>, () => string, string | null]>([
    ['pull_request', { GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: '/e' }, pr, head],
    ['pull_request_target', { GITHUB_EVENT_NAME: 'pull_request_target', GITHUB_EVENT_PATH: '/e' }, pr, head],
    ['a push (even with such a payload)', { GITHUB_EVENT_NAME: 'push', GITHUB_EVENT_PATH: '/e' }, pr, null],
    ['no payload path', { GITHUB_EVENT_NAME: 'pull_request' }, pr, null],
    [
      'an unreadable payload',
      { GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: '/e' },
      () => {
        throw new Error('ENOENT')
      },
      null
    ],
    [
      'a head sha that is not one',
      { GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: '/e' },
      payload({ pull_request: { head: { sha: 'main; rm -rf /' } } }),
      null
    ]
  ])('%s', (_, env, read, expected) => {
    expect(pullRequestHeadSha(env, read)).toBe(expected)
  })
})
