// The project's source files for the source layer: which files (git's list or a directory walk,
// less `.dockerignore`), where they go in the image (`<workdir>/...`, local packages from outside
// the project under `<workdir>/_local/<name>/`), and what goes on PYTHONPATH. The only part of the
// source layer that touches the disk; file contents are read later, lazily, by the tar writer.
//
// Which files:
// - git mode: `git ls-files --cached --recurse-submodules` in the directory: what git tracks there,
//   read from the working tree (uncommitted edits count; tracked files deleted from the working
//   tree, or now behind a symlinked directory, are skipped; untracked files are not shipped).
//   .gitignore has already decided what is junk.
// - walk mode: every file below the directory, as `COPY . <workdir>` would see it, less common
//   junk (see JUNK_DIRS/JUNK_FILES: caches, `__pycache__`, `*.pyc`, and any directory holding a
//   `pyvenv.cfg`, i.e. a virtualenv whatever its name). Empty directories are kept, as Docker does.
//   Never shipped, junk rules or not: an OCI image layout (a directory holding `oci-layout` and
//   `index.json`), such as a `--store oci:./images` inside the project. Packing it would put the
//   previous images into the next one, which grows without end and changes the layer every build.
// - auto: git when the directory is inside a git work tree (a `.git` in it or above it), else walk.
// In every mode nothing named `.git` is shipped, and `<dir>/.dockerignore` applies with Docker's
// semantics (see dockerignore.ts); the `.dockerignore` file itself ships unless it excludes itself.
//
// What is refused (SourceError, naming the path and the fix): symlinks with absolute targets or
// targets outside the directory they were collected from, names that are not UTF-8 or hold a
// newline, paths with `..`, sockets/FIFOs/devices, local packages that are missing or excluded.
import { ImageFilesystem } from '../oci/filesystem.js'
import { execFile } from 'node:child_process'
import { existsSync, lstatSync, readFileSync, statSync, type Dirent, type Stats } from 'node:fs'
import { readdir, readlink } from 'node:fs/promises'
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path'
import { normalizeName } from '../names.js'
import type { LayerEntry } from '../oci/entry.js'
import type { Plan } from '../plan/plan.js'
import { parseToml, type TomlTable } from '../util/toml.js'
import {
  cleanPath,
  isExcluded,
  NO_DOCKERIGNORE,
  parseDockerignore,
  type DockerignorePatterns
} from './dockerignore.js'
import { SourceError } from './errors.js'

export { SourceError } from './errors.js'

export type SourceMode = 'git' | 'walk' | 'auto'

export interface LocalPackageRef {
  readonly name: string
  /** Relative to `projectDir`, `/`-separated: `.` (the project), `packages/a`, `../checkpoint`. */
  readonly path: string
  /** uv's virtual projects (a workspace root): nothing to import, so not shipped from outside. */
  readonly virtual?: boolean
}

export interface CollectOptions {
  /** Absolute; where pyproject.toml is. */
  readonly projectDir: string
  /** Absolute path in the image, such as `/app`. */
  readonly workdir: string
  /** The plan's local packages (the project itself may be among them, as `.`). */
  readonly localPackages?: readonly LocalPackageRef[]
  /** Default `auto`. Applies to the project and to each local package from outside it. */
  readonly mode?: SourceMode
  /**
   * Walk mode: leave out caches, bytecode and virtualenvs (JUNK_DIRS, JUNK_FILES, pyvenv.cfg).
   * Default true. A `.dockerignore` exception cannot bring them back; set false to ship them.
   */
  readonly skipJunk?: boolean
}

export interface ShippedPackage {
  /** PEP 503 name; the project's own entry is named after its directory. */
  readonly name: string
  /** Relative to `projectDir`, as given. */
  readonly path: string
  /** Where its files are in the image (absolute). */
  readonly dir: string
  /** Its entries on PYTHONPATH (absolute, in the image). */
  readonly importRoots: readonly string[]
  /** How its files were listed (its own, for packages from outside the project). */
  readonly mode: 'git' | 'walk'
}

export interface SourceTree {
  /** Files, symlinks and every directory above them, sorted by path. */
  readonly entries: LayerEntry[]
  /** Regular files. */
  readonly files: number
  /** Their total size. */
  readonly bytes: number
  /** Absolute in-image directories, the project's first, then the local packages'. */
  readonly pythonPath: string[]
  /**
   * What .dockerignore and the junk rules left out, for messages: files in git mode; in walk mode
   * the top-most paths (an excluded directory counts once, whatever it holds).
   */
  readonly excluded: number
  /** The project (first), then every local package, with where it went. */
  readonly packages: readonly ShippedPackage[]
}

