// A real Debian bookworm + python3 base image for end-to-end tests: a minbase rootfs made by
// debootstrap, trimmed (no apt lists, docs, man pages, translations, device nodes), packed by umoci
// into an OCI image layout, and cached between test runs (the first build takes about a minute).
//
//   const base = await pythonBaseImage()    // base.ref: 'oci:<layout>:bookworm-python', for podman/skopeo
//   const ref = await pushPythonBase(reg.host, 'team/base')   // '127.0.0.1:PORT/team/base:bookworm-python'
//   await copyPythonBase(join(lowercaseTempDir(), 'layout'))   // a private copy to add layers to
//
// The cache lives in $FAST_BUILD_TEST_CACHE, else ~/.cache/fast-build-tests/, in a directory named
// by RECIPE_VERSION (bump it when the recipe changes; old entries are left for `rm -rf`). Test files
// running at once serialize on a lock file (flock, released by the kernel when its holder dies),
// build into a temp dir and rename it into place, so an interrupted build is never used. podman
// takes `oci:` paths only when every component is valid in an image name (no capitals, no leading
// dot as in `.cache`), so `layout` may be a symlink in the temp dir to the cache entry. The layout
// is shared by every test: copy it (copyPythonBase) before adding layers or tags.
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  statSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { homedir, hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { indexOf } from './deps-images.js'
import { run, runOk } from './process.js'
import type { Credentials } from './registry.js'
import { skopeoCopy } from './skopeo.js'

/** Bump when the recipe below changes: the cache directory is keyed by it. */
export const RECIPE_VERSION = 'v2'
export const SUITE = 'bookworm'
export const PYTHON_BASE_TAG = 'bookworm-python'
export const PYTHON_BASE_ARM64_TAG = 'bookworm-python-arm64'
export const PYTHON_BASE_MULTI_TAG = 'bookworm-python-multi'
const DEFAULT_MIRROR = 'http://deb.debian.org/debian'
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
const DEBOOTSTRAP_TIMEOUT_S = 600
/** A waiter gives up a little before the test's 12-minute budget. */
const LOCK_WAIT_S = 690
const STEP_TIMEOUT_MS = 300_000

export interface PythonBase {
  /**
   * The OCI image layout directory (shared by every test: do not write into it). A path podman
   * takes in `oci:` references: the cache entry itself, or a symlink to it in the temp dir.
   */
  layout: string
  /** The cache entry (holds `layout/` and `python-base.json`). */
  cacheDir: string
  /** The amd64 image's tag in the layout. */
  tag: typeof PYTHON_BASE_TAG
  /** `oci:<layout>:<tag>`, as skopeo and podman take it. */
  ref: string
  /** The same rootfs with an arm64 config (does not run here) and an index over both. */
  arm64Tag: typeof PYTHON_BASE_ARM64_TAG
  multiTag: typeof PYTHON_BASE_MULTI_TAG
  multiRef: string
  python: { major: 3; minor: 11; patch: number }
  interpreter: '/usr/bin/python3'
  /** On sys.path of Debian's python3; where a deps layer puts packages. */
  sitePackages: '/usr/local/lib/python3.11/dist-packages'
  scripts: '/usr/local/bin'
  prefix: '/usr/local'
  /** Which build made this cache entry (changes only when the cache is rebuilt). */
  buildId: string
  builtAt: string
  buildSeconds: number
  /** The Debian mirror the rootfs came from. */
  mirror: string
  /** Uncompressed rootfs bytes and the compressed layer's size. */
  rootfsBytes: number
  layerBytes: number
}

type Info = Omit<PythonBase, 'layout' | 'cacheDir' | 'ref' | 'multiRef'> & { recipe: string }

/** How many times this process has run debootstrap (tests check that a cache hit runs none). */
let debootstrapRuns = 0
export function debootstrapRunCount(): number {
  return debootstrapRuns
}

/** The cache root: $FAST_BUILD_TEST_CACHE, else ~/.cache/fast-build-tests. */
export function testCacheRoot(): string {
  const env = process.env['FAST_BUILD_TEST_CACHE']
  return env ? env : join(homedir(), '.cache', 'fast-build-tests')
}

function entryDir(): string {
  return join(testCacheRoot(), `python-base-${RECIPE_VERSION}`)
}

let memo: Promise<PythonBase> | undefined

/** Where the base image's Python (Debian's python3) looks for the packages fast-build installs. */
export const PYTHON_BASE_SITE = '/usr/local/lib/python3.11/dist-packages'

/**
 * [tool.fast-build] of a project built on this base image: its Python and site-packages, amd64, the
 * app in /app started by main.py; `settings` are more lines of the table, `variants` the body of
 * [tool.fast-build.variants].
 */
export function pythonBaseConfig(
  baseImage: string,
  settings = '',
  variants = 'base = { groups = ["main"] }'
): string {
  return `
[tool.fast-build]
python = "3.11"
platforms = ["linux/amd64"]
base-image = "${baseImage}"
site-packages = "${PYTHON_BASE_SITE}"
interpreter = "/usr/bin/python3"
workdir = "/app"
cmd = ["python3", "/app/main.py"]
${settings}
[tool.fast-build.variants]
${variants}
`
}

/**
 * The cached base image, built first if missing (needs root, debootstrap, umoci and the Debian
 * mirror). `{ reuse: false }` skips this process's memo and reads the cache again.
 */
export function pythonBaseImage(opts: { reuse?: boolean } = {}): Promise<PythonBase> {
  if (opts.reuse === false) return loadOrBuild()
  memo ??= loadOrBuild()
  return memo
}

/**
 * Copy the base into a registry as `host/repo:tag` (plain HTTP); returns that reference (prefix
 * `docker://` for skopeo and podman). `multi` pushes the amd64+arm64 index instead.
 */
export async function pushPythonBase(
  registryHost: string,
  repo: string,
  tag: string = PYTHON_BASE_TAG,
  opts: { multi?: boolean; creds?: Credentials | null } = {}
): Promise<string> {
  const base = await pythonBaseImage()
  const ref = `${registryHost}/${repo}:${tag}`
  const r = await skopeoCopy(opts.multi ? base.multiRef : base.ref, `docker://${ref}`, {
    all: opts.multi ?? false,
    creds: opts.creds ?? null,
    timeoutMs: 180_000
  })
  if (r.code !== 0)
    throw new Error(`skopeo copy of the python base to ${ref} failed:\n${r.stderr}${r.stdout}`)
  return ref
}

/**
 * Copy the base (all three tags) into a fresh layout `dest` that a test may change (add layers with
 * `umoci insert`, retag). Returns `oci:<dest>:<tag>` of the amd64 image.
 */
export async function copyPythonBase(dest: string): Promise<string> {
  const base = await pythonBaseImage()
  for (const tag of [PYTHON_BASE_TAG, PYTHON_BASE_MULTI_TAG]) {
    const r = await skopeoCopy(`oci:${base.layout}:${tag}`, `oci:${dest}:${tag}`, {
      all: true,
      timeoutMs: 180_000
    })
    if (r.code !== 0) throw new Error(`skopeo copy of the python base to ${dest} failed:\n${r.stderr}`)
  }
  return `oci:${dest}:${PYTHON_BASE_TAG}`
}

// ---------------------------------------------------------------------------------------------------

async function loadOrBuild(): Promise<PythonBase> {
  const dir = entryDir()
  const hit = loadEntry(dir)
  if (hit) return hit
  mkdirSync(testCacheRoot(), { recursive: true })
  const lock = await acquireLock(join(testCacheRoot(), `python-base-${RECIPE_VERSION}.lock`), LOCK_WAIT_S)
  try {
    // Another process may have built it while this one waited.
    const built = loadEntry(dir)
    if (built) return built
    await removeStaleBuilds()
    return await build(dir)
  } finally {
    await lock.release()
  }
}

/** A complete cache entry, or null (missing, from another recipe, or damaged). */
function loadEntry(dir: string): PythonBase | null {
  const infoPath = join(dir, 'python-base.json')
  if (!existsSync(infoPath)) return null
  try {
    const info = JSON.parse(readFileSync(infoPath, 'utf8')) as Info
    if (info.recipe !== RECIPE_VERSION) return null
    const layout = join(dir, 'layout')
    const index = readIndex(layout)
    for (const tag of [PYTHON_BASE_TAG, PYTHON_BASE_ARM64_TAG, PYTHON_BASE_MULTI_TAG]) {
      const d = index.manifests.find((m) => m.annotations?.[REF_NAME] === tag)
      if (!d || !existsSync(blobPath(layout, d.digest))) return null
    }
    const shown = join(podmanSafeDir(dir), 'layout')
    return {
      ...info,
      layout: shown,
      cacheDir: dir,
      ref: `oci:${shown}:${PYTHON_BASE_TAG}`,
      multiRef: `oci:${shown}:${PYTHON_BASE_MULTI_TAG}`
    }
  } catch {
    return null
  }
}

/**
 * podman names an image pulled from `oci:PATH` after PATH, so every path component must be valid in
 * an image name (lowercase, no leading dot: `~/.cache` is not). Such an entry is shown through a
 * symlink in the temp dir (`fast-build-tests/python-base-<version>-<hash>`), replaced atomically when it points elsewhere.
 */
export function podmanSafeDir(dir: string, linkName = `python-base-${RECIPE_VERSION}`): string {
  if (podmanSafe(dir)) return dir
  const tmp = podmanSafe(tmpdir()) ? tmpdir() : '/tmp'
  const links = join(tmp, 'fast-build-tests')
  mkdirSync(links, { recursive: true })
  const hash = createHash('sha256').update(dir).digest('hex').slice(0, 8)
  const link = join(links, `${linkName}-${hash}`)
  let current: string | null = null
  try {
    current = readlinkSync(link)
  } catch {
    // missing
  }
  if (current !== dir) {
    const next = `${link}.new-${process.pid}-${randomBytes(4).toString('hex')}`
    symlinkSync(dir, next)
    renameSync(next, link)
  }
  return link
}

function podmanSafe(path: string): boolean {
  return path
    .split('/')
    .filter((c) => c !== '')
    .every((c) => /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/.test(c))
}

// --- the lock ----------------------------------------------------------------------------------------

interface Lock {
  release(): Promise<void>
}

/**
 * An exclusive flock(2) on `path`, held by a `flock … cat` child until release (or until this
 * process dies: the pipe closes, cat exits, the kernel drops the lock). Waits at most `waitS`.
 */
export function acquireLock(path: string, waitS: number): Promise<Lock> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'flock',
      ['--exclusive', '--wait', String(waitS), path, 'sh', '-c', 'echo locked; exec cat'],
      {
        stdio: ['pipe', 'pipe', 'pipe']
      }
    )
    let out = ''
    let err = ''
    let locked = false
    const exited = new Promise<void>((done) => child.once('close', () => done()))
    child.stderr.on('data', (c: Buffer) => (err += c.toString()))
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString()
      if (!locked && out.includes('locked\n')) {
        locked = true
        writeFileSync(
          `${path}.owner`,
          JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }) + '\n'
        )
        resolve({
          release: async () => {
            child.stdin.end()
            const t = setTimeout(() => child.kill('SIGKILL'), 5_000)
            await exited
            clearTimeout(t)
          }
        })
      }
    })
    child.once('error', (e) => reject(new Error(`flock (util-linux) could not run: ${e.message}`)))
    child.once('close', (code) => {
      if (locked) return
      let owner = ''
      try {
        owner = readFileSync(`${path}.owner`, 'utf8').trim()
      } catch {
        // no owner note
      }
      reject(
        new Error(
          `waited ${waitS} s for the test image lock ${path} (held by ${owner || 'another process'}); ` +
            `flock exit ${code}${err ? `: ${err.trim()}` : ''}`
        )
      )
    })
  })
}

