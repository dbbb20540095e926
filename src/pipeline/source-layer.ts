// The source layer, the same for every variant. It is started at once, so the disk and CPU work
// runs while deps images are looked up or built, and it is uploaded while it is compressed, as
// docker push streams layers; on any trouble with the stream the bytes kept in memory go up the
// ordinary, retried way when a variant needs them.
import { dirname } from 'node:path'
import { performance } from 'node:perf_hooks'
import { buildLayer, type LayerBlob } from '../oci/layer.js'
import type { Compression } from '../oci/media-types.js'
import type { Plan } from '../plan/plan.js'
import type { BlobOutcome, ImageStore } from '../registry/store.js'
import { formatBytes } from '../util/format.js'
import { collectSource, localPackagesOf, type LocalPackageRef, type SourceTree } from './source.js'
import { streamedUpload } from './streamed-upload.js'

export interface SourceLayer {
  readonly source: SourceTree
  readonly layer: LayerBlob
  /** The streamed upload's outcome; null when it did not go up that way. */
  readonly uploaded: BlobOutcome | null
}

export interface SourceJob {
  /** The local packages that ship with the source. */
  readonly localRefs: readonly LocalPackageRef[]
  /** The source tree, listed (and checked) in a moment. */
  readonly tree: Promise<SourceTree>
  /** The layer, built and streamed. */
  readonly layer: Promise<SourceLayer>
  /** What failed building it, as soon as it did (null until then). */
  failure(): unknown
  /** The streamed upload's outcome, for the first variant that uses the layer only. */
  takeOutcome(uploaded: BlobOutcome | null): BlobOutcome | undefined
  /** No variant will use the layer: stop its upload quietly and let it settle. */
  abandon(): Promise<void>
  /** The layer as reported, once built. */
  summary(): { digest: string; size: number; files: number; seconds: number } | null
}

export interface SourceOptions {
  readonly plan: Plan
  readonly store: ImageStore
  readonly mode: 'git' | 'walk' | 'auto'
  readonly compression: Compression
  /** The layer's files' time (SOURCE_DATE_EPOCH or the commit's). */
  readonly epoch: number
  readonly progress: (message: string) => void
}

export function startSourceLayer(o: SourceOptions): SourceJob {
  const { plan, progress } = o
  const localRefs = localPackagesOf(plan, dirname(plan.project.config.lock ?? 'pyproject.toml'))
  const start = performance.now()
  const tree = collectSource({
    projectDir: plan.project.dir,
    workdir: plan.project.config.workdir,
    localPackages: localRefs,
    mode: o.mode
  })
  tree.catch(() => undefined)
  /** Set when no variant will use the layer (all failed): its upload is dropped without a word. */
  let abandoned = false
  let built: { layer: SourceLayer; seconds: number } | null = null
  const layer = (async (): Promise<SourceLayer> => {
    const source = await tree
    progress(`source: ${source.files} files, ${formatBytes(source.bytes)}`)
    const upload = streamedUpload(o.store, 'the source layer', { abandoned: () => abandoned })
    const blob = await buildLayer(source.entries, {
      mtime: o.epoch,
      compression: o.compression,
      onChunk: upload.onChunk
    })
    const uploaded = await upload.commit(
      { mediaType: blob.mediaType, digest: blob.digest, size: blob.size },
      progress
    )
    const seconds = (performance.now() - start) / 1000
    progress(`source layer ${blob.digest.slice(7, 19)}: ${formatBytes(blob.size)} in ${seconds.toFixed(2)} s`)
    built = { layer: { source, layer: blob, uploaded }, seconds }
    return built.layer
  })()
  // Failures surface where a variant awaits the layer (or before a full path), never as an
  // unhandled rejection.
  let failure: unknown = null
  layer.catch((e: unknown) => {
    failure = e
  })
  let counted = false
  return {
    localRefs,
    tree,
    layer,
    failure: () => failure,
    takeOutcome: (uploaded) => {
      // The streamed upload counts for the first variant that uses the layer.
      const outcome = counted ? undefined : (uploaded ?? undefined)
      counted ||= uploaded !== null
      return outcome
    },
    abandon: async () => {
      abandoned = true
      await layer.catch(() => undefined)
    },
    summary: () => {
      const b = built as { layer: SourceLayer; seconds: number } | null
      return b
        ? {
            digest: b.layer.layer.digest,
            size: b.layer.layer.size,
            files: b.layer.source.files,
            seconds: b.seconds
          }
        : null
    }
  }
}
