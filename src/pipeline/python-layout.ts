// Where the wheels builder installs, decided from what the base image's Python reads (base-python.ts)
// and what [tool.fast-build] says explicitly (which wins), and the check that what was installed
// is where that Python will find it. Pure.
import { posix } from 'node:path'
import { FastBuildError } from '../errors.js'
import type { FastBuildConfig } from '../project/config.js'
import { formatPython, pythonMinor, type PythonVersion } from '../target.js'
import type { PythonLayout } from '../wheels/install/layout.js'
import { describePython, type BasePythonFacts, type PythonInImage } from './base-python.js'

export class PythonLayoutError extends FastBuildError {}

/** Label on deps images: the layout their packages were installed with (JSON), for the fast path. */
export const PYTHON_LABEL = 'dev.fast-build.python'

/** What a deps image records of its Python, so the fast path needs no base image to install the project. */
export interface RecordedPython {
  readonly interpreter: string
  readonly sitePackages: string
  readonly scripts: string
  /** `3.11` */
  readonly version: string
  readonly sysPath: readonly string[]
}

export interface ResolvedLayout {
  readonly layout: PythonLayout
  /** The base image's Python (null when python-in-base = false). */
  readonly python: PythonInImage | null
  /** What the verification checks against: the directories the interpreter reads. */
  readonly sysPath: readonly string[]
  /** Interpreters that exist in the base image (absolute paths), for shebang checks. */
  readonly interpreters: readonly string[]
  readonly hasSh: boolean
  /** One line for the log. */
  readonly description: string
}

type LayoutConfig = Pick<
  FastBuildConfig,
  'pythonPrefix' | 'pythonPrefixExplicit' | 'sitePackages' | 'interpreter' | 'pythonInBase'
>

/** The posix_prefix scheme of a prefix, as before detection existed (explicit settings). */
function prefixLayout(prefix: string, python: PythonVersion) {
  const root = prefix === '/' ? '' : prefix
  const minor = pythonMinor(python)
  return {
    site: `${root}/lib/python${minor}/site-packages`,
    scripts: `${root}/bin`,
    interpreter: `${root}/bin/python${minor}`,
    data: prefix,
    headers: `${root}/include/python${minor}`
  }
}

/** `<data>/lib/pythonX.Y/{site,dist}-packages` → `<data>` (pip's data scheme), else the prefix. */
function dataDirOf(site: string, fallback: string): string {
  const m = /^(.*)\/lib(?:64)?\/python\d+\.\d+\/(?:site|dist)-packages$/.exec(site)
  return m ? m[1] || '/' : fallback
}

/**
 * The install layout for a base image. Explicit `site-packages`, `interpreter` and `python-prefix`
 * win; the rest comes from the base image's Python. A base with no Python, or one of another
 * minor version than the plan's python, is an error naming both.
 */
