// Collecting the source layer's files from real directories and real git repositories (git runs
// here; the lock corpus gives the monorepo layouts). buildah.differential.test.ts compares walk
// mode with a real builder's `COPY . /app`.
import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { SourceError } from '../../src/pipeline/errors.js'
import {
  collectSource,
  importRoots,
  localPackagesOf,
  symlinkProblem,
  type CollectOptions,
  type SourceTree
} from '../../src/pipeline/source.js'
import type { LayerEntry } from '../../src/oci/entry.js'
import { buildLayer } from '../../src/oci/layer.js'
import { LayoutStore } from '../../src/registry/layout.js'
import { copyCorpusCase, planDir, tempDir, writeFiles } from '../support/project.js'

/** `path` for files, `path/` for directories, `path -> target` for links. */
function listing(tree: SourceTree): string[] {
  return tree.entries.map((e) =>
    e.type === 'dir' ? `${e.path}/` : e.type === 'symlink' ? `${e.path} -> ${e.target}` : e.path
  )
}

function file(tree: SourceTree, path: string): Extract<LayerEntry, { type: 'file' }> {
  const e = tree.entries.find((x) => x.path === path)
  if (!e || e.type !== 'file') throw new Error(`no file ${path} in ${listing(tree).join(', ')}`)
  return e
}

async function refused(opts: CollectOptions): Promise<SourceError> {
  try {
    await collectSource(opts)
  } catch (e) {
    expect(e).toBeInstanceOf(SourceError)
    return e as SourceError
  }
  throw new Error('expected collectSource to refuse')
}

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' }
  })
}

function gitRepo(files: Record<string, string>): string {
  const dir = tempDir('fast-build-src-')
  git(dir, 'init', '-q', '-b', 'main')
  writeFiles(dir, files)
  git(dir, 'add', '-A')
  git(dir, 'commit', '-q', '-m', 'init')
  return dir
}

