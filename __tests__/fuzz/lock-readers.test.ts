// Property-based tests of the lock readers (uv.lock, poetry.lock, pylock.toml) over the real
// corpus: a mutated lock is read, or refused with one of our own errors (which say file, key and
// fix), never with a TypeError or a RangeError from deep inside; and a lock that says the same
// thing in another layout (keys and tables reordered, other quotes and spacing, re-serialized by
// smol-toml) plans to the same hashes. Inputs are kept small (a sample of each lock's packages,
// a handful of mutations) so that each case runs in milliseconds.
import { describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse, stringify } from 'smol-toml'
import { FastBuildError } from '../../src/errors.js'
import { parseLock, type Lock, type LockFormat } from '../../src/lock/index.js'
import { evaluateMarker, targetEnvironment, type Marker } from '../../src/markers/index.js'
import { planProject } from '../../src/plan/plan.js'
import { readProject, type Project } from '../../src/project/pyproject.js'
import { DEFAULT_LIBC, parsePlatform, type Target } from '../../src/target.js'
import { materializeCorpusCase } from '../support/corpus.js'

/** FAST_BUILD_FUZZ_SCALE=20 runs twenty times as many cases (for a long hunt, not for CI). */
const runs = (n: number) => Math.max(1, Math.round(n * Number(process.env['FAST_BUILD_FUZZ_SCALE'] ?? 1)))

interface Case {
  readonly name: string
  readonly format: LockFormat
  readonly project: Project
  readonly lockName: string
  readonly text: string
}

function corpusCase(name: string): Case {
  const c = materializeCorpusCase(name)
  const lockName = c.format === 'poetry' ? 'poetry.lock' : 'uv.lock'
  return {
    name,
    format: c.format,
    project: readProject(c.projectDir),
    lockName,
    text: readFileSync(join(c.projectDir, lockName), 'utf8')
  }
}

function fixtureCase(name: string, lockName: string, format: LockFormat): Case {
  const dir = join(process.cwd(), '__tests__', 'fixtures', name)
  return {
    name,
    format,
    project: readProject(dir),
    lockName,
    text: readFileSync(join(dir, lockName), 'utf8')
  }
}

const CASES: Case[] = [
  ...[
    'uv-tiny-workspace',
    'uv-jinja2-tester',
    'uv-flask',
    'uv-pydantic-ai',
    'poetry-poetry-1.1',
    'poetry-poetry-2.1',
    'poetry-langgraph'
  ].map(corpusCase),
  fixtureCase('uv-torch-conflicts', 'uv.lock', 'uv'),
  fixtureCase('poetry-recorded-disagree', 'poetry.lock', 'poetry'),
  fixtureCase('pylock-pip', 'pylock.toml', 'pylock'),
  fixtureCase('pylock-universal', 'pylock.toml', 'pylock')
]

const TARGETS: Target[] = [
  { platform: parsePlatform('linux/amd64'), python: { major: 3, minor: 11, patch: 9 }, libc: DEFAULT_LIBC },
  { platform: parsePlatform('linux/arm64'), python: { major: 3, minor: 12, patch: 3 }, libc: DEFAULT_LIBC }
] as Target[]

// --- sampling: a small lock made of a real one's header, its local packages and a few others ----

const HEADERS = { uv: '[[package]]', poetry: '[[package]]', pylock: '[[packages]]' } as const

interface Split {
  readonly head: string
  /** `[[package]]` blocks, each with its header line. */
  readonly blocks: readonly string[]
  /** Poetry's `[metadata]` and what follows it. */
  readonly tail: string
}

function splitLock(c: Case): Split {
  const header = `\n${HEADERS[c.format]}\n`
  let text = c.text
  let tail = ''
  if (c.format === 'poetry') {
    const m = text.indexOf('\n[metadata]\n')
    tail = text.slice(m)
    text = text.slice(0, m)
    // The content-hash ties the lock to pyproject.toml: without it a sample is not "stale".
    tail = tail.replace(/^content-hash = .*$/m, '')
  }
  const parts = text.split(header)
  return { head: parts[0]!, blocks: parts.slice(1).map((b) => `${HEADERS[c.format]}\n${b}`), tail }
}

const splits = new Map(CASES.map((c) => [c.name, splitLock(c)]))