/** Directory names walk mode never ships (any depth). */
export const JUNK_DIRS: ReadonlySet<string> = new Set([
  '__pycache__',
  '.mypy_cache',
  '.pytest_cache',
  '.ruff_cache',
  '.tox',
  '.nox'
])
/** File name endings walk mode never ships. */
export const JUNK_FILES: readonly string[] = ['.pyc', '.pyo']
/** A directory holding this file is a virtualenv: walk mode leaves it out. */
const VENV_MARKER = 'pyvenv.cfg'
/** A directory holding both is an OCI image layout (an image store): walk mode leaves it out. */
const OCI_LAYOUT_MARKERS = ['oci-layout', 'index.json'] as const

/** Under `<workdir>/` for local packages from outside the project directory. */
export const LOCAL_DIR = '_local'

/**
 * Every local package of the plan's closures (any variant, any platform), once: the project
 * itself (`.`), workspace members and path dependencies. `lockDir` is the lock's directory relative
 * to the project directory (lock paths are relative to it).
 */
export function localPackagesOf(plan: Plan, lockDir = '.'): LocalPackageRef[] {
  const byPath = new Map<string, LocalPackageRef>()
  for (const v of plan.variants) {
    for (const p of v.platforms) {
      for (const { package: pkg } of p.closure.local) {
        if (pkg.source.kind !== 'directory') continue
        const path = cleanPath(`${lockDir}/${pkg.source.path}`)
        if (!byPath.has(path)) byPath.set(path, { name: pkg.name, path, virtual: pkg.source.virtual })
      }
    }
  }
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}

// --- the whole tree ---------------------------------------------------------------------------

export async function collectSource(opts: CollectOptions): Promise<SourceTree> {
  const projectDir = resolve(opts.projectDir)
  const imageRoot = imageRootOf(opts.workdir)
  const mode = opts.mode ?? 'auto'
  const skipJunk = opts.skipJunk ?? true
  requireDirectory(projectDir, '.', 'the project directory')

  const project = await collectTree(projectDir, '', mode, skipJunk)
  if (project.mode === 'git' && project.items.length === 0) {
    throw new SourceError(
      'git tracks no files in the project directory',
      { file: '.' },
      'git add the project files, or set the source mode to walk'
    )
  }
  const trees: { tree: Tree; prefix: string }[] = [{ tree: project, prefix: imageRoot }]
  const packages: ShippedPackage[] = [
    {
      name: normalizeName(projectDir.split(sep).pop() || 'project'),
      path: '.',
      dir: '/' + imageRoot,
      importRoots: importRoots(filesOf(project, ''), readPyproject(projectDir)).map((r) =>
        inImage(imageRoot, r)
      ),
      mode: project.mode
    }
  ]

  const outside = new Map<string, string>() // name → path, to refuse two packages in one place
  for (const ref of opts.localPackages ?? []) {
    const abs = resolve(projectDir, ref.path)
    const rel = relative(projectDir, abs).split(sep).join('/')
    if (rel === '') continue // the project itself
    const display = ref.path
    const isOutside = rel === '..' || rel.startsWith('../') || isAbsolute(rel)
    const name = packageName(ref.name, display)
    if (!isOutside) {
      const files = filesOf(project, rel)
      if (files.length === 0) {
        requireDirectory(abs, display, `local package ${name}`)
        const why = [
          ...(existsSync(join(projectDir, '.dockerignore')) ? ['excluded by .dockerignore'] : []),
          project.mode === 'git' ? 'not tracked by git' : 'left out as junk (caches, virtualenvs)'
        ].join(', or ')
        throw new SourceError(
          `local package ${name} (${display}) has no files in the source layer`,
          { file: display },
          `its files are ${why}; ship them (change .dockerignore${project.mode === 'git' ? ', or git add them' : ''})`
        )
      }
      packages.push({
        name,
        path: ref.path,
        dir: '/' + join2(imageRoot, rel),
        importRoots: importRoots(files, readPyproject(abs)).map((r) => inImage(join2(imageRoot, rel), r)),
        mode: project.mode
      })
      continue
    }
    if ((projectDir + sep).startsWith(abs + sep)) {
      if (ref.virtual) continue // a workspace root around the project: nothing to import
      throw new SourceError(
        `local package ${name} (${display}) contains the project directory; it cannot ship separately`,
        { file: display },
        'run fast-build on the directory that holds the whole workspace, or make the package a sibling of the project'
      )
    }
    const seen = outside.get(name)
    if (seen !== undefined) {
      if (seen === rel) continue
      throw new SourceError(
        `two local packages named ${name}: ${seen} and ${display}`,
        { file: display },
        'give the packages distinct names in their pyproject.toml'
      )
    }
    outside.set(name, rel)
    requireDirectory(abs, display, `local package ${name}`)
    const tree = await collectTree(abs, rel, mode, skipJunk)
    const prefix = join2(imageRoot, `${LOCAL_DIR}/${name}`)
    const files = filesOf(tree, '')
    if (files.length === 0) {
      throw new SourceError(
        `local package ${name} (${display}) has no files to ship`,
        { file: display },
        tree.mode === 'git' ? 'git add its files, or use source mode walk' : 'check its .dockerignore'
      )
    }
    trees.push({ tree, prefix })
    packages.push({
      name,
      path: ref.path,
      dir: '/' + prefix,
      importRoots: importRoots(files, readPyproject(abs)).map((r) => inImage(prefix, r)),
      mode: tree.mode
    })
  }

  const { entries, files, bytes } = toEntries(trees, imageRoot)
  checkLinksResolveInside(
    entries,
    trees.map((t) => t.prefix)
  )
  const pythonPath = [...new Set(packages.flatMap((p) => p.importRoots))]
  const excluded = trees.reduce((n, t) => n + t.tree.excluded, 0)
  return { entries, files, bytes, pythonPath, excluded, packages }
}

