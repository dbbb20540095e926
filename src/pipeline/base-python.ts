// Which Python a base image runs, and where that Python reads third-party packages from, found
// from the image's config (PATH, PYTHON_VERSION, VIRTUAL_ENV) and its filesystem's names alone:
// no container is started. Pure: an ImageFilesystem and an environment in, facts out.
//
// Layouts told apart (each as its installer puts packages where the interpreter reads them):
// - python.org builds (the official `python` images), conda: `<prefix>/lib/pythonX.Y/site-packages`
// - Debian and Ubuntu's python3: pip installs into `/usr/local/lib/pythonX.Y/dist-packages`
//   (Debian's site.py reads it; `site-packages` there is never on sys.path)
// - a virtualenv found through PATH (`/opt/venv/bin` with `pyvenv.cfg` above it)
// - other distributions' python3 under /usr: `/usr/lib/pythonX.Y/site-packages`
import { posix } from 'node:path'
import type { ImageFilesystem } from '../oci/filesystem.js'

export type PythonLayoutKind = 'python.org' | 'debian' | 'venv' | 'conda' | 'distro'

export interface PythonInImage {
  /** For `#!` lines: the versioned interpreter next to the one PATH finds (`/usr/bin/python3.11`). */
  readonly interpreter: string
  /** What `python3` (else `python`) on the image's PATH is, as found there. */
  readonly command: string
  /** The file that command resolves to, through symlinks. */
  readonly executable: string
  readonly version: { readonly major: number; readonly minor: number; readonly patch: number | null }
  readonly kind: PythonLayoutKind
  readonly prefix: string
  /** Where packages go: on this interpreter's sys.path. */
  readonly sitePackages: string
  /** Where console scripts go: on the image's PATH when possible. */
  readonly scripts: string
  /** The directories the interpreter's sys.path holds (PYTHONPATH, stdlib, site directories). */
  readonly sysPath: readonly string[]
  readonly hasPip: boolean
}

export interface BasePythonFacts {
  /** Bump when what is detected changes: cached facts of another schema are read again. */
  readonly schema: typeof FACTS_SCHEMA
  /** The Python `python3` runs in the image, or null when the image has none on its PATH. */
  readonly python: PythonInImage | null
  /** Every `python*` executable on the image's PATH (absolute, as found), for messages and checks. */
  readonly pythons: readonly string[]
  /** Whether `/bin/sh` exists (the shebang of scripts whose interpreter path is long or has spaces). */
  readonly hasSh: boolean
  /** The PATH that was searched. */
  readonly path: readonly string[]
}

export const FACTS_SCHEMA = 1

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/** `KEY=value` lines of an image config's Env, as a map (the last one of a key wins). */
export function envMap(env: readonly string[] | undefined | null): Map<string, string> {
  const out = new Map<string, string>()
  for (const item of env ?? []) {
    const eq = item.indexOf('=')
    if (eq > 0) out.set(item.slice(0, eq), item.slice(eq + 1))
  }
  return out
}

const PYTHON_NAME = /^python(\d+(\.\d+)?)?$/
const VERSIONED = /^python(\d+)\.(\d+)$/

function parent(p: string): string {
  return posix.dirname(p)
}

/**
 * `pyvenv.cfg` contents of the image, by path (read from the layers when present): decides
 * whether a virtualenv also reads the base interpreter's site directories.
 */
export type ConfigFiles = ReadonlyMap<string, string>

