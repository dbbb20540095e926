// Install a wheel into an image-root staging directory the way pip installs it into a Python
// environment (the binary distribution format spec, PEP 427, and "Recording installed projects"),
// so the staging directory can become one image layer.
//
// What pip does and we do too (pip's `_internal/operations/install/wheel.py` is the reference; the
// differential test installs the same wheels with pip 23.2.1, and pip 26.2.1 when the mirror has
// it, and compares the trees byte for byte):
// - Root-Is-Purelib picks purelib or platlib for the wheel's top level; `<x>.data/<key>/...` go to
//   the scheme paths (purelib, platlib, scripts, data, headers). Headers go under
//   `<headers>/<project>`, with the project named as pip names the requirement: the wheel file
//   name's project part with `_` turned into `-` (pip 23-24), or normalized (pip 26, `pip: 'pip-26'`).
// - `.data/scripts` files whose first line starts with `#!python` get `#!<interpreter>\n` instead of
//   that line; a data script named like an entry point (`X`, `X.exe`, `X-script.py`, `X.pya`) is not
//   installed; console_scripts and gui_scripts become wrapper scripts with the bytes pip writes
//   (distlib's ScriptMaker: shebang rules incl. the /bin/sh trampoline for long paths or spaces, the
//   template, pip/easy_install versioned names for the target Python).
// - A file is executable when the zip records a regular-file mode with any x bit (pip's
//   `zip_item_is_executable`; symlink or type-less modes are not); data scripts keep the zip's mode
//   (pip adds no x bit, though the spec lets installers); generated wrappers are executable;
//   INSTALLER, REQUESTED and RECORD are not.
// - RECORD lists every installed file relative to the lib dir (`../../../bin/x` for scripts),
//   `sha256=<urlsafe base64, no padding>,size`, RECORD itself with empty fields, rows sorted, CRLF
//   line ends (Python's csv writer).
//
// Where we differ, on purpose:
// - The wheel's RECORD hashes are verified for every file installed (pip 23-26 does not check
//   them); a mismatch, a weak (md5/sha1) or unknown algorithm is an error. Files the RECORD does not
//   list are accepted, as pip accepts them, but get a hash in the new RECORD (pip leaves it empty).
//   Every entry's CRC-32 and size are checked too (zip.ts).
// - The new RECORD lists exactly the installed files; pip also keeps rows of the old RECORD for
//   files it did not install (left-out wrappers).
// - Entry names are checked strictly: backslashes, absolute paths, NUL and anything that
//   normalizes outside its install directory are refused (pip compares string prefixes only).
// - Wheel-Version must be 1.x (pip also takes 0.x and warns above 1.0).
// - No `direct_url.json` (an image installs from an index, not a local file); REQUESTED only when
//   the caller says the project was asked for directly (`requested`), as pip writes it for
//   user-supplied requirements only. No byte-compilation (like `pip --no-compile`). The
//   ENSUREPIP_OPTIONS variable pip reads is ignored (output must not depend on the environment).
// - The shebang is the target interpreter from the layout, not the Python running the installer.
import { createHash, type Hash } from 'node:crypto'
import { writeFile as writeFileCallback } from 'node:fs'
import { mkdir, open, readFile } from 'node:fs/promises'
import { basename, join, posix } from 'node:path'
import { ConfigError } from '../errors.js'
import { normalizeName, type NormalizedName } from '../names.js'
import type { LayerEntry } from '../oci/entry.js'
import { checkEntryPath } from '../oci/tar.js'
import { parseWheelFilename } from './filename.js'
import { WheelError } from './wheel-error.js'
import { ZipReader, type ExtractOptions, type ZipEntry } from './zip.js'

export { WheelError } from './wheel-error.js'

// ---------------------------------------------------------------------------------------------
// Layout

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