describe('walk mode', () => {
  it('ships every file under the workdir, with every directory above them, sorted', async () => {
    const dir = writeFiles(tempDir(), {
      'main.py': 'print(1)\n',
      'pkg/__init__.py': '',
      'pkg/sub/mod.py': 'x = 1\n',
      'bin/run': '#!/bin/sh\n'
    })
    chmodSync(join(dir, 'bin/run'), 0o744)
    mkdirSync(join(dir, 'data/empty'), { recursive: true })
    const tree = await collectSource({ projectDir: dir, workdir: '/app', mode: 'walk' })
    expect(listing(tree)).toEqual([
      'app/',
      'app/bin/',
      'app/bin/run',
      'app/data/',
      'app/data/empty/',
      'app/main.py',
      'app/pkg/',
      'app/pkg/__init__.py',
      'app/pkg/sub/',
      'app/pkg/sub/mod.py'
    ])
    expect(file(tree, 'app/bin/run').executable).toBe(true)
    expect(file(tree, 'app/main.py').executable).toBe(false)
    expect(file(tree, 'app/main.py').size).toBe(9)
    expect((await file(tree, 'app/pkg/sub/mod.py').content()).toString()).toBe('x = 1\n')
    expect(tree).toMatchObject({ files: 4, bytes: 9 + 0 + 6 + 10, excluded: 0, pythonPath: ['/app'] })
  })

  it('places the tree under a deeper workdir, creating its parents', async () => {
    const dir = writeFiles(tempDir(), { 'a.py': '' })
    const tree = await collectSource({ projectDir: dir, workdir: '/srv/app/', mode: 'walk' })
    expect(listing(tree)).toEqual(['srv/', 'srv/app/', 'srv/app/a.py'])
    expect(tree.pythonPath).toEqual(['/srv/app'])
  })

  it('reads contents lazily: a file edited after collecting ships its new content', async () => {
    const dir = writeFiles(tempDir(), { 'a.txt': 'old' })
    const tree = await collectSource({ projectDir: dir, workdir: '/app', mode: 'walk' })
    writeFileSync(join(dir, 'a.txt'), 'new')
    expect((await file(tree, 'app/a.txt').content()).toString()).toBe('new')
  })

  it('leaves out .git, caches, bytecode and virtualenvs (whatever their name)', async () => {
    const dir = writeFiles(tempDir(), {
      'app.py': '',
      '.git/HEAD': 'ref: refs/heads/main\n',
      'vendored/.git': 'gitdir: ../.git/modules/vendored\n',
      'vendored/lib.py': '',
      'pkg/__pycache__/m.cpython-311.pyc': '',
      'pkg/m.py': '',
      'pkg/old.pyc': '',
      '.mypy_cache/3.11/x.json': '',
      '.pytest_cache/v/cache': '',
      'env311/pyvenv.cfg': 'home = /usr/bin\n',
      'env311/lib/python3.11/site-packages/x.py': '',
      '.venv/pyvenv.cfg': '',
      'venv-notes/readme.txt': ''
    })
    const tree = await collectSource({ projectDir: dir, workdir: '/app', mode: 'walk' })
    expect(listing(tree).filter((p) => !p.endsWith('/'))).toEqual([
      'app/app.py',
      'app/pkg/m.py',
      'app/vendored/lib.py',
      'app/venv-notes/readme.txt'
    ])
    expect(tree.excluded).toBe(6) // __pycache__, old.pyc, .mypy_cache, .pytest_cache, env311, .venv
    const all = await collectSource({ projectDir: dir, workdir: '/app', mode: 'walk', skipJunk: false })
    expect(listing(all)).toContain('app/env311/pyvenv.cfg')
    expect(listing(all)).toContain('app/pkg/old.pyc')
    expect(listing(all).some((p) => p.includes('.git'))).toBe(false)
  })

  it('never packs an OCI image layout inside the tree: two walks around a build give one layer', async () => {
    const dir = writeFiles(tempDir(), {
      'app.py': 'print(1)\n',
      'pkg/__init__.py': '',
      'data/oci-layout': 'x',
      'out/log.txt': ''
    })
    const layer = async () => {
      const tree = await collectSource({ projectDir: dir, workdir: '/app', mode: 'walk' })
      return { tree, blob: await buildLayer(tree.entries, { mtime: 0, compression: 'gzip' }) }
    }
    const first = await layer()
    // What builds with `--store oci:./images` and `--store oci:out/oci` leave behind.
    for (const where of ['images', 'out/oci']) {
      const store = new LayoutStore(join(dir, where))
      store.init()
      const image = Buffer.from(JSON.stringify({ schemaVersion: 2, layers: [first.blob.digest] }))
      await store.putBlob(
        { mediaType: first.blob.mediaType, digest: first.blob.digest, size: first.blob.size },
        first.blob.data!
      )
      await store.putManifest('app-1', image, 'application/vnd.oci.image.manifest.v1+json')
    }
    const second = await layer()
    expect(second.blob.digest).toBe(first.blob.digest)
    expect(listing(second.tree)).toEqual(listing(first.tree))
    // A lone `oci-layout` file is not a layout: data/ still ships.
    expect(listing(second.tree)).toContain('app/data/oci-layout')
    expect(second.tree.excluded).toBe(2)
    // The store directories the layout made carry a .gitignore of `*`.
    expect(readFileSync(join(dir, 'images', '.gitignore'), 'utf8')).toBe('*\n')
  })

  it('applies .dockerignore, keeping .dockerignore itself unless it excludes itself', async () => {
    const dir = writeFiles(tempDir(), {
      '.dockerignore': 'tests\n*.log\n!important.log\nbuild\n!build/keep\n',
      'app.py': '',
      'tests/test_app.py': '',
      'debug.log': '',
      'important.log': '',
      'build/tmp/x.o': '',
      'build/keep/artifact.bin': ''
    })
    const tree = await collectSource({ projectDir: dir, workdir: '/app', mode: 'walk' })
    expect(listing(tree)).toEqual([
      'app/',
      'app/.dockerignore',
      'app/app.py',
      'app/build/',
      'app/build/keep/',
      'app/build/keep/artifact.bin',
      'app/important.log'
    ])
    expect(tree.excluded).toBe(3) // tests, debug.log, build
    writeFileSync(join(dir, '.dockerignore'), '.dockerignore\ntests\n')
    const self = await collectSource({ projectDir: dir, workdir: '/app', mode: 'walk' })
    expect(listing(self)).not.toContain('app/.dockerignore')
  })

  it('a bad .dockerignore pattern names the file and the line', async () => {
    const dir = writeFiles(tempDir(), { '.dockerignore': '# ok\n*.pyc\nsrc/[a-\n', 'a.py': '' })
    const e = await refused({ projectDir: dir, workdir: '/app', mode: 'walk' })
    expect(e.describe()).toMatch(
      /^\.dockerignore:3: bad \.dockerignore pattern "src\/\[a-": malformed character class/
    )
  })
})