export function resolveLayout(args: {
  readonly config: LayoutConfig
  /** The plan's target python, and where it came from (for messages). */
  readonly python: PythonVersion
  readonly pythonFrom: string
  readonly facts: BasePythonFacts | null
  /** The base image as the user wrote it, and the platform, for messages. */
  readonly base: string
  readonly platform: string
  /** The project's pyproject.toml, for the error location. */
  readonly file?: string
}): ResolvedLayout {
  const { config, python, facts } = args
  const minor = pythonMinor(python)
  const explicitPrefix = config.pythonPrefixExplicit ? prefixLayout(config.pythonPrefix, python) : null
  const found = facts?.python ?? null
  if (config.pythonInBase && facts && !found) {
    throw new PythonLayoutError(
      `base image ${args.base} (${args.platform}) has no Python: no python3 or python on its PATH (${facts.path.join(':')})`,
      { ...(args.file ? { file: args.file } : {}), keyPath: 'tool.fast-build.base-image' },
      `choose a base image with Python ${minor} (such as python:${minor}-slim), or, when the deps bring their own Python, set python-in-base = false with site-packages and interpreter under [tool.fast-build]`
    )
  }
  if (config.pythonInBase && found && `${found.version.major}.${found.version.minor}` !== minor) {
    throw new PythonLayoutError(
      `python ${formatPython(python)} (${args.pythonFrom}) does not match base image ${args.base} (${args.platform}): its python3 is ${found.version.major}.${found.version.minor} (${found.executable})`,
      { ...(args.file ? { file: args.file } : {}), keyPath: 'tool.fast-build.python' },
      `set python = "${found.version.major}.${found.version.minor}" under [tool.fast-build], or choose a base image with Python ${minor} (such as python:${minor}-slim); wheels for ${minor} would not load in ${found.version.major}.${found.version.minor}`
    )
  }
  const fallback = prefixLayout('/usr/local', python)
  const use = config.pythonInBase ? found : null
  const site = config.sitePackages ?? explicitPrefix?.site ?? use?.sitePackages ?? fallback.site
  const scripts = explicitPrefix?.scripts ?? use?.scripts ?? fallback.scripts
  const interpreter =
    config.interpreter ?? explicitPrefix?.interpreter ?? use?.interpreter ?? fallback.interpreter
  const data = explicitPrefix?.data ?? (use ? dataDirOf(use.sitePackages, use.prefix) : fallback.data)
  const headers = explicitPrefix?.headers ?? `${data === '/' ? '' : data}/include/python${minor}`
  const layout: PythonLayout = {
    purelib: site,
    platlib: site,
    scripts,
    data,
    headers,
    interpreter,
    python: { major: python.major, minor: python.minor }
  }
  const explicit = [
    config.sitePackages !== null ? 'site-packages' : null,
    config.interpreter !== null ? 'interpreter' : null,
    config.pythonPrefixExplicit ? 'python-prefix' : null
  ].filter((x) => x !== null)
  const description = use
    ? `${describePython(use)}${explicit.length ? ` (${explicit.join(', ')} as configured: ${site}, ${interpreter})` : ''}`
    : `python ${minor} from the deps (python-in-base = false): packages in ${site}, scripts in ${scripts}`
  return {
    layout,
    python: use,
    // Without a Python in the base, the configured site directory is taken on trust.
    sysPath: use ? use.sysPath : [site],
    interpreters: use ? (facts?.pythons ?? []) : [interpreter],
    hasSh: facts?.hasSh ?? true,
    description
  }
}

export function recordedPython(r: ResolvedLayout): RecordedPython {
  return {
    interpreter: r.layout.interpreter,
    sitePackages: r.layout.purelib,
    scripts: r.layout.scripts,
    version: `${r.layout.python.major}.${r.layout.python.minor}`,
    sysPath: r.sysPath
  }
}

/** The deps image's recorded layout, or null when it has none (older images, Dockerfile builds). */
export function readRecordedPython(
  labels: Readonly<Record<string, string>> | undefined | null
): RecordedPython | null {
  const text = labels?.[PYTHON_LABEL]
  if (!text) return null
  try {
    const v = JSON.parse(text) as RecordedPython
    return typeof v.interpreter === 'string' &&
      typeof v.sitePackages === 'string' &&
      typeof v.scripts === 'string' &&
      Array.isArray(v.sysPath)
      ? v
      : null
  } catch {
    return null
  }
}

// --- verification --------------------------------------------------------------------------------

/** What one installed distribution put where: enough to check it imports and its scripts run. */
export interface InstalledDist {
  readonly name: string
  readonly version: string
  /** Absolute directories holding its top-level modules and its .dist-info. */
  readonly dirs: readonly string[]
  /** Scripts it installed whose `#!` line names the layout's interpreter. */
  readonly scripts: readonly string[]
}

/**
 * The parents of a distribution's top-level modules and .dist-info, from its installed paths
 * (relative to the image root, as layer entries are).
 */
