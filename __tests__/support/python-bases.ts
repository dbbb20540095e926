// Two more python base images for end-to-end tests of interpreter detection, each one layer on top
// of the cached Debian bookworm + python3 image (support/python-base.ts), built once and cached:
//
//   python.org layout (`pythonOrgBaseImage`): as the official python:3.11-slim images are laid out.
//     /usr/local/bin/python3.11 (python3, python → it), stdlib /usr/local/lib/python3.11, packages
//     in /usr/local/lib/python3.11/site-packages, sys.prefix /usr/local, Env PYTHON_VERSION. Without
//     python.org to download from, it is Debian's own interpreter moved there: CPython finds its
//     prefix from the landmark lib/python3.11/os.py next to the executable's ../lib. Debian's
//     changes are undone: sysconfig's default scheme is posix_prefix (purelib .../site-packages),
//     _sysconfigdata's install directories are under /usr/local, site.py's getsitepackages is
//     upstream's, and because Debian's `site` is frozen into the binary (the file is not read) a
//     sitecustomize.py in the stdlib puts <prefix>/lib/python3.11/site-packages on sys.path and
//     replaces site.getsitepackages. Debian's python3 packages are purged (dpkg --purge, which leaves
//     the libraries they link), so /usr/local/bin/python3.11 is the only python in the image.
//
//   venv layout (`venvBaseImage`): the bookworm image plus `python3 -m venv --without-pip
//     /opt/venv`, with PATH starting /opt/venv/bin and VIRTUAL_ENV=/opt/venv.
//
// Both live in one cache entry, python-bases-<RECIPE>-on-python-base-<base recipe>, an OCI layout
// with two tags, rebuilt when the base image's cache entry is (its buildId is recorded). Locking,
// temp dir + rename and the podman-safe symlink work as in python-base.ts.
import { randomBytes } from 'node:crypto'
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  statSync,
  writeFileSync
} from 'node:fs'
import { join } from 'node:path'
import { runOk } from './process.js'
import {
  RECIPE_VERSION as BASE_RECIPE_VERSION,
  acquireLock,
  podmanSafeDir,
  pythonBaseImage,
  removeTree,
  testCacheRoot,
  type PythonBase
} from './python-base.js'
import type { Credentials } from './registry.js'
import { skopeoCopy } from './skopeo.js'

/** Bump when the recipes below change: the cache directory is keyed by it (and the base's recipe). */
export const PYTHON_BASES_RECIPE = 'v1'
export const PYTHON_ORG_TAG = 'python-org-3.11'
export const VENV_TAG = 'bookworm-venv'
export const PYTHON_ORG_PATH = 'PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin'
export const VENV_PATH = 'PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
const LOCK_WAIT_S = 690
const STEP_TIMEOUT_MS = 300_000
const REF_NAME = 'org.opencontainers.image.ref.name'

interface Common {
  /** The OCI layout (shared by every test: do not write into it; copy it with copyDerivedBase). */
  layout: string
  /** The cache entry (holds `layout/` and `python-bases.json`). */
  cacheDir: string
  tag: string
  /** `oci:<layout>:<tag>`, as skopeo and podman take it. */
  ref: string
  python: { major: 3; minor: 11; patch: number }
  /** The image config's Env. */
  env: string[]
  /** The bookworm image this was built on (its buildId) and this entry's build. */
  baseBuildId: string
  buildId: string
  builtAt: string
  buildSeconds: number
}

export interface PythonOrgBase extends Common {
  kind: 'python-org'
  tag: typeof PYTHON_ORG_TAG
  interpreter: '/usr/local/bin/python3.11'
  sitePackages: '/usr/local/lib/python3.11/site-packages'
  scripts: '/usr/local/bin'
  prefix: '/usr/local'
}

export interface VenvBase extends Common {
  kind: 'venv'
  tag: typeof VENV_TAG
  interpreter: '/opt/venv/bin/python3'
  sitePackages: '/opt/venv/lib/python3.11/site-packages'
  scripts: '/opt/venv/bin'
  prefix: '/opt/venv'
  /** The interpreter the venv's symlinks lead to (pyvenv.cfg `home = /usr/bin`). */
  baseInterpreter: '/usr/bin/python3.11'
}

export type DerivedPythonBase = PythonOrgBase | VenvBase

type Shown = 'layout' | 'cacheDir' | 'ref'
interface Info {
  recipe: string
  baseRecipe: string
  baseBuildId: string
  buildId: string
  builtAt: string
  buildSeconds: number
  pythonOrg: Omit<PythonOrgBase, Shown>
  venv: Omit<VenvBase, Shown>
}

