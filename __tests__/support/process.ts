// Child processes for integration tests: run a tool with a deadline, or keep a server running with
// its output captured, and stop it for sure (SIGTERM, then SIGKILL, bounded waits). Every server
// child is also killed when the test process exits, so a crashed test never leaves one behind.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { createServer, type AddressInfo, type Server } from 'node:net'

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface RunOptions {
  /** Kill the tool after this many milliseconds (default 60 s). */
  timeoutMs?: number
  env?: NodeJS.ProcessEnv
  cwd?: string
  input?: string
}

/** Run a tool to completion; never throws for a non-zero exit (look at `code`), only for a missing tool. */
export function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      {
        timeout: opts.timeoutMs ?? 60_000,
        killSignal: 'SIGKILL',
        maxBuffer: 64 * 1024 * 1024,
        env: opts.env ?? process.env,
        cwd: opts.cwd,
        encoding: 'utf8'
      },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: unknown; signal?: NodeJS.Signals }) | null
        if (e && typeof e.code === 'string') {
          reject(new Error(`${file}: ${e.message}`))
          return
        }
        resolve({
          code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
          signal: e?.signal ?? null,
          stdout,
          stderr
        })
      }
    )
    if (opts.input !== undefined) child.stdin?.end(opts.input)
    else child.stdin?.end()
  })
}

/** Like `run`, but throws with the tool's output when it does not exit 0. */
export async function runOk(
  file: string,
  args: readonly string[],
  opts: RunOptions = {}
): Promise<RunResult> {
  const r = await run(file, args, opts)
  if (r.code !== 0) {
    throw new Error(
      `${file} ${args.join(' ')} failed (${r.signal ?? `exit ${r.code}`})\n${r.stderr}${r.stdout}`.trimEnd()
    )
  }
  return r
}

/** A free TCP port on 127.0.0.1, chosen by the OS (the port is released before returning). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      srv.close(() => (port ? resolve(port) : reject(new Error('no port from the OS'))))
    })
  })
}

/** Start `server` on 127.0.0.1 on a port the OS picks; the port. */
export function listenOnLoopback(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve((server.address() as AddressInfo).port)
    })
  })
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

const LOG_LIMIT = 1024 * 1024

/** A long-running child with its stdout and stderr kept (the last megabyte) for failure messages. */
export class ManagedProcess {
  readonly child: ChildProcess
  private output = ''
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null
  private readonly exited: Promise<void>
  private stopping: Promise<void> | null = null

  constructor(file: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
    this.child = spawn(file, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd
    })
    const keep = (chunk: Buffer): void => {
      this.output += chunk.toString('utf8')
      if (this.output.length > LOG_LIMIT) this.output = this.output.slice(-LOG_LIMIT)
    }
    this.child.stdout?.on('data', keep)
    this.child.stderr?.on('data', keep)
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal }
        live.delete(this.child)
        resolve()
      })
      this.child.once('error', (err) => {
        this.output += `\n[spawn error] ${err.message}\n`
        this.exitInfo ??= { code: null, signal: null }
        live.delete(this.child)
        resolve()
      })
    })
    live.add(this.child)
    installExitHook()
  }

  /** What the process has written so far (stdout and stderr interleaved). */
  logs(): string {
    return this.output
  }

  /** Null while running; how it ended otherwise. */
  exit(): { code: number | null; signal: NodeJS.Signals | null } | null {
    return this.exitInfo
  }

  /** Resolves when the process has exited, or after `ms` (returns whether it exited). */
  async waitExit(ms: number): Promise<boolean> {
    if (this.exitInfo) return true
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)))
    const done = await Promise.race([this.exited.then(() => true as const), timeout])
    clearTimeout(timer)
    return done
  }

  /** SIGTERM, wait up to `graceMs`, then SIGKILL and wait again. Safe to call more than once. */
  stop(graceMs = 5_000): Promise<void> {
    this.stopping ??= (async () => {
      if (this.exitInfo) return
      this.child.kill('SIGTERM')
      if (await this.waitExit(graceMs)) return
      this.child.kill('SIGKILL')
      if (!(await this.waitExit(5_000))) {
        throw new Error(`process ${this.child.pid} did not exit after SIGKILL`)
      }
    })()
    return this.stopping
  }
}

const live = new Set<ChildProcess>()
let hookInstalled = false

function installExitHook(): void {
  if (hookInstalled) return
  hookInstalled = true
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL')
  })
}