// --- the build ---------------------------------------------------------------------------------------

/** The Debian mirror apt uses here (deb822 .sources or sources.list), unless FAST_BUILD_DEBIAN_MIRROR. */
export function debianMirror(): string {
  const env = process.env['FAST_BUILD_DEBIAN_MIRROR']
  if (env) return env
  const files: string[] = []
  if (existsSync('/etc/apt/sources.list')) files.push('/etc/apt/sources.list')
  try {
    for (const f of readdirSync('/etc/apt/sources.list.d').sort())
      if (f.endsWith('.sources') || f.endsWith('.list')) files.push(join('/etc/apt/sources.list.d', f))
  } catch {
    // no sources.list.d
  }
  const ok = (uri: string, suites: string[]): boolean =>
    /^https?:\/\//.test(uri) && suites.includes(SUITE) && !/security/.test(uri)
  for (const file of files) {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      continue
    }
    if (file.endsWith('.sources')) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (name: string): string[] => {
          const m = new RegExp(`^${name}:[ \\t]*(.*)$`, 'mi').exec(stanza)
          return m ? m[1]!.trim().split(/\s+/) : []
        }
        if (/^enabled:\s*no/im.test(stanza) || !field('Types').includes('deb')) continue
        const uri = field('URIs').find((u) => ok(u, field('Suites')))
        if (uri) return uri.replace(/\/+$/, '')
      }
    } else {
      for (const line of text.split('\n')) {
        const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line.trim())
        if (m && ok(m[1]!, [m[2]!])) return m[1]!.replace(/\/+$/, '')
      }
    }
  }
  return DEFAULT_MIRROR
}

