import { execFile } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { resolve, dirname, join } from 'node:path';

// What the workflow run is, from the environment GitHub sets and the event payload file: pure
// over its inputs (env and a file reader), so tests give it any event.
/**
 * The pull request's head commit, from the event payload, when the run is for a pull request
 * (`pull_request`, `pull_request_target`, the review events): GITHUB_SHA is then a merge commit
 * (or the base branch's head) that nobody pushed, while checks and people talk about the head.
 * null for other events, or when the payload cannot be read or names no valid sha.
 */
function pullRequestHeadSha(env, readPayload = (p) => readFileSync(p, 'utf8')) {
    if (!(env['GITHUB_EVENT_NAME'] ?? '').startsWith('pull_request'))
        return null;
    const path = env['GITHUB_EVENT_PATH'];
    if (!path)
        return null;
    try {
        const sha = JSON.parse(readPayload(path)).pull_request?.head?.sha;
        return typeof sha === 'string' && /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(sha) ? sha : null;
    }
    catch {
        return null;
    }
}

// What git says about the checkout: the revision and its time (for labels and reproducible
// timestamps), whether the working tree differs from it, what `{sha}` in a tag becomes, and where
// the source lives (for org.opencontainers.image.source), with any credentials in remote URLs
// removed.
//
// Which revision: on a pull request, the head commit from the event payload (GITHUB_SHA and the
// default checkout are a merge commit that nobody pushed and checks do not show); else GITHUB_SHA;
// else HEAD. A working tree with uncommitted edits to tracked files is not that revision: its
// `{sha}` gets `-dirty`, so a tag never claims a commit that does not hold the image's source.
function git(dir, args) {
    return new Promise((resolve) => {
        execFile('git', ['-C', dir, ...args], { encoding: 'utf8', timeout: 10_000 }, (err, stdout) => resolve(err ? null : stdout.trim() || null));
    });
}
/**
 * Whether git could find a repository for `dir`: a `.git` (directory or file, as in worktrees and
 * submodules) in it or a parent, or GIT_DIR set. False means git would say "not a git repository".
 */
function mayBeRepository(dir, env = process.env) {
    if (env['GIT_DIR'])
        return true;
    for (let d = resolve(dir);; d = dirname(d)) {
        if (existsSync(join(d, '.git')))
            return true;
        if (dirname(d) === d)
            return false;
    }
}
/** `git@github.com:org/repo.git` or `https://x-access-token:T@github.com/org/repo.git` → `https://github.com/org/repo`. */
function publicRepositoryUrl(remote) {
    const scp = /^(?:[\w.-]+@)?([\w.-]+):(?!\/\/)(.+?)(?:\.git)?\/?$/.exec(remote);
    if (scp && !remote.includes('://'))
        return `https://${scp[1]}/${scp[2]}`;
    try {
        const u = new URL(remote);
        if (!['http:', 'https:', 'ssh:', 'git:'].includes(u.protocol))
            return null;
        return `https://${u.hostname}${u.pathname.replace(/\.git\/?$/, '').replace(/\/$/, '')}`;
    }
    catch {
        return null;
    }
}
/** `{sha}`: the revision's first 12 hex digits (`-dirty` when the tree differs), or `local`. */
function tagShaOf(revision, dirty) {
    if (!revision)
        return 'local';
    return `${revision.slice(0, 12)}${dirty ? '-dirty' : ''}`;
}
async function gitInfo(dir, env = process.env, readPayload) {
    // Three processes at once: HEAD's hash and commit time, the origin remote, and the tracked
    // files that differ from HEAD (untracked ones do not: git mode does not ship them, and a walk
    // of a tree with stray files is still that commit's source as far as a tag can say). None
    // outside a repository: starting a process from a big Node costs some 15 ms of this thread
    // each, for three answers of "not a git repository".
    const inRepo = mayBeRepository(dir, env);
    const [log, remote, status] = inRepo
        ? await Promise.all([
            git(dir, ['log', '-1', '--format=%H %ct']),
            git(dir, ['config', '--get', 'remote.origin.url']),
            git(dir, ['status', '--porcelain', '--untracked-files=no'])
        ])
        : [null, null, null];
    const [head, time] = (log ?? '').split(' ');
    const prHead = pullRequestHeadSha(env, readPayload);
    const revision = prHead || env['GITHUB_SHA'] || head || null;
    // A failing `git status` (no git, not a repository) also gives null: nothing to call dirty.
    const dirty = status !== null;
    const tagSha = tagShaOf(revision, dirty);
    const warnings = [];
    if (dirty)
        warnings.push(`the working tree has uncommitted changes to tracked files: {sha} is ${tagSha}, not the commit's ${tagShaOf(revision, false)}`);
    const server = env['GITHUB_SERVER_URL'];
    const repo = env['GITHUB_REPOSITORY'];
    return {
        revision,
        commitTime: time && /^\d+$/.test(time) ? Number(time) : null,
        sourceUrl: server && repo ? `${server.replace(/\/$/, '')}/${repo}` : remote ? publicRepositoryUrl(remote) : null,
        dirty,
        tagSha,
        warnings
    };
}
/**
 * The one timestamp of a build (tar mtimes, `created`): SOURCE_DATE_EPOCH when set (the
 * reproducible-builds convention), else the commit's time, else the epoch.
 */
function buildEpoch(info, env = process.env) {
    const sde = env['SOURCE_DATE_EPOCH'];
    if (sde && /^\d+$/.test(sde.trim()))
        return Number(sde.trim());
    return info.commitTime ?? 0;
}

export { buildEpoch, gitInfo, mayBeRepository, publicRepositoryUrl, tagShaOf };