export function installedDist(
  name: string,
  version: string,
  paths: readonly string[],
  layout: Pick<PythonLayout, 'purelib' | 'platlib' | 'scripts'>
): InstalledDist {
  const libs = [...new Set([layout.purelib, layout.platlib])]
  const dirs = new Set<string>()
  const scripts: string[] = []
  for (const rel of paths) {
    const abs = `/${rel}`
    const lib = libs.find((l) => abs.startsWith(`${l}/`))
    if (lib) dirs.add(lib)
    else if (posix.dirname(abs) === layout.scripts) scripts.push(abs)
  }
  return { name, version, dirs: [...dirs].sort(), scripts: scripts.sort() }
}

function under(dir: string, sysPath: readonly string[]): boolean {
  return sysPath.includes(dir)
}

/**
 * Every distribution's modules sit directly in a directory the interpreter's sys.path holds, and
 * every script's interpreter exists in the image. Throws before anything is tagged otherwise.
 */
export function verifyInstall(args: {
  readonly dists: readonly InstalledDist[]
  readonly layout: Pick<PythonLayout, 'interpreter'>
  readonly resolved: Pick<ResolvedLayout, 'sysPath' | 'interpreters' | 'hasSh' | 'python'>
  /** Paths the deps layers themselves add (an interpreter may come with the deps). */
  readonly addedPaths?: ReadonlySet<string>
  readonly what: string
  readonly file?: string
}): void {
  const { dists, layout, resolved } = args
  const lost = dists.filter((d) => d.dirs.some((dir) => !under(dir, resolved.sysPath)))
  if (lost.length > 0) {
    const dirs = [...new Set(lost.flatMap((d) => d.dirs.filter((dir) => !under(dir, resolved.sysPath))))]
    const names = lost.slice(0, 5).map((d) => `${d.name} ${d.version}`)
    const py = resolved.python
      ? `${resolved.python.command} (${resolved.python.executable})`
      : 'the interpreter'
    throw new PythonLayoutError(
      `${args.what} would not import: ${names.join(', ')}${lost.length > 5 ? ` and ${lost.length - 5} more` : ''} went into ${dirs.join(', ')}, which ${py} does not read (its sys.path: ${resolved.sysPath.join(', ')})`,
      { ...(args.file ? { file: args.file } : {}), keyPath: 'tool.fast-build.site-packages' },
      resolved.python
        ? `remove site-packages (and python-prefix) from [tool.fast-build]: fast-build installs where the base image's Python reads packages (${resolved.python.sitePackages}); or put that directory on PYTHONPATH under [tool.fast-build.env]`
        : 'set site-packages to a directory on the interpreter sys.path'
    )
  }
  const withScripts = dists.filter((d) => d.scripts.length > 0)
  if (withScripts.length === 0) return
  const exists = (p: string) =>
    resolved.interpreters.includes(p) || (args.addedPaths?.has(p.slice(1)) ?? false)
  const needsSh = /\s/.test(layout.interpreter) || Buffer.byteLength(layout.interpreter) + 3 > 127
  const missing = !exists(layout.interpreter)
    ? layout.interpreter
    : needsSh && !resolved.hasSh
      ? '/bin/sh'
      : null
  if (missing) {
    const example = withScripts[0]!
    throw new PythonLayoutError(
      `${args.what}: console scripts (${example.scripts[0]} of ${example.name}${withScripts.length > 1 ? `, and those of ${withScripts.length - 1} more` : ''}) would start ${missing}, which does not exist in the image (its Pythons: ${resolved.interpreters.join(', ') || 'none'})`,
      { ...(args.file ? { file: args.file } : {}), keyPath: 'tool.fast-build.interpreter' },
      resolved.python
        ? `remove interpreter from [tool.fast-build] (fast-build uses the base image's ${resolved.python.interpreter}), or set it to one of the Pythons listed`
        : 'set interpreter to the path of the Python the image runs'
    )
  }
}
