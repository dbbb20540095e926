// uv's declared conflicts (`[tool.uv] conflicts`) are encoded in uv.lock as synthetic extras in
// markers (`extra == 'extra-7-project-cpu'`); the walk must read them as uv's installer does:
// extras an edge turns on count for that edge's own marker, the set of what is on is collected
// over the whole graph before any edge is decided, and selecting two items of one declared set
// is an error of that variant alone.
import { describe, expect, it } from '@jest/globals'
import { cpSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PlanError } from '../../src/errors.js'
import { readLock } from '../../src/lock/index.js'
import { readUvLock } from '../../src/lock/uv.js'
import type { NormalizedName } from '../../src/names.js'
import type { VariantSpec } from '../../src/project/config.js'
import { readProject } from '../../src/project/pyproject.js'
import { computeClosure } from '../../src/plan/closure.js'
import { planProject, type Plan, type VariantPlan } from '../../src/plan/plan.js'
import { DEFAULT_LIBC, parsePlatform } from '../../src/target.js'
import { parseToml } from '../../src/util/toml.js'
import { materializeCorpusCase } from '../support/corpus.js'
import { tempDir, writeFiles } from '../support/project.js'

const TORCH = join(process.cwd(), '__tests__', 'fixtures', 'uv-torch-conflicts')

function variant(name: string, groups: string[], extras: string[] = []): VariantSpec {
  return {
    name,
    groups: groups as NormalizedName[],
    extras: extras as NormalizedName[],
    members: []
  }
}

function planWith(dir: string, variants?: VariantSpec[]): Plan {
  const project = readProject(dir)
  const { lock } = readLock(project)
  const config = variants ? { ...project.config, variants } : project.config
  return planProject({ ...project, config }, lock, {
    platforms: [parsePlatform('linux/amd64'), parsePlatform('linux/arm64')]
  })
}

function ids(v: VariantPlan, platform = 0): string[] {
  return v.platforms[platform]!.closure.installed.map((e) => `${e.package.name} ${e.package.version}`)
}

describe('uv-pydantic-ai: pydantic-ai[mcp-tasks] conflicts with the dev group', () => {
  const dir = materializeCorpusCase('uv-pydantic-ai').projectDir
  const plan = planWith(dir, [
    variant('main', ['main']),
    variant('tasks', ['main'], ['mcp-tasks']),
    variant('dev', ['main', 'dev']),
    variant('dev-tasks', ['main', 'dev'], ['mcp-tasks'])
  ])
  const byName = (n: string) => plan.variants.find((v) => v.name === n)!

  it('an edge guarded by the extra it turns on holds: mcp-tasks brings fastmcp-tasks and pydocket', () => {
    for (const p of [0, 1]) {
      // pydantic-ai[mcp-tasks] → pydantic-ai-slim[mcp-tasks], whose marker is
      // `extra == 'extra-16-pydantic-ai-slim-mcp-tasks' or (…)`: true because the edge itself turns it on.
      expect(ids(byName('tasks'), p)).toEqual(
        expect.arrayContaining(['fastmcp-tasks 4.0.0b1', 'pydocket 0.20.1'])
      )
      expect(ids(byName('main'), p)).not.toContain('fastmcp-tasks 4.0.0b1')
      expect(ids(byName('main'), p).some((id) => id.startsWith('pydocket '))).toBe(false)
      // What main installs, tasks installs too (the variant only adds).
      expect(ids(byName('tasks'), p)).toEqual(expect.arrayContaining(ids(byName('main'), p)))
    }
    expect(byName('tasks').hash).not.toBe(byName('main').hash)
  })

  it('the dev group still takes its own pins (pydocket 0.22.0), not the mcp-tasks ones', () => {
    expect(ids(byName('dev'))).toContain('pydocket 0.22.0')
    expect(ids(byName('dev'))).not.toContain('fastmcp-tasks 4.0.0b1')
  })

  it('a variant selecting both sides of a declared conflict fails alone, naming the items', () => {
    expect(plan.variants.map((v) => v.name)).toEqual(['main', 'tasks', 'dev'])
    expect(plan.failed.map((f) => f.name)).toEqual(['dev-tasks'])
    const { error } = plan.failed[0]!
    expect(error).toBeInstanceOf(PlanError)
    expect(error.message).toMatch(/^variant dev-tasks selects conflicting items: /)
    expect(error.message).toContain('pydantic-ai-slim[mcp-tasks] (turned on by pydantic-ai[mcp-tasks])')
    expect(error.message).toContain('group dev of pydantic-ai')
    expect(error.message).toContain('`[tool.uv] conflicts` in pyproject.toml')
    expect(error.message).not.toMatch(/conflicting packages for/)
    expect(error.location).toMatchObject({ keyPath: 'conflicts', line: 12 })
    expect(error.location.file).toMatch(/uv\.lock$/)
    expect(error.hint).toMatch(/drop one of them from the variant, or make two variants/)
  })
})