describe('symlinks and names', () => {
  it('keeps links that stay inside the tree, as links', async () => {
    const dir = writeFiles(tempDir(), { 'conf/base.toml': '', 'pkg/mod.py': '' })
    symlinkSync('conf/base.toml', join(dir, 'settings.toml'))
    symlinkSync('../conf', join(dir, 'pkg/conf'))
    symlinkSync('missing-but-inside', join(dir, 'dangling'))
    const tree = await collectSource({ projectDir: dir, workdir: '/app', mode: 'walk' })
    expect(listing(tree)).toEqual([
      'app/',
      'app/conf/',
      'app/conf/base.toml',
      'app/dangling -> missing-but-inside',
      'app/pkg/',
      'app/pkg/conf -> ../conf',
      'app/pkg/mod.py',
      'app/settings.toml -> conf/base.toml'
    ])
  })

  it.each<[string, string, RegExp]>([
    ['secrets', '/etc/passwd', /symlink secrets -> \/etc\/passwd has an absolute target/],
    [
      'pkg/up',
      '../../outside',
      /symlink pkg\/up -> \.\.\/\.\.\/outside points outside the directory being shipped/
    ]
  ])('refuses %s -> %s, naming the link and the fix', async (link, target, message) => {
    const dir = writeFiles(tempDir(), { 'pkg/mod.py': '' })
    symlinkSync(target, join(dir, link))
    const e = await refused({ projectDir: dir, workdir: '/app', mode: 'walk' })
    expect(e.message).toMatch(message)
    expect(e.location.file).toBe(link)
    expect(e.hint).toBe(`replace the link with the file it points to, or add "${link}" to .dockerignore`)
    // The fix the message suggests works.
    writeFileSync(join(dir, '.dockerignore'), `${link}\n`)
    await expect(collectSource({ projectDir: dir, workdir: '/app', mode: 'walk' })).resolves.toBeDefined()
  })

  it('refuses a chain of links that each stay inside but together reach outside the tree', async () => {
    const dir = writeFiles(tempDir(), { 'd1/d2/mod.py': '', 'ok.py': '' })
    // Each passes the check of its own target: `up` is the tree's root, `esc` names a path below it.
    symlinkSync('../..', join(dir, 'd1/d2/up'))
    symlinkSync('d1/d2/up/../etc/passwd', join(dir, 'esc'))
    expect(symlinkProblem('d1/d2/up', '../..')).toBeNull()
    expect(symlinkProblem('esc', 'd1/d2/up/../etc/passwd')).toBeNull()
    const e = await refused({ projectDir: dir, workdir: '/app', mode: 'walk' })
    expect(e.message).toBe(
      'symlink esc -> d1/d2/up/../etc/passwd resolves to /etc/passwd in the image, outside /app (through other links of the tree)'
    )
    expect(e.location.file).toBe('esc')
    // The link to the root alone is fine, and so is a loop (it reaches nothing).
    writeFileSync(join(dir, '.dockerignore'), 'esc\n')
    symlinkSync('loop-b', join(dir, 'loop-a'))
    symlinkSync('loop-a', join(dir, 'loop-b'))
    await expect(collectSource({ projectDir: dir, workdir: '/app', mode: 'walk' })).resolves.toBeDefined()
  })

  it('symlinkProblem resolves the target from the link’s own directory', () => {
    expect(symlinkProblem('a/b/link', '../../x')).toBeNull()
    expect(symlinkProblem('a/b/link', '../../../x')).toMatch(/outside/)
    expect(symlinkProblem('link', './x/../../y')).toMatch(/outside/)
    expect(symlinkProblem('link', '')).toMatch(/empty/)
  })

  it('refuses names that are not UTF-8 or that hold a newline', async () => {
    const dir = writeFiles(tempDir(), { 'ok.py': '' })
    writeFileSync(Buffer.from(join(dir, 'bad-\xff.txt'), 'latin1'), '')
    const e = await refused({ projectDir: dir, workdir: '/app', mode: 'walk' })
    expect(e.message).toMatch(/is not valid UTF-8/)
    expect(e.hint).toMatch(/rename it/)

    const dir2 = writeFiles(tempDir(), { 'ok.py': '', 'two\nlines.txt': '' })
    const e2 = await refused({ projectDir: dir2, workdir: '/app', mode: 'walk' })
    expect(e2.message).toBe('the file name "two\\nlines.txt" contains a newline')
  })

  it('refuses sockets and FIFOs', async () => {
    const dir = writeFiles(tempDir(), { 'ok.py': '' })
    execFileSync('mkfifo', [join(dir, 'pipe')])
    const e = await refused({ projectDir: dir, workdir: '/app', mode: 'walk' })
    expect(e.describe()).toBe(
      'pipe: pipe is a FIFO, which cannot go into an image layer\n  fix: add "pipe" to .dockerignore'
    )
  })

  it('refuses a workdir that is not absolute', async () => {
    const dir = writeFiles(tempDir(), { 'ok.py': '' })
    const e = await refused({ projectDir: dir, workdir: 'app', mode: 'walk' })
    expect(e.location.keyPath).toBe('tool.fast-build.workdir')
  })
})