export function detectPython(
  fs: ImageFilesystem,
  configEnv: readonly string[] | undefined | null,
  files: ConfigFiles = new Map()
): BasePythonFacts {
  const env = envMap(configEnv)
  const path = (env.get('PATH') ?? DEFAULT_PATH).split(':').filter((d) => d.startsWith('/'))
  const pythons: string[] = []
  for (const dir of path) {
    for (const name of fs.list(dir)) {
      const full = `${dir === '/' ? '' : dir}/${name}`
      if (PYTHON_NAME.test(name) && fs.isFile(full) && !pythons.includes(full)) pythons.push(full)
    }
  }
  const facts = (python: PythonInImage | null): BasePythonFacts => ({
    schema: FACTS_SCHEMA,
    python,
    pythons,
    hasSh: fs.isFile('/bin/sh'),
    path
  })
  const byName = (name: string) => pythons.find((p) => posix.basename(p) === name)
  const command =
    byName('python3') ?? byName('python') ?? pythons.find((p) => /^python3\.\d+$/.test(posix.basename(p)))
  if (!command) return facts(null)
  const executable = fs.realpath(command) ?? command

  // A virtualenv: `pyvenv.cfg` one level above the bin directory PATH found it in.
  const venvDir = parent(parent(command))
  const venvCfg = `${venvDir === '/' ? '' : venvDir}/pyvenv.cfg`
  const isVenv = fs.isFile(venvCfg)

  const fromName = VERSIONED.exec(posix.basename(executable)) ?? VERSIONED.exec(posix.basename(command))
  const realPrefix = parent(parent(executable))
  const libDirs = (prefix: string) =>
    fs
      .list(`${prefix}/lib`)
      .filter(
        (n) =>
          VERSIONED.test(n) &&
          (fs.exists(`${prefix}/lib/${n}/os.py`) || fs.isDir(`${prefix}/lib/${n}/lib-dynload`))
      )
  const envVersion = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(env.get('PYTHON_VERSION') ?? '')
  let major: number
  let minor: number
  if (fromName) {
    major = Number(fromName[1])
    minor = Number(fromName[2])
  } else {
    const lib =
      libDirs(realPrefix)[0] ??
      (isVenv ? fs.list(`${venvDir}/lib`).find((n) => VERSIONED.test(n)) : undefined)
    const m = lib ? VERSIONED.exec(lib) : null
    if (m) {
      major = Number(m[1])
      minor = Number(m[2])
    } else if (envVersion) {
      major = Number(envVersion[1])
      minor = Number(envVersion[2])
    } else {
      return facts(null)
    }
  }
  const xy = `python${major}.${minor}`
  const patch =
    envVersion &&
    Number(envVersion[1]) === major &&
    Number(envVersion[2]) === minor &&
    envVersion[3] !== undefined
      ? Number(envVersion[3])
      : null

  const root = (p: string) => (p === '/' ? '' : p)
  const stdlib = `${root(realPrefix)}/lib/${xy}`
  const stdlibPath = [`${root(realPrefix)}/lib/python${major}${minor}.zip`, stdlib, `${stdlib}/lib-dynload`]
  const isDebian =
    realPrefix === '/usr' && (fs.isDir('/usr/lib/python3/dist-packages') || fs.isFile('/etc/debian_version'))
  const isConda = fs.isDir(`${root(realPrefix)}/conda-meta`)

  let kind: PythonLayoutKind
  let sitePackages: string
  let scripts: string
  let sites: string[]
  if (isDebian) {
    kind = 'debian'
    sites = [
      `/usr/local/lib/${xy}/dist-packages`,
      '/usr/lib/python3/dist-packages',
      `/usr/lib/${xy}/dist-packages`
    ]
    sitePackages = sites[0]!
    scripts = '/usr/local/bin'
  } else if (realPrefix === '/usr' && !isConda) {
    kind = 'distro'
    sitePackages = `/usr/lib/${xy}/site-packages`
    sites = [`/usr/lib64/${xy}/site-packages`, sitePackages].filter((d, i) => i === 1 || fs.isDir(d))
    scripts = path.includes('/usr/local/bin') ? '/usr/local/bin' : '/usr/bin'
  } else {
    kind = isConda ? 'conda' : 'python.org'
    sitePackages = `${root(realPrefix)}/lib/${xy}/site-packages`
    sites = [sitePackages]
    scripts = `${root(realPrefix)}/bin`
  }
  let prefix = realPrefix
  if (isVenv) {
    const cfg = files.get(venvCfg) ?? ''
    const system = /^\s*include-system-site-packages\s*=\s*true\s*$/im.test(cfg)
    const venvSite = `${root(venvDir)}/lib/${xy}/site-packages`
    sites = [venvSite, ...(system ? sites : [])]
    kind = 'venv'
    prefix = venvDir
    sitePackages = venvSite
    scripts = parent(command)
  }
  const pythonPath = (env.get('PYTHONPATH') ?? '').split(':').filter((d) => d.startsWith('/'))
  const sysPath = [...new Set([...pythonPath, ...stdlibPath, ...sites])]
  const hasPip = sites.some((s) => fs.isDir(`${s}/pip`))
  // Scripts name the versioned interpreter beside the one PATH finds (a venv's own bin keeps the
  // venv active; the versioned name survives a `python3` alternative being switched).
  const versioned = `${root(parent(command))}/${xy}`
  const interpreter = fs.isFile(versioned) ? versioned : command
  return facts({
    interpreter,
    command,
    executable,
    version: { major, minor, patch },
    kind,
    prefix,
    sitePackages,
    scripts,
    sysPath,
    hasPip
  })
}

/** One line for logs: `python 3.11 at /usr/bin/python3.11 (Debian layout): packages in …`. */
export function describePython(p: PythonInImage): string {
  const v = `${p.version.major}.${p.version.minor}${p.version.patch !== null ? `.${p.version.patch}` : ''}`
  const kind = {
    'python.org': 'python.org layout',
    debian: 'Debian layout',
    venv: 'virtualenv',
    conda: 'conda',
    distro: 'distribution layout'
  }[p.kind]
  return `python ${v} at ${p.interpreter} (${kind}): packages in ${p.sitePackages}, scripts in ${p.scripts}`
}
