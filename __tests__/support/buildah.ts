// buildah for integration tests, on storage of its own (a temp dir removed by close()), with the vfs
// storage driver (no overlay in this sandbox) and chroot isolation, and plain HTTP to test registries
// on 127.0.0.1.
//
//   const buildah = startBuildah()
//   await buildah.runOk(['bud', '--file', f, '--tag', t, '--network', 'host', ctx])
//   await buildah.runOk(['push', '--tls-verify=false', t, `docker://${t}`])
//   spawn('buildah', [...], { env: { ...process.env, ...buildah.env } })   // what fast-build does
//   await buildah.close()
//
// Everything comes from environment variables, so a plain `buildah bud …` / `buildah push …` run
// by fast-build itself (with `env`) uses the same storage and settings, with no storage flags:
//   CONTAINERS_STORAGE_CONF     storage.conf: driver "vfs", graphroot and runroot in the temp dir
//   STORAGE_DRIVER=vfs          the same driver (it overrides storage.conf; set so a stray one can't win)
//   BUILDAH_ISOLATION=chroot    RUN steps by chroot: no runc, no cgroups (buildah's default, oci with
//                               runc, also works here with the containers.conf below; chroot is lighter)
//   CONTAINERS_CONF             containers.conf: runc, cgroupfs, lowered ulimits, image_copy_tmp_dir
//   CONTAINERS_REGISTRIES_CONF  registries.conf: 127.0.0.1 and localhost (any port) are insecure
//                               (plain HTTP), so FROM pulls and pushes need no --tls-verify=false
//   REGISTRY_AUTH_FILE          an empty auth file of its own (not the user's)
//   HOME, XDG_CONFIG_HOME       the temp dir (policy.json: accept anything, in $HOME/.config/containers)
//   XDG_RUNTIME_DIR, TMPDIR     the temp dir (build contexts and blob copies go to TMPDIR)
// Only one thing stays shared, as root: containers/image's blob-info cache in /var/lib/containers/cache
// (there is no variable for it; it remembers which blobs a registry has and which compressed blob a
// layer came from, which lets a push reuse the base's blob; stale entries are tolerated).
//
// Timeouts kill buildah's whole process group (a RUN step's processes with it): SIGTERM, then SIGKILL.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { run as runTool, type RunResult } from './process.js'
import type { PypiServer } from './pypi-server.js'
import { pushPythonBase, unmountUnder } from './python-base.js'
import type { TestRegistry } from './registry.js'
import type { FixtureWheel } from './wheel-fixtures.js'

const BUILDAH = 'buildah'
const DEFAULT_TIMEOUT_MS = 300_000
const KILL_GRACE_MS = 10_000

export interface BuildahRunOptions {
  /** Kill buildah (and its process group) after this long (default 5 min). */
  timeoutMs?: number
  cwd?: string
  input?: string
  /** Added to `env` for this run. */
  env?: Readonly<Record<string, string>>
  /** Prefix the global storage flags (`args`) too (default false: the environment alone). */
  globalArgs?: boolean
}

export interface BudOptions {
  /** The Dockerfile (`--file`). */
  file: string
  /** The build context directory. */
  context: string
  tag: string
  buildArgs?: Readonly<Record<string, string>>
  /** `--network` (default 'host': RUN steps reach servers on 127.0.0.1). */
  network?: 'host' | 'none'
  /** More `buildah bud` flags, before the context. */
  extra?: readonly string[]
  timeoutMs?: number
}

export interface Buildah {
  /** The temp dir holding storage, run root, configs and TMPDIR (removed by close()). */
  readonly dir: string
  readonly graphRoot: string
  readonly runRoot: string
  /**
   * The whole environment for a buildah child (PATH and the variables above): pass it as the
   * child's env, or over process.env, and plain `buildah bud|push|from|run …` use this storage.
   */
  readonly env: Readonly<Record<string, string>>
  /** The same storage as global flags (`--root R --runroot RR --storage-driver vfs`), for tools that take flags. */
  readonly args: readonly string[]
  /** Treat this registry (`host:port`) as plain HTTP too (127.0.0.1 and localhost are already). */
  allowInsecure(host: string): void
  /** `buildah ARGS…` with `env`; never throws for a non-zero exit. */
  run(args: readonly string[], opts?: BuildahRunOptions): Promise<RunResult>
  /** Like run, but throws with buildah's output when it does not exit 0. */
  runOk(args: readonly string[], opts?: BuildahRunOptions): Promise<RunResult>
  /** `buildah bud --file F --tag T [--build-arg K=V]… --network host CONTEXT`; throws on failure. */
  bud(opts: BudOptions): Promise<RunResult & { ms: number }>
  /** `buildah push --tls-verify=false IMAGE docker://DEST` (DEST defaults to IMAGE); throws on failure. */
  push(image: string, dest?: string, opts?: { timeoutMs?: number }): Promise<RunResult & { ms: number }>
  /** Remove the storage and temp dir (also read-only, root-owned vfs layers). Idempotent. */
  close(): Promise<void>
}