function handCommand(mirror: string): string {
  return `sudo debootstrap --variant=minbase --include=python3 ${SUITE} /tmp/python-base-rootfs ${mirror}`
}

async function build(dest: string): Promise<PythonBase> {
  const started = Date.now()
  const tmp = join(
    testCacheRoot(),
    `python-base-${RECIPE_VERSION}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`
  )
  const rootfs = join(tmp, 'rootfs')
  const layout = join(tmp, 'layout')
  const mirror = debianMirror()
  mkdirSync(tmp, { recursive: true })
  writeFileSync(join(tmp, 'owner.json'), JSON.stringify({ pid: process.pid, host: hostname() }) + '\n')
  try {
    if (process.getuid?.() !== 0) {
      throw new Error(
        `building the python base image needs root (debootstrap, chroot); run the tests as root or build it by hand:\n  ${handCommand(mirror)}`
      )
    }
    await debootstrap(rootfs, mirror)
    const python = await trimAndProbe(rootfs)
    const rootfsBytes = Number((await runOk('du', ['-sb', rootfs])).stdout.split(/\s+/)[0])

    await runOk('umoci', ['init', '--layout', layout], { timeoutMs: STEP_TIMEOUT_MS })
    const image = `${layout}:${PYTHON_BASE_TAG}`
    await runOk('umoci', ['new', '--image', image], { timeoutMs: STEP_TIMEOUT_MS })
    // unpack the empty image, put the rootfs in its place, repack: one layer whose entries are
    // relative paths (`umoci insert … /` would add an entry named "/").
    const bundle = join(tmp, 'bundle')
    await runOk('umoci', ['unpack', '--image', image, bundle], { timeoutMs: STEP_TIMEOUT_MS })
    await removeTree(join(bundle, 'rootfs'))
    renameSync(rootfs, join(bundle, 'rootfs'))
    await runOk(
      'umoci',
      [
        'repack',
        '--image',
        image,
        '--history.created_by',
        `debootstrap --variant=minbase --include=python3 ${SUITE}`,
        bundle
      ],
      { timeoutMs: STEP_TIMEOUT_MS }
    )
    await removeTree(bundle)
    await runOk(
      'umoci',
      [
        'config',
        '--image',
        image,
        '--no-history',
        '--os',
        'linux',
        '--architecture',
        'amd64',
        '--config.env',
        PATH_ENV,
        '--config.env',
        'LANG=C.UTF-8',
        '--config.cmd',
        'python3'
      ],
      { timeoutMs: STEP_TIMEOUT_MS }
    )
    await runOk('umoci', ['gc', '--layout', layout], { timeoutMs: STEP_TIMEOUT_MS })
    const layerBytes = addArm64Twin(layout)
    indexOf(layout, PYTHON_BASE_MULTI_TAG, [
      { tag: PYTHON_BASE_TAG, arch: 'amd64' },
      { tag: PYTHON_BASE_ARM64_TAG, arch: 'arm64' }
    ])

    const info: Info = {
      recipe: RECIPE_VERSION,
      tag: PYTHON_BASE_TAG,
      arm64Tag: PYTHON_BASE_ARM64_TAG,
      multiTag: PYTHON_BASE_MULTI_TAG,
      python: { major: 3, minor: 11, patch: python.patch },
      interpreter: '/usr/bin/python3',
      sitePackages: '/usr/local/lib/python3.11/dist-packages',
      scripts: '/usr/local/bin',
      prefix: '/usr/local',
      buildId: randomBytes(8).toString('hex'),
      builtAt: new Date().toISOString(),
      buildSeconds: Math.round((Date.now() - started) / 100) / 10,
      mirror,
      rootfsBytes,
      layerBytes
    }
    writeFileSync(join(tmp, 'python-base.json'), JSON.stringify(info, null, 2) + '\n')
    if (existsSync(dest)) {
      // A damaged or foreign entry: move it aside first (rename is atomic, removal is not).
      const old = `${dest}.tmp-old-${process.pid}-${randomBytes(4).toString('hex')}`
      renameSync(dest, old)
      await removeTree(old)
    }
    renameSync(tmp, dest)
  } catch (err) {
    await removeTree(tmp).catch(() => undefined)
    throw err
  }
  const entry = loadEntry(dest)
  if (!entry) throw new Error(`the python base image built into ${dest} does not read back`)
  return entry
}