let memo: Promise<Info & { layout: string; cacheDir: string }> | undefined

function entry(opts: { reuse?: boolean }): Promise<Info & { layout: string; cacheDir: string }> {
  if (opts.reuse === false) return loadOrBuild()
  memo ??= loadOrBuild()
  return memo
}

/** The python.org-layout image (built first if missing; needs what python-base.ts needs). */
export async function pythonOrgBaseImage(opts: { reuse?: boolean } = {}): Promise<PythonOrgBase> {
  const e = await entry(opts)
  return { ...e.pythonOrg, layout: e.layout, cacheDir: e.cacheDir, ref: `oci:${e.layout}:${PYTHON_ORG_TAG}` }
}

/** The bookworm image with a virtualenv at /opt/venv (built first if missing). */
export async function venvBaseImage(opts: { reuse?: boolean } = {}): Promise<VenvBase> {
  const e = await entry(opts)
  return { ...e.venv, layout: e.layout, cacheDir: e.cacheDir, ref: `oci:${e.layout}:${VENV_TAG}` }
}

/**
 * Copy one of these images into a registry as `host/repo:tag` (plain HTTP; tag defaults to the
 * image's own); returns that reference (prefix `docker://` for skopeo and podman).
 */
export async function pushDerivedBase(
  base: DerivedPythonBase,
  registryHost: string,
  repo: string,
  tag: string = base.tag,
  opts: { creds?: Credentials | null } = {}
): Promise<string> {
  const ref = `${registryHost}/${repo}:${tag}`
  const r = await skopeoCopy(base.ref, `docker://${ref}`, { creds: opts.creds ?? null, timeoutMs: 180_000 })
  if (r.code !== 0) throw new Error(`skopeo copy of ${base.ref} to ${ref} failed:\n${r.stderr}${r.stdout}`)
  return ref
}

export async function pushPythonOrgBase(
  registryHost: string,
  repo: string,
  tag: string = PYTHON_ORG_TAG,
  opts: { creds?: Credentials | null } = {}
): Promise<string> {
  return pushDerivedBase(await pythonOrgBaseImage(), registryHost, repo, tag, opts)
}

export async function pushVenvBase(
  registryHost: string,
  repo: string,
  tag: string = VENV_TAG,
  opts: { creds?: Credentials | null } = {}
): Promise<string> {
  return pushDerivedBase(await venvBaseImage(), registryHost, repo, tag, opts)
}

/**
 * Copy one of these images into a fresh layout `dest` (lowercase path, e.g. under
 * lowercaseTempDir()) that a test may change (`umoci insert`, retag). Returns `oci:<dest>:<tag>`.
 */
export async function copyDerivedBase(base: DerivedPythonBase, dest: string): Promise<string> {
  const r = await skopeoCopy(base.ref, `oci:${dest}:${base.tag}`, { timeoutMs: 180_000 })
  if (r.code !== 0) throw new Error(`skopeo copy of ${base.ref} to ${dest} failed:\n${r.stderr}`)
  return `oci:${dest}:${base.tag}`
}

// ---------------------------------------------------------------------------------------------------

const ENTRY = `python-bases-${PYTHON_BASES_RECIPE}-on-python-base-${BASE_RECIPE_VERSION}`

async function loadOrBuild(): Promise<Info & { layout: string; cacheDir: string }> {
  const base = await pythonBaseImage()
  const dir = join(testCacheRoot(), ENTRY)
  const hit = loadEntry(dir, base)
  if (hit) return hit
  const lock = await acquireLock(join(testCacheRoot(), `${ENTRY}.lock`), LOCK_WAIT_S)
  try {
    const built = loadEntry(dir, base)
    if (built) return built
    await removeStaleBuilds()
    await build(dir, base)
  } finally {
    await lock.release()
  }
  const e = loadEntry(dir, base)
  if (!e) throw new Error(`the python base images built into ${dir} do not read back`)
  return e
}