function checkLayout(layout: PythonLayout): void {
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

function under(dir: string, rel: string): string {
  return dir === '/' ? `/${rel}` : `${dir}/${rel}`
}

// ---------------------------------------------------------------------------------------------
// Text formats inside a wheel

const PY_WHITESPACE =
  '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000'
const PY_STRIP = new RegExp(`^[${PY_WHITESPACE}]+|[${PY_WHITESPACE}]+$`, 'g')
/** Python's `str.splitlines()` line boundaries (which include the file/group/record separators). */
// eslint-disable-next-line no-control-regex
const PY_LINES = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/

function pyStrip(s: string): string {
  return s.replace(PY_STRIP, '')
}

/**
 * The first value of an RFC 822 style header, as Python's email parser (compat32) returns it:
 * leading blanks dropped, continuation lines kept, trailing line ends dropped. Null when absent.
 */
export function headerValue(text: string, name: string): string | null {
  const lines = (text.match(/[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$/g) ?? []) as string[]
  const want = name.toLowerCase()
  let found: string | null = null
  let current: string | null = null
  for (const line of lines) {
    if (/^[ \t]/.test(line) && line.trim() !== '') {
      if (current !== null) current += line
      continue
    }
    if (current !== null) break
    if (line === '\n' || line === '\r\n' || line === '\r') break
    const m = /^([\x21-\x39\x3b-\x7e]+):(.*)$/s.exec(line)
    if (!m) break
    if (m[1]!.toLowerCase() === want) current = m[2]!.replace(/^[ \t]+/, '')
  }
  if (current !== null) found = current.replace(/[\r\n]+$/, '')
  return found
}

export interface WheelInfo {
  readonly wheelVersion: readonly number[]
  readonly rootIsPurelib: boolean
}

/** The `.dist-info/WHEEL` file: Wheel-Version (major 1 only) and Root-Is-Purelib. */
export function parseWheelInfo(text: string, wheel: string, path: string): WheelInfo {
  const versionText = headerValue(text, 'Wheel-Version')
  if (versionText === null) {
    throw new WheelError(
      `${path} has no Wheel-Version`,
      wheel,
      'rebuild the wheel with a current build backend',
      path
    )
  }
  const parts = pyStrip(versionText).split('.')
  if (!parts.every((p) => /^[0-9]+(_[0-9]+)*$/.test(pyStrip(p)))) {
    throw new WheelError(
      `${path}: invalid Wheel-Version ${JSON.stringify(versionText)}`,
      wheel,
      'rebuild the wheel with a current build backend',
      path
    )
  }
  const wheelVersion = parts.map((p) => Number(pyStrip(p).replace(/_/g, '')))
  if (wheelVersion[0] !== 1) {
    throw new WheelError(
      `Wheel-Version ${pyStrip(versionText)} in ${path} is not supported (only 1.x)`,
      wheel,
      'use a wheel built for Wheel-Version 1 (what pip and every current build backend write)',
      path
    )
  }
  return {
    wheelVersion,
    rootIsPurelib: (headerValue(text, 'Root-Is-Purelib') ?? '').toLowerCase() === 'true'
  }
}

export interface EntryPoint {
  readonly group: string
  readonly name: string
  readonly value: string
}

/** `entry_points.txt` as importlib.metadata reads it (sections, `name = value`, `#` comments). */
export function parseEntryPoints(text: string, wheel = '', path = 'entry_points.txt'): EntryPoint[] {
  const out: EntryPoint[] = []
  let group: string | null = null
  const lines = text.split(PY_LINES)
  for (let i = 0; i < lines.length; i++) {
    const line = pyStrip(lines[i]!)
    if (line === '' || line.startsWith('#')) continue
    if (line.startsWith('[') && line.endsWith(']')) {
      group = line.replace(/^\[+|\]+$/g, '')
      continue
    }
    if (group === null) continue
    const eq = line.indexOf('=')
    if (eq < 0) {
      throw new WheelError(
        `${path} line ${i + 1} has no "=": ${JSON.stringify(line)}`,
        wheel,
        'fix the entry points in the project and rebuild the wheel',
        path
      )
    }
    out.push({ group, name: pyStrip(line.slice(0, eq)), value: pyStrip(line.slice(eq + 1)) })
  }
  return out
}

export interface RecordRow {
  readonly path: string
  readonly hash: string
  readonly size: string
}

/** One CSV line as Python's csv reader (default dialect) splits it. */
function parseCsvLine(line: string): string[] {
  const fields: string[] = []
  let field = ''
  let inQuotes = false
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (inQuotes) {
      if (c === '"') {
        if (line[i + 1] === '"') {
          field += '"'
          i++
        } else inQuotes = false
      } else field += c
    } else if (c === ',') {
      fields.push(field)
      field = ''
      quoted = false
    } else if (c === '"' && field === '' && !quoted) {
      inQuotes = true
      quoted = true
    } else field += c
  }
  fields.push(field)
  return fields
}

/** A RECORD file: CSV rows `path,hash,size` (hash and size may be empty). */
export function parseRecord(text: string): RecordRow[] {
  const rows: RecordRow[] = []
  for (const line of text.split(PY_LINES)) {
    if (line === '') continue
    const f = parseCsvLine(line)
    rows.push({ path: f[0] ?? '', hash: f[1] ?? '', size: f[2] ?? '' })
  }
  return rows
}

function csvField(s: string): string {
  return /[,"\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

/** RECORD text as pip writes it: rows sorted by (path, hash, size), Python csv quoting, CRLF. */
export function formatRecord(rows: readonly RecordRow[]): string {
  const sorted = [...rows].sort(
    (a, b) => compareUtf8(a.path, b.path) || compareUtf8(a.hash, b.hash) || compareUtf8(a.size, b.size)
  )
  return sorted.map((r) => `${csvField(r.path)},${csvField(r.hash)},${csvField(r.size)}\r\n`).join('')
}

/** `sha256=<urlsafe base64 without padding>` (the RECORD hash format). */
export function recordHash(digest: Buffer, algorithm = 'sha256'): string {
  return `${algorithm}=${digest.toString('base64url')}`
}

// hashlib names in RECORD → node's names. md5 and sha1 are refused by the spec.
const RECORD_ALGORITHMS: Record<string, string> = {
  sha224: 'sha224',
  sha256: 'sha256',
  sha384: 'sha384',
  sha512: 'sha512',
  sha3_224: 'sha3-224',
  sha3_256: 'sha3-256',
  sha3_384: 'sha3-384',
  sha3_512: 'sha3-512',
  blake2b: 'blake2b512',
  blake2s: 'blake2s256'
}

interface ExpectedHash {
  readonly algorithm: string
  readonly nodeAlgorithm: string
  readonly value: string
}

function expectedHash(row: RecordRow, wheel: string, recordPath: string): ExpectedHash | null {
  if (row.hash === '') return null
  const eq = row.hash.indexOf('=')
  const algorithm = eq < 0 ? row.hash : row.hash.slice(0, eq)
  const nodeAlgorithm = RECORD_ALGORITHMS[algorithm]
  if (eq < 0 || nodeAlgorithm === undefined) {
    const weak = algorithm === 'md5' || algorithm === 'sha1'
    throw new WheelError(
      `${recordPath} lists ${JSON.stringify(row.path)} with ${
        weak
          ? `a ${algorithm} hash, which the wheel spec forbids`
          : `an unsupported hash ${JSON.stringify(row.hash)}`
      }`,
      wheel,
      'rebuild the wheel with a current build backend (it writes sha256 hashes)',
      row.path
    )
  }
  return { algorithm, nodeAlgorithm, value: row.hash.slice(eq + 1).replace(/=+$/, '') }
}

// ---------------------------------------------------------------------------------------------
// Entry-point wrappers (distlib's ScriptMaker as pip configures it)

/**
 * Which pip's output to reproduce where pip versions differ (the wrapper template and the headers
 * directory name):
 * - `pip-23`: distlib 0.3.6-0.3.8's template (pip 23.x to 24.2); headers under the wheel file name's
 *   project part with `_` turned into `-`. Checked against pip 23.2.1's output.
 * - `pip-24.3`: distlib 0.3.9's template, the import moved under `if __name__ == '__main__'` (pip
 *   24.3 until pip shipped its own template); headers as pip-23. Read from distlib's source, not
 *   checked against a pip run.
 * - `pip-26`: pip's own template, without `re`; headers under the normalized project name (pip
 *   parses file names with packaging). Checked against pip 26.2.1's output.
 */
export type PipFlavour = 'pip-23' | 'pip-24.3' | 'pip-26'

const TEMPLATES: Record<PipFlavour, string> = {
  'pip-23':
    "# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom %(module)s import %(import_name)s\nif __name__ == '__main__':\n" +
    "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    sys.exit(%(func)s())\n",
  'pip-24.3':
    "# -*- coding: utf-8 -*-\nimport re\nimport sys\nif __name__ == '__main__':\n    from %(module)s import %(import_name)s\n" +
    "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    sys.exit(%(func)s())\n",
  'pip-26':
    "import sys\nfrom %(module)s import %(import_name)s\nif __name__ == '__main__':\n" +
    "    sys.argv[0] = sys.argv[0].removesuffix('.exe')\n    sys.exit(%(func)s())\n"
}

const W = '[\\p{L}\\p{N}_]'
// distlib.util.ENTRY_RE, used with search() (not anchored).
const ENTRY_RE = new RegExp(
  `(?<name>(?:${W}|[-.+])+)\\s*=\\s*(?<callable>${W}+(?:[:.]${W}+)*)` +
    `\\s*(?:\\[\\s*(?<flags>[\\p{L}\\p{N}_-]+(?:=${W}+)?(?:,\\s*${W}+(?:=${W}+)?)*)\\s*\\])?`,
  'u'
)

export interface ExportEntry {
  readonly name: string
  readonly prefix: string
  readonly suffix: string | null
  readonly flags: readonly string[]
}

/** distlib's `get_export_entry`: null when the text has no `name = callable`; throws when invalid. */
export function parseExportEntry(spec: string): ExportEntry | null | 'invalid' {
  const m = ENTRY_RE.exec(spec)
  const brackets = spec.includes('[') || spec.includes(']')
  if (!m) return brackets ? 'invalid' : null
  const { name, callable, flags } = m.groups as { name: string; callable: string; flags?: string }
  const colons = callable.split(':').length - 1
  if (colons > 1) return 'invalid'
  const [prefix, suffix] = colons === 0 ? [callable, null] : (callable.split(':') as [string, string])
  if (flags === undefined && brackets) return 'invalid'
  return { name, prefix, suffix, flags: flags === undefined ? [] : flags.split(',').map((f) => f.trim()) }
}

/** distlib's shebang for an interpreter path: `#!path\n`, or the /bin/sh trampoline when it has spaces or is long. */
export function scriptShebang(interpreter: string): string {
  let exe = interpreter
  if (exe.includes(' ')) {
    if (exe.startsWith('/usr/bin/env ')) {
      const rest = exe.slice('/usr/bin/env '.length)
      if (rest.includes(' ') && !rest.startsWith('"')) exe = `/usr/bin/env "${rest}"`
    } else if (!exe.startsWith('"')) exe = `"${exe}"`
  }
  const length = Buffer.byteLength(exe, 'utf8') + 3
  if (!exe.includes(' ') && length <= 127) return `#!${exe}\n`
  return `#!/bin/sh\n'''exec' ${exe} "$0" "$@"\n' '''\n`
}

/** The bytes of the wrapper script pip writes for an entry point. */
export function entryPointScript(
  entry: ExportEntry,
  interpreter: string,
  flavour: PipFlavour = 'pip-23'
): Buffer {
  const suffix = entry.suffix ?? ''
  const text = TEMPLATES[flavour]
    .replace('%(module)s', entry.prefix)
    .replace('%(import_name)s', suffix.split('.')[0]!)
    .replace('%(func)s', suffix)
  return Buffer.from(scriptShebang(interpreter) + text, 'utf8')
}

/** pip's `get_console_script_specs`: pip and easy_install get versioned names for the target Python. */
export function consoleScriptSpecs(console: ReadonlyMap<string, string>, python: PythonVersion): string[] {
  const c = new Map(console)
  const specs: string[] = []
  const pip = c.get('pip')
  c.delete('pip')
  if (pip) {
    specs.push(`pip = ${pip}`, `pip${python.major} = ${pip}`, `pip${python.major}.${python.minor} = ${pip}`)
    for (const k of [...c.keys()]) if (/^pip(\d+(\.\d+)?)?$/.test(k)) c.delete(k)
  }
  const easy = c.get('easy_install')
  c.delete('easy_install')
  if (easy) {
    specs.push(`easy_install = ${easy}`, `easy_install-${python.major}.${python.minor} = ${easy}`)
    for (const k of [...c.keys()]) if (/^easy_install(-\d+\.\d+)?$/.test(k)) c.delete(k)
  }
  for (const [k, v] of c) specs.push(`${k} = ${v}`)
  return specs
}

/** pip's `fix_script`: a first line starting with `#!python` becomes `#!<interpreter>\n`. */
export function fixScriptShebang(content: Buffer, interpreter: string): Buffer {
  if (!content.subarray(0, 8).equals(Buffer.from('#!python'))) return content
  const nl = content.indexOf(0x0a)
  const rest = nl < 0 ? Buffer.alloc(0) : content.subarray(nl + 1)
  return Buffer.concat([Buffer.from(`#!${interpreter}\n`, 'utf8'), rest])
}

// ---------------------------------------------------------------------------------------------
// The plan: where each file goes (pure)

export type PlannedSource =
  | { readonly kind: 'entry'; readonly entry: string; readonly fixShebang: boolean }
  | { readonly kind: 'generated'; readonly content: Buffer }
  | { readonly kind: 'record' }

export interface PlannedFile {
  /** Absolute path in the image. */
  readonly dest: string
  /** As the installed RECORD names it: relative to the lib dir. */
  readonly recordPath: string
  readonly executable: boolean
  readonly source: PlannedSource
}

export interface PlanInput {
  /** The wheel, for error messages. */
  readonly wheel: string
  readonly entries: ReadonlyArray<{
    readonly name: string
    readonly isDirectory: boolean
    readonly executable: boolean
  }>
  readonly infoDir: string
  readonly rootIsPurelib: boolean
  readonly layout: PythonLayout
  /** The directory name under `layout.headers` (pip: the requirement name). */
  readonly headersName: string
  readonly entryPoints: readonly EntryPoint[]
  readonly pip: PipFlavour
  readonly installer: string
  readonly requested: boolean
}

export interface InstallPlan {
  readonly libDir: string
  /** Absolute path of the installed `.dist-info` directory. */
  readonly distInfo: string
  /** One per destination (the last writer in pip's order wins), RECORD last. */
  readonly files: readonly PlannedFile[]
}

const SCHEME_KEYS = ['data', 'headers', 'platlib', 'purelib', 'scripts'] as const
type SchemeKey = (typeof SCHEME_KEYS)[number]

/**
 * An entry name as `/`-separated segments after `os.path.normpath`; refuses names that are
 * absolute, use backslashes or NUL, or climb out of the directory they are installed into.
 */
function entrySegments(name: string, wheel: string): string[] {
  const refuse = (why: string): WheelError =>
    new WheelError(
      `entry ${JSON.stringify(name)} ${why}`,
      wheel,
      'do not install this wheel: it was built wrongly or tampered with; rebuild it or get it from the project again',
      name
    )
  if (name.includes('\\')) throw refuse('uses a backslash; wheel paths are /-separated and relative')
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) throw refuse('is an absolute path')
  if (name.includes('\0')) throw refuse('contains a NUL character')
  const out: string[] = []
  for (const seg of name.split('/')) {
    if (seg === '' || seg === '.') continue
    if (seg === '..') {
      if (out.length === 0) throw refuse('would be installed outside its install directory (`..`)')
      out.pop()
    } else out.push(seg)
  }
  if (out.length === 0) throw refuse('has no file name')
  return out
}

/** Where pip installs each file of the wheel, and what it generates. Throws WheelError. */
export function planInstall(input: PlanInput): InstallPlan {
  const { layout, wheel, infoDir } = input
  const libDir = input.rootIsPurelib ? layout.purelib : layout.platlib
  const schemePaths: Record<SchemeKey, string> = {
    data: layout.data,
    headers: under(layout.headers, input.headersName),
    platlib: layout.platlib,
    purelib: layout.purelib,
    scripts: layout.scripts
  }
  const console = new Map<string, string>()
  const gui = new Map<string, string>()
  for (const ep of input.entryPoints) {
    if (ep.group === 'console_scripts') console.set(ep.name, ep.value)
    else if (ep.group === 'gui_scripts') gui.set(ep.name, ep.value)
  }

  // pip's order: root files, other .data files, .data/scripts; then generated wrappers, INSTALLER,
  // REQUESTED, RECORD. A later file for the same destination replaces an earlier one.
  const root: PlannedFile[] = []
  const data: PlannedFile[] = []
  const scripts: PlannedFile[] = []
  const file = (dest: string, executable: boolean, source: PlannedSource): PlannedFile => ({
    dest,
    recordPath: posix.relative(libDir, dest),
    executable,
    source
  })
  for (const e of input.entries) {
    if (e.isDirectory) continue
    const segs = entrySegments(e.name, wheel)
    const isData = e.name.split('/', 1)[0]!.endsWith('.data')
    if (!isData) {
      root.push(
        file(under(libDir, segs.join('/')), e.executable, { kind: 'entry', entry: e.name, fixShebang: false })
      )
      continue
    }
    if (segs.length < 3) {
      throw new WheelError(
        `unexpected file ${JSON.stringify(e.name)} in the .data directory (contents must be named <scheme key>/<path>)`,
        wheel,
        'rebuild the wheel; only purelib/, platlib/, scripts/, data/ and headers/ may be under .data',
        e.name
      )
    }
    const key = segs[1]!
    if (!(SCHEME_KEYS as readonly string[]).includes(key)) {
      throw new WheelError(
        `unknown scheme key ${JSON.stringify(key)} in ${JSON.stringify(e.name)} (valid: ${SCHEME_KEYS.join(', ')})`,
        wheel,
        'rebuild the wheel; only purelib/, platlib/, scripts/, data/ and headers/ may be under .data',
        e.name
      )
    }
    const dest = under(schemePaths[key as SchemeKey], segs.slice(2).join('/'))
    const raw = e.name.split('/')
    const isScript = raw.length > 2 && raw[0]!.endsWith('.data') && raw[1] === 'scripts'
    if (!isScript) {
      data.push(file(dest, e.executable, { kind: 'entry', entry: e.name, fixShebang: false }))
      continue
    }
    // setuptools-generated wrappers for entry points are left out (pip's is_entrypoint_wrapper).
    const base = posix.basename(dest)
    const lower = base.toLowerCase()
    const match = lower.endsWith('.exe')
      ? base.slice(0, -4)
      : lower.endsWith('-script.py')
        ? base.slice(0, -10)
        : lower.endsWith('.pya')
          ? base.slice(0, -4)
          : base
    if (console.has(match) || gui.has(match)) continue
    scripts.push(file(dest, e.executable, { kind: 'entry', entry: e.name, fixShebang: true }))
  }

  const generated: PlannedFile[] = []
  const wrappers = [...consoleScriptSpecs(console, layout.python), ...[...gui].map(([k, v]) => `${k} = ${v}`)]
  for (const spec of wrappers) {
    const entry = parseExportEntry(spec)
    const bad = (why: string): WheelError =>
      new WheelError(
        `invalid script entry point ${JSON.stringify(spec)} in ${infoDir}/entry_points.txt: ${why}`,
        wheel,
        'fix [project.scripts] / [project.gui-scripts] (or console_scripts) in the project and rebuild the wheel',
        `${infoDir}/entry_points.txt`
      )
    if (entry === null || entry === 'invalid') throw bad('not of the form `name = module:callable`')
    if (entry.suffix === null) throw bad('a callable suffix is required (module:function)')
    if (entry.name === '.' || entry.name === '..')
      throw bad('the script would be installed outside the scripts directory')
    generated.push(
      file(under(layout.scripts, entry.name), true, {
        kind: 'generated',
        content: entryPointScript(entry, layout.interpreter, input.pip)
      })
    )
  }
  const distInfo = under(libDir, infoDir)
  generated.push(
    file(under(distInfo, 'INSTALLER'), false, {
      kind: 'generated',
      content: Buffer.from(`${input.installer}\n`)
    })
  )
  if (input.requested) {
    generated.push(file(under(distInfo, 'REQUESTED'), false, { kind: 'generated', content: Buffer.alloc(0) }))
  }
  generated.push(file(under(distInfo, 'RECORD'), false, { kind: 'record' }))

  const winners = new Map<string, PlannedFile>()
  for (const f of [...root, ...data, ...scripts, ...generated]) {
    winners.delete(f.dest)
    winners.set(f.dest, f)
  }
  const files = [...winners.values()]
  for (const f of files) checkEntryPath(f.dest.slice(1))
  // A path cannot be both a file and a directory.
  for (const f of files) {
    for (let d = posix.dirname(f.dest); d !== '/' && d !== '.'; d = posix.dirname(d)) {
      const clash = winners.get(d)
      if (clash) {
        const name = (p: PlannedFile): string =>
          p.source.kind === 'entry' ? JSON.stringify(p.source.entry) : `generated ${p.dest}`
        throw new WheelError(
          `${name(clash)} installs a file at ${d}, where ${name(f)} needs a directory`,
          wheel,
          'rebuild the wheel so no file has the same path as a directory',
          clash.source.kind === 'entry' ? clash.source.entry : undefined
        )
      }
    }
  }
  return { libDir, distInfo, files }
}

// ---------------------------------------------------------------------------------------------
// Installing (the edge: reads the zip, writes files)

export interface InstallOptions {
  /** Written to `.dist-info/INSTALLER` (default `fast-build`). */
  installer?: string
  /** Write `.dist-info/REQUESTED`: the project was asked for directly, not pulled in as a dependency. */
  requested?: boolean
  /** Which pip's output to reproduce where pip versions differ (default `pip-23`). */
  pip?: PipFlavour
  /** The wheel's file name when `wheelPath` is not named like a wheel (a cache keyed by digest). */
  filename?: string
  /** Tuning for the zip reader (window size, when to stream, concurrency). */
  extract?: ExtractOptions
}

export interface InstalledFile {
  /** Relative to the image root, no leading slash. */
  readonly path: string
  readonly size: number
  readonly executable: boolean
  /** The file in the staging directory. */
  readonly diskPath: string
}

export interface InstalledWheel {
  readonly name: NormalizedName
  readonly version: string
  /** Sorted by path (code points). */
  readonly files: readonly InstalledFile[]
  readonly installedSize: number
  /** The `.dist-info` directory, relative to the image root. */
  readonly distInfo: string
}

interface Written {
  readonly digest: Buffer
  readonly size: number
}

/** pip's `zip_item_is_executable`: a regular-file mode with any x bit. */
function zipExecutable(e: ZipEntry): boolean {
  const mode = e.externalAttributes >>> 16
  return mode !== 0 && (mode & 0o170000) === 0o100000 && (mode & 0o111) !== 0
}

async function readText(zip: ZipReader, path: string, wheel: string): Promise<string> {
  const entry = zip.entry(path)
  if (!entry) {
    throw new WheelError(
      `${path} is missing`,
      wheel,
      'rebuild the wheel with a current build backend; every wheel has WHEEL and RECORD in its .dist-info',
      path
    )
  }
  const data = await zip.read(entry)
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(data)
  } catch {
    throw new WheelError(`${path} is not valid UTF-8`, wheel, 'rebuild the wheel', path)
  }
}

function findDistInfo(names: readonly string[], name: NormalizedName, wheel: string): string {
  const dirs = [...new Set(names.map((n) => n.split('/', 1)[0]!))].filter((d) => d.endsWith('.dist-info'))
  if (dirs.length !== 1) {
    throw new WheelError(
      dirs.length === 0
        ? 'no .dist-info directory'
        : `several .dist-info directories: ${dirs.sort().join(', ')}`,
      wheel,
      'a wheel has exactly one <name>-<version>.dist-info directory; rebuild it',
      dirs[0]
    )
  }
  const dir = dirs[0]!
  if (!normalizeName(dir).startsWith(name)) {
    throw new WheelError(
      `the .dist-info directory ${JSON.stringify(dir)} does not belong to ${name}`,
      wheel,
      'check that the file name matches the project in the wheel',
      dir
    )
  }
  return dir
}

async function mkdirs(dirs: Iterable<string>, root: string): Promise<void> {
  // Every directory and its ancestors below root, created level by level (one mkdir each).
  const all = new Set<string>()
  for (const d of dirs) for (let p = d; p !== '.' && p !== '' && !all.has(p); p = posix.dirname(p)) all.add(p)
  const byDepth = new Map<number, string[]>()
  for (const d of all) {
    const depth = d.split('/').length
    const list = byDepth.get(depth)
    if (list) list.push(d)
    else byDepth.set(depth, [d])
  }
  await mkdir(root, { recursive: true })
  for (const depth of [...byDepth.keys()].sort((a, b) => a - b)) {
    await Promise.all(
      byDepth.get(depth)!.map((d) =>
        mkdir(join(root, d)).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'EEXIST') throw e
        })
      )
    )
  }
}

