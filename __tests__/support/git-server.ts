// Git repositories over HTTP on 127.0.0.1 for tests: git's smart HTTP protocol (v0 and v2, partial
// clone filters, fetch by any commit sha), by `git http-backend` run as a CGI per request from a
// small node:http server, the way a git forge serves `pip install 'name @ git+http://…@<sha>'`.
// Also a forge-style tarball of any commit, for a client without git:
//
//   GET /<name>.git/…                       smart HTTP (clone URL: http://127.0.0.1:PORT/<name>.git)
//   GET /<name>/archive/<commit>.tar.gz     `git archive` of the commit, top directory <name>-<commit>/
//
//   const git = await startGitServer()
//   const { url, commit } = await git.createRepo('fbgit', pythonPackageFiles({ project: 'fbgit', version: '1.0.0' }))
//   … `fbgit @ git+${url}@${commit}` …
//   await git.close()
//
// Commits are deterministic (fixed author, committer and dates), so the same files give the same sha.
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { listenOnLoopback, runOk } from './process.js'

export interface GitRepo {
  readonly name: string
  /** The clone URL: `http://127.0.0.1:PORT/<name>.git` */
  readonly url: string
  /** The full sha of the newest commit. */
  readonly commit: string
}

export interface GitRequest {
  readonly method: string
  readonly path: string
  readonly status: number
  /** The `Git-Protocol` header (`version=2` for protocol v2). */
  readonly gitProtocol: string | null
}

export interface GitServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string
  /** Requests so far, in order. */
  readonly requests: GitRequest[]
  /** A new repository `<name>` (bare, served as `<name>.git`) with one commit holding `files`. */
  createRepo(name: string, files: Readonly<Record<string, string>>): Promise<GitRepo>
  /** Another commit on the repository's branch: `files` written over the tree (the rest kept). */
  addCommit(name: string, files: Readonly<Record<string, string>>, message?: string): Promise<GitRepo>
  /** `http://127.0.0.1:PORT/<name>/archive/<commit>.tar.gz` */
  archiveUrl(name: string, commit: string): string
  /** Stop serving, end running CGI processes, remove the repositories. Idempotent. */
  close(): Promise<void>
}

const BRANCH = 'main'
const CGI_TIMEOUT_MS = 120_000

