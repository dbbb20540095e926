// Closure entries written by hand, for tests of what is made from a variant's closure (the run-time
// requirements and shim): a locked package with its files, as the lock readers give them.
import type { LockedFile, LockedPackage, PackageSource } from '../../src/lock/model.js'
import { normalizeName } from '../../src/names.js'
import type { ClosureEntry } from '../../src/plan/closure.js'
import { DEFAULT_LIBC, parsePlatform, type Target } from '../../src/target.js'

export const AMD64 = parsePlatform('linux/amd64')
/** CPython 3.11 on glibc, on `platform`. */
export const target = (platform = AMD64): Target => ({
  python: { major: 3, minor: 11, patch: undefined },
  platform,
  libc: DEFAULT_LIBC
})
/** The lock file named in messages. */
export const LOCK = 'uv.lock'
/** A made-up sha256: `c` 64 times. */
export const H = (c: string): string => c.repeat(64)
export const REGISTRY = 'https://pypi.org/simple'

export const lockedFile = (name: string, sha: string | null, url: string | null = null): LockedFile => ({
  name,
  url,
  path: null,
  hashes: sha ? { sha256: sha } : {},
  size: 1,
  kind: name.endsWith('.whl') ? 'wheel' : 'sdist'
})

export function closureEntry(
  name: string,
  version: string | null,
  files: LockedFile[],
  source: PackageSource = { kind: 'registry', url: REGISTRY, name: null },
  line = 10
): ClosureEntry {
  const p: LockedPackage = {
    id: `${name}==${version}`,
    name: normalizeName(name),
    version,
    source,
    sourceRef: null,
    files,
    dependencies: [],
    extras: new Map(),
    groups: new Map(),
    recorded: null,
    line
  }
  return { package: p, extras: [], requiredBy: 'app' }
}