/**
 * The lock itself when it is small; else its header, its local packages (the walk's roots) and up
 * to a dozen others that `picks` choose (the planner then misses some: a LockError, still ours).
 */
function sample(c: Case, picks: readonly number[]): string {
  if (c.text.length < 60_000) return c.text
  const s = splits.get(c.name)!
  const local = (b: string) =>
    /source = \{ (editable|virtual|directory) =|\n\[package\.source\]\ntype = "directory"/.test(b)
  const keep = new Set<number>()
  s.blocks.forEach((b, i) => {
    if (local(b)) keep.add(i)
  })
  for (const p of picks) if (s.blocks.length > 0) keep.add(p % s.blocks.length)
  const blocks = [...keep].sort((a, b) => a - b).map((i) => s.blocks[i]!)
  return [s.head, ...blocks].join('\n') + s.tail
}

// --- mutations ---------------------------------------------------------------------------------

const TOKENS = [
  '[',
  ']',
  '[[package]]',
  '[[packages]]',
  '[package.source]',
  '[metadata]',
  '"',
  "'",
  '"""',
  '=',
  '{',
  '}',
  ',',
  '\n',
  ' ',
  '#',
  '\\',
  '\\u',
  '\u0000',
  'é',
  '😀',
  '1e999',
  'inf',
  'nan',
  '-1',
  '9007199254740993',
  '1979-05-27T07:32:00Z',
  'true',
  '[]',
  '{}',
  'version = 2',
  'revision = 99',
  'lock-version = "9.0"',
  'source = {}',
  'source = { foo = "x" }',
  'source = { registry = 7 }',
  'source = { git = "https://x:y@h/r?rev=a#b" }',
  'name = ""',
  'name = 5',
  'dependencies = [{ name = "x", marker = "python_version ~= \'3\'" }]',
  'dependencies = [{ name = "x", marker = "os_name ==" }]',
  'marker = "extra == \\"a\\" and (python_version < \\"3\\""',
  'marker = "\\"a\\" == \\"b\\""',
  'wheels = [{ url = "https://h/x-1-py3-none-any.whl", hash = "sha256:zz" }]',
  'wheels = 3',
  'files = [{ file = 3 }]',
  'optional-dependencies = { a = 1 }',
  'dev-dependencies = []',
  'extras = { a = ["b"] }',
  'markers = { main = "sys_platform ~= \\"x\\"" }',
  'groups = ["main"]',
  'requires-python = ">=3.99"',
  'requires-python = "><"',
  'conflicts = [[{ package = "x", extra = "a" }, { package = 3 }]]',
  'manifest = { members = ["nope"] }',
  '[package.metadata]\nrequires-dist = [{ name = "zzz" }]'
]

type Mutation =
  | { kind: 'delete-line'; at: number }
  | { kind: 'duplicate-line'; at: number }
  | { kind: 'swap-lines'; at: number; with: number }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'replace-char'; at: number; text: string }
  | { kind: 'truncate'; at: number }
  | { kind: 'replace-string'; at: number; text: string }

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('delete-line' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate-line' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('swap-lines' as const), at: fc.nat(), with: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    text: fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 8, unit: 'binary' }))
  }),
  fc.record({
    kind: fc.constant('replace-char' as const),
    at: fc.nat(),
    text: fc.string({ minLength: 1, maxLength: 1, unit: 'binary' })
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('replace-string' as const),
    at: fc.nat(),
    text: fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 12 }))
  })
)