/** `/app` → `app`; `/` → ``. */
function imageRootOf(workdir: string): string {
  const clean = cleanPath(workdir)
  if (!workdir.startsWith('/') || clean.split('/').includes('..')) {
    throw new SourceError(
      `workdir ${JSON.stringify(workdir)} is not an absolute path in the image`,
      { keyPath: 'tool.fast-build.workdir' },
      'set workdir to an absolute path such as "/app"'
    )
  }
  return clean.slice(1)
}

const join2 = (a: string, b: string): string => (a === '' ? b : b === '' || b === '.' ? a : `${a}/${b}`)
const inImage = (prefix: string, root: string): string => '/' + join2(prefix, root)

function packageName(name: string, display: string): string {
  const n = normalizeName(name)
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(n)) {
    throw new SourceError(
      `local package name ${JSON.stringify(name)} cannot name a directory`,
      { file: display },
      'fix the name in its pyproject.toml'
    )
  }
  return n
}

function requireDirectory(abs: string, display: string, what: string): void {
  let ok: boolean
  try {
    ok = statSync(abs).isDirectory()
  } catch {
    ok = false
  }
  if (!ok) {
    throw new SourceError(
      `${what} (${display}) is not a directory here`,
      { file: display },
      'check out the whole repository (path dependencies and workspace members included) before building'
    )
  }
}

// --- one directory: list, filter, stat ---------------------------------------------------------

type Item =
  | {
      readonly kind: 'file'
      readonly rel: string
      readonly abs: string
      readonly size: number
      readonly executable: boolean
    }
  | { readonly kind: 'symlink'; readonly rel: string; readonly target: string }

interface Tree {
  readonly mode: 'git' | 'walk'
  /** Files and symlinks, relative to the tree's directory. */
  readonly items: readonly Item[]
  /** Directories to create even when empty (walk mode). */
  readonly dirs: readonly string[]
  readonly excluded: number
}

/** `display` is how the directory is named in messages, relative to the project (`` for it). */
async function collectTree(dir: string, display: string, mode: SourceMode, skipJunk: boolean): Promise<Tree> {
  const ignore = readDockerignore(dir, display)
  const useGit = mode === 'git' || (mode === 'auto' && insideGitWorkTree(dir))
  return useGit ? collectGit(dir, display, ignore) : collectWalk(dir, display, ignore, skipJunk)
}

function readDockerignore(dir: string, display: string): DockerignorePatterns {
  const path = join(dir, '.dockerignore')
  const name = join2(display, '.dockerignore')
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return NO_DOCKERIGNORE
    throw new SourceError(
      `cannot read ${name}: ${(e as Error).message}`,
      { file: name },
      'make it a readable file'
    )
  }
  return parseDockerignore(text, name)
}