export async function startGitServer(): Promise<GitServer> {
  const dir = mkdtempSync(join(tmpdir(), 'fast-build-git-'))
  const root = join(dir, 'repos') // bare repositories, served
  const work = join(dir, 'work') // working trees the commits are made in
  const home = join(dir, 'home')
  for (const d of [root, work, home]) mkdirSync(d)
  // git isolated from the machine's and the user's configuration.
  const gitEnv: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    LANG: 'C'
  }
  const commitEnv: NodeJS.ProcessEnv = {
    ...gitEnv,
    GIT_AUTHOR_NAME: 'fast-build tests',
    GIT_AUTHOR_EMAIL: 'tests@fast-build.invalid',
    GIT_COMMITTER_NAME: 'fast-build tests',
    GIT_COMMITTER_EMAIL: 'tests@fast-build.invalid'
  }
  const git = (args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = gitEnv) =>
    runOk('git', args, { cwd, env, timeoutMs: 60_000 })
  const commitCount = new Map<string, number>()
  const requests: GitRequest[] = []
  const children = new Set<ReturnType<typeof spawn>>()
  const sockets = new Set<Socket>()
  let base = ''

  const checkName = (name: string) => {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || name.endsWith('.git'))
      throw new Error(`not a repository name: ${name}`)
  }

  const commit = async (name: string, files: Readonly<Record<string, string>>, message: string) => {
    const tree = join(work, name)
    for (const [path, text] of Object.entries(files)) {
      if (path.startsWith('/') || path.split('/').includes('..'))
        throw new Error(`not a relative path: ${path}`)
      mkdirSync(dirname(join(tree, path)), { recursive: true })
      writeFileSync(join(tree, path), text)
    }
    await git(['add', '--all'], tree)
    const n = (commitCount.get(name) ?? 0) + 1
    commitCount.set(name, n)
    // One fixed date per commit number: the same history gives the same shas on every run.
    const date = `${1704067200 + n * 60} +0000`
    await git(['commit', '--quiet', '--no-gpg-sign', '-m', message], tree, {
      ...commitEnv,
      GIT_AUTHOR_DATE: date,
      GIT_COMMITTER_DATE: date
    })
    await git(['push', '--quiet', join(root, `${name}.git`), `${BRANCH}:${BRANCH}`], tree)
    const sha = (await git(['rev-parse', 'HEAD'], tree)).stdout.trim()
    return { name, url: `${base}/${name}.git`, commit: sha }
  }

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const [rawPath = '/', query = ''] = (req.url ?? '/').split('?', 2)
    const path = decodeURIComponent(rawPath)
    const entry = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      status: 200,
      gitProtocol: (req.headers['git-protocol'] as string | undefined) ?? null
    }
    requests.push(entry)
    const send = (status: number, body: string) => {
      entry.status = status
      res.writeHead(status, {
        'content-type': 'text/plain',
        'content-length': String(Buffer.byteLength(body))
      })
      res.end(body)
    }
    if (path.includes('/../') || path.includes('\0')) return send(400, 'bad path')

    const archive = /^\/([^/]+)\/archive\/([0-9a-f]{7,64})\.tar\.gz$/.exec(path)
    if (archive) {
      const [, name, sha] = archive as unknown as [string, string, string]
      const repo = join(root, `${name}.git`)
      if (!commitCount.has(name)) return send(404, 'no such repository')
      const child = spawn('git', ['archive', '--format=tar.gz', `--prefix=${name}-${sha}/`, sha], {
        cwd: repo,
        env: gitEnv,
        stdio: ['ignore', 'pipe', 'pipe']
      })
      track(child)
      let err = ''
      child.stderr.on('data', (c: Buffer) => (err += c.toString()))
      // Buffer it: a bad sha must be a 404, not a 200 with a cut body.
      const chunks: Buffer[] = []
      child.stdout.on('data', (c: Buffer) => chunks.push(c))
      child.once('close', (code) => {
        if (code !== 0) return send(404, `git archive: ${err.trim()}`)
        const body = Buffer.concat(chunks)
        entry.status = 200
        res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': String(body.length) })
        res.end(body)
      })
      return
    }

    const smart = /^\/([^/]+)\.git(\/.*)?$/.exec(path)
    if (!smart || !commitCount.has(smart[1]!)) return send(404, 'not found')
    // The CGI environment (RFC 3875) git http-backend reads.
    const cgiEnv: NodeJS.ProcessEnv = {
      ...gitEnv,
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: '1',
      GATEWAY_INTERFACE: 'CGI/1.1',
      SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
      REQUEST_METHOD: req.method ?? 'GET',
      PATH_INFO: path,
      QUERY_STRING: query,
      REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      ...(req.headers['content-length'] ? { CONTENT_LENGTH: req.headers['content-length'] } : {}),
      ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: req.headers['content-encoding'] } : {}),
      ...(entry.gitProtocol ? { HTTP_GIT_PROTOCOL: entry.gitProtocol } : {})
    }
    const child = spawn('git', ['http-backend'], { env: cgiEnv, stdio: ['pipe', 'pipe', 'pipe'] })
    track(child)
    let err = ''
    child.stderr.on('data', (c: Buffer) => (err += c.toString()))
    child.stdin.on('error', () => undefined)
    req.pipe(child.stdin)
    // The CGI answer: header lines (`Status: 404 Not Found` among them), a blank line, the body.
    let head = Buffer.alloc(0)
    let headersDone = false
    child.stdout.on('data', (c: Buffer) => {
      if (headersDone) {
        if (!res.write(c)) {
          child.stdout.pause()
          res.once('drain', () => child.stdout.resume())
        }
        return
      }
      head = Buffer.concat([head, c])
      const sep = /\r?\n\r?\n/.exec(head.toString('latin1'))
      if (!sep) return
      headersDone = true
      const headers: Record<string, string> = {}
      let status = 200
      for (const line of head.subarray(0, sep.index).toString('latin1').split(/\r?\n/)) {
        const i = line.indexOf(':')
        if (i < 0) continue
        const k = line.slice(0, i).trim()
        const v = line.slice(i + 1).trim()
        if (k.toLowerCase() === 'status') status = Number(v.split(' ')[0])
        else headers[k] = v
      }
      entry.status = status
      res.writeHead(status, headers)
      const rest = head.subarray(sep.index + sep[0].length)
      if (rest.length) res.write(rest)
    })
    child.once('close', (code) => {
      if (!headersDone) return send(502, `git http-backend exited ${code} without an answer: ${err.trim()}`)
      res.end()
    })
    res.once('close', () => {
      if (child.exitCode === null) child.kill('SIGKILL')
    })
  }

  const track = (child: ReturnType<typeof spawn>) => {
    children.add(child)
    const t = setTimeout(() => child.kill('SIGKILL'), CGI_TIMEOUT_MS)
    child.once('close', () => {
      clearTimeout(t)
      children.delete(child)
    })
  }

  const server = createServer(handle)
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  const port = await listenOnLoopback(server)
  base = `http://127.0.0.1:${port}`
  let closing: Promise<void> | null = null

  return {
    url: base,
    requests,
    createRepo: async (name, files) => {
      checkName(name)
      if (commitCount.has(name)) throw new Error(`repository ${name} exists`)
      const bare = join(root, `${name}.git`)
      await git(['init', '--quiet', '--bare', `--initial-branch=${BRANCH}`, bare], dir)
      // Partial clones (`git clone --filter=blob:none`, as pip does) and fetches of any commit.
      await git(['config', 'uploadpack.allowFilter', 'true'], bare)
      await git(['config', 'uploadpack.allowAnySHA1InWant', 'true'], bare)
      await git(['config', 'http.receivepack', 'false'], bare)
      const tree = join(work, name)
      await git(['init', '--quiet', `--initial-branch=${BRANCH}`, tree], dir)
      commitCount.set(name, 0)
      return commit(name, files, `${name}: first commit`)
    },
    addCommit: (name, files, message) => {
      if (!commitCount.has(name)) throw new Error(`no repository ${name}`)
      return commit(name, files, message ?? `${name}: commit ${(commitCount.get(name) ?? 0) + 1}`)
    },
    archiveUrl: (name, sha) => `${base}/${name}/archive/${sha}.tar.gz`,
    close: () =>
      (closing ??= (async () => {
        for (const c of children) c.kill('SIGKILL')
        for (const s of sockets) s.destroy()
        await new Promise<void>((resolve) => server.close(() => resolve()))
        rmSync(dir, { recursive: true, force: true })
      })())
  }
}
