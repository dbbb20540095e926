// Poetry itself is the reference for what a Poetry lock installs: `poetry install --dry-run`
// (Debian's Poetry 1.3.2, which reads lock-version 1.1 and 2.0) lists the packages for the host
// interpreter; our closure for the same selection and target must list the same ones.
import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { cpSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readLock } from '../../src/lock/index.js'
import { normalizeName, type NormalizedName } from '../../src/names.js'
import { parse } from 'smol-toml'
import { readFileSync } from 'node:fs'
import type { Lock, LockedPackage } from '../../src/lock/model.js'
import { computeClosure, type Selection } from '../../src/plan/closure.js'
import type { TomlTable } from '../../src/util/toml.js'
import { readProject } from '../../src/project/pyproject.js'
import { DEFAULT_LIBC, parsePlatform, type Target } from '../../src/target.js'
import { CORPUS_DIR } from '../support/corpus.js'

const work = mkdtempSync(join(tmpdir(), 'fast-build-poetry-'))
const env = {
  ...process.env,
  POETRY_VIRTUALENVS_PATH: join(work, 'venvs'),
  POETRY_CACHE_DIR: join(work, 'cache'),
  POETRY_NO_INTERACTION: '1',
  PIP_CONFIG_FILE: '/dev/null',
  PIP_FIND_LINKS: ''
}

/** The interpreter of the virtualenv Poetry made for the project (after a first dry run). */
function poetryPython(dir: string): Target['python'] {
  const venv = execFileSync('poetry', ['env', 'info', '--path'], {
    cwd: dir,
    env,
    encoding: 'utf8',
    timeout: 60_000
  }).trim()
  const version = execFileSync(
    join(venv, 'bin', 'python'),
    ['-c', 'import sys; print(*sys.version_info[:3])'],
    { encoding: 'utf8' }
  )
  const [major, minor, patch] = version.trim().split(' ').map(Number) as [number, number, number]
  return { major, minor, patch }
}

/** Names and versions Poetry would have installed (or found installed) for the selection. */
function poetryDryRun(dir: string, args: string[]): Map<string, string> {
  const out = execFileSync('poetry', ['install', '--dry-run', '--no-root', ...args], {
    cwd: dir,
    env,
    encoding: 'utf8',
    timeout: 120_000
  })
  const result = new Map<string, string>()
  for (const line of out.split('\n')) {
    const install = /•\s+Installing\s+(\S+)\s+\(([^)]+)\)(.*)$/.exec(line)
    if (install && !/Not required/.test(install[3]!)) result.set(normalizeName(install[1]!), install[2]!)
    const update = /•\s+Updating\s+(\S+)\s+\(\S+\s+->\s+([^)]+)\)(.*)$/.exec(line)
    if (update && !/Not required/.test(update[3]!)) result.set(normalizeName(update[1]!), update[2]!)
  }
  return result
}

/**
 * Poetry 1.x installs from a lock by re-solving over the locked packages, where a package carries
 * every extra any locked package requests of it (httpx gets `http2` from qdrant-client even when
 * qdrant-client is not installed); it then drops packages the lock marks `optional = true` unless
 * they are reachable from the requested root extras through *all* dependencies, optional ones
 * included (`Installer._get_extra_packages`). Poetry 2.1 locks record markers that avoid this,
 * and our walk agrees with those (poetry-recorded.test.ts). Here the 1.x rules are modelled to
 * check that the dry run differs from us by exactly them.
 */