function insideGitWorkTree(dir: string): boolean {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, '.git'))) return true
    if (dirname(d) === d) return false
  }
}

// Environment variables that would point git at another repository or index than the directory's.
const GIT_ENV = ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_PREFIX', 'GIT_COMMON_DIR']

function gitLsFiles(dir: string, display: string): Promise<Buffer> {
  const env = { ...process.env }
  for (const k of GIT_ENV) delete env[k]
  return new Promise((resolvePromise, reject) => {
    execFile(
      'git',
      ['ls-files', '-z', '--cached', '--recurse-submodules'],
      { cwd: dir, env, encoding: 'buffer', maxBuffer: 1 << 30 },
      (error, stdout, stderr) => {
        if (!error) return resolvePromise(stdout)
        const where = display || '.'
        const code = (error as NodeJS.ErrnoException).code
        if (code === 'ENOENT') {
          return reject(
            new SourceError(
              `git is not installed, and ${where} is in a git work tree`,
              { file: where },
              'install git, or set the source mode to walk (every file, less .dockerignore)'
            )
          )
        }
        const said = stderr.toString('utf8').trim().split('\n')[0] || error.message
        const hint = /dubious ownership/.test(said)
          ? `mark the checkout as safe (git config --global --add safe.directory ${dir}), or set the source mode to walk`
          : 'fix the checkout, or set the source mode to walk (every file, less .dockerignore)'
        reject(new SourceError(`git ls-files failed in ${where}: ${said}`, { file: where }, hint))
      }
    )
  })
}

const UTF8 = new TextDecoder('utf-8', { fatal: true })

/** A name as bytes → text, refusing what cannot go into a tar layer faithfully. */
function decodeName(bytes: Buffer, displayParent: string): string {
  let name: string
  try {
    name = UTF8.decode(bytes)
  } catch {
    const shown = join2(displayParent, bytes.toString('utf8'))
    throw new SourceError(
      `the file name ${JSON.stringify(shown)} is not valid UTF-8`,
      { file: shown },
      'rename it (UTF-8 names only), or add it to .dockerignore'
    )
  }
  if (name.includes('\n') || name.includes('\0')) {
    const shown = join2(displayParent, name)
    throw new SourceError(
      `the file name ${JSON.stringify(shown)} contains a newline`,
      { file: shown },
      'rename it, or add it to .dockerignore'
    )
  }
  return name
}

/** Listings started early by prefetchSource, by directory; taken once. */
const early = new Map<string, Promise<Buffer | null>>()

/**
 * Start listing the project's files (in git mode) before anything else needs them: git runs in
 * its own process while this one reads the lock and plans. collectSource takes the result.
 */
export function prefetchSource(projectDir: string, mode: SourceMode = 'auto'): void {
  const dir = resolve(projectDir)
  if (early.has(dir)) return
  if (mode === 'walk' || (mode === 'auto' && !insideGitWorkTree(dir))) return
  // A failure is reported by the real call, which runs git again for its message.
  early.set(
    dir,
    gitLsFiles(dir, '').catch(() => null)
  )
}

async function collectGit(dir: string, display: string, ignore: DockerignorePatterns): Promise<Tree> {
  const prefetched = early.get(dir)
  early.delete(dir)
  const out = (prefetched && (await prefetched)) || (await gitLsFiles(dir, display))
  const paths = new Set<string>()
  let excluded = 0
  for (let start = 0; start < out.length;) {
    let end = out.indexOf(0, start)
    if (end === -1) end = out.length
    if (end > start) {
      const path = decodeName(out.subarray(start, end), display)
      checkRelative(path, display)
      if (isGitPath(path)) excluded++
      else if (isExcluded(ignore, path)) excluded++
      else paths.add(path)
    }
    start = end + 1
  }
  // A tracked file behind a directory that is now a symlink is not in the working tree (git says
  // "beyond a symbolic link"); check each directory once.
  const parents = new Set<string>()
  for (const p of paths)
    for (let i = p.indexOf('/'); i !== -1; i = p.indexOf('/', i + 1)) parents.add(p.slice(0, i))
  const parentList = [...parents]
  const parentStats = await lstatAll(parentList.map((p) => join(dir, p)))
  const badParents = new Set(parentList.filter((_, i) => !parentStats[i]?.isDirectory()))
  const list = [...paths].filter((p) => {
    for (let i = p.indexOf('/'); i !== -1; i = p.indexOf('/', i + 1))
      if (badParents.has(p.slice(0, i))) return false
    return true
  })
  const stats = await lstatAll(list.map((p) => join(dir, p)))
  // Missing: deleted from the working tree. A directory: an uninitialized submodule.
  const items: Item[] = []
  for (let i = 0; i < list.length; i++) {
    const st = stats[i] ?? null
    // Regular files (nearly all) need nothing asynchronous.
    const item = st?.isFile()
      ? {
          kind: 'file' as const,
          rel: list[i]!,
          abs: `${dir}/${list[i]!}`,
          size: st.size,
          executable: (st.mode & 0o111) !== 0
        }
      : await toItem(dir, display, list[i]!, st)
    if (item) items.push(item)
  }
  return { mode: 'git', items, dirs: [], excluded }
}