describe('git mode', () => {
  it('ships exactly what git tracks, with the working tree’s content', async () => {
    const dir = gitRepo({
      '.gitignore': '*.env\n',
      'a.py': 'committed\n',
      'b.py': 'b\n',
      'sub/c.py': 'c\n',
      'run.sh': '#!/bin/sh\n'
    })
    chmodSync(join(dir, 'run.sh'), 0o755)
    symlinkSync('sub/c.py', join(dir, 'c-link.py'))
    git(dir, 'add', 'run.sh', 'c-link.py')
    git(dir, 'commit', '-q', '-m', 'exec and link')
    writeFileSync(join(dir, 'a.py'), 'edited, not committed\n') // modified
    rmSync(join(dir, 'b.py')) // deleted but still tracked
    writeFiles(dir, { 'untracked.py': '', 'secret.env': 'TOKEN=x', 'staged.py': 'staged\n' })
    git(dir, 'add', 'staged.py') // in the index, not committed
    const tree = await collectSource({ projectDir: dir, workdir: '/app', mode: 'git' })
    expect(listing(tree)).toEqual([
      'app/',
      'app/.gitignore',
      'app/a.py',
      'app/c-link.py -> sub/c.py',
      'app/run.sh',
      'app/staged.py',
      'app/sub/',
      'app/sub/c.py'
    ])
    expect((await file(tree, 'app/a.py').content()).toString()).toBe('edited, not committed\n')
    expect(file(tree, 'app/a.py').size).toBe(22)
    expect(file(tree, 'app/run.sh').executable).toBe(true)
  })

  it('lists only the project directory’s part of the repository, relative to it', async () => {
    const repo = gitRepo({
      'README.md': '',
      'services/api/main.py': '',
      'services/api/pyproject.toml': '',
      'services/web/x.py': ''
    })
    const tree = await collectSource({ projectDir: join(repo, 'services/api'), workdir: '/app', mode: 'git' })
    expect(listing(tree)).toEqual(['app/', 'app/main.py', 'app/pyproject.toml'])
  })

  it('applies .dockerignore to tracked files, and never ships .git', async () => {
    const dir = gitRepo({
      '.dockerignore': 'docs\n!docs/api.md\n',
      'docs/guide.md': '',
      'docs/api.md': '',
      'm.py': ''
    })
    const tree = await collectSource({ projectDir: dir, workdir: '/app', mode: 'git' })
    expect(listing(tree)).toEqual(['app/', 'app/.dockerignore', 'app/docs/', 'app/docs/api.md', 'app/m.py'])
    expect(tree.excluded).toBe(1)
  })

  it('skips a tracked file now behind a symlinked directory (git: "beyond a symbolic link")', async () => {
    const outside = writeFiles(tempDir(), { 'x.py': 'outside\n' })
    const dir = gitRepo({ 'lib/x.py': 'inside\n', 'm.py': '' })
    rmSync(join(dir, 'lib'), { recursive: true })
    symlinkSync(outside, join(dir, 'lib'))
    const tree = await collectSource({ projectDir: dir, workdir: '/app', mode: 'git' })
    expect(listing(tree)).toEqual(['app/', 'app/m.py'])
  })

  it('refuses a tracked symlink that leaves the tree', async () => {
    const dir = gitRepo({ 'm.py': '' })
    symlinkSync('../../etc/hosts', join(dir, 'hosts'))
    git(dir, 'add', 'hosts')
    const e = await refused({ projectDir: dir, workdir: '/app', mode: 'git' })
    expect(e.message).toBe('symlink hosts -> ../../etc/hosts points outside the directory being shipped')
  })

  it('refuses a tracked name with a newline', async () => {
    const dir = gitRepo({ 'm.py': '', 'a\nb.py': '' })
    const e = await refused({ projectDir: dir, workdir: '/app', mode: 'git' })
    expect(e.message).toBe('the file name "a\\nb.py" contains a newline')
  })

  it('refuses a project directory git tracks nothing of', async () => {
    const repo = gitRepo({ 'm.py': '' })
    writeFiles(repo, { 'new-service/pyproject.toml': '' })
    const e = await refused({ projectDir: join(repo, 'new-service'), workdir: '/app' })
    expect(e.describe()).toBe(
      '.: git tracks no files in the project directory\n  fix: git add the project files, or set the source mode to walk'
    )
  })

  it('auto mode uses git inside a work tree and walks elsewhere', async () => {
    const repo = gitRepo({ 'm.py': '' })
    writeFiles(repo, { 'untracked.py': '' })
    expect(listing(await collectSource({ projectDir: repo, workdir: '/app' }))).toEqual(['app/', 'app/m.py'])
    const plain = writeFiles(tempDir(), { 'm.py': '', 'untracked.py': '' })
    expect(listing(await collectSource({ projectDir: plain, workdir: '/app' }))).toEqual([
      'app/',
      'app/m.py',
      'app/untracked.py'
    ])
    const e = await refused({ projectDir: plain, workdir: '/app', mode: 'git' })
    expect(e.message).toMatch(/^git ls-files failed in \.: fatal: not a git repository/)
    expect(e.hint).toMatch(/source mode to walk/)
  })
})