async function debootstrap(rootfs: string, mirror: string): Promise<void> {
  const which = await run('sh', ['-c', 'command -v debootstrap || ls /usr/sbin/debootstrap'])
  if (which.code !== 0) {
    throw new Error(
      'debootstrap is not installed: `apt-get install debootstrap` (script/setup installs it), then rerun the tests'
    )
  }
  debootstrapRuns++
  // GNU timeout signals debootstrap's whole process group (dpkg, chroot children), not just it;
  // setpriv makes it do so also when this process dies (a killed jest worker).
  const timeout = ['timeout', '--kill-after=20']
  const withDeath =
    (await run('setpriv', ['--help']).catch(() => null))?.stdout.includes('pdeathsig') ?? false
  const r = await run(
    withDeath ? 'setpriv' : 'timeout',
    [
      ...(withDeath ? ['--pdeathsig', 'TERM', ...timeout] : timeout.slice(1)),
      String(DEBOOTSTRAP_TIMEOUT_S),
      which.stdout.trim().split('\n')[0]!,
      '--variant=minbase',
      '--include=python3',
      SUITE,
      rootfs,
      mirror
    ],
    {
      timeoutMs: (DEBOOTSTRAP_TIMEOUT_S + 60) * 1000,
      env: {
        ...process.env,
        DEBIAN_FRONTEND: 'noninteractive',
        PATH: `/usr/sbin:/sbin:${process.env['PATH'] ?? '/usr/bin:/bin'}`
      }
    }
  )
  if (r.code === 0) return
  let log = ''
  try {
    log = readFileSync(join(rootfs, 'debootstrap', 'debootstrap.log'), 'utf8')
      .split('\n')
      .slice(-25)
      .join('\n')
  } catch {
    // debootstrap failed before writing its log
  }
  await unmountUnder(rootfs)
  const why =
    r.code === 124 || r.code === 137
      ? `timed out after ${DEBOOTSTRAP_TIMEOUT_S} s`
      : `exit ${r.code ?? r.signal}`
  throw new Error(
    [
      `debootstrap of Debian ${SUITE} with python3 from ${mirror} failed (${why}).`,
      `The python base image for end-to-end tests needs network access to a Debian mirror (set`,
      `FAST_BUILD_DEBIAN_MIRROR to use another one). To see what goes wrong, run it by hand as root:`,
      `  ${handCommand(mirror)}`,
      '--- debootstrap output (end) ---',
      (r.stderr + r.stdout).split('\n').slice(-25).join('\n').trimEnd(),
      ...(log ? ['--- debootstrap.log (end) ---', log.trimEnd()] : [])
    ].join('\n')
  )
}

