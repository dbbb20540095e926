// The canonical hash of a variant: what its deps image is a pure function of. Two plans with the
// same hash must install byte-identical packages on the same base image; anything else (lock
// formatting, order, descriptions, upload times, runtime groups, other variants, source code)
// must not move it. The README documents this definition; HASH_SCHEMA changes when it does.
import { createHash } from 'node:crypto'
import { PYPI_SIMPLE, type LockedFile, type LockedPackage, type PackageSource } from '../lock/model.js'
import {
  formatLibc,
  formatPlatform,
  formatPython,
  type Libc,
  type Platform,
  type PythonVersion,
  type Target
} from '../target.js'
import { canonicalJson } from '../util/canonical-json.js'
import { withoutUserinfo } from '../packaging/index-credentials.js'
import { chooseWheel } from '../packaging/tags.js'

export const HASH_SCHEMA = 1

/** The per-package identity that enters the hash. */
export interface PackageIdentity {
  readonly name: string
  readonly version: string | null
  readonly source: SourceIdentity
}

export type SourceIdentity =
  | { readonly registry: string; readonly files: readonly string[] }
  | { readonly git: string; readonly commit: string | null; readonly subdirectory: string | null }
  | { readonly url: string; readonly files: readonly string[] }
  | { readonly path: string; readonly files: readonly string[] }

export interface HashInput {
  readonly schema: number
  readonly python: string
  readonly libc: string
  readonly baseImage: string
  /** Extra material that must invalidate every hash (the action's `cache-epoch`), if any. */
  readonly epoch?: string
  /** Builder-specific inputs (a Dockerfile's digest and build args), if any. */
  readonly builder?: unknown
  /** Platform → sorted package identities. */
  readonly platforms: Readonly<Record<string, readonly PackageIdentity[]>>
}

/**
 * The files of a package that matter for a target: the wheel an installer would pick for it, or,
 * when no wheel fits, the source distributions. Other platforms' wheels, and wheels added to the
 * index later for other interpreters, do not matter and so do not enter the hash.
 */
export function filesForTarget(files: readonly LockedFile[], target: Target): LockedFile[] {
  const wheel = chooseWheel(files, target)
  if (wheel) return [wheel.file]
  return files.filter((f) => f.kind === 'sdist')
}

/**
 * Why a locked package cannot be installed on a target from the files its lock entry lists (no
 * compatible wheel and no sdist), or null when it can. Planning reports this; the builders refuse.
 */
export function unavailableReason(
  pkg: LockedPackage,
  target: Target,
  chosen: readonly LockedFile[] = filesForTarget(pkg.files, target)
): string | null {
  if (pkg.files.length === 0 || (pkg.source.kind !== 'registry' && pkg.source.kind !== 'file')) return null
  if (chosen.length > 0) return null
  const wheels = pkg.files.filter((f) => f.kind === 'wheel').map((f) => f.name)
  return `no wheel for ${formatPlatform(target.platform)} / python ${formatPython(target.python)} / ${formatLibc(target.libc)} among ${wheels.length} (${wheels.slice(0, 2).join(', ')}${wheels.length > 2 ? ', …' : ''}) and no sdist`
}

function hashesOf(files: readonly LockedFile[]): string[] {
  return files.map((f) => {
    const [alg, hex] = f.hashes['sha256']
      ? ['sha256', f.hashes['sha256']]
      : (Object.entries(f.hashes).sort()[0] ?? ['name', f.name])
    return `${alg}:${hex}`
  })
}

/**
 * What of a source enters the hash. URLs without userinfo: a credential says who may read the
 * package, not what it is, and rotating one must not rebuild anything. The lock readers strip it
 * already (keepUserinfo); this holds for models built elsewhere.
 */
export function sourceIdentity(source: PackageSource, files: readonly LockedFile[]): SourceIdentity {
  switch (source.kind) {
    case 'registry':
      return { registry: normalizeIndex(withoutUserinfo(source.url)), files: hashesOf(files).sort() }
    case 'git':
      return {
        git: normalizeGitUrl(withoutUserinfo(source.url)),
        commit: source.commit,
        subdirectory: source.subdirectory
      }
    case 'url':
      return { url: withoutUserinfo(source.url), files: hashesOf(files).sort() }
    case 'file':
      return { path: source.path, files: hashesOf(files).sort() }
    case 'directory':
      // Never hashed: local packages ship with the source layer.
      return { path: source.path, files: [] }
  }
}

export function packageIdentity(pkg: LockedPackage, files: readonly LockedFile[]): PackageIdentity {
  return { name: pkg.name, version: pkg.version, source: sourceIdentity(pkg.source, files) }
}

/** `https://pypi.org/simple/` and `https://pypi.org/simple` are one index. */
function normalizeIndex(url: string): string {
  const u = url.replace(/\/+$/, '')
  return u === 'https://pypi.org/simple' || u === 'https://pypi.python.org/simple' ? PYPI_SIMPLE : u
}

function normalizeGitUrl(url: string): string {
  return url.replace(/^git\+/, '').replace(/\/+$/, '')
}

export function buildHashInput(args: {
  python: PythonVersion
  libc: Libc
  baseImage: string
  epoch?: string | undefined
  builder?: unknown
  platforms: readonly { platform: Platform; packages: readonly PackageIdentity[] }[]
}): HashInput {
  const platforms: Record<string, PackageIdentity[]> = {}
  for (const p of args.platforms) {
    // Closures hold one package per name, so the name orders them.
    platforms[formatPlatform(p.platform)] = [...p.packages].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0
    )
  }
  return {
    schema: HASH_SCHEMA,
    python: formatPython(args.python),
    libc: formatLibc(args.libc),
    baseImage: args.baseImage,
    ...(args.epoch ? { epoch: args.epoch } : {}),
    ...(args.builder !== undefined ? { builder: args.builder } : {}),
    platforms
  }
}

// Identities are shared by every variant that installs the package; serialize each once.
const identityJson = new WeakMap<PackageIdentity, string>()

/**
 * `canonicalJson(input)`, built from cached per-package pieces. Keys in canonical order:
 * baseImage, builder, epoch, libc, platforms, python, schema (a test holds the two equal).
 */
export function hashInputJson(input: HashInput): string {
  const platforms = Object.keys(input.platforms)
    .sort()
    .map((p) => {
      const items = input.platforms[p]!.map((id) => {
        let json = identityJson.get(id)
        if (json === undefined) identityJson.set(id, (json = canonicalJson(id)))
        return json
      })
      return `${JSON.stringify(p)}:[${items.join(',')}]`
    })
  const head = [`"baseImage":${JSON.stringify(input.baseImage)}`]
  if (input.builder !== undefined) head.push(`"builder":${canonicalJson(input.builder)}`)
  if (input.epoch !== undefined) head.push(`"epoch":${JSON.stringify(input.epoch)}`)
  head.push(`"libc":${JSON.stringify(input.libc)}`)
  return `{${head.join(',')},"platforms":{${platforms.join(',')}},"python":${JSON.stringify(input.python)},"schema":${input.schema}}`
}

/** sha256 of the canonical JSON of the hash input, in hex. */
export function variantHash(input: HashInput): string {
  return createHash('sha256').update(hashInputJson(input), 'utf8').digest('hex')
}

/** The hash as it appears in tags (`deps-<variant>-<short>`): 16 hex digits, 64 bits. */
export function shortHash(hash: string): string {
  return hash.slice(0, 16)
}
