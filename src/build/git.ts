// What git says about the checkout: the revision and its time (for labels and reproducible
// timestamps) and where the source lives (for org.opencontainers.image.source), with any
// credentials in remote URLs removed.
import { execFile } from 'node:child_process'

export interface GitInfo {
  readonly revision: string | null
  /** Seconds since the epoch of HEAD's commit. */
  readonly commitTime: number | null
  readonly sourceUrl: string | null
}

function git(dir: string, args: string[]): Promise<string | null> {
  return new Promise((resolve) => {
    execFile('git', ['-C', dir, ...args], { encoding: 'utf8', timeout: 10_000 }, (err, stdout) =>
      resolve(err ? null : stdout.trim() || null)
    )
  })
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

export async function gitInfo(dir: string, env: NodeJS.ProcessEnv = process.env): Promise<GitInfo> {
  // Two processes at once: HEAD's hash and commit time, and the origin remote.
  const [log, remote] = await Promise.all([
    git(dir, ['log', '-1', '--format=%H %ct']),
    git(dir, ['config', '--get', 'remote.origin.url'])
  ])
  const [head, time] = (log ?? '').split(' ')
  const revision = env['GITHUB_SHA'] || head || null
  const server = env['GITHUB_SERVER_URL']
  const repo = env['GITHUB_REPOSITORY']
  return {
    revision,
    commitTime: time && /^\d+$/.test(time) ? Number(time) : null,
    sourceUrl:
      server && repo ? `${server.replace(/\/$/, '')}/${repo}` : remote ? publicRepositoryUrl(remote) : null
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
