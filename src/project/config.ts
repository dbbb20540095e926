// [tool.fast-build] → typed configuration, with defaults and key-path errors.
import { posix } from 'node:path'
import { ConfigError } from '../errors.js'
import { normalizeGroup, type NormalizedName } from '../names.js'
import {
  DEFAULT_LIBC,
  parseLibc,
  parsePlatform,
  parsePythonVersion,
  type Libc,
  type Platform,
  type PythonVersion
} from '../target.js'
import { isTable, TomlReader, type TomlTable } from '../util/toml.js'

export interface VariantSpec {
  readonly name: string
  /** Dependency groups; `main` is the project's own dependencies. */
  readonly groups: readonly NormalizedName[]
  readonly extras: readonly NormalizedName[]
  /** Workspace members to start from (uv workspaces); empty means the default roots. */
  readonly members: readonly NormalizedName[]
}

export interface FastBuildConfig {
  /** Registry repository images go to (`ghcr.io/acme/app`); the action's `image` input wins. */
  readonly image: string | null
  /** Image the deps images are built on; null means `python:<minor>-slim` for the chosen python. */
  readonly baseImage: string | null
  /** Target interpreter; null means derive it from requires-python. */
  readonly python: PythonVersion | null
  readonly platforms: readonly Platform[]
  readonly libc: Libc
  /** Groups installed when the container starts, never part of a hash. */
  readonly runtimeGroups: readonly NormalizedName[]
  readonly workdir: string
  readonly env: Readonly<Record<string, string>>
  readonly entrypoint: readonly string[] | null
  readonly cmd: readonly string[] | null
  /** An explicit lock file, relative to the project, when several sit side by side. */
  readonly lock: string | null
  readonly variants: readonly VariantSpec[]
  /**
   * Where the base image's Python lives when set explicitly (packages then install under it);
   * /usr/local when not set, where the base image's own Python decides (see pythonPrefixExplicit).
   */
  readonly pythonPrefix: string
  /** Whether python-prefix was set: only then does it override what the base image's Python reads. */
  readonly pythonPrefixExplicit: boolean
  /**
   * False for a base image without Python whose deps bring their own: the base is then not
   * searched for one, and site-packages/interpreter (or python-prefix) say where things go.
   */
  readonly pythonInBase: boolean
  /** site-packages in the image; null means `<prefix>/lib/pythonX.Y/site-packages`. */
  readonly sitePackages: string | null
  /** The interpreter for script shebangs; null means `<prefix>/bin/pythonX.Y`. */
  readonly interpreter: string | null
  /** Layers a deps image may have in all, counting the base image's (Docker fails past ~125). */
  readonly maxLayers: number
  /** Packages installing more than this (MB) get a layer of their own. */
  readonly heavyPackageMb: number
  /**
   * How the layers fast-build writes are compressed. Not part of the variant hash (the image's
   * files are the same): it applies to the deps images built from then on.
   */
  readonly compression: LayerCompressionSetting
  /** An index to fetch every registry file from (a mirror); hashes are still the lock's. */
  readonly indexUrl: string | null
  /** True when [tool.fast-build.variants] was absent and `default` was made up. */
  readonly defaultVariant: boolean
  /** How deps images are built: from wheels, from a Dockerfile, or auto (wheels where they can). */
  readonly builder: BuilderKind
  /** The Dockerfile builder's settings. */
  readonly dockerfile: {
    /** Relative to the project; null: the generated default. */
    readonly path: string | null
    readonly target: string | null
    readonly buildArgs: Readonly<Record<string, string>>
    /** The build command: `docker buildx build` (default) or `buildah bud`, with any flags. */
    readonly command: readonly string[] | null
  }
}

export type BuilderKind = 'auto' | 'wheels' | 'dockerfile'
export const BUILDERS: readonly BuilderKind[] = ['auto', 'wheels', 'dockerfile']

const KNOWN_KEYS = [
  'image',
  'base-image',
  'python',
  'platforms',
  'libc',
  'runtime-groups',
  'workdir',
  'env',
  'entrypoint',
  'cmd',
  'lock',
  'variants',
  'python-prefix',
  'site-packages',
  'interpreter',
  'max-layers',
  'heavy-package-mb',
  'compression',
  'index-url',
  'builder',
  'dockerfile',
  'dockerfile-target',
  'build-args',
  'dockerfile-command',
  'python-in-base'
]
const VARIANT_KEYS = ['groups', 'extras', 'members']

/** Layer compressions a configuration may ask for (OCI's tar+gzip and tar+zstd media types). */
export const COMPRESSIONS = ['gzip', 'zstd'] as const
export type LayerCompressionSetting = (typeof COMPRESSIONS)[number]

/**
 * Packages installing more than this many MB get a layer each, so bumping one never re-uploads
 * another. 16, from the corpus (npm run bench -- reupload): at 64 numpy, pandas and scipy-sized
 * packages shared buckets (a bump's 90th percentile re-upload 29–31 MB on the lerobot and
 * private-gpt locks), at 16 they stand alone (13 MB), and 8 changes nothing more.
 */