const CONTAINERS_CONF = (tmp: string) => `[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
image_copy_tmp_dir = ${JSON.stringify(tmp)}
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]
`

const STORAGE_CONF = (graphRoot: string, runRoot: string) => `[storage]
driver = "vfs"
graphroot = ${JSON.stringify(graphRoot)}
runroot = ${JSON.stringify(runRoot)}
`

/** `location = "127.0.0.1"` also matches `127.0.0.1:PORT` (containers/image prefix matching). */
const registriesConf = (hosts: readonly string[]) =>
  [
    'unqualified-search-registries = []',
    ...hosts.flatMap((h) => ['', '[[registry]]', `location = ${JSON.stringify(h)}`, 'insecure = true'])
  ].join('\n') + '\n'

export function startBuildah(opts: { insecureRegistries?: readonly string[] } = {}): Buildah {
  const dir = mkdtempSync(join(tmpdir(), 'fast-build-buildah-'))
  const graphRoot = join(dir, 'root')
  const runRoot = join(dir, 'runroot')
  const conf = join(dir, 'conf')
  const home = join(dir, 'home')
  const tmp = join(dir, 'tmp')
  for (const d of [graphRoot, conf, join(home, '.config', 'containers'), tmp])
    mkdirSync(d, { recursive: true })
  mkdirSync(runRoot, { mode: 0o700 })
  mkdirSync(join(dir, 'xdg-run'), { mode: 0o700 })
  const insecure = ['127.0.0.1', 'localhost', ...(opts.insecureRegistries ?? [])]
  writeFileSync(join(conf, 'storage.conf'), STORAGE_CONF(graphRoot, runRoot))
  writeFileSync(join(conf, 'containers.conf'), CONTAINERS_CONF(tmp))
  writeFileSync(join(conf, 'registries.conf'), registriesConf(insecure))
  writeFileSync(join(conf, 'auth.json'), '{"auths":{}}\n')
  writeFileSync(
    join(home, '.config', 'containers', 'policy.json'),
    '{"default":[{"type":"insecureAcceptAnything"}]}\n'
  )
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_RUNTIME_DIR: join(dir, 'xdg-run'),
    TMPDIR: tmp,
    CONTAINERS_STORAGE_CONF: join(conf, 'storage.conf'),
    CONTAINERS_CONF: join(conf, 'containers.conf'),
    CONTAINERS_REGISTRIES_CONF: join(conf, 'registries.conf'),
    REGISTRY_AUTH_FILE: join(conf, 'auth.json'),
    BUILDAH_ISOLATION: 'chroot',
    STORAGE_DRIVER: 'vfs'
  }
  const args = ['--root', graphRoot, '--runroot', runRoot, '--storage-driver', 'vfs']

  const run = (a: readonly string[], o: BuildahRunOptions = {}): Promise<RunResult> =>
    runGroup(BUILDAH, [...(o.globalArgs ? args : []), ...a], {
      env: { ...env, ...(o.env ?? {}) },
      cwd: o.cwd,
      input: o.input,
      timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS
    })
  const runOk = async (a: readonly string[], o: BuildahRunOptions = {}): Promise<RunResult> => {
    const r = await run(a, o)
    if (r.code !== 0)
      throw new Error(
        `buildah ${a.join(' ')} failed (${r.signal ?? `exit ${r.code}`})\n${r.stderr}${r.stdout}`.trimEnd()
      )
    return r
  }
  let closing: Promise<void> | null = null

  return {
    dir,
    graphRoot,
    runRoot,
    env,
    args,
    allowInsecure: (host) => {
      if (insecure.includes(host)) return
      insecure.push(host)
      writeFileSync(join(conf, 'registries.conf'), registriesConf(insecure))
    },
    run,
    runOk,
    bud: async (o) => {
      const started = Date.now()
      const r = await runOk(
        [
          'bud',
          '--file',
          o.file,
          '--tag',
          o.tag,
          ...Object.entries(o.buildArgs ?? {}).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
          '--network',
          o.network ?? 'host',
          ...(o.extra ?? []),
          o.context
        ],
        { timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS }
      )
      return { ...r, ms: Date.now() - started }
    },
    push: async (image, dest = image, o = {}) => {
      const started = Date.now()
      const r = await runOk(['push', '--tls-verify=false', image, `docker://${dest}`], {
        timeoutMs: o.timeoutMs ?? 180_000
      })
      return { ...r, ms: Date.now() - started }
    },
    close: () => (closing ??= removeStorage(dir, env))
  }
}