/** A wheel opened and planned: where each file goes, and how to check each entry against RECORD. */
interface Prepared {
  readonly zip: ZipReader
  readonly parsed: NonNullable<ReturnType<typeof parseWheelFilename>>
  readonly plan: InstallPlan
  expected(entry: ZipEntry): ExpectedHash | null
  verify(entry: ZipEntry, exp: ExpectedHash | null, actual: Buffer): void
}

/** Open the wheel and plan its install (shared by the disk install and the layer entries). */
async function prepareInstall(
  wheelPath: string,
  layout: PythonLayout,
  opts: InstallOptions
): Promise<Prepared> {
  const filename = opts.filename ?? basename(wheelPath)
  const parsed = parseWheelFilename(filename)
  if (!parsed) {
    throw new WheelError(
      `${JSON.stringify(filename)} is not a wheel file name (name-version[-build]-python-abi-platform.whl)`,
      wheelPath,
      'keep the file name the index gives the wheel, or pass the original name as `filename`'
    )
  }
  checkLayout(layout)
  const pip = opts.pip ?? 'pip-23'
  const zip = await ZipReader.open(wheelPath)
  try {
    const infoDir = findDistInfo(
      zip.entries.map((e) => e.name),
      parsed.distribution,
      wheelPath
    )
    const info = parseWheelInfo(
      await readText(zip, `${infoDir}/WHEEL`, wheelPath),
      wheelPath,
      `${infoDir}/WHEEL`
    )
    const recordName = `${infoDir}/RECORD`
    const record = new Map(parseRecord(await readText(zip, recordName, wheelPath)).map((r) => [r.path, r]))
    const epName = `${infoDir}/entry_points.txt`
    const entryPoints = zip.entry(epName)
      ? parseEntryPoints(await readText(zip, epName, wheelPath), wheelPath, epName)
      : []
    const plan = planInstall({
      wheel: wheelPath,
      entries: zip.entries.map((e) => ({
        name: e.name,
        isDirectory: e.isDirectory,
        executable: zipExecutable(e)
      })),
      infoDir,
      rootIsPurelib: info.rootIsPurelib,
      layout,
      headersName: pip === 'pip-26' ? parsed.distribution : filename.split('-', 1)[0]!.replace(/_/g, '-'),
      entryPoints,
      pip,
      installer: opts.installer ?? 'fast-build',
      requested: opts.requested ?? false
    })
    const expected = (entry: ZipEntry): ExpectedHash | null => {
      const row = record.get(entry.name)
      return row ? expectedHash(row, wheelPath, recordName) : null
    }
    const verify = (entry: ZipEntry, exp: ExpectedHash | null, actual: Buffer): void => {
      if (exp && actual.toString('base64url') !== exp.value) {
        throw new WheelError(
          `${entry.name} does not match its hash in RECORD (${exp.algorithm}=${exp.value}, the file has ${exp.algorithm}=${actual.toString('base64url')})`,
          wheelPath,
          `the wheel's content was changed after it was built: download it again, or rebuild it`,
          entry.name
        )
      }
    }
    return { zip, parsed, plan, expected, verify }
  } catch (e) {
    await zip.close()
    throw e
  }
}

