// Where pip installs each file of a wheel, and what it generates (pure): Root-Is-Purelib picks
// purelib or platlib for the wheel's top level; `<x>.data/<key>/...` go to the scheme paths
// (purelib, platlib, scripts, data, headers), headers under `<headers>/<project>`; `.data/scripts`
// files get their `#!python` line fixed, except those named like an entry point (left out);
// console_scripts and gui_scripts become wrappers; then INSTALLER, REQUESTED and RECORD.
//
// A file is executable when the zip records a regular-file mode with any x bit (pip's
// `zip_item_is_executable`); data scripts keep the zip's mode (pip adds no x bit, though the spec
// lets installers); generated wrappers are executable; INSTALLER, REQUESTED and RECORD are not.
//
// Entry names are checked more strictly than pip does: backslashes, absolute paths, NUL and
// anything that normalizes outside its install directory are refused (pip compares string
// prefixes only). No `direct_url.json` (an image installs from an index, not a local file).
import { posix } from 'node:path'
import type { NormalizedName } from '../../names.js'
import { checkEntryPath } from '../../oci/tar.js'
import { WheelError } from '../wheel-error.js'
import { under, type PythonLayout } from './layout.js'
import type { EntryPoint } from './metadata.js'
import {
  consoleScriptSpecs,
  entryPointScript,
  isEntryPointWrapper,
  parseExportEntry,
  type PipFlavour
} from './scripts.js'

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
 * The directory under `<headers>` that pip names after the requirement: the wheel file name's
 * project part with `_` turned into `-` (pip 23-24), or the normalized name (pip 26).
 */
export function headersName(filename: string, name: NormalizedName, pip: PipFlavour): string {
  return pip === 'pip-26' ? name : filename.split('-', 1)[0]!.replace(/_/g, '-')
}

/** Where pip installs each file of the wheel, and what it generates. Throws WheelError. */
export function planInstall(input: PlanInput): InstallPlan {
  const libDir = input.rootIsPurelib ? input.layout.purelib : input.layout.platlib
  const distInfo = under(libDir, input.infoDir)
  const planned = (dest: string, executable: boolean, source: PlannedSource): PlannedFile => ({
    dest,
    recordPath: posix.relative(libDir, dest),
    executable,
    source
  })
  const scripts = scriptEntryPoints(input.entryPoints)
  // pip's order: root files, other .data files, .data/scripts; then generated wrappers, INSTALLER,
  // REQUESTED, RECORD. A later file for the same destination replaces an earlier one.
  const files = lastWins([
    ...wheelFiles(input, libDir, scripts, planned),
    ...wrapperFiles(input, scripts, planned),
    ...metadataFiles(input, distInfo, planned)
  ])
  checkPaths(files, input.wheel)
  return { libDir, distInfo, files }
}

type Planned = (dest: string, executable: boolean, source: PlannedSource) => PlannedFile

interface ScriptEntryPoints {
  /** console_scripts: name → value. */
  readonly console: ReadonlyMap<string, string>
  /** gui_scripts: name → value. */
  readonly gui: ReadonlyMap<string, string>
  /** Every script name of both groups. */
  readonly names: ReadonlySet<string>
}

function scriptEntryPoints(entryPoints: readonly EntryPoint[]): ScriptEntryPoints {
  const console = new Map<string, string>()
  const gui = new Map<string, string>()
  for (const ep of entryPoints) {
    if (ep.group === 'console_scripts') console.set(ep.name, ep.value)
    else if (ep.group === 'gui_scripts') gui.set(ep.name, ep.value)
  }
  return { console, gui, names: new Set([...console.keys(), ...gui.keys()]) }
}

