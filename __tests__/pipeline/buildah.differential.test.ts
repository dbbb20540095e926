// Walk mode against a real builder: buildah (Debian's 1.28, whose matcher is containers/storage's
// older port of moby's, the one podman uses too) builds `FROM scratch` + `COPY . /app` from a
// generated tree with a tricky .dockerignore and writes the image's root filesystem out with
// `--output type=local`; what lands in /app (files, directories, empty ones too, and links) must be
// what collectSource lists, except for the pinned places where buildah's matcher is not Docker's
// (DIVERGENCES: there we follow Docker).
//
// How buildah runs here (as root, no daemon): `--storage-driver vfs` (no overlay mounts),
// `--isolation chroot` (no runc; COPY runs no container anyway), `--pull-never`, and `--root`/
// `--runroot` in a temporary directory deleted afterwards, so no image or layer is left behind
// (buildah as root still updates its digest cache, /var/lib/containers/cache/blob-info-cache-v1.boltdb).
// The Dockerfile lives outside the context, so it is not part of what COPY sees. About 1 s a case.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync, spawnSync } from 'node:child_process'
import { lstatSync, mkdirSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { collectSource } from '../../src/pipeline/source.js'
import { tempDir } from '../support/project.js'

const buildah = spawnSync('buildah', ['--version'], { encoding: 'utf8' })
if (buildah.status !== 0) {
  throw new Error(
    'buildah is not installed: apt-get install buildah (the reference builder for .dockerignore)'
  )
}

let work: string

beforeAll(() => {
  work = tempDir('fast-build-buildah-')
  writeFileSync(join(work, 'Dockerfile'), 'FROM scratch\nCOPY . /app\n')
})

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true })
})

/** What buildah's `COPY . /app` puts in /app: `path`, `path/` for directories, `path -> target`. */
function buildahCopy(context: string, name: string): string[] {
  const out = join(work, `${name}-rootfs`)
  const storage = ['--root', join(work, `${name}-storage`), '--runroot', join(work, `${name}-run`)]
  try {
    execFileSync(
      'buildah',
      [
        ...storage,
        '--storage-driver',
        'vfs',
        'bud',
        '--quiet',
        '--isolation',
        'chroot',
        '--pull-never',
        '-f',
        join(work, 'Dockerfile'),
        '--output',
        `type=local,dest=${out}`,
        context
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 }
    )
  } finally {
    rmSync(join(work, `${name}-storage`), { recursive: true, force: true })
    rmSync(join(work, `${name}-run`), { recursive: true, force: true })
  }
  const found: string[] = []
  const walk = (rel: string) => {
    for (const name of readdirSync(join(out, rel)).sort()) {
      const path = `${rel}/${name}`
      const st = lstatSync(join(out, path))
      if (st.isDirectory()) {
        found.push(`${path}/`)
        walk(path)
      } else if (st.isSymbolicLink()) found.push(`${path} -> ${readlinkSync(join(out, path))}`)
      else found.push(path)
    }
  }
  found.push('app/')
  walk('app')
  rmSync(out, { recursive: true, force: true })
  return found.sort()
}

async function ours(context: string): Promise<string[]> {
  const tree = await collectSource({ projectDir: context, workdir: '/app', mode: 'walk', skipJunk: false })
  return tree.entries
    .map((e) =>
      e.type === 'dir' ? `${e.path}/` : e.type === 'symlink' ? `${e.path} -> ${e.target}` : e.path
    )
    .sort()
}