const isGitPath = (rel: string): boolean =>
  rel === '.git' || rel.startsWith('.git/') || rel.includes('/.git/') || rel.endsWith('/.git')

function checkRelative(rel: string, display: string): void {
  if (rel.startsWith('/') || rel.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    const shown = join2(display, rel)
    throw new SourceError(
      `the path ${JSON.stringify(shown)} would land outside the project directory`,
      { file: shown },
      'rename it, or add it to .dockerignore'
    )
  }
}

async function collectWalk(
  root: string,
  display: string,
  ignore: DockerignorePatterns,
  skipJunk: boolean
): Promise<Tree> {
  const files: string[] = []
  const links: string[] = []
  const dirs: string[] = []
  let excluded = 0

  // `keep`: ship the directory itself (false below an excluded one, walked for `!` exceptions).
  const walk = async (rel: string, keep: boolean): Promise<void> => {
    let entries: Dirent<Buffer>[]
    try {
      entries = await readdir(rel === '' ? root : join(root, rel), {
        withFileTypes: true,
        encoding: 'buffer'
      })
    } catch (e) {
      const shown = join2(display, rel) || '.'
      throw new SourceError(
        `cannot list ${shown}: ${(e as Error).message}`,
        { file: shown },
        'make it readable, or add it to .dockerignore'
      )
    }
    if (skipJunk && rel !== '' && entries.some((e) => e.name.equals(VENV_BYTES))) {
      if (keep) excluded++
      return
    }
    if (rel !== '' && isOciLayout(entries)) {
      if (keep) excluded++
      return
    }
    if (keep && rel !== '') dirs.push(rel)
    const below: Promise<void>[] = []
    for (const e of entries) {
      const name = decodeName(e.name, join2(display, rel))
      const path = rel === '' ? name : `${rel}/${name}`
      if (name === '.git') continue
      const isDir = e.isDirectory()
      if (skipJunk && (isDir ? JUNK_DIRS.has(name) : JUNK_FILES.some((j) => name.endsWith(j)))) {
        if (keep) excluded++
        continue
      }
      const out = isExcluded(ignore, path)
      // Below an excluded directory (walked for `!` exceptions) nothing more is counted.
      if (out && keep) excluded++
      if (isDir) {
        if (!out) below.push(walk(path, true))
        // An exception (`!dir/keep`) may bring back something below an excluded directory.
        else if (ignore.hasExceptions) below.push(walk(path, false))
      } else if (out) {
        continue
      } else if (e.isSymbolicLink()) {
        links.push(path)
      } else {
        files.push(path)
      }
    }
    await Promise.all(below)
  }
  await walk('', true)

  const paths = [...files, ...links]
  const stats = await lstatAll(paths.map((p) => join(root, p)))
  // Gone since the listing: it is not there to ship.
  const items = await Promise.all(paths.map((rel, i) => toItem(root, display, rel, stats[i] ?? null)))
  return { mode: 'walk', items: items.filter((i) => i !== null), dirs, excluded }
}

const VENV_BYTES = Buffer.from(VENV_MARKER)
const OCI_LAYOUT_BYTES = OCI_LAYOUT_MARKERS.map((m) => Buffer.from(m))

/** A directory listing with the files of an OCI image layout. */
function isOciLayout(entries: readonly Dirent<Buffer>[]): boolean {
  return OCI_LAYOUT_BYTES.every((m) => entries.some((e) => !e.isDirectory() && e.name.equals(m)))
}

