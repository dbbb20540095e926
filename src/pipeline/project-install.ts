// The project itself (and its local path/workspace packages) installed in the image the way an
// editable install by its build backend would leave it (PEP 660, "Recording installed projects"):
// the source layer already puts the code on PYTHONPATH, but without a `.dist-info` directory
// `importlib.metadata.version("app")` raises, entry points are not registered and the
// `[project.scripts]` commands do not exist. So for each package this writes, next to the deps
// image's packages:
//
//   <site-packages>/<name>-<version>.dist-info/   METADATA, entry_points.txt, INSTALLER,
//                                                 direct_url.json, RECORD
//   <site-packages>/__editable__.<name>-<version>.pth   the package's import roots, one a line
//   <scripts>/<script>                            console and gui script wrappers
//
// Pure: parsed pyproject tables in, layer entries out. The wrappers are the bytes the wheel
// installer writes for a wheel's entry points (src/wheels/install/, which mirrors pip), so a
// command behaves the same whether it comes from a dependency or from the project.
//
// What a build backend would write that this does not: the long description (the readme is a
// file, and this module reads none), and anything a backend computes (dynamic dependencies, a
// version from git): the caller passes the lock's version, else the version is `0+unknown`, and a
// note says what is missing. Metadata-Version is 2.1, which every reader of installed
// metadata understands; extra names are written normalized (PEP 685), as newer backends do.
import { posix } from 'node:path'
import { createHash } from 'node:crypto'
import { ConfigError } from '../errors.js'
import { poetryToPep440 } from '../packaging/version-matcher.js'
import {
  andMarkers,
  formatRequirement,
  parseMarker,
  parseRequirement,
  type Requirement
} from '../markers/index.js'
import { isValidName, normalizeExtra, normalizeName, type NormalizedName } from '../names.js'
import type { LayerEntry } from '../oci/entry.js'
import { parseVersion, versionToString } from '../pep440.js'
import { pythonConstraintMarker } from '../project/pyproject.js'
import { isTable, TomlReader, type TomlTable } from '../util/toml.js'
import { formatRecord, recordHash, type RecordRow } from '../wheels/install/records.js'
import { entryPointScript, parseExportEntry, type PipFlavour } from '../wheels/install/scripts.js'

/** Written to `.dist-info/INSTALLER`. */
export const INSTALLER = 'fast-build'
/** The version of a project whose version is dynamic and not in the lock. */
export const UNKNOWN_VERSION = '0+unknown'

export interface LocalProject {
  /** The package's parsed pyproject.toml. */
  readonly pyproject: TomlTable
  /** pyproject.toml as messages name it. */
  readonly file: string
  /** Where the package's directory is in the image (absolute), e.g. `/app` or `/app/_local/lib`. */
  readonly dirInImage: string
  /** Absolute in-image directories its modules import from (what the .pth file lists). */
  readonly importRoots: readonly string[]
  /** The lock's version of the package, for versions the pyproject does not state (dynamic). */
  readonly lockVersion: string | null
}

export interface ProjectInstallLayout {
  /** Absolute, e.g. `/usr/local/lib/python3.12/site-packages`. */
  readonly sitePackages: string
  /** Absolute, e.g. `/usr/local/bin`. */
  readonly scripts: string
  /** For the scripts' `#!` line. */
  readonly interpreter: string
  /** Which pip's wrapper template (default `pip-23`, the wheel installer's default). */
  readonly pip?: PipFlavour
}

export interface InstalledDistribution {
  /** As written in pyproject.toml. */
  readonly name: string
  /** Normalized (PEP 440). */
  readonly version: string
  /** Absolute in-image path of the `.dist-info` directory. */
  readonly distInfo: string
}

export interface ProjectInstall {
  /** Directories above the files, then the files; sorted by path; paths relative to the image root. */
  readonly entries: LayerEntry[]
  /** Absolute in-image paths of the generated scripts, sorted. */
  readonly scripts: string[]
  readonly distributions: InstalledDistribution[]
  /** What could not be done as a build backend would, for the user (not errors). */
  readonly notes: string[]
}

