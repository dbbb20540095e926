// Pure edits of an image, as go-containerregistry's mutate.Append: layers appended to a manifest,
// the config's diff_ids and history kept in step, settings patched in. No I/O: the result is the
// new config and manifest, their bytes and descriptors, ready for a writer (registry/push.ts).
// Every builder of images uses it: the deps image on its base image (full path), the app image
// on its deps image (fast path).
import type { Digest } from './digest.js'
import {
  buildManifest,
  configMediaTypeFor,
  describeBytes,
  serialize,
  type Descriptor,
  type ImageConfig,
  type ImageManifest
} from './image.js'

export type HistoryEntry = NonNullable<ImageConfig['history']>[number]

/** A layer to append: how the manifest lists it, its uncompressed digest, its history entry. */
export interface AppendedLayer {
  readonly descriptor: Descriptor
  readonly diffId: Digest
  readonly history: HistoryEntry
}

/** What changes in the config besides the layers (absent: kept as it was). */
export interface ConfigPatch {
  readonly created?: string
  readonly config?: ImageConfig['config']
}

export interface EditedImage {
  readonly config: ImageConfig
  readonly configBytes: Buffer
  readonly configDescriptor: Descriptor
  readonly manifest: ImageManifest
  readonly manifestBytes: Buffer
  readonly manifestDescriptor: Descriptor
}

/** The config of an image with `layers` on top (see appendLayers). */
export function appendToConfig(
  base: ImageConfig,
  layers: readonly Pick<AppendedLayer, 'diffId' | 'history'>[],
  patch: ConfigPatch = {}
): ImageConfig {
  return {
    ...base,
    ...(patch.created !== undefined ? { created: patch.created } : {}),
    ...(patch.config !== undefined ? { config: patch.config } : {}),
    rootfs: { type: 'layers', diff_ids: [...base.rootfs.diff_ids, ...layers.map((l) => l.diffId)] },
    history: [...(base.history ?? []), ...layers.map((l) => l.history)]
  }
}

/**
 * The image with `layers` on top. Fields of the config it does not know are kept as they were
 * (and where they were: the bytes keep the key order); the manifest stays in its family (OCI or
 * Docker schema 2), with `annotations` when given.
 */
export function appendLayers(
  image: { readonly manifest: ImageManifest; readonly config: ImageConfig },
  layers: readonly AppendedLayer[],
  patch: ConfigPatch = {},
  manifest: { readonly annotations?: Readonly<Record<string, string>> } = {}
): EditedImage {
  const config = appendToConfig(image.config, layers, patch)
  const mediaType = image.manifest.mediaType
  const configBytes = serialize(config)
  const configDescriptor = describeBytes(configMediaTypeFor(mediaType), configBytes)
  const edited = buildManifest({
    mediaType,
    config: configDescriptor,
    layers: [...image.manifest.layers, ...layers.map((l) => l.descriptor)],
    ...(manifest.annotations ? { annotations: manifest.annotations } : {})
  })
  const manifestBytes = serialize(edited)
  return {
    config,
    configBytes,
    configDescriptor,
    manifest: edited,
    manifestBytes,
    manifestDescriptor: describeBytes(mediaType, manifestBytes)
  }
}