/** The file or link at `rel`; null when there is none (missing, or a directory). */
async function toItem(root: string, display: string, rel: string, st: Stats | null): Promise<Item | null> {
  if (!st || st.isDirectory()) return null
  // `rel` is clean and relative here (checked), so plain concatenation is the join.
  const abs = `${root}/${rel}`
  if (st.isFile()) return { kind: 'file', rel, abs, size: st.size, executable: (st.mode & 0o111) !== 0 }
  const shown = join2(display, rel)
  if (st.isSymbolicLink()) {
    const raw = await readlink(abs, { encoding: 'buffer' })
    let target: string
    let problem: string | null
    try {
      target = UTF8.decode(raw)
      problem = symlinkProblem(rel, target)
    } catch {
      target = raw.toString('utf8')
      problem = 'has a target that is not valid UTF-8'
    }
    if (problem) {
      throw new SourceError(
        `symlink ${shown} -> ${target} ${problem}`,
        { file: shown },
        `replace the link with the file it points to, or add ${JSON.stringify(rel)} to .dockerignore`
      )
    }
    return { kind: 'symlink', rel, target }
  }
  const what = st.isSocket() ? 'a socket' : st.isFIFO() ? 'a FIFO' : 'a device'
  throw new SourceError(
    `${shown} is ${what}, which cannot go into an image layer`,
    { file: shown },
    `add ${JSON.stringify(rel)} to .dockerignore`
  )
}

/**
 * Each link, resolved through the other links as the tree will exist in the image, must stay in the
 * tree it ships with: a chain of links that each look harmless (`d1/d2/up -> ../..`, then
 * `esc -> d1/d2/up/../etc/passwd`) can still reach outside it, which a check of one target alone
 * cannot see. The kernel resolves `..` after each link, and so does ImageFilesystem.realpath.
 */
function checkLinksResolveInside(entries: readonly LayerEntry[], prefixes: readonly string[]): void {
  if (!entries.some((e) => e.type === 'symlink')) return
  const fs = new ImageFilesystem()
  fs.applyLayer(
    entries.map((e) =>
      e.type === 'symlink'
        ? { path: e.path, type: 'symlink' as const, linkTarget: e.target }
        : { path: e.path, type: e.type }
    )
  )
  // Longest first, so a local package under `<workdir>/_local/` is its own tree.
  const roots = [...prefixes].sort((a, b) => b.length - a.length)
  for (const e of entries) {
    if (e.type !== 'symlink') continue
    const root = roots.find((r) => r === '' || e.path.startsWith(`${r}/`)) ?? ''
    const real = fs.realpath(`/${e.path}`)
    // A loop of links resolves to nothing: useless, but it reaches nowhere outside either.
    if (real === null) continue
    const inside = root === '' || real === `/${root}` || real.startsWith(`/${root}/`)
    if (!inside) {
      const rel = root === '' ? e.path : e.path.slice(root.length + 1)
      throw new SourceError(
        `symlink ${rel} -> ${e.target} resolves to ${real} in the image, outside /${root} (through other links of the tree)`,
        { file: rel },
        `replace the link with the file it points to, or add ${JSON.stringify(rel)} to .dockerignore`
      )
    }
  }
}

/** Why a link at `rel` (inside its root) with this target cannot ship, or null when it can. */
export function symlinkProblem(rel: string, target: string): string | null {
  if (target === '') return 'has an empty target'
  if (target.includes('\n') || target.includes('\0')) return 'has a newline in its target'
  if (target.startsWith('/')) return 'has an absolute target, which would point elsewhere in the image'
  const parent = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '.'
  const resolved = cleanPath(`${parent}/${target}`)
  if (resolved === '..' || resolved.startsWith('../')) return 'points outside the directory being shipped'
  return null
}

/**
 * lstat many paths (null when missing). Synchronous on purpose: for a source tree in the page
 * cache a direct lstat costs a few microseconds, far less than a thread-pool round trip each.
 */
async function lstatAll(paths: readonly string[]): Promise<(Stats | null)[]> {
  return paths.map((p) => {
    try {
      return lstatSync(p)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ENOTDIR') return null
      throw err
    }
  })
}

// --- entries ------------------------------------------------------------------------------------