/** What a pyproject says about the distribution, as a build backend would put it in METADATA. */
export interface ProjectMetadata {
  readonly name: string
  readonly version: string
  readonly summary: string | null
  readonly requiresPython: string | null
  /** Requirements of the distribution itself, formatted as packaging prints them. */
  readonly requires: readonly string[]
  /** Normalized extra → its requirements, each with its `extra == "…"` marker already added. */
  readonly extras: ReadonlyMap<string, readonly string[]>
  /** Group → (name → object reference), groups and names in the order declared. */
  readonly entryPoints: ReadonlyMap<string, ReadonlyMap<string, string>>
}

/** `<name>-<version>.dist-info`: name and version normalized, `-` → `_` (exactly one dash). */
export function distInfoName(name: string, version: string): string {
  return `${wheelName(name)}-${normalizedVersion(version).replace(/-/g, '_')}.dist-info`
}

/** The binary distribution format's escaping of a name: runs of `-_.` → `_`, lowercase. */
function wheelName(name: string): string {
  return name.replace(/[-_.]+/g, '_').toLowerCase()
}

function normalizedVersion(version: string): string {
  const v = parseVersion(version)
  return v === null ? version : versionToString(v)
}

// ---------------------------------------------------------------------------------------------
// pyproject.toml → metadata

const CONSOLE = 'console_scripts'
const GUI = 'gui_scripts'

// importlib.metadata's EntryPoint.pattern: `module[:attr][ [extras]]`.
const OBJECT_REFERENCE = /^\s*[\w.]+\s*(:\s*[\w.]+\s*)?(\[.*\]\s*)?$/u

/** A TOML key as it reads in a key path: bare when it can be, else quoted. */
function key(k: string): string {
  return /^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k)
}

function singleLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim()
}

class MetadataReader {
  readonly r: TomlReader
  readonly notes: string[] = []

  constructor(
    readonly pkg: LocalProject,
    readonly project: TomlTable | undefined,
    readonly poetry: TomlTable | undefined
  ) {
    this.r = new TomlReader(pkg.file, ConfigError)
  }

  note(text: string): void {
    this.notes.push(`${this.pkg.file}: ${text}`)
  }

  dynamic(): Set<string> {
    return new Set(this.r.optStrings(this.project?.['dynamic'], 'project.dynamic') ?? [])
  }

  name(): string | null {
    const fromProject = this.r.optString(this.project?.['name'], 'project.name')
    const name = fromProject ?? this.r.optString(this.poetry?.['name'], 'tool.poetry.name')
    if (name === undefined) return null
    if (!isValidName(name)) {
      this.r.fail(
        fromProject !== undefined ? 'project.name' : 'tool.poetry.name',
        `${JSON.stringify(name)} is not a valid project name`,
        'use letters, digits and "-", "_", "." (starting and ending with a letter or digit)'
      )
    }
    return name
  }

  version(): string {
    const at = this.project?.['version'] !== undefined ? 'project.version' : 'tool.poetry.version'
    const written =
      this.r.optString(this.project?.['version'], 'project.version') ??
      this.r.optString(this.poetry?.['version'], 'tool.poetry.version')
    if (written !== undefined) {
      const v = parseVersion(written)
      if (v === null) {
        this.r.fail(
          at,
          `${JSON.stringify(written)} is not a PEP 440 version`,
          'write a version such as 1.0.0, 2.1rc1 or 0.3.dev4'
        )
      }
      return versionToString(v)
    }
    const locked = this.pkg.lockVersion === null ? null : parseVersion(this.pkg.lockVersion)
    if (locked) return versionToString(locked)
    this.note(
      `the version is dynamic and the lock has none, so the project is installed as version ${UNKNOWN_VERSION}` +
        ' (importlib.metadata.version() returns that)'
    )
    return UNKNOWN_VERSION
  }

  summary(): string | null {
    const text =
      this.r.optString(this.project?.['description'], 'project.description') ??
      this.r.optString(this.poetry?.['description'], 'tool.poetry.description')
    return text === undefined || singleLine(text) === '' ? null : singleLine(text)
  }

