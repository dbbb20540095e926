// Every file name in the lock corpus, against Python's packaging: each wheel name parses to
// what `packaging.utils.parse_wheel_filename` gives, and for each locked release with wheels the
// wheel chooseWheel picks is the one packaging ranks best (same tie rules; see
// __tests__/support/packaging_tags.py). One Python run for the whole file.
import { describe, expect, it } from '@jest/globals'
import { versionsEqual as eq } from '../../src/pep440.js'
import { normalizeName } from '../../src/names.js'
import type { Target } from '../../src/target.js'
import { isSdistFilename, parseSdistFilename, parseWheelFilename } from '../../src/packaging/filename.js'
import { chooseWheel } from '../../src/packaging/tags.js'
import { corpusReleases } from '../support/corpus-files.js'
import { askPackaging, referenceTarget } from '../support/packaging-tags.js'

const t = (
  minor: number,
  architecture: 'amd64' | 'arm64',
  family: 'glibc' | 'musl',
  lmajor: number,
  lminor: number
): Target => ({
  python: { major: 3, minor, patch: undefined },
  platform: { os: 'linux', architecture },
  libc: { family, major: lmajor, minor: lminor }
})

const TARGETS: Array<[string, Target]> = [
  ['python 3.11, linux/amd64, glibc 2.36', t(11, 'amd64', 'glibc', 2, 36)],
  ['python 3.12, linux/arm64, glibc 2.28', t(12, 'arm64', 'glibc', 2, 28)],
  ['python 3.13, linux/amd64, musl 1.2', t(13, 'amd64', 'musl', 1, 2)],
  ['python 3.9, linux/amd64, glibc 2.17', t(9, 'amd64', 'glibc', 2, 17)]
]

// Names packaging refuses or treats specially, next to the corpus's real ones.
const EDGE_CASES = [
  'foo-1.0-py3-none-any.whl',
  'Foo.Bar-1.0-py3-none-any.whl',
  'café-1.0-py3-none-any.whl',
  '-1.0-py3-none-any.whl',
  'foo__bar-1.0-py3-none-any.whl',
  'fo o-1.0-py3-none-any.whl',
  'foo-bar-1.0-py3-none-any.whl',
  'foo-1.0-1-py3-none-any.whl',
  'foo-1.0-12_a-py3-none-any.whl',
  'foo-1.0-abc-py3-none-any.whl',
  'foo-1.0-٣-py3-none-any.whl',
  'foo-١.0-py3-none-any.whl',
  'foo-v1.0-py3-none-any.whl',
  'foo-1.0.RC1-py3-none-any.whl',
  'foo-1.0_1-py3-none-any.whl',
  'foo-1.0+local.7-py3-none-any.whl',
  'foo-1!2.0.dev3-py3-none-any.whl',
  'foo-1.0--none-any.whl',
  'foo-1.0-py3-none-any.WHL',
  'foo-1.0-py3-none.whl',
  'foo-1.0.whl',
  'foo-1.0-Py3.PY2-NONE-Any.whl',
  'foo-1.0-py3.py3-none-any.whl'
]

const releases = corpusReleases()
const wheelNames = [...new Set(releases.flatMap((r) => r.files.filter((f) => f.endsWith('.whl'))))].sort()
const withWheels = releases.filter((r) => r.files.some((f) => f.endsWith('.whl')))
const parseNames = [...wheelNames, ...EDGE_CASES]
const reference = askPackaging({
  targets: TARGETS.map(([, target]) => referenceTarget(target)),
  parse: parseNames,
  choose: TARGETS.flatMap((_, i) => withWheels.map((r) => ({ target: i, files: r.files })))
})

describe('the lock corpus', () => {
  it('is the size we expect', () => {
    expect(releases.length).toBeGreaterThan(1500)
    expect(wheelNames.length).toBeGreaterThan(5000)
    console.log(
      `corpus: ${releases.length} releases, ${withWheels.length} with wheels, ${wheelNames.length} distinct wheel names`
    )
  })

  it('every wheel name parses, as packaging parses it', () => {
    const mismatches: string[] = []
    parseNames.forEach((name, i) => {
      const ours = parseWheelFilename(name)
      const theirs = reference.parse[i]!
      const oursView =
        ours === null
          ? 'error'
          : {
              name: ours.distribution,
              build: ours.build ? [ours.build.number, ours.build.rest] : null,
              tags: [...ours.tags].sort()
            }
      const theirsView = 'error' in theirs ? 'error' : theirs
      if (JSON.stringify(oursView) !== JSON.stringify(theirsView))
        mismatches.push(`${name}: ours ${JSON.stringify(oursView)}, packaging ${JSON.stringify(theirsView)}`)
    })
    expect(mismatches).toEqual([])
    for (const name of wheelNames) expect(parseWheelFilename(name)).not.toBeNull()
  })

  it('every other file is an sdist of the locked name and version', () => {
    const wrong: string[] = []
    let sdists = 0
    for (const r of releases) {
      for (const f of r.files.filter((f) => !f.endsWith('.whl'))) {
        sdists++
        const sdist = isSdistFilename(f) ? parseSdistFilename(f) : null
        if (
          !sdist ||
          sdist.distribution !== normalizeName(r.name) ||
          (r.version !== null && !eq(sdist.version, r.version))
        )
          wrong.push(`${r.id}: ${f}`)
      }
    }
    expect(wrong).toEqual([])
    expect(sdists).toBeGreaterThan(1000)
  })

  it.each(TARGETS.map(([label, target], i) => [label, target, i] as const))(
    'chooseWheel agrees with packaging for every release with wheels: %s',
    (_label, target, i) => {
      const mismatches: string[] = []
      let compatible = 0
      withWheels.forEach((r, j) => {
        const theirs = reference.choose[i * withWheels.length + j] ?? null
        const ours = chooseWheel(
          r.files.map((name) => ({ name })),
          target
        )
        if (theirs) compatible++
        const oursView = ours ? { file: ours.file.name, rank: ours.rank } : null
        if (JSON.stringify(oursView) !== JSON.stringify(theirs))
          mismatches.push(`${r.id}: ours ${JSON.stringify(oursView)}, packaging ${JSON.stringify(theirs)}`)
      })
      expect(mismatches).toEqual([])
      // The comparison is not vacuous: most releases have a wheel for any of these targets.
      expect(compatible).toBeGreaterThan(withWheels.length * 0.8)
    }
  )
})
