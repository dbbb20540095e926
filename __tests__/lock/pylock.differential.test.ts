// pylock.toml selection against PEP 751's reference installer logic, packaging.pylock's
// Pylock.select(): for every target, extras and groups, the same packages with the same file.
import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { cpSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readLock } from '../../src/lock/index.js'
import type { LockedPackage } from '../../src/lock/model.js'
import { targetEnvironment } from '../../src/markers/index.js'
import type { NormalizedName } from '../../src/names.js'
import { computeClosure, MAIN_GROUP } from '../../src/plan/closure.js'
import { filesForTarget, unavailableReason } from '../../src/plan/hash.js'
import { readProject } from '../../src/project/pyproject.js'
import { DEFAULT_LIBC, parsePlatform, type Target } from '../../src/target.js'
import { supportedTags } from '../../src/packaging/tags.js'
import { tempDir } from '../support/project.js'

const here = dirname(fileURLToPath(import.meta.url))
const FIXTURES = join(here, '..', 'fixtures')
const SCRIPT = join(here, '..', 'support', 'pylock_reference.py')

interface Query {
  target: Target
  extras: string[]
  /** Our groups; `main` stands for the lock's default-groups. */
  groups: string[]
}
type Selected = { name: string; version: string | null; kind: string; what: string }
type Answer = { selected: Selected[] } | { error: string }

function reference(lockPath: string, queries: Query[]): Answer[] {
  const request = {
    lock: lockPath,
    queries: queries.map((q) => {
      const env = targetEnvironment(q.target)
      const { extras: _e, dependency_groups: _g, ...strings } = env
      const rest = q.groups.filter((g) => g !== 'main')
      return {
        environment: strings,
        tags: supportedTags(q.target),
        extras: q.extras,
        // packaging uses default-groups when given None; `main` plus others means both.
        groups: q.groups.includes('main') ? (rest.length ? ['dev', ...rest] : null) : rest
      }
    })
  }
  const out = execFileSync('python3', [SCRIPT], {
    input: JSON.stringify(request),
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' }
  })
  return JSON.parse(out) as Answer[]
}

function describePackage(p: LockedPackage, target: Target): Selected {
  switch (p.source.kind) {
    case 'git':
      return { name: p.name, version: p.version, kind: 'vcs', what: p.source.commit ?? '' }
    case 'directory':
      return { name: p.name, version: p.version, kind: 'directory', what: p.source.path }
    case 'url':
      return { name: p.name, version: p.version, kind: 'archive', what: p.source.url }
    default: {
      const [f] = filesForTarget(p.files, target)
      return { name: p.name, version: p.version, kind: f?.kind ?? 'none', what: f?.name ?? '' }
    }
  }
}

function ours(dir: string, q: Query): Answer {
  try {
    const { lock } = readLock(readProject(dir))
    const c = computeClosure(
      lock,
      { groups: q.groups as NormalizedName[], extras: q.extras as NormalizedName[], members: [] },
      q.target
    )
    // A package with no file for the target is reported by the plan; the installer refuses it.
    const unavailable = c.installed.find((e) => unavailableReason(e.package, q.target))
    if (unavailable)
      return {
        error: `no file of ${unavailable.package.name}: ${unavailableReason(unavailable.package, q.target)}`
      }
    return {
      selected: [...c.installed, ...c.local]
        .map((e) => describePackage(e.package, q.target))
        .sort((a, b) => (a.name < b.name ? -1 : 1))
    }
  } catch (e) {
    return { error: (e as Error).message }
  }
}

const target = (platform: string, minor: number, patch: number): Target => ({
  python: { major: 3, minor, patch },
  platform: parsePlatform(platform),
  libc: DEFAULT_LIBC
})

describe.each(['pylock-universal', 'pylock-pip'])('%s against packaging.pylock', (fixture) => {
  const dir = join(FIXTURES, fixture)
  const queries: Query[] = []
  for (const t of [
    target('linux/amd64', 12, 3),
    target('linux/arm64', 12, 3),
    target('linux/amd64', 11, 9),
    target('linux/arm64', 13, 1)
  ]) {
    for (const extras of [[], ['ml']]) {
      for (const groups of [[MAIN_GROUP], [], ['docs'], [MAIN_GROUP, 'docs']]) {
        if (fixture === 'pylock-pip' && groups.length !== 1) continue
        queries.push({ target: t, extras, groups })
      }
    }
  }

  it('selects the same packages and files for every target, extras and groups', () => {
    const expected = reference(join(dir, 'pylock.toml'), queries)
    let compared = 0
    queries.forEach((q, i) => {
      const theirs = expected[i]!
      const mine = ours(dir, q)
      if ('error' in theirs) {
        // Both refuse, over the same package; ours says why.
        const pkg = /for package '([^']+)'/.exec(theirs.error)?.[1]
        expect(mine).toEqual({
          error: expect.stringMatching(
            pkg ? new RegExp(`no file of ${pkg}: no wheel for`) : /not made for|requires python/
          )
        })
      } else {
        expect(mine).toEqual(theirs)
        compared += theirs.selected.length
      }
    })
    expect(compared).toBeGreaterThan(30)
  })
})

describe('pylock errors the spec requires', () => {
  const copy = (edit: (t: string) => string) => {
    const dir = tempDir()
    cpSync(join(FIXTURES, 'pylock-universal'), dir, { recursive: true })
    const path = join(dir, 'pylock.toml')
    writeFileSync(path, edit(readFileSync(path, 'utf8')))
    return dir
  }

  it('a target outside `environments`', () => {
    const dir = copy((t) =>
      t.replace(
        `environments = ["sys_platform == 'linux'", "sys_platform == 'darwin'"]`,
        `environments = ["sys_platform == 'darwin'"]`
      )
    )
    expect(ours(dir, { target: target('linux/amd64', 12, 3), extras: [], groups: ['main'] })).toEqual({
      error: expect.stringMatching(
        /the lock was not made for linux\/amd64 \(python 3\.12\.3\): it lists environments/
      )
    })
  })

  it('a selected package whose requires-python excludes the target', () => {
    const dir = copy((t) => t.replace('requires-python = ">=3.9"', 'requires-python = ">=3.13"'))
    expect(ours(dir, { target: target('linux/amd64', 12, 3), extras: ['ml'], groups: ['main'] })).toEqual({
      error: expect.stringMatching(/torch 2\.5\.1\+cpu requires python >=3\.13/)
    })
    // Not selected (no ml extra): no error.
    expect(ours(dir, { target: target('linux/amd64', 12, 3), extras: [], groups: ['main'] })).toHaveProperty(
      'selected'
    )
  })
})