describe('local packages', () => {
  // langgraph's libs/langgraph depends on ../checkpoint, ../prebuilt... by path (develop = true).
  function langgraph(): { projectDir: string; base: string } {
    const projectDir = copyCorpusCase('poetry-langgraph')
    const base = join(projectDir, '../..')
    writeFiles(base, {
      'libs/langgraph/langgraph/graph/__init__.py': '',
      'libs/checkpoint/langgraph/checkpoint/base/__init__.py': '',
      'libs/checkpoint/.dockerignore': 'tests\n',
      'libs/checkpoint/tests/test_x.py': '',
      'libs/prebuilt/langgraph/prebuilt/__init__.py': '',
      'libs/sdk-py/langgraph_sdk/__init__.py': '',
      'libs/checkpoint-sqlite/langgraph/checkpoint/sqlite/__init__.py': '',
      'libs/checkpoint-postgres/langgraph/checkpoint/postgres/__init__.py': ''
    })
    return { projectDir, base }
  }

  it('ships path dependencies from outside the project under _local/<name>, importable', async () => {
    const { projectDir } = langgraph()
    const locals = localPackagesOf(planDir(projectDir))
    expect(locals.map((l) => l.path)).toEqual(expect.arrayContaining(['.', '../checkpoint', '../prebuilt']))
    const tree = await collectSource({ projectDir, workdir: '/app', mode: 'walk', localPackages: locals })
    const paths = listing(tree)
    expect(paths).toContain('app/langgraph/graph/__init__.py')
    expect(paths).toContain('app/_local/')
    expect(paths).toContain('app/_local/langgraph-checkpoint/langgraph/checkpoint/base/__init__.py')
    expect(paths).toContain('app/_local/langgraph-checkpoint/pyproject.toml')
    expect(paths).not.toContain('app/_local/langgraph-checkpoint/tests/test_x.py') // its own .dockerignore
    expect(paths).toContain('app/_local/langgraph-prebuilt/langgraph/prebuilt/__init__.py')
    expect(tree.pythonPath[0]).toBe('/app')
    expect(tree.pythonPath).toEqual(
      expect.arrayContaining(['/app/_local/langgraph-checkpoint', '/app/_local/langgraph-prebuilt'])
    )
    expect(tree.packages.find((p) => p.name === 'langgraph-checkpoint')).toMatchObject({
      path: '../checkpoint',
      dir: '/app/_local/langgraph-checkpoint',
      mode: 'walk'
    })
  })

  it('collects each outside package with its own git listing', async () => {
    const { projectDir, base } = langgraph()
    git(base, 'init', '-q', '-b', 'main')
    git(base, 'add', '-A')
    git(base, 'commit', '-q', '-m', 'monorepo')
    writeFiles(base, { 'libs/checkpoint/scratch.py': '' }) // untracked
    const tree = await collectSource({
      projectDir,
      workdir: '/app',
      localPackages: localPackagesOf(planDir(projectDir))
    })
    const paths = listing(tree)
    expect(paths).toContain('app/_local/langgraph-checkpoint/langgraph/checkpoint/base/__init__.py')
    expect(paths).not.toContain('app/_local/langgraph-checkpoint/scratch.py')
    expect(tree.packages.every((p) => p.mode === 'git')).toBe(true)
  })

  it('members inside the project are already in the tree; their import roots join PYTHONPATH', async () => {
    const projectDir = copyCorpusCase('uv-tiny-workspace')
    writeFiles(projectDir, {
      'main.py': '',
      'packages/pkg_editable/src/pkg_editable/__init__.py': '',
      'packages/pkg_versioned/pkg_versioned/__init__.py': ''
    })
    const locals = localPackagesOf(planDir(projectDir))
    const tree = await collectSource({ projectDir, workdir: '/app', mode: 'walk', localPackages: locals })
    expect(listing(tree).some((p) => p.includes('_local'))).toBe(false)
    expect(tree.pythonPath[0]).toBe('/app')
    expect(tree.pythonPath).toContain('/app/packages/pkg_editable/src')
  })

  it('a src-layout package outside the project puts its src/ on PYTHONPATH', async () => {
    const root = tempDir()
    const projectDir = join(root, 'app')
    writeFiles(root, {
      'app/pyproject.toml': '',
      'app/main.py': '',
      'lib/pyproject.toml': '',
      'lib/src/mylib/__init__.py': ''
    })
    const tree = await collectSource({
      projectDir,
      workdir: '/app',
      mode: 'walk',
      localPackages: [{ name: 'My_Lib', path: '../lib' }]
    })
    expect(listing(tree)).toContain('app/_local/my-lib/src/mylib/__init__.py')
    expect(tree.pythonPath).toEqual(['/app', '/app/_local/my-lib/src'])
  })

  it.each<[string, Record<string, string>, CollectOptions['localPackages'], RegExp, RegExp]>([
    [
      'a missing path dependency',
      {},
      [{ name: 'gone', path: '../gone' }],
      /^local package gone \(\.\.\/gone\) is not a directory here$/,
      /check out the whole repository/
    ],
    [
      'a member excluded by .dockerignore',
      { '.dockerignore': 'packages\n', 'packages/a/a.py': '' },
      [{ name: 'a', path: 'packages/a' }],
      /^local package a \(packages\/a\) has no files in the source layer$/,
      /^its files are excluded by \.dockerignore, or left out as junk/
    ],
    [
      'a package around the project',
      {},
      [{ name: 'root', path: '..' }],
      /contains the project directory/,
      /whole workspace/
    ]
  ])('refuses %s', async (_what, files, localPackages, message, hint) => {
    const root = tempDir()
    const projectDir = join(root, 'app')
    writeFiles(projectDir, { 'main.py': '', ...files })
    const e = await refused({ projectDir, workdir: '/app', mode: 'walk', localPackages })
    expect(e.message).toMatch(message)
    expect(e.hint).toMatch(hint)
  })

  it('a virtual workspace root around the project is not shipped', async () => {
    const root = tempDir()
    const projectDir = join(root, 'app')
    writeFiles(projectDir, { 'main.py': '' })
    const tree = await collectSource({
      projectDir,
      workdir: '/app',
      mode: 'walk',
      localPackages: [{ name: 'ws', path: '..', virtual: true }]
    })
    expect(listing(tree)).toEqual(['app/', 'app/main.py'])
  })
})