/** A project-shaped tree: every name below is meant to hit (or just miss) some pattern. */
function generateTree(dir: string): void {
  const files = [
    'app.py',
    'README.md',
    'notes.log',
    'keep.log',
    'abc',
    'axc',
    'abbc',
    '# not a comment',
    'pkg/__init__.py',
    'pkg/core.py',
    'pkg/core.py.bak',
    'pkg/sub/deep/x/y.py',
    'pkg/sub/deep/z.py',
    'pkg/__snapshots__/a.snap',
    'pkg/sub/__snapshots__/b.snap',
    'pkg/sub/__snapshots__/nested/c.snap',
    'docs/README.md',
    'docs/guide.md',
    'docs/img/logo.png',
    'build/lib/mod.so',
    'build/dist/app.js',
    'build/dist/app.js.map',
    'build/dist/sub/other.js',
    'secrets/key.pem',
    'pkg/secrets/not-at-root.txt',
    'tmp/scratch.txt',
    'pkg/tmp/kept.txt',
    'cache.tmp',
    'pkg/deeper/cache.tmp',
    'data/1.csv',
    'data/22.csv',
    'data/x1.csv',
    'data/[raw].txt',
    'data/r.txt',
    'data/notes.md',
    'tests/unit/fixtures/big.json',
    'tests/unit/fixtures/keep.json',
    'tests/integration/api/fixtures/db.sql',
    'tests/unit/test_core.py',
    'node_modules/left-pad/index.js',
    'web/node_modules/x/index.js',
    'ünïcödé/файл.py',
    'spaces in name/a b.txt',
    'weird+(chars)$/{x}.txt',
    '.env',
    '.env.example',
    'pkg/__pycache__/core.cpython-311.pyc'
  ]
  for (const f of files) {
    mkdirSync(join(dir, f, '..'), { recursive: true })
    writeFileSync(join(dir, f), `${f}\n`)
  }
  // Bulk: enough files to make ordering and batching matter.
  for (let i = 0; i < 40; i++) {
    for (let j = 0; j < 10; j++) {
      const f = `gen/m${i % 7}/d${i}/f${j}.${j % 3 === 0 ? 'log' : j % 3 === 1 ? 'py' : 'tmp'}`
      mkdirSync(join(dir, f, '..'), { recursive: true })
      writeFileSync(join(dir, f), `${i}.${j}\n`)
    }
  }
  for (const f of [
    'x[]',
    'x*',
    'x',
    'q^]',
    'q?',
    '7x',
    'dx',
    '5.txt',
    'd.txt',
    'a+b',
    'aab',
    'z',
    '^z',
    'v{1}',
    'v',
    'by',
    'zy'
  ]) {
    mkdirSync(join(dir, 'corners'), { recursive: true })
    writeFileSync(join(dir, 'corners', f), `${f}\n`)
  }
  mkdirSync(join(dir, 'empty/inner'), { recursive: true })
  mkdirSync(join(dir, 'build/empty'), { recursive: true })
  symlinkSync('pkg/core.py', join(dir, 'core-link.py'))
  symlinkSync('../docs', join(dir, 'pkg/docs-link'))
}

// Each line is one rule of .dockerignore reading or matching (see src/pipeline/dockerignore.ts).
const IGNORE_WITHOUT_EXCEPTIONS = [
  '# a comment',
  '  # not a comment', // only a `#` in the first column starts a comment
  '',
  '*.log', // `*` within one directory level, at the root only
  '**/__snapshots__', // `**/` at any depth, and everything below a matched directory
  'build/lib/', // trailing slash
  '/secrets', // leading slash: relative to the context root
  './tmp', // `./` cleaned away
  '**/*.tmp',
  'node_modules', // root only: web/node_modules stays
  '**.bak', // `**` prefix: a suffix test
  'data/[0-9]*.csv', // classes
  'data/\\[raw\\].txt', // escapes
  'a?c', // `?` is one character
  'pkg/sub/*/x', // parent matching below a wildcard
  '.env',
  'docs/img/../guide.md' // cleaned to docs/guide.md
]

const IGNORE_WITH_EXCEPTIONS = [
  ...IGNORE_WITHOUT_EXCEPTIONS,
  '!keep.log', // an exception after the pattern
  'docs',
  '!docs/README.md', // re-include a file below an excluded directory
  'build',
  '!build/dist', // re-include a directory (and all below it) ...
  'build/dist/*.map', // ... then exclude part of it again
  'tests/unit',
  '!tests/unit/fixtures',
  'tests/unit/fixtures/big.json',
  '!gen/m3', // brings back the `**/*.tmp` files below gen/m3
  'gen/m5/**',
  '!gen/m5/d5/f1.py',
  '**/z.py', // matches pkg/sub/deep/z.py itself ...
  '!pkg/sub', // ... and this exception matches its parent: included again (MatchesOrParentMatches)
  '!/docs/guide.md' // a leading `/` after `!` is stripped too
]

// Go's regexp sees what patternmatcher builds from these (see dockerignore.ts).
const REGEXP_CORNERS = [
  'corners/x[*]', // `[^/]*` inside a class: the class is `[`, `^`, `/`, repeated, then `]`
  'corners/q[?]',
  'corners/[[:digit:]]x', // POSIX class
  'corners/\\d.txt', // Perl class
  'corners/a+b',
  'corners/*^z', // `^` is an anchor: below the root it can never match
  'corners/v{1}',
  'corners/[^a-c]y'
]