function loadEntry(dir: string, base: PythonBase): (Info & { layout: string; cacheDir: string }) | null {
  try {
    const info = JSON.parse(readFileSync(join(dir, 'python-bases.json'), 'utf8')) as Info
    if (info.recipe !== PYTHON_BASES_RECIPE || info.baseBuildId !== base.buildId) return null
    const layout = join(dir, 'layout')
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as {
      manifests: { digest: string; annotations?: Record<string, string> }[]
    }
    for (const tag of [PYTHON_ORG_TAG, VENV_TAG]) {
      const d = index.manifests.find((m) => m.annotations?.[REF_NAME] === tag)
      if (!d || !existsSync(join(layout, 'blobs', ...d.digest.split(':')))) return null
    }
    return { ...info, layout: join(podmanSafeDir(dir, ENTRY), 'layout'), cacheDir: dir }
  } catch {
    return null
  }
}

async function removeStaleBuilds(): Promise<void> {
  const root = testCacheRoot()
  for (const name of readdirSync(root)) {
    if (!name.startsWith(`${ENTRY}.tmp-`)) continue
    const path = join(root, name)
    if (statSync(path).isDirectory()) await removeTree(path).catch(() => undefined)
  }
}

// --- the build ---------------------------------------------------------------------------------------

/** Run in the image by Debian's python3: undo Debian's site/sysconfig changes in the copied stdlib. */
const PATCH_PY = String.raw`import importlib.util, os, pprint, re, sys
L = sys.argv[1]

def patch(path, old, new):
    with open(path) as f:
        text = f.read()
    if text.count(old) != 1:
        sys.exit(f'{path}: the Debian code to replace is not there once: {old[:70]!r}')
    with open(path, 'w') as f:
        f.write(text.replace(old, new))

# site.getsitepackages: upstream's <prefix>/lib/pythonX.Y/site-packages, not Debian's dist-packages
patch(f'{L}/site.py', '''            if is_virtual_environment:
                sitepackages.append(os.path.join(prefix, "lib",
                                                 "python%d.%d" % sys.version_info[:2],
                                                 "site-packages"))
            sitepackages.append(os.path.join(prefix, "local/lib",
                                             "python%d.%d" % sys.version_info[:2],
                                             "dist-packages"))
            sitepackages.append(os.path.join(prefix, "lib",
                                             "python3",
                                             "dist-packages"))
            # this one is deprecated for Debian
            for libdir in libdirs:
                path = os.path.join(prefix, libdir,
                                    "python%d.%d" % sys.version_info[:2],
                                    "dist-packages")
                sitepackages.append(path)
''', '''            for libdir in libdirs:
                path = os.path.join(prefix, libdir,
                                    "python%d.%d" % sys.version_info[:2],
                                    "site-packages")
                sitepackages.append(path)
''')

# sysconfig: upstream's posix_prefix scheme, not Debian's posix_local (<prefix>/local/lib/...)
patch(f'{L}/sysconfig.py', '''    if sys.base_prefix != sys.prefix or hasattr(sys, "real_prefix"):
        # virtual environments
        prefix_scheme = 'posix_prefix'
    else:
        # default to /usr for package builds, /usr/local otherwise
        deb_build = os.environ.get('DEB_PYTHON_INSTALL_LAYOUT', 'posix_local')
        if deb_build in ('deb', 'deb_system'):
            prefix_scheme = 'deb_system'
        else:
            prefix_scheme = 'posix_local'

    return {
        'prefix': prefix_scheme,''', '''    return {
        'prefix': 'posix_prefix',''')

# _sysconfigdata: install directories under /usr/local, as a --prefix=/usr/local build has them
name = os.path.realpath(f'{L}/_sysconfigdata__x86_64-linux-gnu.py')
spec = importlib.util.spec_from_file_location('_sysconfigdata_debian', name)
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
v = mod.build_time_vars
for key, value in list(v.items()):
    if key in ('TZPATH', 'DTRACE', 'WHEEL_PKG_DIR') or not isinstance(value, str):
        continue
    if not re.fullmatch(r'/usr(/[^\s:]*)?', value) or value.startswith('/usr/local'):
        continue
    value = value.replace('/usr/lib/x86_64-linux-gnu/python3.11', '/usr/lib/python3.11')
    value = value.replace('/usr/lib/x86_64-linux-gnu', '/usr/lib')
    v[key] = '/usr/local' + value[len('/usr'):]
with open(name, 'w') as f:
    f.write('# system configuration; install directories moved to /usr/local (fast-build test image)\n')
    f.write('build_time_vars = ')
    pprint.pprint(v, stream=f)
`

