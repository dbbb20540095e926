// What gitInfo says about real git checkouts (git runs here), and about GitHub's pull request
// events through a real event payload file.
import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gitInfo, mayBeRepository, tagShaOf } from '../../src/pipeline/git.js'
import { tempDir, writeFiles } from '../support/project.js'

const GIT_ENV = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' }

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: GIT_ENV
  }).trim()
}

function repo(): { dir: string; head: string } {
  const dir = writeFiles(tempDir('fast-build-git-'), { 'app.py': 'print(1)\n', 'README.md': 'x\n' })
  git(dir, 'init', '-q', '-b', 'main')
  git(dir, 'add', '-A')
  git(dir, 'commit', '-q', '-m', 'init')
  return { dir, head: git(dir, 'rev-parse', 'HEAD') }
}

/** The environment of a local run: none of GitHub's variables. */
const LOCAL: NodeJS.ProcessEnv = { PATH: process.env['PATH'] }

describe('gitInfo', () => {
  it('a clean checkout: {sha} is 12 digits of HEAD, nothing to warn about', async () => {
    const { dir, head } = repo()
    // An untracked file does not make the tree dirty (git mode would not ship it).
    writeFileSync(join(dir, 'notes.txt'), 'scratch\n')
    const info = await gitInfo(dir, LOCAL)
    expect(info).toMatchObject({ revision: head, dirty: false, tagSha: head.slice(0, 12), warnings: [] })
    expect(info.commitTime).toBeGreaterThan(1_600_000_000)
  })

  it('a tracked file edited: dirty, {sha} ends in -dirty, and a warning says so', async () => {
    const { dir, head } = repo()
    writeFileSync(join(dir, 'app.py'), 'print(2)\n')
    const info = await gitInfo(dir, LOCAL)
    expect(info).toMatchObject({ revision: head, dirty: true, tagSha: `${head.slice(0, 12)}-dirty` })
    expect(info.warnings).toEqual([
      `the working tree has uncommitted changes to tracked files: {sha} is ${head.slice(0, 12)}-dirty, not the commit's ${head.slice(0, 12)}`
    ])
    // Staged counts too.
    git(dir, 'add', 'app.py')
    expect((await gitInfo(dir, LOCAL)).dirty).toBe(true)
  })

  it('no git: {sha} is local', async () => {
    const dir = writeFiles(tempDir('fast-build-nogit-'), { 'app.py': '' })
    expect(await gitInfo(dir, LOCAL)).toMatchObject({
      revision: null,
      dirty: false,
      tagSha: 'local',
      warnings: []
    })
  })

  it("a repository is looked for upwards (a subdirectory, a worktree's .git file, GIT_DIR)", () => {
    const { dir } = repo()
    mkdirSync(join(dir, 'sub', 'deeper'), { recursive: true })
    expect(mayBeRepository(join(dir, 'sub', 'deeper'), LOCAL)).toBe(true)
    const worktree = writeFiles(tempDir('fast-build-worktree-'), { '.git': 'gitdir: /elsewhere\n' })
    expect(mayBeRepository(worktree, LOCAL)).toBe(true)
    const none = tempDir('fast-build-nogit-')
    expect(mayBeRepository(none, LOCAL)).toBe(false)
    expect(mayBeRepository(none, { ...LOCAL, GIT_DIR: join(dir, '.git') })).toBe(true)
  })

  it('a push on GitHub: GITHUB_SHA', async () => {
    const { dir } = repo()
    const sha = 'a'.repeat(40)
    const info = await gitInfo(dir, { ...LOCAL, GITHUB_EVENT_NAME: 'push', GITHUB_SHA: sha })
    expect(info).toMatchObject({ revision: sha, tagSha: 'aaaaaaaaaaaa' })
  })

  it.each(['pull_request', 'pull_request_target'])(
    '%s: the pull request head from the event payload, not the merge commit',
    async (event) => {
      const { dir } = repo()
      const merge = 'b'.repeat(40)
      const head = 'c0ffee'.padEnd(40, '1')
      const payload = join(tempDir('fast-build-event-'), 'event.json')
      writeFileSync(payload, JSON.stringify({ pull_request: { number: 7, head: { sha: head } } }))
      const env = { ...LOCAL, GITHUB_EVENT_NAME: event, GITHUB_SHA: merge, GITHUB_EVENT_PATH: payload }
      expect(await gitInfo(dir, env)).toMatchObject({ revision: head, tagSha: head.slice(0, 12) })
      // An unreadable payload: GITHUB_SHA, as before.
      const missing = { ...env, GITHUB_EVENT_PATH: join(dir, 'no-such-event.json') }
      expect((await gitInfo(dir, missing)).revision).toBe(merge)
    }
  )
})

describe('tagShaOf', () => {
  it.each<[string | null, boolean, string]>([
    ['0123456789abcdef0123456789abcdef01234567', false, '0123456789ab'],
    ['0123456789abcdef0123456789abcdef01234567', true, '0123456789ab-dirty'],
    [null, false, 'local']
  ])('%s dirty=%s → %s', (revision, dirty, expected) => {
    expect(tagShaOf(revision, dirty)).toBe(expected)
  })
})