export const DEFAULT_HEAVY_MB = 16

/** Variant names end up in registry tags (`deps-<variant>-<hash>`), so they must be tag-safe. */
const VARIANT_NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/

export const DEFAULT_VARIANT: VariantSpec = {
  name: 'default',
  groups: ['main' as NormalizedName],
  extras: [],
  members: []
}

export function readConfig(pyproject: TomlTable, file: string): FastBuildConfig {
  const r = new TomlReader(file, ConfigError)
  const tool = pyproject['tool']
  const raw =
    isTable(tool) && tool['fast-build'] !== undefined ? r.table(tool['fast-build'], 'tool.fast-build') : {}
  const base = 'tool.fast-build'

  for (const key of Object.keys(raw)) {
    if (!KNOWN_KEYS.includes(key)) {
      r.fail(`${base}.${key}`, `unknown setting`, `known settings are: ${KNOWN_KEYS.join(', ')}`)
    }
  }

  const pythonText = r.optString(raw['python'], `${base}.python`)
  const platformTexts = r.optStrings(raw['platforms'], `${base}.platforms`) ?? ['linux/amd64']
  if (platformTexts.length === 0)
    r.fail(`${base}.platforms`, 'no platforms given', 'list at least one, e.g. ["linux/amd64"]')
  const platforms = platformTexts.map((p, i) =>
    withFile(file, () => parsePlatform(p, `${base}.platforms[${i}]`))
  )
  const seen = new Set<string>()
  for (const [i, p] of platforms.entries()) {
    const key = `${p.os}/${p.architecture}`
    if (seen.has(key)) r.fail(`${base}.platforms[${i}]`, `platform ${key} is listed twice`)
    seen.add(key)
  }

  const libcText = r.optString(raw['libc'], `${base}.libc`)
  const workdir = readWorkdir(r, raw['workdir'], `${base}.workdir`)

  const envTable = r.optTable(raw['env'], `${base}.env`) ?? {}
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(envTable)) env[k] = r.string(v, `${base}.env.${k}`)

  const variantsRaw = r.optTable(raw['variants'], `${base}.variants`)
  let variants: VariantSpec[]
  if (variantsRaw === undefined) {
    variants = [DEFAULT_VARIANT]
  } else {
    variants = Object.entries(variantsRaw).map(([name, v]) =>
      readVariant(r, name, v, `${base}.variants.${name}`)
    )
    if (variants.length === 0)
      r.fail(
        `${base}.variants`,
        'no variants defined',
        'define at least one, e.g. base = { groups = ["main"] }'
      )
  }

  const runtimeGroups = (r.optStrings(raw['runtime-groups'], `${base}.runtime-groups`) ?? []).map(
    normalizeGroup
  )
  for (const v of variants) {
    const clash = v.groups.find((g) => runtimeGroups.includes(g))
    if (clash) {
      r.fail(
        `${base}.variants.${v.name}.groups`,
        `group ${JSON.stringify(clash)} is also a runtime group`,
        'a runtime group is installed when the container starts; remove it from the variant or from runtime-groups'
      )
    }
  }

  const builderText = r.optString(raw['builder'], `${base}.builder`) ?? 'auto'
  if (!(BUILDERS as readonly string[]).includes(builderText))
    r.fail(
      `${base}.builder`,
      `unknown builder ${JSON.stringify(builderText)}`,
      `use one of ${BUILDERS.join(', ')}`
    )
  const builder = builderText as BuilderKind
  const compressionText = r.optString(raw['compression'], `${base}.compression`) ?? 'gzip'
  if (!(COMPRESSIONS as readonly string[]).includes(compressionText))
    r.fail(
      `${base}.compression`,
      `unknown compression ${JSON.stringify(compressionText)}`,
      `use one of ${COMPRESSIONS.join(', ')} (zstd layers need containerd 1.5+, Docker 23+ or podman 4+ to pull)`
    )
  const buildArgsTable = r.optTable(raw['build-args'], `${base}.build-args`) ?? {}
  const buildArgs: Record<string, string> = {}
  for (const [k, v] of Object.entries(buildArgsTable)) buildArgs[k] = r.string(v, `${base}.build-args.${k}`)
  const commandText = r.optString(raw['dockerfile-command'], `${base}.dockerfile-command`)
  const commandWords = (commandText ?? '').split(/\s+/).filter((w) => w !== '')
  if (commandText !== undefined && commandWords.length === 0)
    r.fail(`${base}.dockerfile-command`, 'empty command', 'e.g. "docker buildx build" or "buildah bud"')

  return {
    image: r.optString(raw['image'], `${base}.image`) ?? null,
    baseImage: r.optString(raw['base-image'], `${base}.base-image`) ?? null,
    python:
      pythonText === undefined
        ? null
        : withFile(file, () => parsePythonVersion(pythonText, `${base}.python`)),
    platforms,
    libc: libcText === undefined ? DEFAULT_LIBC : withFile(file, () => parseLibc(libcText, `${base}.libc`)),
    runtimeGroups,
    workdir,
    env,
    entrypoint: r.optStrings(raw['entrypoint'], `${base}.entrypoint`) ?? null,
    cmd: r.optStrings(raw['cmd'], `${base}.cmd`) ?? null,
    lock: r.optString(raw['lock'], `${base}.lock`) ?? null,
    pythonPrefix: absolutePath(r, raw['python-prefix'], `${base}.python-prefix`) ?? '/usr/local',
    pythonPrefixExplicit: raw['python-prefix'] !== undefined,
    pythonInBase: optBoolean(r, raw['python-in-base'], `${base}.python-in-base`) ?? true,
    sitePackages: absolutePath(r, raw['site-packages'], `${base}.site-packages`),
    interpreter: absolutePath(r, raw['interpreter'], `${base}.interpreter`),
    maxLayers: positiveInt(r, raw['max-layers'], `${base}.max-layers`, 100, 2, 500),
    heavyPackageMb: positiveInt(
      r,
      raw['heavy-package-mb'],
      `${base}.heavy-package-mb`,
      DEFAULT_HEAVY_MB,
      1,
      1_000_000
    ),
    compression: compressionText as LayerCompressionSetting,
    indexUrl: r.optString(raw['index-url'], `${base}.index-url`) ?? null,
    variants,
    defaultVariant: variantsRaw === undefined,
    builder,
    dockerfile: {
      path: r.optString(raw['dockerfile'], `${base}.dockerfile`) ?? null,
      target: r.optString(raw['dockerfile-target'], `${base}.dockerfile-target`) ?? null,
      buildArgs,
      command: commandText === undefined ? null : commandWords
    }
  }
}

