// Which wheels a target interpreter accepts, and which one an installer picks.
//
// `supportedTags` is `packaging.tags.sys_tags()` as it would run on the target: a release (non-debug,
// GIL) CPython build of `target.python` on Linux, linked against the target's C library, with no
// `_manylinux` override module installed. The tests compare it, in order, with packaging's own
// functions run for the same target. The rules mirrored, with their sources in packaging 26.2:
//
// - tags.cpython_tags: `cpXY-cpXY-P` for every platform P, then `cpXY-abi3-P`, `cpXY-none-P`, then
//   `cpXW-abi3-P` for every older minor W down to 2 (abi3 came with 3.2). The ABI is `cpXY` from
//   3.8 on; before 3.8 pymalloc adds `m` (`cp37m`) and before 3.3 wide unicode adds `u`.
// - tags.compatible_tags with interpreter `cpXY`: `pyXY-none-P`, `pyX-none-P`, `pyXW-none-P` for
//   W = Y-1 … 0 (each for every P), then `cpXY-none-any`, then `pyXY-none-any`, `pyX-none-any`,
//   `pyXW-none-any`.
// - tags._linux_platforms: manylinux platforms, then musllinux ones, then `linux_<arch>`.
// - _manylinux.platform_tags: `manylinux_2_N_<arch>` for N from the glibc minor down to 17, or
//   down to 5 on x86_64 (and i686); the legacy alias follows its version right away:
//   manylinux2014 after 2_17, manylinux2010 after 2_12, manylinux1 after 2_5 (so aarch64 gets only
//   manylinux2014). A glibc older than that minimum gives no manylinux tag at all. For a glibc 3.x,
//   every 3.N down to 3.0 comes first, then 2.50 (packaging's guess of the last 2.x) downwards.
// - _musllinux.platform_tags: `musllinux_<major>_N_<arch>` for N from the musl minor down to 0.
import { machineOf, type Target } from '../target.js'
import {
  compareBuildTags,
  compareCodePoints,
  parseWheelFilename,
  type Tag,
  type WheelFilename
} from './filename.js'

export type { Tag } from './filename.js'

/** Oldest glibc minor (of 2.x) with manylinux wheels per architecture; see `too_old_glibc2`. */
function minimumGlibcMinor(machine: string): number {
  return machine === 'x86_64' || machine === 'i686' ? 5 : 17
}

/** packaging's `_LAST_GLIBC_MINOR`: a guess for every past major, since glibc 3 does not exist yet. */
const LAST_GLIBC_MINOR = 50

const LEGACY_MANYLINUX: ReadonlyMap<string, string> = new Map([
  ['2.17', 'manylinux2014'],
  ['2.12', 'manylinux2010'],
  ['2.5', 'manylinux1']
])

/** The platform tags of a Linux target, most specific first (`_linux_platforms`). */
export function platformTags(target: Target): string[] {
  const arch = machineOf(target.platform)
  const { family, major, minor } = target.libc
  const out: string[] = []
  if (family === 'glibc') {
    const maxima: Array<[number, number]> = [[major, minor]]
    for (let m = major - 1; m > 1; m--) maxima.push([m, LAST_GLIBC_MINOR])
    for (const [glibcMajor, glibcMax] of maxima) {
      // Only 2.x has a floor; older minors of later majors all count (down to N.0).
      const floor = glibcMajor === 2 ? minimumGlibcMinor(arch) : 0
      for (let n = glibcMax; n >= floor; n--) {
        out.push(`manylinux_${glibcMajor}_${n}_${arch}`)
        const legacy = LEGACY_MANYLINUX.get(`${glibcMajor}.${n}`)
        if (legacy) out.push(`${legacy}_${arch}`)
      }
    }
  } else {
    for (let n = minor; n >= 0; n--) out.push(`musllinux_${major}_${n}_${arch}`)
  }
  out.push(`linux_${arch}`)
  return out
}

/** The ABI of a release CPython build (`_cpython_abis` with Py_DEBUG off and the build defaults). */
function cpythonAbi(major: number, minor: number): string {
  const nodot = `${major}${minor}`
  if (major > 3 || (major === 3 && minor >= 8)) return `cp${nodot}`
  const wide = major < 3 || (major === 3 && minor < 3) ? 'u' : ''
  return `cp${nodot}m${wide}`
}

/** Python versions for `py*` tags: `pyXY`, `pyX`, then `pyXW` for W = Y-1 … 0. */
function pyInterpreterRange(major: number, minor: number): string[] {
  const out = [`py${major}${minor}`, `py${major}`]
  for (let w = minor - 1; w >= 0; w--) out.push(`py${major}${w}`)
  return out
}

