// The real lock corpus (__tests__/corpus, a copy of the shared corpus), laid out as the projects had it: the lock and
// pyproject.toml at their repository path, members' pyproject.toml files at theirs, so that
// relative paths in the locks (`../checkpoint`, `packages/*`) resolve.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'

/**
 * The corpus copied into __tests__/corpus (tests and benchmarks run from the checkout's root), or
 * FAST_BUILD_CORPUS to read another copy.
 */
export const CORPUS_DIR = resolve(
  process.env['FAST_BUILD_CORPUS'] ?? join(process.cwd(), '__tests__', 'corpus')
)

export interface CorpusCase {
  name: string
  format: 'poetry' | 'uv'
  /** Directory in the materialized tree that holds pyproject.toml and the lock. */
  projectDir: string
  /** Root of the materialized tree (the repository root of the case). */
  baseDir: string
}

export function corpusCaseNames(): string[] {
  return readdirSync(CORPUS_DIR)
    .filter((d) => statSync(join(CORPUS_DIR, d)).isDirectory())
    .sort()
}

let root: string | null = null

export function materializeCorpusCase(name: string): CorpusCase {
  root ??= mkdtempSync(join(tmpdir(), 'fast-build-corpus-'))
  const src = join(CORPUS_DIR, name)
  const source = Object.fromEntries(
    readFileSync(join(src, 'SOURCE'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])
  ) as Record<string, string>
  const lockPath = source['lock_path']!
  const base = join(root, name)
  const projectDir = join(base, dirname(lockPath))
  if (!existsSync(projectDir)) {
    mkdirSync(projectDir, { recursive: true })
    const lockName = lockPath.split('/').pop()!
    cpSync(join(src, lockName), join(projectDir, lockName))
    cpSync(join(src, 'pyproject.toml'), join(projectDir, 'pyproject.toml'))
    if (existsSync(join(src, 'members'))) cpSync(join(src, 'members'), base, { recursive: true })
  }
  return { name, format: lockPath.endsWith('poetry.lock') ? 'poetry' : 'uv', projectDir, baseDir: base }
}