// --- running buildah ---------------------------------------------------------------------------------

/**
 * Run a tool in a process group of its own, so that a timeout ends what it started as well
 * (SIGTERM to the group, then SIGKILL after a grace period).
 */
function runGroup(
  file: string,
  args: readonly string[],
  opts: { env: NodeJS.ProcessEnv; cwd?: string; input?: string; timeoutMs: number }
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: opts.env,
      cwd: opts.cwd,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    let timedOut = false
    const LIMIT = 16 * 1024 * 1024
    child.stdout.on('data', (c: Buffer) => {
      if (stdout.length < LIMIT) stdout += c.toString('utf8')
    })
    child.stderr.on('data', (c: Buffer) => {
      if (stderr.length < LIMIT) stderr += c.toString('utf8')
    })
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, signal)
      } catch {
        // the group is gone
      }
    }
    let killTimer: NodeJS.Timeout | undefined
    const timer = setTimeout(() => {
      timedOut = true
      killGroup('SIGTERM')
      killTimer = setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS)
    }, opts.timeoutMs)
    // A dying test process takes the build with it.
    const onExit = () => killGroup('SIGKILL')
    process.once('exit', onExit)
    child.once('error', (err) => {
      clearTimeout(timer)
      process.off('exit', onExit)
      reject(new Error(`${file}: ${err.message}`))
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      process.off('exit', onExit)
      if (killTimer) {
        // the leader is gone; make sure nothing of its group stays
        clearTimeout(killTimer)
        killGroup('SIGKILL')
      }
      if (timedOut) stderr += `\n[killed after ${opts.timeoutMs} ms]\n`
      resolve({ code, signal, stdout, stderr })
    })
    child.stdin.on('error', () => undefined)
    child.stdin.end(opts.input ?? '')
  })
}

// --- cleanup -----------------------------------------------------------------------------------------

/**
 * Remove a buildah storage dir. vfs layers hold the images' own files: read-only directories, files
 * of other owners (subordinate ids when rootless). Tries in turn: rm; chmod u+rwX then rm (our own
 * read-only dirs); `buildah unshare rm` (files owned by ids of our user namespace). Never crosses
 * into another filesystem.
 */
async function removeStorage(dir: string, env: Record<string, string>): Promise<void> {
  if (!existsSync(dir)) return
  await unmountUnder(dir)
  const rm = () => runTool('rm', ['-rf', '--one-file-system', dir], { timeoutMs: 300_000 })
  let r = await rm()
  if (r.code === 0 && !existsSync(dir)) return
  await runTool('chmod', ['-R', 'u+rwX', dir], { timeoutMs: 300_000 }).catch(() => undefined)
  r = await rm()
  if (r.code === 0 && !existsSync(dir)) return
  if (process.getuid?.() !== 0) {
    await runGroup(BUILDAH, ['unshare', 'rm', '-rf', '--one-file-system', dir], { env, timeoutMs: 300_000 })
    if (!existsSync(dir)) return
  }
  throw new Error(`could not remove buildah storage ${dir}: ${r.stderr.trim()}`)
}

// --- pip in the python base image --------------------------------------------------------------------

/** Debian's wheels of pip, setuptools and wheel (python3-pip-whl, python3-setuptools-whl, python3-wheel-whl). */
export const DEBIAN_WHEELS_DIR = '/usr/share/python-wheels'