/** The wheel's own files in pip's order: root files, other `.data` files, `.data/scripts`. */
function wheelFiles(
  input: PlanInput,
  libDir: string,
  scripts: ScriptEntryPoints,
  planned: Planned
): PlannedFile[] {
  const groups: Record<'root' | 'data' | 'scripts', PlannedFile[]> = { root: [], data: [], scripts: [] }
  for (const e of input.entries) {
    if (e.isDirectory) continue
    const segs = entrySegments(e.name, input.wheel)
    if (!e.name.split('/', 1)[0]!.endsWith('.data')) {
      const source = { kind: 'entry', entry: e.name, fixShebang: false } as const
      groups.root.push(planned(under(libDir, segs.join('/')), e.executable, source))
      continue
    }
    const dest = dataDestination(e.name, segs, input)
    const raw = e.name.split('/')
    if (raw.length <= 2 || raw[1] !== 'scripts') {
      groups.data.push(planned(dest, e.executable, { kind: 'entry', entry: e.name, fixShebang: false }))
    } else if (!isEntryPointWrapper(dest, scripts.names)) {
      groups.scripts.push(planned(dest, e.executable, { kind: 'entry', entry: e.name, fixShebang: true }))
    }
  }
  return [...groups.root, ...groups.data, ...groups.scripts]
}

/** Where `<x>.data/<scheme key>/<path>` goes. */
function dataDestination(name: string, segs: readonly string[], input: PlanInput): string {
  const fix = 'rebuild the wheel; only purelib/, platlib/, scripts/, data/ and headers/ may be under .data'
  if (segs.length < 3) {
    throw new WheelError(
      `unexpected file ${JSON.stringify(name)} in the .data directory (contents must be named <scheme key>/<path>)`,
      input.wheel,
      fix,
      name
    )
  }
  const key = segs[1]!
  if (!(SCHEME_KEYS as readonly string[]).includes(key)) {
    throw new WheelError(
      `unknown scheme key ${JSON.stringify(key)} in ${JSON.stringify(name)} (valid: ${SCHEME_KEYS.join(', ')})`,
      input.wheel,
      fix,
      name
    )
  }
  const { layout } = input
  const schemePaths: Record<SchemeKey, string> = {
    data: layout.data,
    headers: under(layout.headers, input.headersName),
    platlib: layout.platlib,
    purelib: layout.purelib,
    scripts: layout.scripts
  }
  return under(schemePaths[key as SchemeKey], segs.slice(2).join('/'))
}

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

/** The wrappers pip writes for console_scripts (with versioned pip/easy_install) and gui_scripts. */
function wrapperFiles(input: PlanInput, scripts: ScriptEntryPoints, planned: Planned): PlannedFile[] {
  const { layout, wheel, infoDir } = input
  const specs = [
    ...consoleScriptSpecs(scripts.console, layout.python),
    ...[...scripts.gui].map(([k, v]) => `${k} = ${v}`)
  ]
  return specs.map((spec) => {
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
    const content = entryPointScript(entry, layout.interpreter, input.pip)
    return planned(under(layout.scripts, entry.name), true, { kind: 'generated', content })
  })
}

/** INSTALLER, REQUESTED (only when asked for directly, as pip writes it) and RECORD, last. */
function metadataFiles(input: PlanInput, distInfo: string, planned: Planned): PlannedFile[] {
  const installer = Buffer.from(`${input.installer}\n`)
  return [
    planned(under(distInfo, 'INSTALLER'), false, { kind: 'generated', content: installer }),
    ...(input.requested
      ? [planned(under(distInfo, 'REQUESTED'), false, { kind: 'generated', content: Buffer.alloc(0) })]
      : []),
    planned(under(distInfo, 'RECORD'), false, { kind: 'record' })
  ]
}

/** One file per destination: the last in the list wins, at its own position. */
function lastWins(files: readonly PlannedFile[]): PlannedFile[] {
  const winners = new Map<string, PlannedFile>()
  for (const f of files) {
    winners.delete(f.dest)
    winners.set(f.dest, f)
  }
  return [...winners.values()]
}

/** Every destination is a valid layer path, and no path is both a file and a directory. */
function checkPaths(files: readonly PlannedFile[], wheel: string): void {
  const byDest = new Map(files.map((f) => [f.dest, f]))
  for (const f of files) checkEntryPath(f.dest.slice(1))
  for (const f of files) {
    for (let d = posix.dirname(f.dest); d !== '/' && d !== '.'; d = posix.dirname(d)) {
      const clash = byDest.get(d)
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
}
