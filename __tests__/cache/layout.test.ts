// The cache directory: the one rule for where it is, the paths under it, and the content-addressed
// artifact cache in it.
import { describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ArtifactCache, ArtifactCacheError } from '../../src/cache/artifacts.js'
import { CacheLayout, defaultCacheDir } from '../../src/cache/layout.js'
import { tempDir } from '../support/project.js'

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex')

describe('defaultCacheDir', () => {
  it('FAST_BUILD_CACHE_DIR, else XDG_CACHE_HOME/fast-build, else ~/.cache/fast-build', () => {
    expect(defaultCacheDir({ FAST_BUILD_CACHE_DIR: '/c/fb', XDG_CACHE_HOME: '/x' }, '/home/u')).toBe('/c/fb')
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x' }, '/home/u')).toBe('/x/fast-build')
    expect(defaultCacheDir({ XDG_CACHE_HOME: 'relative' }, '/home/u')).toBe('/home/u/.cache/fast-build')
    expect(defaultCacheDir({}, '/home/u')).toBe('/home/u/.cache/fast-build')
  })

  it('the action keeps it in the runner’s temporary directory; the CLI does not, even on a runner', () => {
    const runner = { RUNNER_TEMP: '/runner/_temp', XDG_CACHE_HOME: '/x' }
    expect(defaultCacheDir(runner, '/home/u', 'action')).toBe('/runner/_temp/fast-build')
    expect(defaultCacheDir(runner, '/home/u', 'cli')).toBe('/x/fast-build')
    expect(defaultCacheDir({ ...runner, FAST_BUILD_CACHE_DIR: '/c/fb' }, '/home/u', 'action')).toBe('/c/fb')
    // An action run without RUNNER_TEMP (a local runner of the action) falls back to the CLI's rule.
    expect(defaultCacheDir({}, '/home/u', 'action')).toBe('/home/u/.cache/fast-build')
  })
})

describe('CacheLayout', () => {
  it('names every path under the cache directory', () => {
    const l = new CacheLayout('/c')
    const h = 'ab'.repeat(32)
    expect(l.artifacts).toBe('/c/artifacts')
    expect(l.layerDescriptor('k1')).toBe('/c/work/layers/k1.json')
    expect(l.layerBlob('k1.tar.gz')).toBe('/c/work/layers/k1.tar.gz')
    expect(l.unpackedSize(h)).toBe(`/c/work/unpacked-size/${h}`)
    expect(l.plan('ml')).toBe('/c/work/plans/ml.json')
    expect(l.dockerfileContext('ml', '0123abcd')).toBe('/c/work/dockerfile/ml-0123abcd')
    expect(l.basePythonFacts(h)).toBe(`/c/base-python/${h}.json`)
    expect(l.transfer(h)).toBe(`/c/transfer/ab/${h}.whl`)
    expect(l.stores).toBe('/c/oci')
  })

  it('the Actions cache’s layer index: descriptors, sizes, plans, base-python facts; not the layers', () => {
    expect(new CacheLayout('/c').layerIndexEntry).toEqual([
      '/c/work/layers/*.json',
      '/c/work/unpacked-size',
      '/c/work/plans',
      '/c/base-python'
    ])
  })
})

describe('ArtifactCache', () => {
  it('is content-addressed: <dir>/sha256/<aa>/<hex>', async () => {
    const dir = tempDir()
    const cache = new ArtifactCache(dir)
    const h = sha256('hello')
    expect(cache.pathFor(h)).toBe(join(dir, 'sha256', h.slice(0, 2), h))
    expect(cache.has(h)).toBe(false)
    const put = await cache.put(Buffer.from('hello'))
    expect(put).toEqual({ sha256: h, path: cache.pathFor(h) })
    expect(readFileSync(put.path, 'utf8')).toBe('hello')
    expect(cache.has(h)).toBe(true)
    expect(cache.has(h, 5)).toBe(true)
    expect(cache.has(h, 6)).toBe(false)
    expect(cache.has(h.toUpperCase())).toBe(true)
    expect(readdirSync(join(dir, 'tmp'))).toEqual([])
  })

  it('prunes temporary files left by killed runs, once they are old', async () => {
    const cache = new ArtifactCache(tempDir())
    const old = await cache.tempPath()
    const fresh = await cache.tempPath()
    writeFileSync(old, 'partial')
    writeFileSync(fresh, 'partial')
    const day = new Date(Date.now() - 25 * 3600_000)
    utimesSync(old, day, day)
    await cache.pruneTemp()
    expect(existsSync(old)).toBe(false)
    expect(existsSync(fresh)).toBe(true)
  })

  it('refuses anything but a sha256 hex digest as a key (no path tricks)', () => {
    const cache = new ArtifactCache(tempDir())
    expect(() => cache.pathFor('../../etc/passwd')).toThrow(/not a sha256 digest/)
    expect(() => cache.pathFor('abc')).toThrow(ArtifactCacheError)
  })
})
