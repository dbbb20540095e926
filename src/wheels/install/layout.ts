// Where a wheel's parts go inside the image: pip's install scheme (purelib, platlib, scripts, data,
// headers) plus the interpreter that scripts name in their `#!` line.
import { posix } from 'node:path'
import { ConfigError } from '../../errors.js'

export interface PythonVersion {
  readonly major: number
  readonly minor: number
}

/** Where a wheel's parts go, as absolute paths inside the image (pip's install scheme). */
export interface PythonLayout {
  readonly purelib: string
  readonly platlib: string
  readonly scripts: string
  readonly data: string
  /** The include directory; a wheel's headers go to `<headers>/<project name>` (as pip puts them). */
  readonly headers: string
  /** For `#!` lines of scripts and entry-point wrappers. */
  readonly interpreter: string
  /** Names versioned wrappers (`pip3.12`, `easy_install-3.12`) as pip does for the running Python. */
  readonly python: PythonVersion
}

export interface PythonLayoutOptions {
  /** `site-packages` (python.org builds, the official images) or `dist-packages` (Debian's python3). */
  sitePackagesName?: string
  /** Default `<prefix>/bin/python<major>.<minor>`. */
  interpreter?: string
}

/**
 * CPython's `posix_prefix` scheme for a prefix: the official python images use prefix `/usr/local`
 * with `site-packages`; Debian's python3 installs pip packages under `/usr/local` too, with
 * `dist-packages` (and interpreter `/usr/bin/python3`).
 */
export function pythonLayout(
  prefix: string,
  python: PythonVersion,
  opts: PythonLayoutOptions = {}
): PythonLayout {
  const p = prefix === '/' ? '' : prefix.replace(/\/+$/, '')
  const xy = `python${python.major}.${python.minor}`
  const lib = `${p}/lib/${xy}/${opts.sitePackagesName ?? 'site-packages'}`
  return {
    purelib: lib,
    platlib: lib,
    scripts: `${p}/bin`,
    data: p === '' ? '/' : p,
    headers: `${p}/include/${xy}`,
    interpreter: opts.interpreter ?? `${p}/bin/${xy}`,
    python: { major: python.major, minor: python.minor }
  }
}

/** Refuses a layout whose paths are not normalized absolute paths (they become tar entry paths). */
export function checkLayout(layout: PythonLayout): void {
  for (const key of ['purelib', 'platlib', 'scripts', 'data', 'headers', 'interpreter'] as const) {
    const v = layout[key]
    const ok =
      typeof v === 'string' &&
      v.startsWith('/') &&
      !/[\0\n]/.test(v) &&
      (key === 'interpreter' || (posix.normalize(v) === v && (v === '/' || !v.endsWith('/'))))
    if (!ok) {
      throw new ConfigError(
        `python layout: ${key} must be a normalized absolute path inside the image, not ${JSON.stringify(v)}`,
        {},
        `give ${key} as an absolute path such as /usr/local/lib/python3.12/site-packages`
      )
    }
  }
}

/** `rel` inside the absolute directory `dir` (which may be `/`). */
export function under(dir: string, rel: string): string {
  return dir === '/' ? `/${rel}` : `${dir}/${rel}`
}