// Where buildah 1.28 is not Docker, and we follow Docker (moby/patternmatcher + ignorefile):
// - `**.bak`: moby treats a pattern that starts with `**` and has no other wildcard as a suffix
//   test (`.bak` at the end of the path: pkg/core.py.bak is excluded); buildah's older copy of the
//   matcher only builds the regexp `^(.*/)?\.bak$` (a file named exactly `.bak`, at any depth).
// - `a+b`, `v{1}`: moby escapes `.+()|{}$` before handing the pattern to Go's regexp (its own
//   tests match `a(b)c/def` and `a.|)$(}+{bc` literally); buildah's older copy escapes only `.`
//   and `$`, so for it `a+b` matches `aab` and `v{1}` matches `v`.
// `missing`: what buildah ships and we do not; `extra`: the other way round.
const DIVERGENCES: Record<string, { missing: string[]; extra: string[] }> = {
  'no .dockerignore': { missing: [], extra: [] },
  'a .dockerignore without exceptions': { missing: ['app/pkg/core.py.bak'], extra: [] },
  'a .dockerignore with exceptions': { missing: ['app/pkg/core.py.bak'], extra: [] },
  'regular-expression corners': {
    missing: ['app/corners/a+b', 'app/corners/v{1}'],
    extra: ['app/corners/aab', 'app/corners/v']
  }
}

// A few answers spelled out, so that agreeing with buildah is not agreeing on nothing.
const SPOT_CHECKS: Record<string, { shipped: string[]; left: string[] }> = {
  'regular-expression corners': {
    shipped: [
      'app/corners/x*',
      'app/corners/q?',
      'app/corners/dx',
      'app/corners/d.txt',
      'app/corners/aab',
      'app/corners/^z',
      'app/corners/z',
      'app/corners/v',
      'app/corners/by'
    ],
    left: [
      'app/corners/x[]',
      'app/corners/q^]',
      'app/corners/7x',
      'app/corners/5.txt',
      'app/corners/a+b',
      'app/corners/v{1}',
      'app/corners/zy'
    ]
  },
  'no .dockerignore': {
    shipped: ['app/.env', 'app/pkg/__pycache__/core.cpython-311.pyc', 'app/empty/inner/'],
    left: []
  },
  'a .dockerignore without exceptions': {
    shipped: ['app/web/node_modules/x/index.js', 'app/pkg/secrets/not-at-root.txt', 'app/data/x1.csv'],
    left: [
      'app/# not a comment', // the line `  # not a comment` is a pattern
      'app/notes.log',
      'app/pkg/sub/__snapshots__/nested/c.snap',
      'app/data/1.csv',
      'app/data/[raw].txt',
      'app/abc'
    ]
  },
  'a .dockerignore with exceptions': {
    shipped: [
      'app/keep.log',
      'app/docs/README.md',
      'app/docs/guide.md',
      'app/build/dist/sub/other.js',
      'app/build/dist/',
      'app/tests/unit/fixtures/keep.json',
      'app/gen/m5/d5/f1.py',
      'app/gen/m3/d3/f2.tmp',
      'app/pkg/sub/deep/z.py',
      'app/pkg/sub/__snapshots__/b.snap'
    ],
    left: [
      'app/build/dist/app.js.map',
      'app/build/empty/',
      'app/docs/img/logo.png',
      'app/tests/unit/fixtures/big.json',
      'app/pkg/__snapshots__/a.snap',
      'app/gen/m4/d4/f2.tmp',
      'app/gen/m5/d5/f0.log'
    ]
  }
}

describe('walk mode matches buildah COPY . /app', () => {
  it.each([
    ['no .dockerignore', null],
    ['a .dockerignore without exceptions', IGNORE_WITHOUT_EXCEPTIONS],
    ['a .dockerignore with exceptions', IGNORE_WITH_EXCEPTIONS],
    ['regular-expression corners', REGEXP_CORNERS]
  ])('%s', async (name, lines) => {
    const context = join(work, `ctx-${name.replace(/\W+/g, '-')}`)
    mkdirSync(context)
    generateTree(context)
    if (lines) writeFileSync(join(context, '.dockerignore'), lines.join('\n') + '\n')
    const expected = buildahCopy(context, name.replace(/\W+/g, '-'))
    const got = await ours(context)
    expect({
      missing: expected.filter((p) => !got.includes(p)),
      extra: got.filter((p) => !expected.includes(p))
    }).toEqual(DIVERGENCES[name])
    const spot = SPOT_CHECKS[name]!
    expect(spot.shipped.filter((p) => !got.includes(p))).toEqual([])
    expect(spot.left.filter((p) => got.includes(p))).toEqual([])
    expect(got.length).toBeGreaterThan(lines ? 100 : 400)
  })
})