function toEntries(
  trees: readonly { tree: Tree; prefix: string }[],
  imageRoot: string
): { entries: LayerEntry[]; files: number; bytes: number } {
  const entries: LayerEntry[] = []
  const dirs = new Set<string>()
  const addDirs = (path: string) => {
    // `path` and every directory above it.
    for (let p = path; p !== '' && !dirs.has(p); p = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '')
      dirs.add(p)
  }
  const parentOf = (p: string) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '')
  let files = 0
  let bytes = 0
  addDirs(imageRoot)
  for (const { tree, prefix } of trees) {
    addDirs(prefix)
    for (const d of tree.dirs) addDirs(join2(prefix, d))
    for (const item of tree.items) {
      const path = join2(prefix, item.rel)
      addDirs(parentOf(path))
      if (item.kind === 'symlink') {
        entries.push({ type: 'symlink', path, target: item.target })
      } else {
        files++
        bytes += item.size
        const { abs } = item
        entries.push({
          type: 'file',
          path,
          executable: item.executable,
          size: item.size,
          // Source files are small: a synchronous read is far cheaper than three thread-pool
          // round trips, and the tar writer reads them one after another anyway.
          content: () => readFileSync(abs),
          diskPath: abs
        })
      }
    }
  }
  for (const d of dirs) entries.push({ type: 'dir', path: d })
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  return { entries, files, bytes }
}

/** The tree's file paths below `under` (`` for all), relative to it. */
function filesOf(tree: Tree, under: string): string[] {
  if (under === '') return tree.items.map((i) => i.rel)
  const prefix = under + '/'
  return tree.items.filter((i) => i.rel.startsWith(prefix)).map((i) => i.rel.slice(prefix.length))
}

// --- import roots -------------------------------------------------------------------------------

function readPyproject(dir: string): TomlTable | null {
  let text: string
  try {
    text = readFileSync(join(dir, 'pyproject.toml'), 'utf8')
  } catch {
    return null
  }
  try {
    return parseToml(text, 'pyproject.toml')
  } catch {
    return null // the plan reads (and reports on) the project's own; a broken member fails its install
  }
}

const table = (v: unknown): TomlTable | null =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) ? (v as TomlTable) : null
const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []
const at = (t: TomlTable | null, ...keys: string[]): unknown => {
  let v: unknown = t
  for (const k of keys) v = table(v)?.[k]
  return v
}

/**
 * Where a package's modules import from, relative to its root (`.` or `src`...):
 * 1. what its build configuration says, when that directory has files: Poetry
 *    `packages = [{ include, from }]` (`from`, else the root), setuptools `package-dir = { "" = … }`
 *    or `packages.find.where`, uv_build `module-root`, Hatch wheel `packages` (their parents);
 * 2. else `src` when `src/` holds Python code (a module `src/x.py`, or a directory below `src/`
 *    with `.py` files) and is not itself a package (no `src/__init__.py`: then the code imports it
 *    as `src.…` from the root);
 * 3. else the root.
 */
export function importRoots(files: readonly string[], pyproject: TomlTable | null): string[] {
  const dirs = new Set<string>()
  for (const f of files)
    for (let i = f.indexOf('/'); i !== -1; i = f.indexOf('/', i + 1)) dirs.add(f.slice(0, i))
  const exists = (d: string) => d === '.' || dirs.has(d)
  const declared: string[] = []
  const poetry = at(pyproject, 'tool', 'poetry', 'packages')
  if (Array.isArray(poetry)) {
    for (const p of poetry) {
      const from = at(table(p), 'from')
      if (table(p)) declared.push(typeof from === 'string' ? from : '.')
    }
  }
  const packageDir = at(pyproject, 'tool', 'setuptools', 'package-dir', '')
  if (typeof packageDir === 'string') declared.push(packageDir)
  declared.push(...strings(at(pyproject, 'tool', 'setuptools', 'packages', 'find', 'where')))
  const moduleRoot = at(pyproject, 'tool', 'uv', 'build-backend', 'module-root')
  if (typeof moduleRoot === 'string') declared.push(moduleRoot)
  for (const p of strings(at(pyproject, 'tool', 'hatch', 'build', 'targets', 'wheel', 'packages'))) {
    const clean = cleanPath(p)
    declared.push(clean.includes('/') ? clean.slice(0, clean.lastIndexOf('/')) : '.')
  }
  const roots = [...new Set(declared.map(cleanPath))].filter(
    (d) => !d.startsWith('..') && !d.startsWith('/') && exists(d)
  )
  if (roots.length > 0) return roots
  const srcLayout =
    !files.includes('src/__init__.py') && files.some((f) => f.startsWith('src/') && f.endsWith('.py'))
  return [srcLayout ? 'src' : '.']
}