const SITECUSTOMIZE_PY = `# fast-build test image: this interpreter is Debian's python3.11 moved to /usr/local, and its
# frozen \`site\` module still looks for Debian's dist-packages. Make it find packages where
# python.org's CPython does: <prefix>/lib/python3.11/site-packages (upstream site.getsitepackages).
import os
import site
import sys


def getsitepackages(prefixes=None):
    sitepackages = []
    seen = set()
    if prefixes is None:
        prefixes = site.PREFIXES
    for prefix in prefixes:
        if not prefix or prefix in seen:
            continue
        seen.add(prefix)
        libdirs = [sys.platlibdir]
        if sys.platlibdir != "lib":
            libdirs.append("lib")
        for libdir in libdirs:
            sitepackages.append(os.path.join(
                prefix, libdir, "python%d.%d" % sys.version_info[:2], "site-packages"))
    return sitepackages


site.getsitepackages = getsitepackages
for _dir in getsitepackages():
    if os.path.isdir(_dir):
        site.addsitedir(_dir)
del _dir
`

/** $1: rootfs, $2: the directory holding patch.py and sitecustomize.py. */
const PYTHON_ORG_SH = `
set -eu
cd "$1"
V=3.11
L=usr/local/lib/python$V
install -d usr/local/bin usr/local/lib
cp -a usr/bin/python$V usr/local/bin/python$V
ln -sfn python$V usr/local/bin/python3
ln -sfn python$V usr/local/bin/python
rm -rf $L
cp -a usr/lib/python$V $L
# Debian's additions, which upstream CPython does not have
rm -f $L/sitecustomize.py $L/EXTERNALLY-MANAGED $L/_distutils_system_mod.py $L/__pycache__/_distutils_system_mod.*
install -d $L/site-packages
chroot . /usr/bin/python3 - /$L < "$2/patch.py"
install -m 644 "$2/sitecustomize.py" $L/sitecustomize.py
rm -f $L/__pycache__/site.* $L/__pycache__/sysconfig.* $L/__pycache__/_sysconfigdata_* $L/__pycache__/sitecustomize.*
chroot . /usr/local/bin/python3 -m py_compile /$L/site.py /$L/sysconfig.py /$L/sitecustomize.py /$L/_sysconfigdata__x86_64-linux-gnu.py
# Debian's python3 goes; the libraries it links (libssl, libffi, libsqlite3, ...) stay
chroot . env DEBIAN_FRONTEND=noninteractive dpkg --purge python3 libpython3-stdlib python3-minimal \\
  python3.11 python3.11-minimal libpython3.11-stdlib libpython3.11-minimal >/dev/null 2>&1 || {
  echo 'dpkg --purge of Debian python3 failed' >&2; exit 1; }
rm -rf usr/lib/python3 usr/lib/python$V etc/python3 etc/python$V usr/share/python3 \\
  var/log/* var/cache/debconf/*-old var/lib/dpkg/*-old
`

const VENV_SH = `
set -eu
cd "$1"
chroot . /usr/bin/python3 -m venv --without-pip /opt/venv
`

const PROBE =
  'import json, sys, sysconfig; print(json.dumps([sys.executable, sys.prefix, sys.path, sysconfig.get_paths()["purelib"]]))'

async function probe(
  rootfs: string,
  interpreter: string,
  env: string[]
): Promise<[string, string, string[], string]> {
  const r = await runOk('chroot', [rootfs, '/usr/bin/env', '-i', ...env, interpreter, '-c', PROBE], {
    timeoutMs: 60_000
  })
  return JSON.parse(r.stdout) as [string, string, string[], string]
}

