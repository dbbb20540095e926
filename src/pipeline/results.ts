// What a build reports, per variant and for the whole run: the CLI prints it (a table, or JSON),
// the action turns it into outputs, the job summary and the pull request's report.
import type { FullPathPhases } from './full-path.js'

/** fast: deps image found; full: built now, then the fast path; missing: no deps image and the
 * full path was not allowed; failed: see error. */
export type VariantPath = 'fast' | 'full' | 'missing' | 'failed'

export interface VariantResult {
  readonly variant: string
  readonly hash: string
  readonly path: VariantPath
  readonly depsRef: string
  /** `name:tag@digest` of the app image. */
  readonly appRef: string | null
  readonly digest: string | null
  readonly tags: readonly string[]
  readonly blobs: { readonly uploaded: number; readonly mounted: number; readonly skipped: number }
  readonly bytesUploaded: number
  readonly seconds: number
  readonly error: string | null
  /**
   * The SBOM attached to each platform's app image (CycloneDX; found through the referrers API,
   * or its fallback tag when there is one).
   */
  readonly sboms: readonly {
    readonly platform: string
    readonly digest: string
    readonly tag: string | null
  }[]
  /** What the full path did, when it ran. */
  readonly full: {
    readonly layers: number
    readonly layersUploaded: number
    /** Compressed bytes of the layers uploaded (the rest of bytesUploaded: configs, manifests). */
    readonly layerBytesUploaded: number
    readonly layersBuilt: number
    /** Packages of the layers built whose files were copied from an earlier layer, not installed. */
    readonly packagesCopied: number
    readonly wheels: number
    readonly wheelsDownloaded: number
    /** Wheels restored from the Actions cache instead of downloaded. */
    readonly wheelsRestored: number
    /** Digests of the wheels downloaded (new to this machine's caches). */
    readonly downloadedSha256: readonly string[]
    readonly bytesUploaded: number
    readonly seconds: number
    readonly notes: readonly string[]
    /** Which builder made the deps image, and why the Dockerfile builder when it did. */
    readonly builder: 'wheels' | 'dockerfile'
    readonly builderReason: string | null
    /** Seconds per phase of the wheels builder (null for the Dockerfile builder). */
    readonly phases: FullPathPhases | null
  } | null
}

export interface BuildResult {
  readonly store: string
  readonly revision: string | null
  readonly sourceLayer: {
    readonly digest: string
    readonly size: number
    readonly files: number
    readonly seconds: number
  } | null
  readonly variants: readonly VariantResult[]
}