/** Every tag the target accepts, most preferred first, as `packaging.tags.sys_tags()` orders them there. */
export function supportedTags(target: Target): Tag[] {
  const { major, minor } = target.python
  const platforms = platformTags(target)
  const interpreter = `cp${major}${minor}`
  const tags: Tag[] = []
  const add = (i: string, abi: string, p: string): void => {
    tags.push(`${i}-${abi}-${p}`)
  }

  // cpython_tags
  const abi3 = major > 3 || (major === 3 && minor >= 2)
  for (const p of platforms) add(interpreter, cpythonAbi(major, minor), p)
  if (abi3) for (const p of platforms) add(interpreter, 'abi3', p)
  for (const p of platforms) add(interpreter, 'none', p)
  if (abi3) for (let w = minor - 1; w > 1; w--) for (const p of platforms) add(`cp${major}${w}`, 'abi3', p)

  // compatible_tags
  const pys = pyInterpreterRange(major, minor)
  for (const py of pys) for (const p of platforms) add(py, 'none', p)
  add(interpreter, 'none', 'any')
  for (const py of pys) add(py, 'none', 'any')
  return tags
}

function targetKey(target: Target): string {
  const { python, platform, libc } = target
  return `${python.major}.${python.minor}/${platform.os}/${platform.architecture}/${libc.family}-${libc.major}.${libc.minor}`
}

const rankCache = new Map<string, ReadonlyMap<string, number>>()
// Callers pass the same Target object for thousands of files; skip building the key for them.
const rankByObject = new WeakMap<Target, ReadonlyMap<string, number>>()

/** Tag → position in `supportedTags(target)` (0 is best); built once per target. */
export function tagRanks(target: Target): ReadonlyMap<string, number> {
  const known = rankByObject.get(target)
  if (known) return known
  const key = targetKey(target)
  let ranks = rankCache.get(key)
  if (!ranks) {
    const m = new Map<string, number>()
    supportedTags(target).forEach((t, i) => {
      if (!m.has(t)) m.set(t, i)
    })
    ranks = m
    rankCache.set(key, ranks)
  }
  rankByObject.set(target, ranks)
  return ranks
}

/** The best (lowest) rank among a wheel's tags, or null when the target accepts none of them. */
export function wheelRank(wheel: WheelFilename, target: Target): number | null {
  const ranks = tagRanks(target)
  let best: number | null = null
  for (const t of wheel.tags) {
    const r = ranks.get(t)
    if (r !== undefined && (best === null || r < best)) best = r
  }
  return best
}

/** Whether the target can install the wheel of this file name (false for anything that is not a wheel). */
export function wheelSupports(filename: string, target: Target): boolean {
  const wheel = parseWheelFilename(filename)
  return wheel !== null && wheelRank(wheel, target) !== null
}

export interface ChosenWheel<F> {
  readonly file: F
  readonly wheel: WheelFilename
  /** Position of the wheel's best tag in `supportedTags(target)`; 0 is best. */
  readonly rank: number
}

/**
 * The wheel an installer picks for the target among one release's files: the best-ranked
 * compatible tag wins; at equal rank the higher build tag wins (as in pip's candidate sort key);
 * then the smaller file name, so the choice never depends on the order of `files`. Files that
 * are not wheels, or not valid wheel names, are ignored. Null when no wheel fits.
 */
export function chooseWheel<F extends { readonly name: string }>(
  files: readonly F[],
  target: Target
): ChosenWheel<F> | null {
  let best: ChosenWheel<F> | null = null
  const ranks = tagRanks(target)
  for (const file of files) {
    if (!file.name.endsWith('.whl')) continue
    // Most of a release's wheels are for other platforms or interpreters: look their tags up
    // before paying for a full, validating parse of the name.
    if (!mayFit(file.name, ranks)) continue
    const wheel = parseWheelFilename(file.name)
    if (!wheel) continue
    const rank = wheelRank(wheel, target)
    if (rank === null) continue
    if (best === null || better(rank, wheel, best)) best = { file, wheel, rank }
  }
  return best
}

const LINUX_OR_ANY = /linux|any\.whl$/i

/** Whether any tag in the file name's tag triple is in `ranks` (a cheap, non-validating look). */
function mayFit(filename: string, ranks: ReadonlyMap<string, number>): boolean {
  // Linux targets only accept linux platform tags or `any`; most rejected wheels stop here.
  if (!LINUX_OR_ANY.test(filename)) return false
  const fields = filename.slice(0, -4).toLowerCase().split('-')
  const n = fields.length
  if (n !== 5 && n !== 6) return true // let the full parse decide
  const platforms = fields[n - 1]!.split('.')
  const abis = fields[n - 2]!.split('.')
  for (const py of fields[n - 3]!.split('.')) {
    for (const abi of abis) {
      for (const plat of platforms) if (ranks.has(`${py}-${abi}-${plat}`)) return true
    }
  }
  return false
}

function better(rank: number, wheel: WheelFilename, than: ChosenWheel<unknown>): boolean {
  if (rank !== than.rank) return rank < than.rank
  const build = compareBuildTags(wheel.build, than.wheel.build)
  if (build !== 0) return build > 0
  return compareCodePoints(wheel.filename, than.wheel.filename) < 0
}