  requiresPython(): string | null {
    const written = this.r.optString(this.project?.['requires-python'], 'project.requires-python')
    if (written !== undefined) return singleLine(written) || null
    const deps = this.poetryDependencies()
    const python = deps ? this.r.optString(deps['python'], 'tool.poetry.dependencies.python') : undefined
    return python === undefined
      ? null
      : this.poetryConstraint(python, 'tool.poetry.dependencies.python', 'python')
  }

  poetryDependencies(): TomlTable | undefined {
    return this.r.optTable(this.poetry?.['dependencies'], 'tool.poetry.dependencies')
  }

  /** A Poetry constraint as one PEP 440 specifier set ('' for any version). */
  poetryConstraint(constraint: string, keyPath: string, what: string): string {
    const alternatives = poetryToPep440(constraint)
    if (alternatives === null) {
      this.note(
        `${keyPath}: cannot read the constraint ${JSON.stringify(constraint)}; METADATA gives ${what} without it`
      )
      return ''
    }
    if (alternatives.some((a) => a.length === 0)) return ''
    if (alternatives.length > 1) {
      // PEP 440 has no "or": a union cannot be written as one specifier set.
      this.note(
        `${keyPath}: ${JSON.stringify(constraint)} is a union, which METADATA cannot state; ${what} is given without it`
      )
      return ''
    }
    return alternatives[0]!.join(',')
  }

  requires(): string[] {
    const list = this.project?.['dependencies']
    if (list !== undefined) {
      return this.r
        .strings(list, 'project.dependencies')
        .map((text, i) => this.requirement(text, `project.dependencies[${i}]`))
    }
    const deps = this.poetryDependencies()
    if (deps)
      return this.poetryRequirements(deps)
        .filter((d) => !d.optional)
        .map((d) => formatRequirement(d.req))
    if (this.dynamic().has('dependencies')) {
      this.note('the dependencies are dynamic (the build backend computes them); METADATA lists none')
    }
    return []
  }

  requirement(text: string, keyPath: string): string {
    return formatRequirement(parseRequirement(text, { file: this.pkg.file, keyPath }))
  }