function mutate(text: string, m: Mutation): string {
  const lines = text.split('\n')
  const line = (n: number) => n % Math.max(1, lines.length)
  const pos = (n: number) => n % (text.length + 1)
  switch (m.kind) {
    case 'delete-line':
      lines.splice(line(m.at), 1)
      return lines.join('\n')
    case 'duplicate-line':
      lines.splice(line(m.at), 0, lines[line(m.at)] ?? '')
      return lines.join('\n')
    case 'swap-lines': {
      const a = line(m.at)
      const b = line(m.with)
      ;[lines[a], lines[b]] = [lines[b]!, lines[a]!]
      return lines.join('\n')
    }
    case 'insert':
      return text.slice(0, pos(m.at)) + m.text + text.slice(pos(m.at))
    case 'replace-char':
      return text.slice(0, pos(m.at)) + m.text + text.slice(pos(m.at) + 1)
    case 'truncate':
      return text.slice(0, pos(m.at))
    case 'replace-string': {
      // The value of one `"…"` string in the text.
      const strings = [...text.matchAll(/"([^"\\\n]*)"/g)]
      if (strings.length === 0) return text
      const s = strings[m.at % strings.length]!
      const start = s.index! + 1
      return text.slice(0, start) + m.text.replace(/["\\\n]/g, '') + text.slice(start + s[1]!.length)
    }
  }
}

// Structural mutations: the lock parsed, one value changed, written back by smol-toml. Every
// result is valid TOML, so these reach the readers' type and shape checks, where text mutations
// mostly stop at the TOML parser.

const WEIRD: unknown[] = [
  '',
  'x',
  '*',
  '..',
  '/etc/passwd',
  '>=1,<',
  'sha256:',
  'sha256:zz',
  'python_version ~= "3"',
  'os_name ==',
  '"a" == "b"',
  'extra == "a" or',
  'extras == "x"',
  'https://user:pw@host/simple',
  'git+https://host/r?rev=x#',
  '\u0000',
  '😀',
  0,
  -1,
  1.5,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  2n ** 70n,
  true,
  false,
  [],
  [1, 'a'],
  [{}],
  {},
  { name: 'x' },
  { registry: 'https://h/simple' },
  { git: 'https://h/r' },
  { url: 5 },
  new Date(0)
]

type Path = (string | number)[]

function paths(value: unknown, at: Path = [], out: Path[] = []): Path[] {
  if (at.length > 0) out.push(at)
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...at, i], out))
  else if (value && typeof value === 'object' && !(value instanceof Date))
    for (const [k, v] of Object.entries(value)) paths(v, [...at, k], out)
  return out
}

type Edit = { kind: 'delete' | 'set' | 'copy'; at: number; value: number }

const edit: fc.Arbitrary<Edit> = fc.record({
  kind: fc.constantFrom('delete' as const, 'set' as const, 'copy' as const),
  at: fc.nat(),
  value: fc.nat()
})

function applyEdit(data: Record<string, unknown>, e: Edit): void {
  const all = paths(data)
  if (all.length === 0) return
  const path = all[e.at % all.length]!
  const parent = path.slice(0, -1).reduce<any>((o, k) => o[k], data) // eslint-disable-line @typescript-eslint/no-explicit-any
  const key = path[path.length - 1]!
  if (e.kind === 'delete') {
    if (Array.isArray(parent)) parent.splice(key as number, 1)
    else delete parent[key]
  } else if (e.kind === 'set') {
    parent[key] = structuredClone(WEIRD[e.value % WEIRD.length])
  } else {
    // Another value of the same document in its place (a table where a string was, …).
    const from = all[e.value % all.length]!
    parent[key] = structuredClone(from.reduce<any>((o, k) => o?.[k], data)) // eslint-disable-line @typescript-eslint/no-explicit-any
  }
}

/** Everything a reader defers (files, markers), read and evaluated as a plan would. */
function forceLazy(lock: Lock): void {
  const markers: Marker[] = []
  const edges = (list: readonly { marker: Marker | null }[]) => {
    for (const e of list) if (e.marker) markers.push(e.marker)
  }
  for (const p of lock.packages) {
    void p.files.length
    edges(p.dependencies)
    for (const list of p.extras.values()) edges(list)
    for (const list of p.groups.values()) edges(list)
    for (const m of p.recorded?.byGroup.values() ?? []) if (m) markers.push(m)
  }
  for (const t of TARGETS) {
    const env = targetEnvironment(t, { extras: ['a'], groups: ['dev'] })
    for (const m of markers) evaluateMarker(m, env)
  }
}

/** Runs `f`; anything thrown must be one of ours, with a message. */
function onlyOurErrors(f: () => void): void {
  try {
    f()
  } catch (e) {
    if (!(e instanceof FastBuildError)) throw e
    expect(e.message.length).toBeGreaterThan(0)
  }
}

