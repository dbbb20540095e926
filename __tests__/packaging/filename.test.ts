import { describe, expect, it } from '@jest/globals'
import {
  compareBuildTags,
  filenameVersion,
  isSdistFilename,
  parseSdistFilename,
  parseTagSet,
  parseWheelFilename
} from '../../src/packaging/filename.js'

describe('parseWheelFilename', () => {
  it('reads name, version, build tag and the expanded tag set', () => {
    expect(
      parseWheelFilename('Foo_Bar-1.0.post1-7abc-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl')
    ).toEqual({
      filename: 'Foo_Bar-1.0.post1-7abc-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
      distribution: 'foo-bar',
      version: '1.0.post1',
      build: { number: 7, rest: 'abc' },
      tags: ['cp311-cp311-manylinux_2_17_x86_64', 'cp311-cp311-manylinux2014_x86_64']
    })
  })

  it('expands every component of a compressed tag set and drops repeats', () => {
    expect(parseWheelFilename('six-1.16.0-py2.py3-none-any.whl')?.tags).toEqual([
      'py2-none-any',
      'py3-none-any'
    ])
    expect(parseTagSet('cp38.cp39-abi3.none-linux_x86_64.any')).toEqual([
      'cp38-abi3-linux_x86_64',
      'cp38-abi3-any',
      'cp38-none-linux_x86_64',
      'cp38-none-any',
      'cp39-abi3-linux_x86_64',
      'cp39-abi3-any',
      'cp39-none-linux_x86_64',
      'cp39-none-any'
    ])
    expect(parseTagSet('py3.py3-none-any')).toEqual(['py3-none-any'])
  })

  it('lowercases tags as packaging.tags.Tag does', () => {
    expect(parseWheelFilename('foo-1.0-Py3-NONE-Any.whl')?.tags).toEqual(['py3-none-any'])
  })

  it.each([
    ['foo-1.0.tar.gz', 'not a wheel'],
    ['foo-1.0-py3-none-any.WHL', 'the suffix is case-sensitive'],
    ['foo-1.0-none-any.whl', 'three dashes'],
    ['foo-1.0-1-2-py3-none-any.whl', 'six dashes'],
    ['foo__bar-1.0-py3-none-any.whl', 'a double underscore in the name'],
    ['fo o-1.0-py3-none-any.whl', 'a space in the name'],
    ['foo-1.0_1-py3-none-any.whl', 'not a PEP 440 version'],
    ['foo-bar-1.0-py3-none-any.whl', 'an unescaped dash makes "bar" the version'],
    ['foo-1.0-abc-py3-none-any.whl', 'a build tag must start with a digit']
  ])('refuses %s (%s)', (name) => {
    expect(parseWheelFilename(name)).toBeNull()
  })
})

describe('compareBuildTags', () => {
  it('orders none < numbers < longer rests, numerically', () => {
    const tags = [{ number: 10, rest: '' }, null, { number: 2, rest: 'b' }, { number: 2, rest: '' }]
    expect(tags.sort(compareBuildTags)).toEqual([
      null,
      { number: 2, rest: '' },
      { number: 2, rest: 'b' },
      { number: 10, rest: '' }
    ])
  })
})

describe('sdist file names', () => {
  it.each(['a-1.0.tar.gz', 'a-1.0.zip', 'a-1.0.tar.bz2', 'a-1.0.tgz', 'A-1.0.TAR.GZ', 'a-1.0.tar.xz'])(
    '%s is an sdist',
    (name) => expect(isSdistFilename(name)).toBe(true)
  )

  it.each(['a-1.0-py3-none-any.whl', 'a-1.0.egg', 'a-1.0.exe', 'a-1.0.tar.gz.asc'])('%s is not', (name) =>
    expect(isSdistFilename(name)).toBe(false)
  )

  it('splits at the last dash', () => {
    expect(parseSdistFilename('python-dateutil-2.8.2.tar.gz')).toEqual({
      filename: 'python-dateutil-2.8.2.tar.gz',
      distribution: 'python-dateutil',
      version: '2.8.2'
    })
    expect(parseSdistFilename('nodash.tar.gz')).toBeNull()
    expect(parseSdistFilename('name-notaversion.tar.gz')).toBeNull()
  })

  it('filenameVersion reads both kinds', () => {
    expect(filenameVersion('torch-2.7.1+cpu-cp311-cp311-manylinux_2_28_x86_64.whl')).toBe('2.7.1+cpu')
    expect(filenameVersion('zope.interface-5.4.0.tar.gz')).toBe('5.4.0')
    expect(filenameVersion('README.md')).toBeNull()
  })
})