/** Strip what a test image does not need; return the python3 version (checked to be 3.11.x). */
async function trimAndProbe(rootfs: string): Promise<{ patch: number }> {
  await unmountUnder(rootfs)
  const script = `
set -eu
cd "$1"
rm -rf var/lib/apt/lists/* var/cache/apt/* var/cache/debconf/*-old var/lib/dpkg/*-old \\
  var/cache/ldconfig/aux-cache var/log/* tmp/* var/tmp/* debootstrap
mkdir -p var/lib/apt/lists/partial var/cache/apt/archives/partial
rm -rf usr/share/man/* usr/share/info/* usr/share/groff usr/share/lintian usr/share/linda
# docs: keep only each package's copyright file
find usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete
find usr/share/doc -mindepth 1 -depth -type d -empty -delete
# translations; C.utf8 in usr/lib/locale is the only compiled locale and stays
find usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
find usr/lib/locale -mindepth 1 -maxdepth 1 ! -name 'C.*' -exec rm -rf {} +
# device nodes, proc/sys leftovers; the runtime provides them
rm -rf dev/* proc/* sys/* run/*
mkdir -p run/lock && chmod 1777 tmp var/tmp run/lock
# host-specific files debootstrap copies in
: > etc/resolv.conf
echo localhost > etc/hostname
rm -f etc/machine-id var/lib/dbus/machine-id
mkdir -p usr/local/lib/python3.11/dist-packages usr/local/bin
`
  await runOk('bash', ['-c', script, 'trim', rootfs], { timeoutMs: STEP_TIMEOUT_MS })
  const probe = await runOk(
    'chroot',
    [
      rootfs,
      '/usr/bin/python3',
      '-c',
      'import sys, json; print(json.dumps([list(sys.version_info[:3]), sys.path]))'
    ],
    { timeoutMs: 60_000, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' } }
  )
  const [version, path] = JSON.parse(probe.stdout) as [number[], string[]]
  if (version[0] !== 3 || version[1] !== 11)
    throw new Error(`Debian ${SUITE}'s python3 is ${version.join('.')}, not 3.11.x: update python-base.ts`)
  if (!path.includes('/usr/local/lib/python3.11/dist-packages'))
    throw new Error(`/usr/local/lib/python3.11/dist-packages is not on python3's sys.path: ${path.join(' ')}`)
  return { patch: version[2]! }
}

// --- layout editing ----------------------------------------------------------------------------------

const REF_NAME = 'org.opencontainers.image.ref.name'

interface Descriptor {
  mediaType: string
  digest: string
  size: number
  annotations?: Record<string, string>
  [k: string]: unknown
}

function readIndex(layout: string): { manifests: Descriptor[]; [k: string]: unknown } {
  return JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Descriptor[] }
}