/**
 * Install a wheel into `stagingDir` + the layout's paths (so `stagingDir/usr/local/lib/...`), ready
 * to become one layer. Calls share nothing: several wheels may be installed at once (into separate
 * staging directories, or the same one when their files do not overlap). On error the staging
 * directory holds a partial install; remove it.
 */
export async function installWheel(
  wheelPath: string,
  layout: PythonLayout,
  stagingDir: string,
  opts: InstallOptions = {}
): Promise<InstalledWheel> {
  const { zip, parsed, plan, expected, verify } = await prepareInstall(wheelPath, layout, opts)
  try {
    const diskPath = (dest: string): string => join(stagingDir, dest.slice(1))
    await mkdirs(
      plan.files.map((f) => posix.dirname(f.dest).slice(1)),
      stagingDir
    )

    const fromZip = new Map<string, PlannedFile>()
    for (const f of plan.files) if (f.source.kind === 'entry') fromZip.set(f.source.entry, f)
    const written = new Map<string, Written>()
    const mode = (f: PlannedFile): number => (f.executable ? 0o755 : 0o644)

    await zip.extract(
      [...fromZip.keys()].map((n) => zip.entry(n)!),
      {
        whole: async (entry, content) => {
          const f = fromZip.get(entry.name)!
          const exp = expected(entry)
          if (exp) verify(entry, exp, createHash(exp.nodeAlgorithm).update(content).digest())
          const out =
            f.source.kind === 'entry' && f.source.fixShebang
              ? fixScriptShebang(content, layout.interpreter)
              : content
          const digest =
            exp?.nodeAlgorithm === 'sha256' && out === content
              ? Buffer.from(exp.value, 'base64url')
              : sha256(out)
          await writeWhole(diskPath(f.dest), out, mode(f))
          written.set(f.dest, { digest, size: out.length })
        },
        stream: async (entry, chunks) => {
          const f = fromZip.get(entry.name)!
          const exp = expected(entry)
          const fix = f.source.kind === 'entry' && f.source.fixShebang
          const ours = createHash('sha256')
          // One hash when what we write is what the RECORD hashed with sha256 (the usual case).
          const check: Hash | null =
            exp && (fix || exp.nodeAlgorithm !== 'sha256') ? createHash(exp.nodeAlgorithm) : null
          const fh = await open(diskPath(f.dest), 'w', mode(f))
          let size = 0
          try {
            let head: Buffer | null = fix ? Buffer.alloc(0) : null
            const emit = async (b: Buffer): Promise<void> => {
              ours.update(b)
              size += b.length
              await fh.write(b)
            }
            for await (const chunk of chunks) {
              check?.update(chunk)
              if (head === null) {
                await emit(chunk)
                continue
              }
              // Hold back the first line until we know whether it is `#!python...`.
              head = Buffer.concat([head, chunk])
              if (head.length >= 8 && !head.subarray(0, 8).equals(Buffer.from('#!python'))) {
                await emit(head)
                head = null
              } else if (head.length >= 8 && head.includes(0x0a)) {
                await emit(fixScriptShebang(head, layout.interpreter))
                head = null
              }
            }
            if (head !== null) await emit(fixScriptShebang(head, layout.interpreter))
          } finally {
            await fh.close()
          }
          const digest = ours.digest()
          if (exp) verify(entry, exp, check ? check.digest() : digest)
          written.set(f.dest, { digest, size })
        }
      },
      opts.extract
    )

    await Promise.all(
      plan.files.map(async (f) => {
        if (f.source.kind !== 'generated') return
        await writeWhole(diskPath(f.dest), f.source.content, mode(f))
        written.set(f.dest, { digest: sha256(f.source.content), size: f.source.content.length })
      })
    )
    const rows: RecordRow[] = []
    const files: InstalledFile[] = []
    for (const f of plan.files) {
      if (f.source.kind === 'record') continue
      const w = written.get(f.dest)!
      rows.push({ path: f.recordPath, hash: recordHash(w.digest), size: String(w.size) })
      files.push({
        path: f.dest.slice(1),
        size: w.size,
        executable: f.executable,
        diskPath: diskPath(f.dest)
      })
    }
    const rf = plan.files.find((f) => f.source.kind === 'record')
    if (rf) {
      rows.push({ path: rf.recordPath, hash: '', size: '' })
      const text = Buffer.from(formatRecord(rows), 'utf8')
      await writeWhole(diskPath(rf.dest), text, 0o644)
      files.push({
        path: rf.dest.slice(1),
        size: text.length,
        executable: false,
        diskPath: diskPath(rf.dest)
      })
    }
    files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    return {
      name: parsed.distribution,
      version: parsed.version,
      files,
      installedSize: files.reduce((n, f) => n + f.size, 0),
      distInfo: plan.distInfo.slice(1)
    }
  } finally {
    await zip.close()
  }
}