describe('lock readers on mutated corpus locks', () => {
  it.each(CASES.map((c) => [c.name, c] as const))(
    '%s: read, or refused with a FastBuildError',
    (_name, c) => {
      fc.assert(
        fc.property(
          fc.array(fc.nat(), { maxLength: 12 }),
          fc.array(mutation, { minLength: 1, maxLength: 4 }),
          (picks, mutations) => {
            const text = mutations.reduce(mutate, sample(c, picks))
            onlyOurErrors(() => {
              const { lock } = parseLock(c.format, text, c.lockName, c.project)
              forceLazy(lock)
              planProject(c.project, lock, { platforms: TARGETS.map((t) => t.platform) })
            })
          }
        ),
        { numRuns: runs(40) }
      )
    }
  )

  it.each(CASES.map((c) => [c.name, c] as const))(
    '%s: one value changed (valid TOML): read, or refused with a FastBuildError',
    (_name, c) => {
      fc.assert(
        fc.property(
          fc.array(fc.nat(), { maxLength: 12 }),
          fc.array(edit, { minLength: 1, maxLength: 3 }),
          (picks, edits) => {
            const data = parse(sample(c, picks)) as Record<string, unknown>
            for (const e of edits) applyEdit(data, e)
            let text: string
            try {
              text = stringify(data)
            } catch {
              return // smol-toml cannot write it (NaN in a table key, …): nothing to read
            }
            onlyOurErrors(() => {
              const { lock } = parseLock(c.format, text, c.lockName, c.project)
              forceLazy(lock)
              planProject(c.project, lock, { platforms: TARGETS.map((t) => t.platform) })
            })
          }
        ),
        { numRuns: runs(60) }
      )
    }
  )

  it('the samples themselves read and plan (the mutations start from valid locks)', () => {
    for (const c of CASES) {
      const { lock } = parseLock(c.format, sample(c, [1, 2, 3]), c.lockName, c.project)
      forceLazy(lock)
      expect(lock.packages.length).toBeGreaterThan(0)
    }
  })
})

// --- reformatting: same content, same hashes -------------------------------------------------

type Toml = ReturnType<typeof parse>

/** Every table's keys in the order `order` gives (a permutation seed per table). */
function reorder(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((v, i) => reorder(v, seed + i + 1))
  if (value === null || typeof value !== 'object' || value instanceof Date) return value
  const entries = Object.entries(value as Record<string, unknown>)
  // A deterministic shuffle from the seed (fast-check shrinks seeds well).
  let s = seed >>> 0 || 1
  for (let i = entries.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0
    const j = s % (i + 1)
    ;[entries[i], entries[j]] = [entries[j]!, entries[i]!]
  }
  return Object.fromEntries(entries.map(([k, v], i) => [k, reorder(v, seed * 31 + i)]))
}

/** Text-level changes that keep the meaning: spaces around `=`, blank lines, comments, literal quotes. */
function respace(text: string, seed: number): string {
  return text
    .split('\n')
    .map((line, i) => {
      const r = (seed + i * 7) % 5
      if (r === 0) line = line.replace(/^(\s*[A-Za-z0-9_-]+) = /, '$1   =  ')
      if (r === 1 && /^[A-Za-z0-9_-]+ = "[^"'\\]*"$/.test(line)) line = line.replace(/"([^"]*)"$/, "'$1'")
      if (r === 2) line += '   # comment'
      return r === 3 ? `${line}\n` : line
    })
    .join('\n')
}

function hashes(c: Case, text: string): Record<string, string> {
  const { lock } = parseLock(c.format, text, c.lockName, c.project)
  const plan = planProject(c.project, lock, { platforms: TARGETS.map((t) => t.platform) })
  return Object.fromEntries([
    ...plan.variants.map((v) => [v.name, v.hash]),
    ...plan.failed.map((f) => [f.name, `failed: ${f.error.message}`])
  ])
}

describe('a reformatted but equal lock gives the same hashes', () => {
  // The larger corpus locks take a while to plan; the small ones and fixtures cover every format.
  const cases = CASES.filter((c) => c.text.length < 400_000)
  const original = new Map(cases.map((c) => [c.name, hashes(c, c.text)]))

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(Object.keys(original.get(c.name)!).length).toBeGreaterThan(0)
    fc.assert(
      fc.property(fc.nat(), fc.boolean(), (seed, respaced) => {
        let text = stringify(reorder(parse(c.text), seed) as Toml)
        if (respaced) text = respace(text, seed)
        expect(hashes(c, text)).toEqual(original.get(c.name))
      }),
      { numRuns: runs(c.text.length > 100_000 ? 2 : 8) }
    )
  })
})