function blobPath(layout: string, digest: string): string {
  const [alg, hex] = digest.split(':')
  return join(layout, 'blobs', alg!, hex!)
}

function writeBlob(layout: string, bytes: Buffer): string {
  const hex = createHash('sha256').update(bytes).digest('hex')
  writeFileSync(join(layout, 'blobs', 'sha256', hex), bytes)
  return `sha256:${hex}`
}

/**
 * Tag PYTHON_BASE_ARM64_TAG: the amd64 image's manifest with a config that says arm64/v8 (same
 * layer; it does not run here, but multi-platform tests can build an index). Returns the layer size.
 */
function addArm64Twin(layout: string): number {
  const index = readIndex(layout)
  const amd = index.manifests.find((m) => m.annotations?.[REF_NAME] === PYTHON_BASE_TAG)
  if (!amd) throw new Error(`umoci left no ${PYTHON_BASE_TAG} in ${layout}`)
  const manifest = JSON.parse(readFileSync(blobPath(layout, amd.digest), 'utf8')) as {
    config: Descriptor
    layers: Descriptor[]
  }
  const config = JSON.parse(readFileSync(blobPath(layout, manifest.config.digest), 'utf8')) as Record<
    string,
    unknown
  >
  const configBytes = Buffer.from(JSON.stringify({ ...config, architecture: 'arm64', variant: 'v8' }))
  const armManifest = Buffer.from(
    JSON.stringify({
      ...manifest,
      config: { ...manifest.config, digest: writeBlob(layout, configBytes), size: configBytes.length }
    })
  )
  index.manifests.push({
    mediaType: amd.mediaType,
    digest: writeBlob(layout, armManifest),
    size: armManifest.length,
    annotations: { [REF_NAME]: PYTHON_BASE_ARM64_TAG }
  })
  writeFileSync(join(layout, 'index.json'), JSON.stringify(index))
  return manifest.layers.reduce((n, l) => n + l.size, 0)
}

// --- cleanup -----------------------------------------------------------------------------------------

/** Unmount `dir` and anything mounted below it, deepest first (a killed debootstrap can leave proc/sys mounted). */
export async function unmountUnder(dir: string): Promise<void> {
  let mounts: string[]
  try {
    mounts = readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => (l.split(' ')[1] ?? '').replace(/\\040/g, ' '))
      .filter((m) => m === dir || m.startsWith(dir + '/'))
  } catch {
    return
  }
  for (const m of mounts.sort().reverse())
    await run('umount', ['-l', m], { timeoutMs: 30_000 }).catch(() => undefined)
}

/** rm -rf that never crosses into a mounted filesystem. */
/** Remove a build directory (unmounting anything left mounted under it first). */
export async function removeTree(dir: string): Promise<void> {
  if (!existsSync(dir)) return
  await unmountUnder(dir)
  await runOk('rm', ['-rf', '--one-file-system', dir], { timeoutMs: STEP_TIMEOUT_MS })
}

/** Temp dirs of builds that died (only the lock holder builds, so none of them is live). */
async function removeStaleBuilds(): Promise<void> {
  const root = testCacheRoot()
  for (const name of readdirSync(root)) {
    if (!name.startsWith('python-base-') || !name.includes('.tmp-')) continue
    const path = join(root, name)
    // Best effort: what stays (a mount still busy) is tried again by the next build.
    if (statSync(path).isDirectory()) await removeTree(path).catch(() => undefined)
  }
}