/** fs.writeFile with a callback: noticeably less overhead per file than fs/promises for small files. */
function writeWhole(path: string, data: Buffer, mode: number): Promise<void> {
  return new Promise((resolve, reject) =>
    writeFileCallback(path, data, { mode }, (err) => (err ? reject(err) : resolve()))
  )
}

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest()
}

/** The installed files as layer entries (content read from the staging directory). */
export function installedLayerEntries(wheel: InstalledWheel): LayerEntry[] {
  return wheel.files.map((f) => ({
    type: 'file' as const,
    path: f.path,
    executable: f.executable,
    size: f.size,
    diskPath: f.diskPath,
    content: () => readFile(f.diskPath)
  }))
}

// ---------------------------------------------------------------------------------------------
// The same install as layer entries, with nothing written to disk

/** Entries at least this big are streamed into the layer; smaller ones are read in windows. */
const STREAM_BYTES = 1024 * 1024

export interface WheelLayerEntries {
  readonly name: NormalizedName
  readonly version: string
  /** What installWheel would write, as layer entries (files only), in no particular order. */
  readonly entries: readonly LayerEntry[]
  readonly installedSize: number
  /** Release the wheel file; call once the layer is written (or abandoned). */
  close(): Promise<void>
}

/**
 * The files `installWheel` would write, as layer entries whose content comes straight out of the
 * wheel when the layer is written: a layer of installed packages with no staging tree, so no file
 * is created, written and read back (on a runner's disk that costs more than all the rest).
 *
 * What RECORD needs is known up front: a file copied as it is has the hash the wheel's RECORD gives
 * it (checked as the file is written into the layer: a mismatch fails the layer), and the few others
 * (rewritten `#!python` scripts, files RECORD has no sha256 for, generated wrappers) are read and
 * hashed here. Small entries are inflated a window of neighbours at a time when first needed;
 * large ones stream in chunks.
 */