function readVariant(r: TomlReader, name: string, v: unknown, keyPath: string): VariantSpec {
  if (!VARIANT_NAME.test(name)) {
    r.fail(
      keyPath,
      `variant name ${JSON.stringify(name)} cannot be used in an image tag`,
      'use lowercase letters, digits, ".", "_" and "-" (at most 64), starting with a letter or digit'
    )
  }
  const t = r.table(v, keyPath)
  for (const key of Object.keys(t)) {
    if (!VARIANT_KEYS.includes(key))
      r.fail(`${keyPath}.${key}`, 'unknown variant setting', `known: ${VARIANT_KEYS.join(', ')}`)
  }
  const groups = (r.optStrings(t['groups'], `${keyPath}.groups`) ?? ['main']).map(normalizeGroup)
  return {
    name,
    groups: [...new Set(groups)],
    extras: [...new Set((r.optStrings(t['extras'], `${keyPath}.extras`) ?? []).map(normalizeGroup))],
    members: [...new Set((r.optStrings(t['members'], `${keyPath}.members`) ?? []).map(normalizeGroup))]
  }
}

/**
 * Where the source goes in the image: an absolute path below `/`, normalized (`/app/./src/` is
 * `/app/src`). `..` is refused rather than resolved: `/app/../..` would put the source at the
 * image root, over the base image's own files, and `/` itself would too.
 */
function readWorkdir(r: TomlReader, v: unknown, keyPath: string): string {
  const written = r.optString(v, keyPath) ?? '/app'
  const fix = 'use a directory of its own, such as "/app"'
  if (!written.startsWith('/'))
    r.fail(keyPath, `workdir must be an absolute path, got ${JSON.stringify(written)}`, fix)
  if (written.split('/').includes('..'))
    r.fail(keyPath, `workdir must not contain '..' segments, got ${JSON.stringify(written)}`, fix)
  const normalized = posix.normalize(written).replace(/\/+$/, '')
  if (normalized === '' || normalized === '/')
    r.fail(keyPath, `workdir must be a directory below /, got ${JSON.stringify(written)}`, fix)
  return normalized
}

function absolutePath(r: TomlReader, v: unknown, keyPath: string): string | null {
  const s = r.optString(v, keyPath)
  if (s === undefined) return null
  if (!s.startsWith('/') || s.split('/').includes('..'))
    r.fail(keyPath, `expected an absolute path in the image, got ${JSON.stringify(s)}`)
  return s.replace(/\/+$/, '') || '/'
}

function optBoolean(r: TomlReader, v: unknown, keyPath: string): boolean | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'boolean') r.fail(keyPath, `expected true or false, got ${JSON.stringify(String(v))}`)
  return v
}

function positiveInt(
  r: TomlReader,
  v: unknown,
  keyPath: string,
  dflt: number,
  min: number,
  max: number
): number {
  if (v === undefined) return dflt
  const n = typeof v === 'bigint' ? Number(v) : v
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    r.fail(keyPath, `expected a whole number from ${min} to ${max}, got ${JSON.stringify(String(v))}`)
  }
  return n
}

/** Errors thrown by target parsers carry only a key path; add the file. */
function withFile<T>(file: string, f: () => T): T {
  try {
    return f()
  } catch (e) {
    if (e instanceof ConfigError && !e.location.file)
      throw new ConfigError(e.message, { ...e.location, file }, e.hint)
    throw e
  }
}
