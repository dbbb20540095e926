// The app image of one platform, as data: the deps image's layers, then the run-time layer when
// the variant has run-time packages (runtime.ts), then the project's installed metadata and
// commands (project-install.ts; it changes only with pyproject metadata), then the source layer, with a config derived
// from the deps image's (working dir, environment, entry point, labels) and the diff_ids and
// history kept in step with the layers. Pure: no I/O.
import type { Digest } from '../oci/digest.js'
import { sortedRecord, type ImageConfig, type ImageManifest } from '../oci/image.js'
import { appendLayers, appendToConfig, type AppendedLayer, type EditedImage } from '../oci/image-edit.js'
import { DOCKER_MANIFEST } from '../oci/media-types.js'
import { RUNTIME_LABEL, SHIM_PATH, wrapEntrypoint } from './runtime.js'

export interface SourceLayerRef {
  readonly digest: Digest
  readonly size: number
  /** The layer's media type in this manifest family (OCI or Docker). */
  readonly mediaType: string
  readonly diffId: Digest
  readonly files: number
}

/** The project layer (its .dist-info, .pth and scripts) of this platform. */
export interface ProjectLayerRef extends SourceLayerRef {
  /** `app 0.1.0`, … for the history entry. */
  readonly distributions: readonly string[]
  readonly scripts: number
}

/** The run-time layer (shim and requirements) of this platform. */
export interface RuntimeLayerRef extends SourceLayerRef {
  /** Packages the shim installs on this platform (may be 0 when another platform has some). */
  readonly packages: number
}

export interface AppSettings {
  readonly workdir: string
  /** Set or replaced in the image environment. */
  readonly env: Readonly<Record<string, string>>
  /** In-image directories put in front of PYTHONPATH, so the source and local packages import. */
  readonly pythonPath: readonly string[]
  readonly entrypoint: readonly string[] | null
  readonly cmd: readonly string[] | null
  readonly labels: Readonly<Record<string, string>>
  /** RFC 3339 time for `created` and the history entry (from SOURCE_DATE_EPOCH or the commit). */
  readonly created: string
}

function parseEnv(list: readonly string[] | undefined): Map<string, string> {
  const env = new Map<string, string>()
  for (const item of list ?? []) {
    const eq = item.indexOf('=')
    if (eq > 0) env.set(item.slice(0, eq), item.slice(eq + 1))
  }
  return env
}

/** The container settings of the app image: the deps image's, with ours applied. */
function containerConfig(
  deps: ImageConfig,
  s: AppSettings,
  runtime: RuntimeLayerRef | null
): NonNullable<ImageConfig['config']> {
  const config = { ...(deps.config ?? {}) }
  const env = parseEnv(config.Env)
  for (const [k, v] of Object.entries(s.env)) env.set(k, v)
  if (s.pythonPath.length > 0) {
    const existing = env.get('PYTHONPATH')
    env.set('PYTHONPATH', [...s.pythonPath, ...(existing ? [existing] : [])].join(':'))
  }
  config.Env = [...env].map(([k, v]) => `${k}=${v}`)
  config.WorkingDir = s.workdir
  if (s.entrypoint) {
    config.Entrypoint = [...s.entrypoint]
    // As in a Dockerfile: a new ENTRYPOINT drops the CMD inherited from the base.
    config.Cmd = s.cmd ? [...s.cmd] : null
  } else if (s.cmd) {
    config.Cmd = [...s.cmd]
  }
  // The shim goes in front of whatever entrypoint the image ends up with; CMD stays as it is, so
  // `run image cmd args` runs the shim, which installs and then execs the entrypoint and command.
  if (runtime) config.Entrypoint = wrapEntrypoint(config.Entrypoint)
  config.Labels = sortedRecord({
    ...(config.Labels ?? {}),
    ...s.labels,
    ...(runtime ? { [RUNTIME_LABEL]: String(runtime.packages) } : {})
  })
  return config
}

/** The layers the app image adds, in order: run-time, project, source; each with its history. */
function appLayers(
  layer: SourceLayerRef,
  s: AppSettings,
  runtime: RuntimeLayerRef | null,
  project: ProjectLayerRef | null
): AppendedLayer[] {
  const added = (ref: SourceLayerRef, createdBy: string): AppendedLayer => ({
    descriptor: { mediaType: ref.mediaType, digest: ref.digest, size: ref.size },
    diffId: ref.diffId,
    history: { created: s.created, created_by: createdBy, comment: 'fast-build' }
  })
  return [
    ...(runtime
      ? [
          added(
            runtime,
            `fast-build: run-time packages (${runtime.packages}), installed at start by ${SHIM_PATH}`
          )
        ]
      : []),
    ...(project
      ? [
          added(
            project,
            `fast-build: ${project.distributions.join(', ')} installed (metadata, .pth${project.scripts ? `, ${project.scripts} script${project.scripts === 1 ? '' : 's'}` : ''})`
          )
        ]
      : []),
    added(layer, `fast-build: source layer (${layer.files} files) at ${s.workdir}`)
  ]
}

/** The deps config with our settings applied; unknown fields are kept as they were. */
export function appConfig(
  deps: ImageConfig,
  layer: SourceLayerRef,
  s: AppSettings,
  runtime: RuntimeLayerRef | null = null,
  project: ProjectLayerRef | null = null
): ImageConfig {
  return appendToConfig(deps, appLayers(layer, s, runtime, project), {
    created: s.created,
    config: containerConfig(deps, s, runtime)
  })
}

/** Config and manifest of the app image for one platform of the deps image. */
export function appImage(args: {
  readonly depsManifest: ImageManifest
  readonly depsManifestDigest: Digest
  readonly depsConfig: ImageConfig
  readonly depsRef: string
  readonly layer: SourceLayerRef
  /** The run-time layer, between the deps layers and the source layer; null when none. */
  readonly runtime?: RuntimeLayerRef | null
  /** The project layer, between the run-time layer and the source layer; null when none. */
  readonly project?: ProjectLayerRef | null
  readonly settings: AppSettings
}): EditedImage {
  const { depsManifest: m, settings: s } = args
  if (args.depsConfig.rootfs.diff_ids.length !== m.layers.length) {
    throw new Error(
      `deps image ${args.depsRef}: its config lists ${args.depsConfig.rootfs.diff_ids.length} diff_ids for ${m.layers.length} layers`
    )
  }
  const runtime = args.runtime ?? null
  const revision = s.labels['org.opencontainers.image.revision']
  return appendLayers(
    { manifest: m, config: args.depsConfig },
    appLayers(args.layer, s, runtime, args.project ?? null),
    { created: s.created, config: containerConfig(args.depsConfig, s, runtime) },
    // Docker schema 2 has no annotations; the labels carry the same facts there.
    m.mediaType === DOCKER_MANIFEST
      ? {}
      : {
          annotations: {
            'org.opencontainers.image.base.digest': args.depsManifestDigest,
            'org.opencontainers.image.base.name': args.depsRef,
            ...(revision ? { 'org.opencontainers.image.revision': revision } : {})
          }
        }
  )
}