  extras(): Map<string, string[]> {
    const out = new Map<string, string[]>()
    const add = (extra: string, req: Requirement) => {
      const name = normalizeExtra(extra)
      const marker = andMarkers(req.marker, parseMarker(`extra == "${name}"`))
      const list = out.get(name) ?? []
      list.push(formatRequirement({ ...req, marker }))
      out.set(name, list)
    }
    const optional = this.r.optTable(this.project?.['optional-dependencies'], 'project.optional-dependencies')
    if (optional) {
      for (const [extra, list] of Object.entries(optional)) {
        const at = `project.optional-dependencies.${key(extra)}`
        if (!out.has(normalizeExtra(extra))) out.set(normalizeExtra(extra), [])
        this.r
          .strings(list, at)
          .forEach((text, i) =>
            add(extra, parseRequirement(text, { file: this.pkg.file, keyPath: `${at}[${i}]` }))
          )
      }
      return out
    }
    const poetryExtras = this.r.optTable(this.poetry?.['extras'], 'tool.poetry.extras')
    const deps = this.poetryDependencies()
    if (poetryExtras) {
      const optionalDeps = deps ? this.poetryRequirements(deps).filter((d) => d.optional) : []
      for (const [extra, names] of Object.entries(poetryExtras)) {
        const at = `tool.poetry.extras.${key(extra)}`
        if (!out.has(normalizeExtra(extra))) out.set(normalizeExtra(extra), [])
        for (const written of this.r.strings(names, at)) {
          const name = normalizeName(written.replace(/\[.*$/, ''))
          const found = optionalDeps.filter((d) => d.req.name === name)
          if (found.length === 0) {
            this.note(
              `${at}: ${JSON.stringify(written)} is not an optional dependency in tool.poetry.dependencies; the extra leaves it out`
            )
          }
          for (const d of found) add(extra, d.req)
        }
      }
    } else if (this.dynamic().has('optional-dependencies')) {
      this.note(
        'the optional dependencies are dynamic (the build backend computes them); METADATA lists none'
      )
    }
    return out
  }

  /** [tool.poetry.dependencies] as poetry-core writes them into METADATA (python left out). */
  poetryRequirements(deps: TomlTable): { req: Requirement; optional: boolean }[] {
    const out: { req: Requirement; optional: boolean }[] = []
    for (const [name, spec] of Object.entries(deps)) {
      if (name.toLowerCase() === 'python') continue
      // A list is Poetry's "multiple constraints": one requirement per entry, each with its markers.
      const specs = Array.isArray(spec) ? spec : [spec]
      specs.forEach((s: unknown, i) => {
        const at = `tool.poetry.dependencies.${key(name)}${Array.isArray(spec) ? `[${i}]` : ''}`
        out.push(this.poetryRequirement(name, s, at))
      })
    }
    return out
  }

  poetryRequirement(name: string, spec: unknown, at: string): { req: Requirement; optional: boolean } {
    const parse = (text: string) => parseRequirement(text, { file: this.pkg.file, keyPath: at })
    if (typeof spec === 'string')
      return { req: parse(name + this.poetryConstraint(spec, at, name)), optional: false }
    const t = this.r.table(spec, at)
    const extras = this.r.optStrings(t['extras'], `${at}.extras`) ?? []
    const head = name + (extras.length > 0 ? `[${extras.join(',')}]` : '')
    const markers: string[] = []
    const written = this.r.optString(t['markers'], `${at}.markers`)
    if (written) markers.push(written)
    const python = this.r.optString(t['python'], `${at}.python`)
    const pythonMarker = python === undefined ? null : pythonConstraintMarker(python)
    if (pythonMarker) markers.push(pythonMarker)
    const platform = this.r.optString(t['platform'], `${at}.platform`)
    if (platform) markers.push(`sys_platform == ${JSON.stringify(platform)}`)
    const marker =
      markers.length === 0 ? '' : markers.map((m) => (markers.length > 1 ? `(${m})` : m)).join(' and ')

    let body: string
    const git = this.r.optString(t['git'], `${at}.git`)
    const url = this.r.optString(t['url'], `${at}.url`)
    if (git !== undefined) {
      const rev =
        this.r.optString(t['rev'], `${at}.rev`) ??
        this.r.optString(t['tag'], `${at}.tag`) ??
        this.r.optString(t['branch'], `${at}.branch`)
      const sub = this.r.optString(t['subdirectory'], `${at}.subdirectory`)
      const base = git.startsWith('git+') ? git : `git+${git}`
      body = `${head} @ ${base}${rev ? `@${rev}` : ''}${sub ? `#subdirectory=${sub}` : ''}${marker ? ' ' : ''}`
    } else if (url !== undefined) {
      body = `${head} @ ${url}${marker ? ' ' : ''}`
    } else if (t['path'] !== undefined) {
      // poetry-core writes a file:// URL of the build machine's directory, which means nothing in
      // the image; the package is installed here by name (it is one of the local packages).
      body = head
    } else {
      const version = this.r.optString(t['version'], `${at}.version`) ?? '*'
      body = head + this.poetryConstraint(version, `${at}.version`, name)
    }
    return {
      req: parse(marker ? `${body}; ${marker}` : body),
      optional: this.r.optBool(t['optional'], `${at}.optional`) ?? false
    }
  }

  entryPoints(): Map<string, Map<string, string>> {
    const groups = new Map<string, Map<string, string>>()
    const put = (group: string, name: string, value: string, at: string) => {
      const g = groups.get(group) ?? new Map<string, string>()
      groups.set(group, g)
      const prev = g.get(name)
      if (prev !== undefined) {
        if (prev !== value)
          this.note(`${at}: ${group} ${JSON.stringify(name)} is declared twice; the first (${prev}) is kept`)
        return
      }
      checkEntryPoint(this.pkg.file, group, name, value, at)
      g.set(name, value)
    }
    const fromTable = (group: string, table: unknown, at: string) => {
      for (const [name, value] of Object.entries(this.r.optTable(table, at) ?? {})) {
        put(group, name, this.r.string(value, `${at}.${key(name)}`), `${at}.${key(name)}`)
      }
    }
    groups.set(CONSOLE, new Map())
    groups.set(GUI, new Map())
    fromTable(CONSOLE, this.project?.['scripts'], 'project.scripts')
    fromTable(GUI, this.project?.['gui-scripts'], 'project.gui-scripts')
    const more = this.r.optTable(this.project?.['entry-points'], 'project.entry-points') ?? {}
    for (const [group, table] of Object.entries(more)) {
      const at = `project.entry-points.${key(group)}`
      if (group === CONSOLE || group === GUI) {
        this.r.fail(
          at,
          `${group} cannot be declared as an entry-point group (PEP 621)`,
          `move them to [project.${group === CONSOLE ? 'scripts' : 'gui-scripts'}]`
        )
      }
      fromTable(group, table, at)
    }
    const poetryScripts = this.r.optTable(this.poetry?.['scripts'], 'tool.poetry.scripts') ?? {}
    for (const [name, spec] of Object.entries(poetryScripts)) {
      const at = `tool.poetry.scripts.${key(name)}`
      const script = this.poetryScript(name, spec, at)
      if (script) put(CONSOLE, name, script.value, script.at)
    }
    const plugins = this.r.optTable(this.poetry?.['plugins'], 'tool.poetry.plugins') ?? {}
    for (const [group, table] of Object.entries(plugins))
      fromTable(group, table, `tool.poetry.plugins.${key(group)}`)
    for (const [group, g] of groups) if (g.size === 0) groups.delete(group)
    return groups
  }

  /** poetry-core's forms: `"mod:func"`, `{ callable = … }` (Poetry 1), `{ reference = …, type = "console" }`. */
  poetryScript(name: string, spec: unknown, at: string): { value: string; at: string } | null {
    if (typeof spec === 'string') return { value: spec, at }
    const t = this.r.table(spec, at)
    const type = this.r.optString(t['type'], `${at}.type`) ?? 'console'
    if (type === 'file') {
      this.note(
        `${at}: a script of type "file" is not installed (its file is copied by poetry build only); run it by its path`
      )
      return null
    }
    if (type !== 'console') {
      this.r.fail(
        `${at}.type`,
        `unknown script type ${JSON.stringify(type)}`,
        'use type = "console" (or "file")'
      )
    }
    const field = t['callable'] !== undefined ? 'callable' : 'reference'
    if (t[field] === undefined) {
      this.r.fail(
        at,
        'the script has neither callable nor reference',
        `write ${key(name)} = "package.module:function"`
      )
    }
    const reference = this.r.string(t[field], `${at}.${field}`)
    const extras = this.r.optStrings(t['extras'], `${at}.extras`) ?? []
    return { value: reference + (extras.length > 0 ? ` [${extras.join(', ')}]` : ''), at: `${at}.${field}` }
  }
}

/** An entry point must be an object reference; a script's needs `module:function` (pip runs it). */
function checkEntryPoint(file: string, group: string, name: string, value: string, at: string): void {
  const script = group === CONSOLE || group === GUI
  const parsed = parseExportEntry(`${name} = ${value}`)
  const badName =
    name.trim() !== name || name === '' || name.startsWith('[') || name.includes('=') || /[\0\r\n]/.test(name)
  // A script's name becomes a file name, so it must be what distlib reads as the whole name.
  const badScriptName =
    script && (parsed === null || parsed === 'invalid' || parsed.name !== name || /^\.+$/.test(name))
  if (badName || badScriptName) {
    throw new ConfigError(
      `${JSON.stringify(name)} is not a valid ${script ? 'script' : 'entry point'} name`,
      { file, keyPath: at },
      script
        ? 'name scripts with letters, digits and "-", "_", ".", "+"'
        : 'use a name without "=", not starting with "["'
    )
  }
  const ok =
    OBJECT_REFERENCE.test(value) &&
    (!script ||
      (parsed !== null &&
        parsed !== 'invalid' &&
        parsed.suffix !== null &&
        parsed.prefix === value.split(':')[0]!.trim()))
  if (!ok) {
    throw new ConfigError(
      `${JSON.stringify(value)} is not a ${script ? '"module:function" reference' : 'valid object reference'}`,
      { file, keyPath: at },
      script
        ? `write ${key(name)} = "package.module:function", naming the function the command runs`
        : `write ${key(name)} = "package.module:object"`
    )
  }
}

/** What a package's pyproject.toml says, or null (and a note) when it names no project. */
export function projectMetadata(pkg: LocalProject, notes: string[] = []): ProjectMetadata | null {
  const project = isTable(pkg.pyproject['project']) ? pkg.pyproject['project'] : undefined
  const tool = isTable(pkg.pyproject['tool']) ? pkg.pyproject['tool'] : undefined
  const poetry = tool && isTable(tool['poetry']) ? tool['poetry'] : undefined
  const m = new MetadataReader(pkg, project, poetry)
  try {
    const name = m.name()
    if (name === null) {
      m.note(
        'names no project ([project] name or [tool.poetry] name), so it is not installed (no .dist-info, no scripts)'
      )
      return null
    }
    return {
      name,
      version: m.version(),
      summary: m.summary(),
      requiresPython: m.requiresPython(),
      requires: m.requires(),
      extras: m.extras(),
      entryPoints: m.entryPoints()
    }
  } finally {
    notes.push(...m.notes)
  }
}

// ---------------------------------------------------------------------------------------------
// metadata → files

/** METADATA (core metadata 2.1): the fields importlib.metadata and pip read. */
export function metadataText(m: ProjectMetadata): string {
  const lines = ['Metadata-Version: 2.1', `Name: ${m.name}`, `Version: ${m.version}`]
  if (m.summary !== null) lines.push(`Summary: ${m.summary}`)
  if (m.requiresPython !== null) lines.push(`Requires-Python: ${m.requiresPython}`)
  for (const r of m.requires) lines.push(`Requires-Dist: ${r}`)
  for (const [extra, reqs] of m.extras) {
    lines.push(`Provides-Extra: ${extra}`)
    for (const r of reqs) lines.push(`Requires-Dist: ${r}`)
  }
  return lines.join('\n') + '\n'
}

/** entry_points.txt as setuptools writes it: console, gui, then the other groups by name. */
export function entryPointsText(groups: ProjectMetadata['entryPoints']): string {
  const rank = (g: string) => (g === CONSOLE ? 0 : g === GUI ? 1 : 2)
  const order = [...groups.keys()].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0))
  return order
    .map((g) => `[${g}]\n${[...groups.get(g)!].map(([name, value]) => `${name} = ${value}\n`).join('')}\n`)
    .join('')
}

