// Properties of the canonical hash: what must not move it, and what must.
import { describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parsePlatform } from '../../src/target.js'
import type { TomlTable } from '../../src/util/toml.js'
import { addFastBuildConfig, copyCorpusCase, editToml, hashes, planDir } from '../support/project.js'

type Pkg = TomlTable & { name: string; version: string }

/** Split a lock into its text blocks: the header, each [[package]] entry, and the rest. */
function splitBlocks(text: string): { head: string; packages: string[]; tail: string } {
  const parts = text.split(/^(?=\[\[package\]\]\s*$)/m)
  const head = parts[0]!
  const rest = parts.slice(1)
  const last = rest.pop()!
  // The last package block runs into [extras]/[metadata] (Poetry); cut there.
  const cut = last.search(/^\[(?!package)[a-z]/m)
  const packages = [...rest, cut === -1 ? last : last.slice(0, cut)].map((b) =>
    b.endsWith('\n\n') ? b : b.replace(/\n*$/, '\n\n')
  )
  return { head, packages, tail: cut === -1 ? '' : last.slice(cut) }
}

function bump(p: Pkg): void {
  p.version = `${p.version}.post99`
  const rehash = (f: TomlTable) => {
    if (typeof f['hash'] === 'string') f['hash'] = `sha256:${'ab'.repeat(32)}`
  }
  for (const f of (p['files'] as TomlTable[] | undefined) ?? []) rehash(f)
  for (const f of (p['wheels'] as TomlTable[] | undefined) ?? []) rehash(f)
  if (p['sdist']) rehash(p['sdist'] as TomlTable)
}

const POETRY_CONFIG = `[tool.fast-build]
python = "3.11"
platforms = ["linux/amd64", "linux/arm64"]
runtime-groups = ["dev"]
[tool.fast-build.variants]
base = { groups = ["main"] }
ml = { groups = ["main"], extras = ["embeddings-huggingface"] }
ui = { groups = ["main"], extras = ["ui"] }
`

const UV_CONFIG = `[tool.fast-build]
python = "3.12"
platforms = ["linux/amd64", "linux/arm64"]
runtime-groups = ["tests"]
[tool.fast-build.variants]
base = { groups = ["main"] }
async = { groups = ["main"], extras = ["async"] }
docs = { groups = ["main", "docs"] }
`

const cases = [
  {
    name: 'poetry-private-gpt',
    lock: 'poetry.lock',
    config: POETRY_CONFIG,
    extraVariant: 'ml',
    extraOnly: 'einops',
    runtimeOnly: 'mypy'
  },
  {
    name: 'uv-flask',
    lock: 'uv.lock',
    config: UV_CONFIG,
    extraVariant: 'async',
    extraOnly: 'asgiref',
    runtimeOnly: 'pytest'
  }
]

describe.each(cases)('$name', ({ name, lock, config, extraVariant, extraOnly, runtimeOnly }) => {
  const fresh = () => {
    const dir = copyCorpusCase(name)
    addFastBuildConfig(dir, config)
    return dir
  }
  const base = fresh()
  const original = hashes(planDir(base))

  it('has distinct hashes per variant, stable across runs', () => {
    expect(new Set(Object.values(original)).size).toBe(Object.keys(original).length)
    expect(hashes(planDir(base))).toEqual(original)
  })

  it('does not move when the lock is reordered (any permutation of its entries)', () => {
    const text = readFileSync(join(base, lock), 'utf8')
    const { head, packages, tail } = splitBlocks(text)
    expect(packages.length).toBeGreaterThan(50)
    fc.assert(
      fc.property(fc.array(fc.nat(), { minLength: packages.length, maxLength: packages.length }), (keys) => {
        const order = packages.map((b, i) => ({ b, k: keys[i]! })).sort((x, y) => x.k - y.k)
        const dir = fresh()
        writeFileSync(join(dir, lock), head + order.map((x) => x.b).join('') + tail)
        expect(hashes(planDir(dir))).toEqual(original)
      }),
      { numRuns: 5 }
    )
  })

  it('does not move when the lock is reformatted, or descriptions and upload times change', () => {
    const dir = fresh()
    editToml(join(dir, lock), (data) => {
      for (const p of data['package'] as Pkg[]) {
        if (typeof p['description'] === 'string') p['description'] = `${p['description']} (edited)`
        for (const f of [
          ...((p['wheels'] as TomlTable[]) ?? []),
          ...(p['sdist'] ? [p['sdist'] as TomlTable] : [])
        ]) {
          if (f['upload-time']) f['upload-time'] = '2030-01-01T00:00:00Z'
        }
      }
    })
    expect(readFileSync(join(dir, lock), 'utf8')).not.toEqual(readFileSync(join(base, lock), 'utf8'))
    expect(hashes(planDir(dir))).toEqual(original)
  })

  it('does not move when a runtime-group package changes; the runtime list does', () => {
    const dir = fresh()
    editToml(join(dir, lock), (data) => bump((data['package'] as Pkg[]).find((p) => p.name === runtimeOnly)!))
    const plan = planDir(dir)
    expect(hashes(plan)).toEqual(original)
    const runtime = plan.variants[0]!.platforms[0]!.runtime.find((e) => e.package.name === runtimeOnly)
    expect(runtime?.package.version).toMatch(/\.post99$/)
  })

  it('moves only the variant whose extra installs a bumped package', () => {
    const dir = fresh()
    editToml(join(dir, lock), (data) => bump((data['package'] as Pkg[]).find((p) => p.name === extraOnly)!))
    const after = hashes(planDir(dir))
    for (const [variant, hash] of Object.entries(original)) {
      if (variant === extraVariant) expect(after[variant]).not.toBe(hash)
      else expect(after[variant]).toBe(hash)
    }
  })

  it('moves every variant when a main package changes, and with python, platforms or base image', () => {
    const dir = fresh()
    const mainPkg = planDir(base).variants[0]!.platforms[0]!.closure.installed[0]!.package.name
    editToml(join(dir, lock), (data) => bump((data['package'] as Pkg[]).find((p) => p.name === mainPkg)!))
    const after = hashes(planDir(dir))
    for (const v of Object.keys(original)) expect(after[v]).not.toBe(original[v])

    const moved = (h: Record<string, string>) => Object.keys(original).every((v) => h[v] !== original[v])
    expect(moved(hashes(planDir(base, { python: { major: 3, minor: 11, patch: 9 } })))).toBe(true)
    expect(moved(hashes(planDir(base, { platforms: [parsePlatform('linux/amd64')] })))).toBe(true)
    expect(moved(hashes(planDir(base, { baseImage: 'python:3.11-bookworm' })))).toBe(true)
    expect(moved(hashes(planDir(base, { epoch: '2' })))).toBe(true)
  })

  it('does not move when wheels for other interpreters or platforms are added to the lock', () => {
    const dir = fresh()
    editToml(join(dir, lock), (data) => {
      for (const p of data['package'] as Pkg[]) {
        const file = `${p.name.replace(/-/g, '_')}-${p.version}-cp314-cp314-win_amd64.whl`
        const hash = `sha256:${'cd'.repeat(32)}`
        if (Array.isArray(p['files'])) (p['files'] as TomlTable[]).push({ file, hash })
        if (Array.isArray(p['wheels']))
          (p['wheels'] as TomlTable[]).push({ url: `https://example.invalid/${file}`, hash })
      }
    })
    expect(hashes(planDir(dir))).toEqual(original)
  })
})

describe('hashInputJson', () => {
  it('is exactly the canonical JSON of the hash input', async () => {
    const { canonicalJson } = await import('../../src/util/canonical-json.js')
    const { hashInputJson } = await import('../../src/plan/hash.js')
    const dir = copyCorpusCase('uv-flask')
    addFastBuildConfig(dir, UV_CONFIG)
    for (const epoch of [undefined, 'e2']) {
      for (const v of planDir(dir, epoch ? { epoch } : {}).variants) {
        expect(hashInputJson(v.hashInput)).toBe(canonicalJson(v.hashInput))
        expect(
          hashInputJson({ ...v.hashInput, builder: { dockerfile: 'sha256:00', args: { B: '1', A: '2' } } })
        ).toBe(
          canonicalJson({ ...v.hashInput, builder: { dockerfile: 'sha256:00', args: { B: '1', A: '2' } } })
        )
      }
    }
  })
})