function poetry1Closure(lock: Lock, raw: TomlTable, selection: Selection, target: Target): string[] {
  const requested = new Map<string, Set<NormalizedName>>()
  for (const p of [...lock.packages, ...lock.roots.map((r) => r.package)]) {
    for (const e of [...p.dependencies, ...[...p.extras.values()].flat(), ...[...p.groups.values()].flat()]) {
      const set = requested.get(e.name) ?? new Set()
      e.extras.forEach((x) => set.add(x))
      requested.set(e.name, set)
    }
  }
  const widen = (p: LockedPackage): LockedPackage => {
    const edge = (e: LockedPackage['dependencies'][number]) => ({
      ...e,
      extras: [...(requested.get(e.name) ?? [])]
    })
    return {
      ...p,
      dependencies: p.dependencies.map(edge),
      extras: new Map([...p.extras].map(([k, v]) => [k, v.map(edge)])),
      groups: new Map([...p.groups].map(([k, v]) => [k, v.map(edge)]))
    }
  }
  const packages = lock.packages.map(widen)
  const byName = new Map<NormalizedName, LockedPackage[]>()
  for (const p of packages) byName.set(p.name, [...(byName.get(p.name) ?? []), p])
  const solved = computeClosure(
    { ...lock, packages, byName, roots: lock.roots.map((r) => ({ ...r, package: widen(r.package) })) },
    selection,
    target
  )

  const rawPackages = (raw['package'] as TomlTable[]).map((p) => ({
    name: normalizeName(String(p['name'])),
    optional: p['optional'] === true,
    deps: Object.keys((p['dependencies'] as TomlTable | undefined) ?? {}).map(normalizeName)
  }))
  const rootExtras = (raw['extras'] as Record<string, string[]> | undefined) ?? {}
  const reach = new Set<string>()
  const stack = selection.extras.flatMap((e) => (rootExtras[e] ?? []).map(normalizeName))
  while (stack.length) {
    const n = stack.pop()!
    if (reach.has(n)) continue
    reach.add(n)
    for (const p of rawPackages.filter((x) => x.name === n)) stack.push(...p.deps)
  }
  const optional = new Set(rawPackages.filter((p) => p.optional).map((p) => p.name))
  return solved.installed
    .filter((e) => !optional.has(e.package.name) || reach.has(e.package.name))
    .map((e) => `${e.package.name} ${e.package.version}`)
    .sort()
}

const cases: { name: string; selections: { args: string[]; groups: string[]; extras: string[] }[] }[] = [
  {
    name: 'poetry-private-gpt',
    selections: [
      { args: ['--only', 'main'], groups: ['main'], extras: [] },
      {
        args: ['--only', 'main', '-E', 'llms-ollama', '-E', 'embeddings-huggingface'],
        groups: ['main'],
        extras: ['llms-ollama', 'embeddings-huggingface']
      },
      {
        args: ['--only', 'main', '-E', 'vector-stores-qdrant', '-E', 'ui'],
        groups: ['main'],
        extras: ['vector-stores-qdrant', 'ui']
      },
      { args: ['--only', 'main,dev'], groups: ['main', 'dev'], extras: [] }
    ]
  },
  {
    name: 'poetry-poetry-1.1',
    selections: [
      { args: ['--only', 'main'], groups: ['main'], extras: [] },
      { args: ['--only', 'main,dev'], groups: ['main', 'dev'], extras: [] },
      { args: ['--only', 'main,test'], groups: ['main', 'test'], extras: [] }
    ]
  }
]

describe.each(cases)('$name against poetry install --dry-run', ({ name, selections }) => {
  const dir = join(work, name)
  cpSync(join(CORPUS_DIR, name), dir, { recursive: true })
  const project = readProject(dir)
  const { lock } = readLock(project)
  let target: Target | null = null

  const raw = parse(readFileSync(join(dir, 'poetry.lock'), 'utf8')) as TomlTable

  it.each(selections)('poetry install $args', ({ args, groups, extras }) => {
    const expected = poetryDryRun(dir, args)
    target ??= { python: poetryPython(dir), platform: parsePlatform('linux/amd64'), libc: DEFAULT_LIBC }
    const selection = { groups: groups as NormalizedName[], extras: extras as NormalizedName[], members: [] }
    const theirs = [...expected].map(([n, v]) => `${n} ${v}`).sort()
    expect(theirs.length).toBeGreaterThan(10)
    // Exactly Poetry 1.x's answer once its rules are modelled…
    expect(poetry1Closure(lock, raw, selection, target)).toEqual(theirs)
    // …and ours is that answer minus only what those rules add.
    const ours = computeClosure(lock, selection, target).installed.map(
      (e) => `${e.package.name} ${e.package.version}`
    )
    expect(ours.filter((x) => !theirs.includes(x))).toEqual([])
  })
})