describe('importRoots', () => {
  it.each<[string, string[], string | null, string[]]>([
    ['flat package', ['pkg/__init__.py', 'pyproject.toml'], null, ['.']],
    ['flat app', ['main.py'], null, ['.']],
    ['src layout', ['src/pkg/__init__.py'], null, ['src']],
    ['src namespace package', ['src/ns/pkg/mod.py'], null, ['src']],
    ['src single module', ['src/tool.py'], null, ['src']],
    ['src is itself a package', ['src/__init__.py', 'src/app.py'], null, ['.']],
    ['src without Python', ['src/index.ts', 'app.py'], null, ['.']],
    [
      'poetry from',
      ['lib/pkg/__init__.py'],
      '[tool.poetry]\npackages = [{ include = "pkg", from = "lib" }]',
      ['lib']
    ],
    [
      'poetry without from',
      ['pkg/__init__.py', 'src/x.py'],
      '[tool.poetry]\npackages = [{ include = "pkg" }]',
      ['.']
    ],
    [
      'setuptools package-dir',
      ['code/pkg/__init__.py'],
      '[tool.setuptools]\npackage-dir = { "" = "code" }',
      ['code']
    ],
    [
      'setuptools find.where',
      ['lib/pkg/__init__.py'],
      '[tool.setuptools.packages.find]\nwhere = ["lib"]',
      ['lib']
    ],
    [
      'uv_build module-root',
      ['python/pkg/__init__.py'],
      '[tool.uv.build-backend]\nmodule-root = "python"',
      ['python']
    ],
    [
      'hatch packages',
      ['src/pkg/__init__.py'],
      '[tool.hatch.build.targets.wheel]\npackages = ["src/pkg"]',
      ['src']
    ],
    [
      'a declared directory that is not there',
      ['src/pkg/__init__.py'],
      '[tool.setuptools.packages.find]\nwhere = ["lib"]',
      ['src']
    ]
  ])('%s', async (_name, files, toml, want) => {
    const { parse } = await import('smol-toml')
    expect(importRoots(files, toml === null ? null : (parse(toml) as never))).toEqual(want)
  })
})
