// V8's compiled code of the CLI, kept between runs: named by the bundle's content (V8 itself checks
// a cache only by the source's length), accepted by V8 when it fits, and harmless when it does not.
import { describe, expect, it } from '@jest/globals'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Script } from 'node:vm'
import { codeCacheName, readCodeCache, writeCodeCache } from '../../src/cache/code-cache.js'
import { CacheLayout } from '../../src/cache/layout.js'
import { tempDir } from '../support/project.js'

const SOURCE = 'function add(a, b) { return a + b }\nadd(20, 22)'
// The same length, other code: V8's own check (length and flags) would take one for the other.
const OTHER = 'function add(a, b) { return a * b }\nadd(20, 22)'

describe('codeCacheName', () => {
  it('is the command and a key of the bundle and the runtime', () => {
    const a = codeCacheName(SOURCE, 'build', 'v20.20.2 x64')
    expect(a.file).toMatch(/^build-[0-9a-f]{32}\.bin$/)
    expect(a.prefix).toBe('build-')
    expect(codeCacheName(SOURCE, 'build', 'v20.20.2 x64')).toEqual(a)
    expect(codeCacheName(OTHER, 'build', 'v20.20.2 x64').file).not.toBe(a.file)
    expect(codeCacheName(SOURCE, 'build', 'v22.1.0 x64').file).not.toBe(a.file)
    expect(codeCacheName(SOURCE, 'plan', 'v20.20.2 x64').file).toMatch(/^plan-/)
  })

  it('names anything but a plain command "other" (an option, a path, nothing)', () => {
    for (const c of ['--version', '../../etc', 'Build', '', undefined])
      expect(codeCacheName(SOURCE, c).prefix).toBe('other-')
  })
})

describe('a cache V8 accepts, and one it does not', () => {
  it('round-trips: V8 takes the written code, and the script gives the same result', () => {
    const dir = join(tempDir(), 'v8')
    const name = codeCacheName(SOURCE, 'build')
    const first = new Script(SOURCE, { filename: 'bundle.cjs' })
    expect(first.runInThisContext()).toBe(42)
    writeCodeCache(dir, name, first.createCachedData())
    const cached = readCodeCache(dir, name)
    expect(cached).toBeDefined()
    const second = new Script(SOURCE, { filename: 'bundle.cjs', cachedData: cached! })
    expect(second.cachedDataRejected).toBe(false)
    expect(second.runInThisContext()).toBe(42)
  })

  it('a damaged or cut file reads as none (V8 would run it: it checks no bytes)', () => {
    const dir = join(tempDir(), 'v8')
    const name = codeCacheName(SOURCE, 'build')
    writeCodeCache(dir, name, new Script(SOURCE, { filename: 'bundle.cjs' }).createCachedData())
    const path = join(dir, name.file)
    const whole = readFileSync(path)
    const flipped = Buffer.from(whole)
    flipped[flipped.length - 10]! ^= 0xff
    writeFileSync(path, flipped)
    expect(readCodeCache(dir, name)).toBeUndefined()
    writeFileSync(path, whole.subarray(0, whole.length - 1))
    expect(readCodeCache(dir, name)).toBeUndefined()
    writeFileSync(path, whole.subarray(0, 20))
    expect(readCodeCache(dir, name)).toBeUndefined()
    writeFileSync(path, whole)
    expect(readCodeCache(dir, name)).toBeDefined()
  })

  it('a missing file reads as none', () => {
    expect(readCodeCache(join(tempDir(), 'nothing'), codeCacheName(SOURCE, 'plan'))).toBeUndefined()
  })
})

describe('writeCodeCache', () => {
  it("replaces the command's files of other bundles and keeps the other commands'", () => {
    const dir = join(tempDir(), 'v8')
    const old = codeCacheName(OTHER, 'build')
    const plan = codeCacheName(OTHER, 'plan')
    writeCodeCache(dir, old, Buffer.from('old'))
    writeCodeCache(dir, plan, Buffer.from('plan'))
    const now = codeCacheName(SOURCE, 'build')
    writeCodeCache(dir, now, Buffer.from('new'))
    expect(readdirSync(dir).sort()).toEqual([now.file, plan.file].sort())
    expect(readCodeCache(dir, now)?.toString()).toBe('new')
  })

  it('never throws: where nothing can be written, nothing is', () => {
    const file = join(tempDir(), 'a-file')
    writeFileSync(file, 'x')
    // A directory path under a regular file cannot be made.
    expect(() =>
      writeCodeCache(join(file, 'v8'), codeCacheName(SOURCE, 'build'), Buffer.from('x'))
    ).not.toThrow()
    expect(existsSync(join(file, 'v8'))).toBe(false)
  })

  it('lives under the cache directory, as v8/', () => {
    expect(new CacheLayout('/c').codeCache).toBe('/c/v8')
    expect(CacheLayout.default({ FAST_BUILD_CACHE_DIR: '/x' }).codeCache).toBe('/x/v8')
  })
})