export async function wheelLayerEntries(
  wheelPath: string,
  layout: PythonLayout,
  opts: InstallOptions = {}
): Promise<WheelLayerEntries> {
  const { zip, parsed, plan, expected, verify } = await prepareInstall(wheelPath, layout, opts)
  try {
    const entries: LayerEntry[] = []
    const rows: RecordRow[] = []
    const path = (f: PlannedFile) => f.dest.slice(1)
    const executable = (f: PlannedFile) => f.executable

    // Entries whose installed bytes or hash must be known now.
    const early = plan.files.filter((f) => {
      if (f.source.kind !== 'entry') return false
      const exp = expected(zip.entry(f.source.entry)!)
      return f.source.fixShebang || !exp || exp.nodeAlgorithm !== 'sha256'
    })
    const earlyBytes = new Map<string, Buffer>()
    await zip.extract(
      early.map((f) => zip.entry((f.source as { entry: string }).entry)!),
      {
        whole: (entry, data) => {
          earlyBytes.set(entry.name, data)
        },
        stream: async (entry, chunks) => {
          const parts: Buffer[] = []
          for await (const c of chunks) parts.push(c)
          earlyBytes.set(entry.name, Buffer.concat(parts))
        }
      },
      { ...opts.extract, streamThreshold: Number.MAX_SAFE_INTEGER }
    )

    // Small verbatim entries are inflated together, the first time one of them is wanted.
    const small = new Map<string, Buffer>()
    let smallJob: Promise<void> | null = null
    const lazyEntries: ZipEntry[] = []
    const loadSmall = () =>
      (smallJob ??= zip.extract(
        lazyEntries,
        {
          whole: (entry, data) => {
            small.set(entry.name, data)
          },
          stream: () => Promise.reject(new Error('unreachable: small entries are read whole'))
        },
        { ...opts.extract, streamThreshold: Number.MAX_SAFE_INTEGER }
      ))

    for (const f of plan.files) {
      const src = f.source
      if (src.kind === 'record') continue
      if (src.kind === 'generated') {
        const content = src.content
        rows.push({ path: f.recordPath, hash: recordHash(sha256(content)), size: String(content.length) })
        entries.push({
          type: 'file',
          path: path(f),
          executable: executable(f),
          size: content.length,
          content: () => content
        })
        continue
      }
      const entry = zip.entry(src.entry)!
      const exp = expected(entry)
      const got = earlyBytes.get(entry.name)
      if (got) {
        verify(
          entry,
          exp,
          createHash(exp?.nodeAlgorithm ?? 'sha256')
            .update(got)
            .digest()
        )
        const out = src.fixShebang ? fixScriptShebang(got, layout.interpreter) : got
        rows.push({ path: f.recordPath, hash: recordHash(sha256(out)), size: String(out.length) })
        entries.push({
          type: 'file',
          path: path(f),
          executable: executable(f),
          size: out.length,
          content: () => out
        })
        continue
      }
      // Copied as it is, with a sha256 in RECORD: that is its hash, checked as it is written.
      rows.push({
        path: f.recordPath,
        hash: recordHash(Buffer.from(exp!.value, 'base64url')),
        size: String(entry.size)
      })
      if (entry.size >= STREAM_BYTES) {
        const stream = async (out: (chunk: Buffer) => Promise<void>) => {
          const h = createHash('sha256')
          await zip.extract(
            [entry],
            {
              whole: async (e, data) => {
                h.update(data)
                await out(data)
              },
              stream: async (e, chunks) => {
                for await (const c of chunks) {
                  h.update(c)
                  await out(c)
                }
              }
            },
            { streamThreshold: 0 }
          )
          verify(entry, exp, h.digest())
        }
        entries.push({
          type: 'file',
          path: path(f),
          executable: executable(f),
          size: entry.size,
          stream,
          content: async () => {
            const parts: Buffer[] = []
            await stream(async (c) => void parts.push(Buffer.from(c)))
            return Buffer.concat(parts)
          }
        })
      } else {
        lazyEntries.push(entry)
        entries.push({
          type: 'file',
          path: path(f),
          executable: executable(f),
          size: entry.size,
          content: async () => {
            await loadSmall()
            const data = small.get(entry.name)
            if (!data)
              throw new WheelError(
                `${entry.name} was read twice`,
                wheelPath,
                'report this as a fast-build bug',
                entry.name
              )
            small.delete(entry.name) // each is written once: free it
            verify(entry, exp, sha256(data))
            return data
          }
        })
      }
    }
    const rf = plan.files.find((f) => f.source.kind === 'record')
    if (rf) {
      rows.push({ path: rf.recordPath, hash: '', size: '' })
      const text = Buffer.from(formatRecord(rows), 'utf8')
      entries.push({
        type: 'file',
        path: path(rf),
        executable: false,
        size: text.length,
        content: () => text
      })
    }
    return {
      name: parsed.distribution,
      version: parsed.version,
      entries,
      installedSize: entries.reduce((n, e) => n + (e.type === 'file' ? e.size : 0), 0),
      close: () => zip.close()
    }
  } catch (e) {
    await zip.close()
    throw e
  }
}
