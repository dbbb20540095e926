import { describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import type { Target } from '../../src/target.js'
import { chooseWheel, supportedTags, tagRanks, wheelSupports } from '../../src/packaging/tags.js'

const LINUX_311: Target = {
  python: { major: 3, minor: 11, patch: 7 },
  platform: { os: 'linux', architecture: 'amd64' },
  libc: { family: 'glibc', major: 2, minor: 36 }
}
const MUSL_312_ARM: Target = {
  python: { major: 3, minor: 12, patch: undefined },
  platform: { os: 'linux', architecture: 'arm64' },
  libc: { family: 'musl', major: 1, minor: 2 }
}

const files = (...names: string[]) => names.map((name) => ({ name }))

describe('chooseWheel', () => {
  const numpy = files(
    'numpy-2.2.0.tar.gz',
    'numpy-2.2.0-cp311-cp311-macosx_14_0_arm64.whl',
    'numpy-2.2.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
    'numpy-2.2.0-cp311-cp311-musllinux_1_2_x86_64.whl',
    'numpy-2.2.0-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl',
    'numpy-2.2.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
    'numpy-2.2.0-cp312-cp312-musllinux_1_2_aarch64.whl',
    'numpy-2.2.0-cp311-cp311-win_amd64.whl'
  )

  it('picks the platform wheel for the interpreter, libc and architecture', () => {
    expect(chooseWheel(numpy, LINUX_311)?.file.name).toBe(
      'numpy-2.2.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl'
    )
    expect(chooseWheel(numpy, MUSL_312_ARM)?.file.name).toBe(
      'numpy-2.2.0-cp312-cp312-musllinux_1_2_aarch64.whl'
    )
  })

  it('returns the rank: the position of the best tag in supportedTags', () => {
    const chosen = chooseWheel(numpy, LINUX_311)!
    expect(supportedTags(LINUX_311)[chosen.rank]).toBe('cp311-cp311-manylinux_2_17_x86_64')
    expect(chosen.wheel.distribution).toBe('numpy')
  })

  it('prefers the newer manylinux, then abi3, over a pure wheel', () => {
    const choice = files(
      'x-1-py3-none-any.whl',
      'x-1-cp38-abi3-manylinux_2_17_x86_64.whl',
      'x-1-cp311-cp311-manylinux_2_28_x86_64.whl',
      'x-1-cp311-cp311-manylinux_2_17_x86_64.whl'
    )
    expect(chooseWheel(choice, LINUX_311)?.file.name).toBe('x-1-cp311-cp311-manylinux_2_28_x86_64.whl')
    expect(chooseWheel(choice.slice(0, 2), LINUX_311)?.file.name).toBe(
      'x-1-cp38-abi3-manylinux_2_17_x86_64.whl'
    )
  })

  it('breaks ties by the higher build tag, then by file name', () => {
    expect(
      chooseWheel(
        files('x-1-2-py3-none-any.whl', 'x-1-10-py3-none-any.whl', 'x-1-py3-none-any.whl'),
        LINUX_311
      )?.file.name
    ).toBe('x-1-10-py3-none-any.whl')
    expect(chooseWheel(files('y-1-py3-none-any.whl', 'x-1-py3-none-any.whl'), LINUX_311)?.file.name).toBe(
      'x-1-py3-none-any.whl'
    )
  })

  it('is null when only sdists or foreign wheels exist, and keeps the caller’s file objects', () => {
    expect(
      chooseWheel(files('x-1.tar.gz', 'x-1-cp311-cp311-win_amd64.whl', 'x-1-py2-none-any.whl'), LINUX_311)
    ).toBeNull()
    const f = { name: 'x-1-py3-none-any.whl', hashes: { sha256: 'ab' } }
    expect(chooseWheel([f], LINUX_311)?.file).toBe(f)
  })

  it('does not depend on the order of the files', () => {
    fc.assert(
      fc.property(fc.shuffledSubarray(numpy, { minLength: 1 }), fc.boolean(), (subset, musl) => {
        const target = musl ? MUSL_312_ARM : LINUX_311
        const reversed = [...subset].reverse()
        expect(chooseWheel(reversed, target)?.file.name).toBe(chooseWheel(subset, target)?.file.name)
      })
    )
  })
})

describe('wheelSupports and tagRanks', () => {
  it('answers per file name', () => {
    expect(wheelSupports('x-1-cp311-cp311-manylinux1_x86_64.whl', LINUX_311)).toBe(true)
    expect(wheelSupports('x-1-cp311-cp311-manylinux_2_37_x86_64.whl', LINUX_311)).toBe(false)
    expect(wheelSupports('x-1-cp312-cp312-manylinux_2_17_x86_64.whl', LINUX_311)).toBe(false)
    expect(wheelSupports('x-1-cp32-abi3-linux_x86_64.whl', LINUX_311)).toBe(true)
    expect(wheelSupports('x-1.tar.gz', LINUX_311)).toBe(false)
  })

  it('caches one rank map per target, whatever the patch version', () => {
    const a = tagRanks(LINUX_311)
    expect(tagRanks({ ...LINUX_311, python: { major: 3, minor: 11, patch: undefined } })).toBe(a)
    expect(a.size).toBe(supportedTags(LINUX_311).length)
    expect(tagRanks(MUSL_312_ARM)).not.toBe(a)
  })
})