describe("uv's PyTorch pattern: cpu and cu124 extras declared as conflicting", () => {
  const plan = planWith(TORCH)
  const byName = (n: string) => plan.variants.find((v) => v.name === n)!

  it('plans cpu, cu124 and none; each torch comes from its own index with its own dependencies', () => {
    expect(plan.variants.map((v) => v.name)).toEqual(['none', 'cpu', 'cu124'])
    expect(ids(byName('none'))).toEqual(['filelock 3.16.1'])
    expect(ids(byName('cpu'))).toEqual([
      'filelock 3.16.1',
      'mpmath 1.3.0',
      'sympy 1.13.1',
      'torch 2.5.1+cpu',
      'typing-extensions 4.12.2'
    ])
    expect(ids(byName('cu124'))).toEqual([
      'filelock 3.16.1',
      'mpmath 1.3.0',
      'nvidia-cublas-cu12 12.4.5.8',
      'nvidia-cuda-runtime-cu12 12.4.127',
      'sympy 1.13.1',
      'torch 2.5.1+cu124',
      'triton 3.1.0',
      'typing-extensions 4.12.2'
    ])
    // The nvidia edges also test the platform: not on arm64.
    expect(ids(byName('cu124'), 1)).not.toContain('nvidia-cublas-cu12 12.4.5.8')
    const torch = (v: VariantPlan) =>
      v.platforms[0]!.closure.installed.find((e) => e.package.name === 'torch')!.package.source
    expect(torch(byName('cpu'))).toMatchObject({ url: 'https://download.pytorch.org/whl/cpu' })
    expect(torch(byName('cu124'))).toMatchObject({ url: 'https://download.pytorch.org/whl/cu124' })
    expect(new Set(plan.variants.map((v) => v.hash)).size).toBe(3)
  })

  it('the variant selecting both extras fails, naming itself and both extras; the others still plan', () => {
    expect(plan.failed.map((f) => f.name)).toEqual(['both'])
    const { error } = plan.failed[0]!
    expect(error).toBeInstanceOf(PlanError)
    expect(error.message).toMatch(
      /^variant both selects conflicting items: project\[cpu\] with project\[cu124\]\. The `conflicts` table of uv\.lock/
    )
    expect(error.describe()).toMatch(/uv\.lock:9: conflicts: variant both selects/)
  })

  it('two torches surviving without a declared conflict: the same-name error names the variant', () => {
    // The same lock with the conflict declaration and its markers taken out: nothing keeps the
    // two torches apart any more.
    const dir = tempDir()
    cpSync(TORCH, dir, { recursive: true })
    const lockPath = join(dir, 'uv.lock')
    writeFileSync(
      lockPath,
      readFileSync(lockPath, 'utf8')
        .replace(/conflicts = \[\[[^\]]*\]\]\n/, '')
        .replace(/, marker = "extra == 'extra-7-project-(cpu|cu124)'"/g, '')
        .replace(/ and extra == 'extra-7-project-cu124'/g, '')
        .replace(/marker = "extra == 'extra-7-project-(cpu|cu124)'"/g, 'marker = "python_version >= \'3\'"')
    )
    const broken = planWith(dir)
    expect(broken.variants.map((v) => v.name)).toEqual(['none', 'cpu', 'cu124'])
    expect(broken.failed.map((f) => f.name)).toEqual(['both'])
    expect(broken.failed[0]!.error.message).toMatch(
      /^conflicting packages for torch on linux\/amd64 \(python 3\.12\): 2\.5\.1\+cpu from https:\/\/download\.pytorch\.org\/whl\/cpu \(required by project\) and 2\.5\.1\+cu124 from https:\/\/download\.pytorch\.org\/whl\/cu124 \(required by project\), both in variant both$/
    )
  })
})

describe('what is on is collected over the whole graph before any edge is decided', () => {
  // app → a → xdep, guarded by `extra == 'extra-1-b-x'`; app → c → b[x] turns that on, one level
  // deeper than a's edge. uv's first pass meets a's edge before b[x] (and, a's dependencies being
  // visited once, never again); its second pass decides every edge against the final set.
  const pkg = (name: string, deps = '') =>
    `[[package]]\nname = "${name}"\nversion = "1.0"\nsource = { registry = "https://pypi.org/simple" }\n${deps}` +
    `wheels = [{ url = "https://files.example/${name}-1.0-py3-none-any.whl", hash = "sha256:${'0'.repeat(64)}" }]\n`
  const lockText = [
    'version = 1',
    'revision = 3',
    'requires-python = ">=3.12"',
    'conflicts = [[{ package = "b", extra = "x" }, { package = "app", extra = "z" }]]',
    '',
    pkg('a', `dependencies = [{ name = "xdep", marker = "extra == 'extra-1-b-x'" }]\n`),
    '[[package]]\nname = "app"\nversion = "1.0"\nsource = { virtual = "." }\ndependencies = [{ name = "a" }, { name = "c" }]\n',
    '[package.optional-dependencies]\nz = [{ name = "zdep", marker = "extra == \'extra-3-app-z\'" }]\n',
    pkg('b'),
    '[package.optional-dependencies]\nx = [{ name = "bx" }]\n',
    pkg('bx'),
    pkg('c', 'dependencies = [{ name = "b", extra = ["x"] }]\n'),
    pkg('xdep'),
    pkg('zdep')
  ].join('\n')
  const dir = writeFiles(tempDir(), {
    'pyproject.toml': '[project]\nname = "app"\nversion = "1.0"\nrequires-python = ">=3.12"\n'
  })
  const project = readProject(dir)
  const lock = readUvLock(lockText, parseToml(lockText, 'uv.lock'), 'uv.lock', project, {
    checkFreshness: false
  })
  const target = {
    python: { major: 3, minor: 12, patch: undefined },
    platform: parsePlatform('linux/amd64'),
    libc: DEFAULT_LIBC
  }
  const closure = (extras: string[]) =>
    computeClosure(
      lock,
      { groups: ['main'] as NormalizedName[], extras: extras as NormalizedName[], members: [] },
      target
    ).installed.map((e) => e.package.name)

  it('an edge decided before the extra it reads was turned on is decided again', () => {
    expect(closure([])).toEqual(['a', 'b', 'bx', 'c', 'xdep'])
  })

  it('b[x] turned on deep in the graph conflicts with app[z] selected by the variant', () => {
    expect(() => closure(['z'])).toThrow(
      /selection turns on conflicting items: b\[x\] \(turned on by c\) with app\[z\]/
    )
  })
})