async function build(dest: string, base: PythonBase): Promise<void> {
  const started = Date.now()
  const tmp = join(testCacheRoot(), `${ENTRY}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`)
  const layout = join(tmp, 'layout')
  mkdirSync(tmp, { recursive: true })
  writeFileSync(join(tmp, 'patch.py'), PATCH_PY)
  writeFileSync(join(tmp, 'sitecustomize.py'), SITECUSTOMIZE_PY)
  const patch = base.python.patch
  const pyOrgEnv = [PYTHON_ORG_PATH, 'LANG=C.UTF-8', `PYTHON_VERSION=3.11.${patch}`]
  const venvEnv = [VENV_PATH, 'LANG=C.UTF-8', 'VIRTUAL_ENV=/opt/venv']
  try {
    if (process.getuid?.() !== 0)
      throw new Error('building the python base images needs root (chroot, umoci unpack)')
    const layer = async (
      tag: string,
      script: string,
      createdBy: string,
      env: string[],
      check: (rootfs: string) => Promise<void>
    ): Promise<void> => {
      const r = await skopeoCopy(base.ref, `oci:${layout}:${tag}`, { timeoutMs: 180_000 })
      if (r.code !== 0) throw new Error(`skopeo copy of ${base.ref} failed:\n${r.stderr}`)
      const image = `${layout}:${tag}`
      const bundle = join(tmp, `bundle-${tag}`)
      await runOk('umoci', ['unpack', '--image', image, bundle], { timeoutMs: STEP_TIMEOUT_MS })
      const rootfs = join(bundle, 'rootfs')
      await runOk('bash', ['-c', script, tag, rootfs, tmp], { timeoutMs: STEP_TIMEOUT_MS }).catch(
        (e: Error) => {
          throw new Error(`the ${tag} recipe failed: ${e.message}`)
        }
      )
      await check(rootfs)
      await runOk('umoci', ['repack', '--image', image, '--history.created_by', createdBy, bundle], {
        timeoutMs: STEP_TIMEOUT_MS
      })
      await removeTree(bundle)
      await runOk(
        'umoci',
        ['config', '--image', image, '--no-history', ...env.flatMap((e) => ['--config.env', e])],
        {
          timeoutMs: STEP_TIMEOUT_MS
        }
      )
    }
    const expectProbe = (
      what: string,
      got: unknown[],
      want: (string | ((v: unknown) => boolean))[]
    ): void => {
      const bad = want.some((w, i) => (typeof w === 'string' ? got[i] !== w : !w(got[i])))
      if (bad)
        throw new Error(`the ${what} image's python is not laid out as expected: ${JSON.stringify(got)}`)
    }

    const sp = '/usr/local/lib/python3.11/site-packages'
    await layer(
      PYTHON_ORG_TAG,
      PYTHON_ORG_SH,
      'python.org layout: Debian python3.11 moved to /usr/local, site-packages, Debian python3 purged',
      pyOrgEnv,
      async (rootfs) => {
        if (existsSync(join(rootfs, 'usr/bin/python3')) || existsSync(join(rootfs, 'usr/bin/python3.11')))
          throw new Error('Debian python3 is still in the python.org image')
        const got = await probe(rootfs, 'python3', pyOrgEnv)
        expectProbe('python.org', got, [
          '/usr/local/bin/python3',
          '/usr/local',
          (p) => Array.isArray(p) && p.includes(sp),
          sp
        ])
      }
    )
    const vsp = '/opt/venv/lib/python3.11/site-packages'
    await layer(VENV_TAG, VENV_SH, 'python3 -m venv --without-pip /opt/venv', venvEnv, async (rootfs) => {
      const got = await probe(rootfs, 'python3', venvEnv)
      expectProbe('venv', got, [
        '/opt/venv/bin/python3',
        '/opt/venv',
        (p) => Array.isArray(p) && p.includes(vsp),
        vsp
      ])
    })
    await runOk('umoci', ['gc', '--layout', layout], { timeoutMs: STEP_TIMEOUT_MS })

    const common = {
      python: { major: 3 as const, minor: 11 as const, patch },
      baseBuildId: base.buildId,
      buildId: randomBytes(8).toString('hex'),
      builtAt: new Date().toISOString(),
      buildSeconds: Math.round((Date.now() - started) / 100) / 10
    }
    const info: Info = {
      recipe: PYTHON_BASES_RECIPE,
      baseRecipe: BASE_RECIPE_VERSION,
      ...common,
      pythonOrg: {
        ...common,
        kind: 'python-org',
        tag: PYTHON_ORG_TAG,
        env: pyOrgEnv,
        interpreter: '/usr/local/bin/python3.11',
        sitePackages: sp,
        scripts: '/usr/local/bin',
        prefix: '/usr/local'
      },
      venv: {
        ...common,
        kind: 'venv',
        tag: VENV_TAG,
        env: venvEnv,
        interpreter: '/opt/venv/bin/python3',
        sitePackages: vsp,
        scripts: '/opt/venv/bin',
        prefix: '/opt/venv',
        baseInterpreter: '/usr/bin/python3.11'
      }
    }
    writeFileSync(join(tmp, 'python-bases.json'), JSON.stringify(info, null, 2) + '\n')
    if (existsSync(dest)) {
      const old = `${dest}.tmp-old-${process.pid}-${randomBytes(4).toString('hex')}`
      renameSync(dest, old)
      await removeTree(old)
    }
    renameSync(tmp, dest)
  } catch (err) {
    await removeTree(tmp).catch(() => undefined)
    throw err
  }
}
