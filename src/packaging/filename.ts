// Wheel and sdist file names (PEP 427, PEP 425, the binary and source distribution format specs).
// `parseWheelFilename` accepts exactly what `packaging.utils.parse_wheel_filename` accepts and
// returns the same name, build tag and tag set; the tests compare the two on every wheel in the
// lock corpus.
import { parseVersion } from '../pep440.js'
import { normalizeName, type NormalizedName } from '../names.js'

/** One compatibility tag, `interpreter-abi-platform`, lowercase as packaging's `Tag` keeps it. */
export type Tag = `${string}-${string}-${string}`

export interface TagParts {
  readonly interpreter: string
  readonly abi: string
  readonly platform: string
}

export function formatTag(t: TagParts): Tag {
  return `${t.interpreter}-${t.abi}-${t.platform}`.toLowerCase() as Tag
}

/**
 * PEP 427 build tag: the leading digits as a number and the rest as a string, compared as the
 * pair (packaging's `BuildTag`). A wheel without one sorts before any wheel with one.
 */
export interface BuildTag {
  readonly number: number
  readonly rest: string
}

export interface WheelFilename {
  readonly filename: string
  /** PEP 503 normalized (the file name writes it with `_` for runs of `-_.`). */
  readonly distribution: NormalizedName
  /** The version as written in the file name; a valid PEP 440 version. */
  readonly version: string
  readonly build: BuildTag | null
  /** The expanded tag set: `py2.py3-none-any` gives `py2-none-any` and `py3-none-any`. Distinct, in expansion order. */
  readonly tags: readonly Tag[]
}

/**
 * Expand a (possibly compressed) tag set such as `cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64`
 * into its tags. Null when the text is not three `-`-separated parts.
 */
export function parseTagSet(text: string): Tag[] | null {
  const parts = text.split('-')
  if (parts.length !== 3) return null
  const [interpreters, abis, platforms] = parts as [string, string, string]
  const out = new Set<Tag>()
  for (const i of interpreters.split('.'))
    for (const a of abis.split('.'))
      for (const p of platforms.split('.')) out.add(formatTag({ interpreter: i, abi: a, platform: p }))
  return [...out]
}

// packaging: `"__" in name or not re.match(r"^[\w\d._]*$", name, re.UNICODE)`; Python's Unicode
// `\w` is letters, numbers and `_`.
const NAME_PART = /^[\p{L}\p{N}_.]*$/u
const BUILD_TAG = /^([0-9]+)(.*)$/s

/** Parse a wheel file name; null when packaging would raise `InvalidWheelFilename`. */
// Planning asks for the same file names once per target and variant; parses are memoized
// (bounded, since a long-lived process may see many locks).
const parsed = new Map<string, WheelFilename | null>()
const MAX_MEMO = 200_000

export function parseWheelFilename(filename: string): WheelFilename | null {
  const hit = parsed.get(filename)
  if (hit !== undefined) return hit
  const result = parseWheelFilenameUncached(filename)
  if (parsed.size >= MAX_MEMO) parsed.clear()
  parsed.set(filename, result)
  return result
}

function parseWheelFilenameUncached(filename: string): WheelFilename | null {
  if (!filename.endsWith('.whl')) return null
  const stem = filename.slice(0, -'.whl'.length)
  const fields = stem.split('-')
  const dashes = fields.length - 1
  if (dashes !== 4 && dashes !== 5) return null
  const [namePart, versionPart] = fields as [string, string, ...string[]]
  if (namePart.includes('__') || !NAME_PART.test(namePart)) return null
  if (parseVersion(versionPart.trim()) === null) return null
  let build: BuildTag | null = null
  if (dashes === 5) {
    const m = BUILD_TAG.exec(fields[2]!)
    if (!m) return null
    build = { number: Number(m[1]), rest: m[2]! }
  }
  const tags = parseTagSet(fields.slice(-3).join('-'))
  if (!tags) return null
  return { filename, distribution: normalizeName(namePart), version: versionPart, build, tags }
}

/** Order of build tags as pip uses it: none < any; then by number, then by the rest (code points). */
export function compareBuildTags(a: BuildTag | null, b: BuildTag | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1
  if (a.number !== b.number) return a.number < b.number ? -1 : 1
  return compareCodePoints(a.rest, b.rest)
}

/** Plain code-point order, the same in every locale (unlike `localeCompare`). */
export function compareCodePoints(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * Archive suffixes pip unpacks as source distributions (its `ARCHIVE_EXTENSIONS` without `.whl`).
 * Modern sdists are `.tar.gz` (and `.zip` before PEP 625); old releases on PyPI have the others.
 */
export const SDIST_SUFFIXES = [
  '.tar.gz',
  '.tgz',
  '.tar',
  '.zip',
  '.tar.bz2',
  '.tbz',
  '.tar.xz',
  '.txz',
  '.tlz',
  '.tar.lz',
  '.tar.lzma'
] as const

function sdistStem(filename: string): string | null {
  const lower = filename.toLowerCase()
  for (const s of SDIST_SUFFIXES) if (lower.endsWith(s)) return filename.slice(0, -s.length)
  return null
}

export function isSdistFilename(filename: string): boolean {
  return sdistStem(filename) !== null
}

export interface SdistFilename {
  readonly filename: string
  readonly distribution: NormalizedName
  readonly version: string
}

/**
 * `name-version.tar.gz` → name and version, split at the last `-` as packaging's
 * `parse_sdist_filename` does (a PEP 440 version has no `-` in its normal form). Unlike packaging,
 * every suffix of `SDIST_SUFFIXES` is accepted, since old locks list `.tar.bz2` and `.tgz` files.
 * Null when there is no `-` or the version is not PEP 440.
 */
export function parseSdistFilename(filename: string): SdistFilename | null {
  const stem = sdistStem(filename)
  if (stem === null) return null
  const dash = stem.lastIndexOf('-')
  if (dash < 0) return null
  const version = stem.slice(dash + 1)
  if (parseVersion(version.trim()) === null) return null
  return { filename, distribution: normalizeName(stem.slice(0, dash)), version }
}

/** The version in a wheel or sdist file name, or null when the name is neither. */
export function filenameVersion(filename: string): string | null {
  return parseWheelFilename(filename)?.version ?? parseSdistFilename(filename)?.version ?? null
}
