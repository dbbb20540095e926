// Pinned pip requirements from a closure, for one target: `name==version` with a `--hash` line for
// every file pip may install it from, markers already evaluated (the closure is per target), local
// source trees left out (they ship with the source layer). Two users: run-time groups (installed
// when the container starts) and the Dockerfile builder (installed by the user's Dockerfile). Pure.
import { PYPI_SIMPLE, type LockedFile, type LockedPackage } from '../lock/model.js'
import type { ClosureEntry } from '../plan/closure.js'
import { filesForTarget, unavailableReason } from '../plan/hash.js'
import { formatPlatform, type Target } from '../target.js'
import { withoutUserinfo } from '../packaging/index-credentials.js'
import { wheelSupports } from '../packaging/tags.js'

export interface PinnedRequirement {
  readonly name: string
  readonly version: string | null
  /** What pip reads before the hashes: `name==version`, `name @ url`, `name @ git+url@commit`. */
  readonly requirement: string
  /** Sorted, distinct sha256 hex digests of the files pip may install it from (none for git). */
  readonly hashes: readonly string[]
  /** The index it comes from (no credentials; PyPI when the lock names none), or null for a direct reference. */
  readonly index: string | null
}

export interface PinOptions {
  /** Throws the caller's error: `pkg` cannot be pinned (`what`: where from, `why`: the reason). */
  readonly refuse: (pkg: LockedPackage, what: string, why: string) => never
  /** A git dependency: pinned at its locked commit (no hash: pip cannot hash a checkout), or refused. */
  readonly git: 'allow' | 'refuse'
  /** Why git and local-archive packages are refused, in the caller's words. */
  readonly why: { readonly git: string; readonly file: string }
}

export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * A URL fit to be written into an image or a build context, or a message: credentials never are.
 * The lock model's URLs have none already (see keepUserinfo); this holds for URLs from elsewhere.
 */
export function withoutCredentials(url: string): string {
  return withoutUserinfo(url)
}

/** sha256 digests of `files`; refuses when one has none (pip's --require-hashes needs them all). */
function sha256s(pkg: LockedPackage, files: readonly LockedFile[], o: PinOptions): string[] {
  const out = new Set<string>()
  for (const f of files) {
    const h = f.hashes['sha256']
    if (!h)
      o.refuse(pkg, `file ${f.name}`, 'the lock records no sha256 for it, which pip --require-hashes needs')
    out.add(h.toLowerCase())
  }
  return [...out].sort(compare)
}

/**
 * The files pip may choose from on the target: every compatible wheel and the sdists. pip ranks
 * the candidates itself; listing all of them (not only the wheel we would pick) keeps a different
 * but valid choice from failing the hash check.
 */
function installableFiles(pkg: LockedPackage, target: Target): LockedFile[] {
  return pkg.files.filter((f) => f.kind === 'sdist' || (f.kind === 'wheel' && wheelSupports(f.name, target)))
}

/** The requirements of these closure entries on `target`, sorted by name. */
export function pinnedRequirements(
  entries: readonly ClosureEntry[],
  target: Target,
  o: PinOptions
): PinnedRequirement[] {
  const out: PinnedRequirement[] = []
  for (const { package: pkg } of entries) {
    const s = pkg.source
    switch (s.kind) {
      case 'directory':
        continue
      case 'registry': {
        if (pkg.version === null) o.refuse(pkg, 'from an index', 'the lock records no version')
        const reason = unavailableReason(pkg, target)
        if (reason) o.refuse(pkg, `on ${formatPlatform(target.platform)}`, reason)
        const files = installableFiles(pkg, target)
        if (files.length === 0) o.refuse(pkg, 'from an index', 'the lock lists no files for it')
        out.push({
          name: pkg.name,
          version: pkg.version,
          requirement: `${pkg.name}==${pkg.version}`,
          hashes: sha256s(pkg, files, o),
          // A lock that does not name the index (pylock may omit it) means PyPI, as for pip.
          index: s.url === '' ? PYPI_SIMPLE : withoutCredentials(s.url)
        })
        continue
      }
      case 'url': {
        const [file] = filesForTarget(pkg.files, target)
        if (!file)
          o.refuse(pkg, `from ${withoutCredentials(s.url)}`, 'the lock records no archive with a hash for it')
        const url = withoutCredentials(file.url ?? s.url)
        out.push({
          name: pkg.name,
          version: pkg.version,
          requirement: `${pkg.name} @ ${url}${s.subdirectory ? `#subdirectory=${s.subdirectory}` : ''}`,
          hashes: sha256s(pkg, [file], o),
          index: null
        })
        continue
      }
      case 'git': {
        if (o.git === 'refuse' || !s.commit)
          o.refuse(
            pkg,
            `from git ${withoutCredentials(s.url)}`,
            s.commit ? o.why.git : 'the lock records no commit for it'
          )
        const url = withoutCredentials(s.url.replace(/^git\+/, ''))
        out.push({
          name: pkg.name,
          version: pkg.version,
          requirement: `${pkg.name} @ git+${url}@${s.commit}${s.subdirectory ? `#subdirectory=${s.subdirectory}` : ''}`,
          hashes: [],
          index: null
        })
        continue
      }
      case 'file':
        return o.refuse(pkg, `from the local archive ${s.path}`, o.why.file)
    }
  }
  return out.sort((a, b) => compare(a.name, b.name) || compare(a.version ?? '', b.version ?? ''))
}

/** The index to install from: the lock's own (first used), else PyPI; the others as extra indexes. */
export function requirementIndexes(requirements: readonly PinnedRequirement[]): {
  index: string
  extra: readonly string[]
} {
  const seen: string[] = []
  for (const r of requirements) if (r.index && !seen.includes(r.index)) seen.push(r.index)
  const [index = PYPI_SIMPLE, ...extra] = seen
  return { index, extra }
}

/** `name==version \` and one `--hash` line per file, for each requirement. */
export function requirementLines(requirements: readonly PinnedRequirement[]): string[] {
  const lines: string[] = []
  for (const r of requirements) {
    lines.push(`${r.requirement}${r.hashes.length ? ' \\' : ''}`)
    r.hashes.forEach((h, i) => lines.push(`    --hash=sha256:${h}${i < r.hashes.length - 1 ? ' \\' : ''}`))
  }
  return lines
}
