// A uv.lock with tens of thousands of requirements reads, and reading it grows linearly with its
// size. Speed itself is measured by benchmarks (bench/uv-large.ts), never by a test: here the
// shape is checked by counting the element visits of array copies and searches (`[...old, x]`
// per requirement, `list.includes(x)` per requirement) while two sizes are read.
import { afterEach, describe, expect, it } from '@jest/globals'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readLock } from '../../src/lock/index.js'
import { readProject } from '../../src/project/pyproject.js'
import { planProject } from '../../src/plan/plan.js'
import { parsePlatform } from '../../src/target.js'

/** A project that depends on `n` packages and its fresh uv.lock. */
function largeProject(n: number): string {
  const names = Array.from({ length: n }, (_, i) => `pkg-${i}`)
  const dir = mkdtempSync(join(tmpdir(), 'fast-build-uv-large-'))
  writeFileSync(
    join(dir, 'pyproject.toml'),
    `[project]\nname = "app"\nversion = "0.1"\nrequires-python = ">=3.11"\ndependencies = [\n${names.map((x) => `  "${x}>=1.0",`).join('\n')}\n]\n`
  )
  const parts = [
    'version = 1\nrevision = 3\nrequires-python = ">=3.11"\n',
    '[[package]]\nname = "app"\nversion = "0.1"\nsource = { editable = "." }\ndependencies = [',
    ...names.map((x) => `    { name = "${x}" },`),
    ']\n\n[package.metadata]\nrequires-dist = [',
    ...names.map((x) => `    { name = "${x}", specifier = ">=1.0" },`),
    ']\n'
  ]
  const hash = 'a'.repeat(64)
  for (const x of names) {
    parts.push(
      `[[package]]\nname = "${x}"\nversion = "1.0"\nsource = { registry = "https://pypi.org/simple" }\n` +
        `wheels = [{ url = "https://files.example/${x.replace('-', '_')}-1.0-py3-none-any.whl", hash = "sha256:${hash}" }]\n`
    )
  }
  writeFileSync(join(dir, 'uv.lock'), parts.join('\n'))
  return dir
}

describe('a uv.lock with 20,000 requirements', () => {
  it('reads, is fresh, and plans all of them', () => {
    const project = readProject(largeProject(20_000))
    const { lock } = readLock(project)
    expect(lock.packages).toHaveLength(20_001)
    const root = lock.roots[0]!
    expect(root.name).toBe('app')
    expect(root.package.dependencies).toHaveLength(20_000)
    const plan = planProject(project, lock, { platforms: [parsePlatform('linux/amd64')] })
    expect(plan.failed).toEqual([])
    const installed = plan.variants[0]!.platforms[0]!.closure.installed
    expect(installed).toHaveLength(20_000)
    expect(installed.map((e) => e.package.name)).toContain('pkg-19999')
  })

  it('a requirement missing from the lock’s metadata is still found among 20,000 (stale)', () => {
    const dir = largeProject(20_000)
    writeFileSync(
      join(dir, 'pyproject.toml'),
      `[project]\nname = "app"\nversion = "0.1"\nrequires-python = ">=3.11"\ndependencies = [\n${Array.from({ length: 20_000 }, (_, i) => `  "pkg-${i === 12_345 ? 'other' : i}>=1.0",`).join('\n')}\n]\n`
    )
    expect(() => readLock(readProject(dir))).toThrow(
      /lock is stale: dependencies of app .* only in pyproject: pkg-other>=1\.0; only in the lock: pkg-12345>=1\.0/
    )
  })
})

describe('reading a uv.lock grows linearly', () => {
  // Counts, not times: every step of an array iterator (which spread, for…of and Array.from take
  // once the iterator is observed) and every element Array.prototype.includes/indexOf may visit.
  const iteratorProto = Object.getPrototypeOf([][Symbol.iterator]()) as { next: () => unknown }
  const originalNext = iteratorProto.next
  const originalIncludes = Array.prototype.includes
  const originalIndexOf = Array.prototype.indexOf
  afterEach(() => {
    iteratorProto.next = originalNext
    Array.prototype.includes = originalIncludes
    Array.prototype.indexOf = originalIndexOf
  })

  function visits(n: number): number {
    const project = readProject(largeProject(n))
    let count = 0
    iteratorProto.next = function (this: unknown) {
      count++
      return originalNext.call(this)
    }
    Array.prototype.includes = function (this: unknown[], ...args: [unknown, number?]) {
      count += this.length
      return originalIncludes.apply(this, args)
    }
    Array.prototype.indexOf = function (this: unknown[], ...args: [unknown, number?]) {
      count += this.length
      return originalIndexOf.apply(this, args)
    }
    try {
      readLock(project)
    } finally {
      iteratorProto.next = originalNext
      Array.prototype.includes = originalIncludes
      Array.prototype.indexOf = originalIndexOf
    }
    return count
  }

  it('twice the requirements, about twice the element visits (quadratic would be four times)', () => {
    const small = visits(1_000)
    const large = visits(2_000)
    expect(small).toBeGreaterThan(1_000)
    expect(large / small).toBeLessThan(2.6)
  })
})
