// The metadata a wheel carries in its `.dist-info` directory, read as pip reads it: the one
// `<name>-<version>.dist-info` directory, `WHEEL` (Wheel-Version, Root-Is-Purelib) and
// `entry_points.txt` (console and GUI scripts). Wheel-Version must be 1.x (pip also takes 0.x and
// warns above 1.0).
import { normalizeName, type NormalizedName } from '../../names.js'
import { WheelError } from '../wheel-error.js'
import type { ZipReader } from '../zip.js'
import { PY_LINES, pyStrip } from './python-str.js'

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

/** A text file of the wheel, which must exist and be UTF-8. */
export async function readText(zip: ZipReader, path: string, wheel: string): Promise<string> {
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

/** The one `.dist-info` directory, which must belong to the project the file name names. */
export function findDistInfo(names: readonly string[], name: NormalizedName, wheel: string): string {
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
