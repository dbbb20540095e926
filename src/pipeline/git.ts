// What git says about the checkout: the revision and its time (for labels and reproducible
// timestamps), whether the working tree differs from it, what `{sha}` in a tag becomes, and where
// the source lives (for org.opencontainers.image.source), with any credentials in remote URLs
// removed.
//
// Which revision: on a pull request, the head commit from the event payload (GITHUB_SHA and the
// default checkout are a merge commit that nobody pushed and checks do not show); else GITHUB_SHA;
// else HEAD. A working tree with uncommitted edits to tracked files is not that revision: its
// `{sha}` gets `-dirty`, so a tag never claims a commit that does not hold the image's source.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { pullRequestHeadSha } from '../github/context.js'

export interface GitInfo {
  readonly revision: string | null
  /** Seconds since the epoch of HEAD's commit. */
  readonly commitTime: number | null
  readonly sourceUrl: string | null
  /** Tracked files differ from HEAD (`git status --porcelain --untracked-files=no` lists some). */
  readonly dirty: boolean
  /** What `{sha}` expands to: 12 hex digits of the revision, `-dirty` added when dirty; `local` without git. */
  readonly tagSha: string
  /** For the build's output: what the user should know about the revision (a dirty tree…). */
  readonly warnings: readonly string[]
}

function git(dir: string, args: string[]): Promise<string | null> {
  return new Promise((resolve) => {
    execFile('git', ['-C', dir, ...args], { encoding: 'utf8', timeout: 10_000 }, (err, stdout) =>
      resolve(err ? null : stdout.trim() || null)
    )
  })
}

/**
 * Whether git could find a repository for `dir`: a `.git` (directory or file, as in worktrees and
 * submodules) in it or a parent, or GIT_DIR set. False means git would say "not a git repository".
 */
export function mayBeRepository(dir: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env['GIT_DIR']) return true
  for (let d = resolve(dir); ; d = dirname(d)) {
    if (existsSync(join(d, '.git'))) return true
    if (dirname(d) === d) return false
  }
}

/** `git@github.com:org/repo.git` or `https://x-access-token:T@github.com/org/repo.git` → `https://github.com/org/repo`. */
export function publicRepositoryUrl(remote: string): string | null {
  const scp = /^(?:[\w.-]+@)?([\w.-]+):(?!\/\/)(.+?)(?:\.git)?\/?$/.exec(remote)
  if (scp && !remote.includes('://')) return `https://${scp[1]}/${scp[2]}`
  try {
    const u = new URL(remote)
    if (!['http:', 'https:', 'ssh:', 'git:'].includes(u.protocol)) return null
    return `https://${u.hostname}${u.pathname.replace(/\.git\/?$/, '').replace(/\/$/, '')}`
  } catch {
    return null
  }
}

/** `{sha}`: the revision's first 12 hex digits (`-dirty` when the tree differs), or `local`. */
export function tagShaOf(revision: string | null, dirty: boolean): string {
  if (!revision) return 'local'
  return `${revision.slice(0, 12)}${dirty ? '-dirty' : ''}`
}

export async function gitInfo(
  dir: string,
  env: NodeJS.ProcessEnv = process.env,
  readPayload?: (path: string) => string
): Promise<GitInfo> {
  // Three processes at once: HEAD's hash and commit time, the origin remote, and the tracked
  // files that differ from HEAD (untracked ones do not: git mode does not ship them, and a walk
  // of a tree with stray files is still that commit's source as far as a tag can say). None
  // outside a repository: starting a process from a big Node costs some 15 ms of this thread
  // each, for three answers of "not a git repository".
  const inRepo = mayBeRepository(dir, env)
  const [log, remote, status] = inRepo
    ? await Promise.all([
        git(dir, ['log', '-1', '--format=%H %ct']),
        git(dir, ['config', '--get', 'remote.origin.url']),
        git(dir, ['status', '--porcelain', '--untracked-files=no'])
      ])
    : [null, null, null]
  const [head, time] = (log ?? '').split(' ')
  const prHead = pullRequestHeadSha(env, readPayload)
  const revision = prHead || env['GITHUB_SHA'] || head || null
  // A failing `git status` (no git, not a repository) also gives null: nothing to call dirty.
  const dirty = status !== null
  const tagSha = tagShaOf(revision, dirty)
  const warnings: string[] = []
  if (dirty)
    warnings.push(
      `the working tree has uncommitted changes to tracked files: {sha} is ${tagSha}, not the commit's ${tagShaOf(revision, false)}`
    )
  const server = env['GITHUB_SERVER_URL']
  const repo = env['GITHUB_REPOSITORY']
  return {
    revision,
    commitTime: time && /^\d+$/.test(time) ? Number(time) : null,
    sourceUrl:
      server && repo ? `${server.replace(/\/$/, '')}/${repo}` : remote ? publicRepositoryUrl(remote) : null,
    dirty,
    tagSha,
    warnings
  }
}

/**
 * The one timestamp of a build (tar mtimes, `created`): SOURCE_DATE_EPOCH when set (the
 * reproducible-builds convention), else the commit's time, else the epoch.
 */
export function buildEpoch(info: GitInfo, env: NodeJS.ProcessEnv = process.env): number {
  const sde = env['SOURCE_DATE_EPOCH']
  if (sde && /^\d+$/.test(sde.trim())) return Number(sde.trim())
  return info.commitTime ?? 0
}
