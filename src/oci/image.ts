// Image manifests, indexes and configs: parsed from what a registry or layout returns (checked,
// with errors that say what is wrong), and built with a fixed key order so the same image always
// serializes to the same bytes.
import { FastBuildError } from '../errors.js'
import type { Platform } from '../target.js'
import { parseDigest, sha256, type Digest } from './digest.js'
import {
  DOCKER_CONFIG,
  DOCKER_MANIFEST,
  isIndexType,
  isManifestType,
  OCI_CONFIG,
  OCI_INDEX
} from './media-types.js'

export class ImageError extends FastBuildError {}

export interface OciPlatform {
  readonly architecture: string
  readonly os: string
  readonly variant?: string
}

export interface Descriptor {
  readonly mediaType: string
  readonly digest: Digest
  readonly size: number
  readonly platform?: OciPlatform
  readonly annotations?: Readonly<Record<string, string>>
  readonly urls?: readonly string[]
}

export interface ImageManifest {
  readonly schemaVersion: 2
  readonly mediaType: string
  readonly config: Descriptor
  readonly layers: readonly Descriptor[]
  readonly annotations?: Readonly<Record<string, string>>
}

export interface ImageIndex {
  readonly schemaVersion: 2
  readonly mediaType: string
  readonly manifests: readonly Descriptor[]
  readonly annotations?: Readonly<Record<string, string>>
}

/** The parts of an image config we read and write; everything else is kept as it was. */
export interface ImageConfig {
  architecture: string
  os: string
  variant?: string
  created?: string
  config?: {
    Env?: string[]
    Entrypoint?: string[] | null
    Cmd?: string[] | null
    WorkingDir?: string
    Labels?: Record<string, string> | null
    [key: string]: unknown
  }
  rootfs: { type: 'layers'; diff_ids: Digest[] }
  history?: { created?: string; created_by?: string; comment?: string; empty_layer?: boolean }[]
  [key: string]: unknown
}

// --- platforms -------------------------------------------------------------------------------------

export function ociPlatform(p: Platform): OciPlatform {
  return p.architecture === 'arm64'
    ? { architecture: 'arm64', os: 'linux', variant: 'v8' }
    : { architecture: 'amd64', os: 'linux' }
}

/** Whether an image's platform is the target's (arm64's `v8` variant may be omitted). */
export function platformMatches(
  have: { os?: unknown; architecture?: unknown; variant?: unknown },
  want: Platform
): boolean {
  if (have.os !== want.os || have.architecture !== want.architecture) return false
  if (want.architecture === 'arm64') return have.variant === undefined || have.variant === 'v8'
  return true
}

export function describePlatform(p: { os?: unknown; architecture?: unknown; variant?: unknown }): string {
  return `${String(p.os ?? '?')}/${String(p.architecture ?? '?')}${p.variant ? `/${String(p.variant)}` : ''}`
}

// --- parsing ----------------------------------------------------------------------------------------

function object(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ImageError(`${what} is not a JSON object`)
  return v as Record<string, unknown>
}

export function parseDescriptor(v: unknown, what: string): Descriptor {
  const o = object(v, what)
  if (typeof o['mediaType'] !== 'string') throw new ImageError(`${what}: mediaType missing`)
  if (typeof o['size'] !== 'number' || !Number.isSafeInteger(o['size']) || o['size'] < 0) {
    throw new ImageError(`${what}: size is not a byte count`)
  }
  return {
    ...(o as object),
    mediaType: o['mediaType'],
    digest: parseDigest(o['digest'], `${what}.digest`),
    size: o['size']
  } as Descriptor
}

function parseJson(bytes: Buffer, what: string): Record<string, unknown> {
  try {
    return object(JSON.parse(bytes.toString('utf8')), what)
  } catch (e) {
    if (e instanceof ImageError) throw e
    throw new ImageError(`${what} is not valid JSON: ${(e as Error).message}`)
  }
}

export type ParsedManifest =
  | { readonly kind: 'manifest'; readonly manifest: ImageManifest; readonly mediaType: string }
  | { readonly kind: 'index'; readonly index: ImageIndex; readonly mediaType: string }