/** Python's `urllib.parse.quote(path)`: UTF-8 bytes outside the unreserved set and `/` escaped. */
function quotePath(path: string): string {
  return [...Buffer.from(path, 'utf8')]
    .map((b) => {
      const c = String.fromCharCode(b)
      return /[A-Za-z0-9_.~/-]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`
    })
    .join('')
}

/** direct_url.json for an editable install of a directory, as pip writes it (sorted keys). */
export function directUrlText(dirInImage: string): string {
  return `{"dir_info": {"editable": true}, "url": ${JSON.stringify(`file://${quotePath(dirInImage)}`)}}`
}

function checkAbsolute(path: string, what: string, file?: string): void {
  if (
    !path.startsWith('/') ||
    posix.normalize(path) !== path ||
    (path !== '/' && path.endsWith('/')) ||
    /[\0\r\n]/.test(path)
  ) {
    throw new ConfigError(
      `${what} must be a normalized absolute path inside the image, not ${JSON.stringify(path)}`,
      file ? { file } : {},
      `give ${what} as an absolute path such as /app`
    )
  }
}

function under(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

interface PlannedFile {
  /** Absolute in the image. */
  readonly path: string
  readonly bytes: Buffer
  readonly executable: boolean
}

/**
 * The files an editable install of each package leaves in site-packages and the scripts
 * directory. Packages are taken in order: a later package with an already-installed name is
 * skipped, and a script a package before it already wrote is left as the first wrote it (both with
 * a note), so list the project first.
 */
export function projectInstallFiles(input: {
  readonly packages: readonly LocalProject[]
  readonly layout: ProjectInstallLayout
}): ProjectInstall {
  const { layout } = input
  checkAbsolute(layout.sitePackages, 'the site-packages directory')
  checkAbsolute(layout.scripts, 'the scripts directory')
  const notes: string[] = []
  const files: PlannedFile[] = []
  const scripts = new Map<string, string>() // script path → the package that wrote it
  const distributions: InstalledDistribution[] = []
  const installed = new Map<NormalizedName, string>()

  for (const pkg of input.packages) {
    checkAbsolute(pkg.dirInImage, 'the package directory', pkg.file)
    for (const root of pkg.importRoots) checkAbsolute(root, 'an import root', pkg.file)
    const meta = projectMetadata(pkg, notes)
    if (meta === null) continue
    const normalized = normalizeName(meta.name)
    const first = installed.get(normalized)
    if (first !== undefined) {
      notes.push(`${pkg.file}: ${meta.name} is already installed from ${first}; this one is skipped`)
      continue
    }
    installed.set(normalized, pkg.file)

    const distInfo = distInfoName(meta.name, meta.version)
    const stem = distInfo.slice(0, -'.dist-info'.length)
    const own: PlannedFile[] = []
    const text = (path: string, content: string, executable = false) =>
      own.push({ path, bytes: Buffer.from(content, 'utf8'), executable })
    const inDistInfo = (name: string) => under(under(layout.sitePackages, distInfo), name)

    text(inDistInfo('METADATA'), metadataText(meta))
    text(inDistInfo('INSTALLER'), `${INSTALLER}\n`)
    text(inDistInfo('direct_url.json'), directUrlText(pkg.dirInImage))
    if (meta.entryPoints.size > 0) text(inDistInfo('entry_points.txt'), entryPointsText(meta.entryPoints))
    // site.py adds each existing directory a .pth line names to sys.path, after PYTHONPATH: the
    // package imports wherever the interpreter runs from, as after `pip install -e`.
    if (pkg.importRoots.length > 0) {
      text(
        under(layout.sitePackages, `__editable__.${stem}.pth`),
        [...new Set(pkg.importRoots)].map((r) => `${r}\n`).join('')
      )
    }
    for (const group of [CONSOLE, GUI]) {
      for (const [name, value] of meta.entryPoints.get(group) ?? []) {
        const path = under(layout.scripts, name)
        const by = scripts.get(path)
        if (by !== undefined) {
          notes.push(`${pkg.file}: the script ${name} is already installed from ${by}; this one is skipped`)
          continue
        }
        const entry = parseExportEntry(`${name} = ${value}`)
        // checkEntryPoint has refused anything else.
        if (entry === null || entry === 'invalid') throw new Error(`unreachable: ${name} = ${value}`)
        scripts.set(path, pkg.file)
        own.push({
          path,
          bytes: entryPointScript(entry, layout.interpreter, layout.pip ?? 'pip-23'),
          executable: true
        })
      }
    }

    const recordPath = inDistInfo('RECORD')
    const rows: RecordRow[] = own.map((f) => ({
      path: posix.relative(layout.sitePackages, f.path),
      hash: recordHash(createHash('sha256').update(f.bytes).digest()),
      size: String(f.bytes.length)
    }))
    // RECORD lists itself last, without a hash (it cannot hold its own).
    const record =
      formatRecord(rows) +
      formatRecord([{ path: posix.relative(layout.sitePackages, recordPath), hash: '', size: '' }])
    text(recordPath, record)
    files.push(...own)
    distributions.push({
      name: meta.name,
      version: meta.version,
      distInfo: under(layout.sitePackages, distInfo)
    })
  }

  return {
    entries: layerEntries(files),
    scripts: [...scripts.keys()].sort(compare),
    distributions,
    notes
  }
}

/** Every directory above the files, then the files, sorted by path (relative to the image root). */
function layerEntries(files: readonly PlannedFile[]): LayerEntry[] {
  const dirs = new Set<string>()
  for (const f of files) {
    const parts = f.path.slice(1).split('/')
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'))
  }
  const entries: LayerEntry[] = [...dirs].map((path) => ({ type: 'dir' as const, path }))
  for (const f of files) {
    const bytes = f.bytes
    entries.push({
      type: 'file',
      path: f.path.slice(1),
      executable: f.executable,
      size: bytes.length,
      content: () => bytes
    })
  }
  return entries.sort((a, b) => compare(a.path, b.path))
}