/** Debian's own wheel of `project` as a servable record (script/setup installs the packages). */
export function debianWheel(project: 'pip' | 'setuptools' | 'wheel'): FixtureWheel {
  const names = existsSync(DEBIAN_WHEELS_DIR) ? readdirSync(DEBIAN_WHEELS_DIR) : []
  const name = names.find((f) => new RegExp(`^${project}-[^-]+-py3-none-any\\.whl$`).test(f))
  if (!name)
    throw new Error(
      `no ${project} wheel in ${DEBIAN_WHEELS_DIR}: install python3-${project}-whl ` + '(script/setup does)'
    )
  const path = join(DEBIAN_WHEELS_DIR, name)
  const bytes = readFileSync(path)
  return {
    project,
    version: name.split('-')[1]!,
    filename: name,
    path,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    size: bytes.length
  }
}

const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

/**
 * Dockerfile lines that put pip into the Debian python3 image (which has none) from a pip wheel at
 * `pipWheelUrl` (built with `--network host` when the URL is on 127.0.0.1): python3's urllib
 * downloads it (checked against `sha256` when given), pip runs from its own wheel to install itself
 * into /usr/local, and Debian's EXTERNALLY-MANAGED marker goes, so that a later
 * `python3 -m pip install …` works without --break-system-packages.
 */
export function pipBootstrapLines(pipWheelUrl: string, opts: { sha256?: string } = {}): string {
  const filename = decodeURIComponent(basename(new URL(pipWheelUrl).pathname))
  if (!/^pip-[^-/]+-[^/]*\.whl$/.test(filename))
    throw new Error(`${pipWheelUrl} does not name a pip wheel (pip-<version>-….whl)`)
  const whl = `/tmp/${filename}`
  const fetch = [
    'import hashlib, sys, urllib.request',
    'data = urllib.request.urlopen(sys.argv[1], timeout=120).read()',
    'digest = hashlib.sha256(data).hexdigest()',
    'want = sys.argv[3]',
    'sys.exit(f"pip wheel sha256 {digest}, expected {want}") if want and digest != want else None',
    'open(sys.argv[2], "wb").write(data)'
  ].join('; ')
  return [
    `RUN python3 -c ${sh(fetch)} ${sh(pipWheelUrl)} ${whl} ${sh(opts.sha256 ?? '')} \\`,
    `    && rm -f /usr/lib/python3*/EXTERNALLY-MANAGED \\`,
    `    && PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore python3 ${whl}/pip install \\`,
    `       --no-index --no-deps --no-cache-dir --no-compile ${whl} \\`,
    `    && rm -f ${whl} \\`,
    `    && python3 -m pip --version`,
    ''
  ].join('\n')
}

export const PYTHON_PIP_BASE_REPO = 'base/python-pip'
export const PYTHON_PIP_BASE_TAG = 'bookworm-python-pip'

/**
 * Build `<registry>/base/python-pip:<tag>`: the cached python base image (pushed to the same
 * registry as `base/python`) plus pip from `index` (which must serve Debian's pip wheel:
 * `servedFiles([debianWheel('pip')])`), and push it. Returns the reference (no `docker://`).
 */
export async function pushPythonPipBase(
  reg: TestRegistry | string,
  buildah: Buildah,
  index: PypiServer,
  opts: { tag?: string; repo?: string; pipWheel?: FixtureWheel } = {}
): Promise<string> {
  const host = typeof reg === 'string' ? reg : reg.host
  buildah.allowInsecure(host)
  const pip = opts.pipWheel ?? debianWheel('pip')
  const sha256 = index.sha256(pip.filename) // throws when the index does not serve it
  const base = await pushPythonBase(host, 'base/python')
  const ref = `${host}/${opts.repo ?? PYTHON_PIP_BASE_REPO}:${opts.tag ?? PYTHON_PIP_BASE_TAG}`
  const ctx = mkdtempSync(join(buildah.env['TMPDIR'] ?? tmpdir(), 'pip-base-'))
  try {
    const file = join(ctx, 'Dockerfile')
    writeFileSync(
      file,
      ['ARG BASE', 'FROM ${BASE}', pipBootstrapLines(index.fileUrl(pip.filename), { sha256 })].join('\n')
    )
    await buildah.bud({ file, context: ctx, tag: ref, buildArgs: { BASE: base } })
    await buildah.push(ref)
  } finally {
    rmSync(ctx, { recursive: true, force: true })
  }
  return ref
}
