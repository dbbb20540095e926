// Where fast-build keeps what outlives one build, and what lives where: the one owner of the cache
// directory's layout. Every module that reads or writes under it asks here for the path, and the
// Actions cache (src/github/cache.ts) saves and restores exactly the paths named here.
//
//   <root>/artifacts/          wheels and sdists by sha256 (ArtifactCache, artifacts.ts)
//   <root>/work/layers/        the full path's layers: <key>.json (descriptor and the wheels in
//                              it) and the compressed layer beside it, when this machine built it;
//                              seg-<key>.json: which layer holds a wheel's files as a segment
//   <root>/work/unpacked-size/ each wheel's unpacked size by sha256 (what layering weighs)
//   <root>/work/plans/         each variant's plan as of its last build (what changed, for reports)
//   <root>/work/dockerfile/    build contexts of the Dockerfile builder
//   <root>/base-python/        what each base image's Python is, by manifest digest
//   <root>/transfer/           wheels on their way into or out of the Actions cache
//   <root>/oci/                the CLI's default image stores, one per project
//   <root>/v8/                 V8's compiled code of the CLI itself (code-cache.ts)
//
// Where the root is (defaultCacheDir): FAST_BUILD_CACHE_DIR when set; else, in the action, the
// runner's temporary directory (RUNNER_TEMP/fast-build: emptied after each job, and what matters
// between jobs travels through the Actions cache); else XDG_CACHE_HOME/fast-build, else
// ~/.cache/fast-build, as for any tool a developer runs.
import { homedir } from 'node:os'
import { isAbsolute, join, resolve } from 'node:path'

/** Who asks: the action on a runner, or the CLI (also when the CLI runs in a workflow). */
export type CacheUser = 'action' | 'cli'

/** The cache directory, by the one rule above. */
export function defaultCacheDir(
  env: Readonly<Record<string, string | undefined>> = process.env,
  home: string = homedir(),
  user: CacheUser = 'cli'
): string {
  const explicit = env['FAST_BUILD_CACHE_DIR']
  if (explicit) return resolve(explicit)
  const runnerTemp = env['RUNNER_TEMP']
  if (user === 'action' && runnerTemp) return join(resolve(runnerTemp), 'fast-build')
  const xdg = env['XDG_CACHE_HOME']
  if (xdg && isAbsolute(xdg)) return join(xdg, 'fast-build')
  return join(home, '.cache', 'fast-build')
}

/** The paths under one cache directory (nothing is created here; writers make their directories). */
export class CacheLayout {
  readonly root: string

  constructor(root: string) {
    this.root = resolve(root)
  }

  /** The layout of the default cache directory (defaultCacheDir). */
  static default(
    env: Readonly<Record<string, string | undefined>> = process.env,
    user: CacheUser = 'cli'
  ): CacheLayout {
    return new CacheLayout(defaultCacheDir(env, homedir(), user))
  }

  /** V8's compiled code of the CLI bundle, one file per command (cache/code-cache.ts). */
  get codeCache(): string {
    return join(this.root, 'v8')
  }

  /** Wheels and sdists by sha256: the ArtifactCache's directory. */
  get artifacts(): string {
    return join(this.root, 'artifacts')
  }

  /** What builds leave for the next ones on this machine (layers, sizes, plans, build contexts). */
  get work(): string {
    return join(this.root, 'work')
  }

  /** The full path's built layers and their descriptors. */
  get layers(): string {
    return join(this.work, 'layers')
  }

  /** `<key>.json`: what is known of the layer with this key (descriptor, wheels). */
  layerDescriptor(key: string): string {
    return join(this.layers, `${key}.json`)
  }

  /**
   * `seg-<key>.json`: which layer holds the segment of a wheel (for a layout and compression), for
   * a later layer to copy instead of installing the wheel again. Kept with the descriptors.
   */
  segmentIndex(key: string): string {
    return join(this.layers, `seg-${key}.json`)
  }

  /** The compressed layer itself (`fileName` carries the key and the compression's extension). */
  layerBlob(fileName: string): string {
    return join(this.layers, fileName)
  }

  get unpackedSizes(): string {
    return join(this.work, 'unpacked-size')
  }

  /** The unpacked size of the wheel with this sha256, as a decimal number. */
  unpackedSize(sha256: string): string {
    return join(this.unpackedSizes, sha256)
  }

  get plans(): string {
    return join(this.work, 'plans')
  }

  /** The variant's plan as of its last build. */
  plan(variant: string): string {
    return join(this.plans, `${variant}.json`)
  }

  /** The Dockerfile builder's context for one variant at one hash. */
  dockerfileContext(variant: string, shortHash: string): string {
    return join(this.work, 'dockerfile', `${variant}-${shortHash}`)
  }

  get basePython(): string {
    return join(this.root, 'base-python')
  }

  /** What the base image with this manifest digest (hex) has for a Python. */
  basePythonFacts(manifestHex: string): string {
    return join(this.basePython, `${manifestHex}.json`)
  }

  /** Where a wheel sits while it travels through the Actions cache (the path is part of the entry's version). */
  transfer(sha256: string): string {
    return join(this.root, 'transfer', sha256.slice(0, 2), `${sha256}.whl`)
  }

  /** The CLI's default image stores, one directory per project under it. */
  get stores(): string {
    return join(this.root, 'oci')
  }

  /**
   * What the Actions cache keeps as a variant's layer index: the layers' descriptors (not the
   * layers: the registry has them), the wheels' unpacked sizes, the plans, and the base images'
   * Python facts, so a fresh runner neither reads every wheel nor every base layer again. A few kB.
   */
  get layerIndexEntry(): string[] {
    return [join(this.layers, '*.json'), this.unpackedSizes, this.plans, this.basePython]
  }
}
