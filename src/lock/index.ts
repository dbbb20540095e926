// Find the project's lock file and read it into the common model.
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError, LockError } from '../errors.js'
import type { Project } from '../project/pyproject.js'
import { parseToml, readTomlFile, type TomlTable } from '../util/toml.js'
import type { Lock, LockFormat } from './model.js'
import { readPoetryLock } from './poetry.js'
import { cutPoetryFileArrays, type CutFiles } from './poetry-files.js'
import { readPylock } from './pylock.js'
import { readUvLock } from './uv.js'

export * from './model.js'

export interface ReadLock {
  readonly lock: Lock
  /** Things worth telling the user that are not errors. */
  readonly notes: readonly string[]
}

function formatOf(fileName: string): LockFormat | null {
  if (fileName === 'poetry.lock') return 'poetry'
  if (fileName === 'uv.lock') return 'uv'
  if (/^pylock(\.[^.\s/]+)?\.toml$/.test(fileName)) return 'pylock'
  return null
}

/** The lock next to pyproject.toml, or the one [tool.fast-build] lock names. */
export function findLock(project: Project): { path: string; display: string; format: LockFormat } {
  const display = (name: string) => join(project.file, '..', name)
  if (project.config.lock) {
    const name = project.config.lock
    const format = formatOf(name.split('/').pop() ?? name)
    if (!format) {
      throw new ConfigError(
        `cannot tell the lock format of ${JSON.stringify(name)}`,
        { file: project.file, keyPath: 'tool.fast-build.lock' },
        'name a poetry.lock, uv.lock or pylock.toml (pylock.<name>.toml) file'
      )
    }
    return { path: join(project.dir, name), display: display(name), format }
  }
  const candidates = readdirSync(project.dir)
    .filter((f) => formatOf(f) !== null)
    .sort()
  if (candidates.length === 0) {
    throw new LockError(
      'no lock file next to pyproject.toml (looked for poetry.lock, uv.lock, pylock.toml)',
      { file: project.file },
      'create one with `poetry lock`, `uv lock` or `pip lock`, and commit it'
    )
  }
  if (candidates.length > 1) {
    throw new ConfigError(
      `several lock files next to pyproject.toml: ${candidates.join(', ')}`,
      { file: project.file, keyPath: 'tool.fast-build.lock' },
      `say which one to use, e.g. lock = ${JSON.stringify(candidates[0])} under [tool.fast-build]`
    )
  }
  const name = candidates[0]!
  return { path: join(project.dir, name), display: display(name), format: formatOf(name)! }
}

export function readLock(project: Project): ReadLock {
  const found = findLock(project)
  if (!existsSync(found.path)) {
    throw new LockError(
      'lock file not found',
      { file: found.display },
      'create it with your package manager, or fix tool.fast-build.lock'
    )
  }
  let cut: CutFiles | null = null
  const { text, data } = readTomlFile(
    found.path,
    found.display,
    LockError,
    LOCK_HINT,
    found.format === 'poetry' ? (t) => (cut = cutPoetryFileArrays(t)).text : undefined
  )
  return fromToml(found.format, text, data, found.display, project, cut)
}

const LOCK_HINT = 'regenerate the lock with your package manager'

/**
 * A lock's text (as read from `display`) into the model, as readLock does after reading the file:
 * the pure half of it, for callers that hold the text (tests, tools).
 */
export function parseLock(format: LockFormat, text: string, display: string, project: Project): ReadLock {
  const cut = format === 'poetry' ? cutPoetryFileArrays(text) : null
  const data = parseToml(cut ? cut.text : text, display, LockError)
  return fromToml(format, text, data, display, project, cut)
}

function fromToml(
  format: LockFormat,
  text: string,
  data: TomlTable,
  display: string,
  project: Project,
  cut: CutFiles | null
): ReadLock {
  switch (format) {
    case 'poetry':
      return { lock: readPoetryLock(text, data, display, project, cut), notes: [] }
    case 'uv': {
      const { notes, ...lock } = readUvLock(text, data, display, project)
      return { lock, notes }
    }
    case 'pylock':
      return { lock: readPylock(text, data, display), notes: [] }
  }
}