/**
 * A manifest or index, from its bytes and the Content-Type it was served with (which wins
 * over, or stands in for, a missing `mediaType` field).
 */
export function parseManifest(bytes: Buffer, contentType: string | null, what: string): ParsedManifest {
  const o = parseJson(bytes, what)
  const declared = typeof o['mediaType'] === 'string' ? o['mediaType'] : undefined
  const served = contentType?.split(';')[0]?.trim()
  const mediaType =
    declared ??
    (served && served !== 'application/json' ? served : undefined) ??
    (o['manifests'] ? OCI_INDEX : undefined)
  if (o['schemaVersion'] !== 2) {
    throw new ImageError(
      `${what}: schemaVersion ${JSON.stringify(o['schemaVersion'])} is not supported (only 2)`
    )
  }
  if (isIndexType(mediaType) || (mediaType === undefined && Array.isArray(o['manifests']))) {
    if (!Array.isArray(o['manifests'])) throw new ImageError(`${what}: index without manifests`)
    const manifests = o['manifests'].map((m, i) => parseDescriptor(m, `${what}.manifests[${i}]`))
    return {
      kind: 'index',
      mediaType: mediaType ?? OCI_INDEX,
      index: {
        ...(o as object),
        schemaVersion: 2,
        mediaType: mediaType ?? OCI_INDEX,
        manifests
      } as ImageIndex
    }
  }
  const mt = mediaType ?? (o['config'] ? 'application/vnd.oci.image.manifest.v1+json' : undefined)
  if (!isManifestType(mt))
    throw new ImageError(`${what}: unsupported media type ${JSON.stringify(mt ?? null)}`)
  if (!Array.isArray(o['layers'])) throw new ImageError(`${what}: manifest without layers`)
  const manifest = {
    ...(o as object),
    schemaVersion: 2,
    mediaType: mt,
    config: parseDescriptor(o['config'], `${what}.config`),
    layers: o['layers'].map((l, i) => parseDescriptor(l, `${what}.layers[${i}]`))
  } as ImageManifest
  return { kind: 'manifest', mediaType: mt!, manifest }
}

export function parseConfig(bytes: Buffer, what: string): ImageConfig {
  const o = parseJson(bytes, what)
  if (typeof o['os'] !== 'string' || typeof o['architecture'] !== 'string') {
    throw new ImageError(`${what}: os and architecture are required`)
  }
  const rootfs = object(o['rootfs'], `${what}.rootfs`)
  if (!Array.isArray(rootfs['diff_ids'])) throw new ImageError(`${what}.rootfs.diff_ids missing`)
  rootfs['diff_ids'].forEach((d, i) => parseDigest(d, `${what}.rootfs.diff_ids[${i}]`))
  return o as ImageConfig
}

// --- building -------------------------------------------------------------------------------------

export function configMediaTypeFor(manifestType: string): string {
  return manifestType === DOCKER_MANIFEST ? DOCKER_CONFIG : OCI_CONFIG
}

/** Bytes with a fixed key order; the digest of these bytes is the image's identity. */
export function serialize(value: object): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8')
}

export function buildManifest(args: {
  mediaType: string
  config: Descriptor
  layers: readonly Descriptor[]
  annotations?: Readonly<Record<string, string>>
}): ImageManifest {
  return {
    schemaVersion: 2,
    mediaType: args.mediaType,
    config: args.config,
    layers: args.layers,
    ...(args.annotations && Object.keys(args.annotations).length
      ? { annotations: sortedRecord(args.annotations) }
      : {})
  }
}

export function buildIndex(args: {
  mediaType?: string
  manifests: readonly Descriptor[]
  annotations?: Readonly<Record<string, string>>
}): ImageIndex {
  return {
    schemaVersion: 2,
    mediaType: args.mediaType ?? OCI_INDEX,
    manifests: args.manifests,
    ...(args.annotations && Object.keys(args.annotations).length
      ? { annotations: sortedRecord(args.annotations) }
      : {})
  }
}

/** A descriptor for serialized content. */
export function describeBytes(mediaType: string, bytes: Buffer, extra: Partial<Descriptor> = {}): Descriptor {
  return { mediaType, digest: sha256(bytes), size: bytes.length, ...extra }
}

export function sortedRecord(r: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}
