// The layer of some wheels, as a file in the layer cache: each wheel installed straight into the
// layer (our installer, pip's layout, no staging tree on disk), the layer written once, then its
// descriptor. Pure of the registry and of the plan.
import { randomBytes } from 'node:crypto'
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import type { CacheLayout } from '../cache/layout.js'
import type { Digest } from '../oci/digest.js'
import type { LayerEntry } from '../oci/entry.js'
import {
  buildLayer,
  buildSegmentedLayer,
  InexactDeflateError,
  segmentable,
  SegmentDamagedError,
  type LayerBlob,
  type SegmentCopy,
  type SegmentLocation
} from '../oci/layer.js'
import type { Compression } from '../oci/media-types.js'
import { LayerDestination, type WheelLayerEntries } from '../wheels/install/destination.js'
import { install } from '../wheels/install/install.js'
import type { PythonLayout } from '../wheels/install/layout.js'
import { WheelError } from '../wheels/wheel-error.js'
import { installedDist, type InstalledDist } from './python-layout.js'

/** Deps layers carry one fixed time, so the same wheels give the same layer on every commit. */
export const DEPS_MTIME = 315532800 // 1980-01-01T00:00:00Z

/** A wheel going into a layer: the verified file in the artifact cache and its own name. */
export interface LayerMember {
  readonly sha256: string
  readonly path: string
  readonly filename: string
  /** `name version`, for messages. */
  readonly label: string
}

/** Name the wheel (not its path in the artifact cache, which is by digest) in an installer error. */
function namingWheel(m: LayerMember): (e: unknown) => never {
  return (e) => {
    if (e instanceof WheelError)
      throw new WheelError(`${m.label}: ${e.message}`, m.filename, e.hint ?? '', e.entry)
    throw e
  }
}

/** Every parent directory of these paths, as layer entries (each layer carries its own). */
function parentDirs(paths: Iterable<string>): LayerEntry[] {
  const dirs = new Set<string>()
  for (const path of paths)
    for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) dirs.add(path.slice(0, i))
  return [...dirs].map((d): LayerEntry => ({ type: 'dir', path: d }))
}

export interface BuiltLayer {
  readonly digest: Digest
  readonly diffId: Digest
  readonly size: number
  /** The compressed layer on disk; null when only its descriptor is known (the registry has it). */
  readonly file: string | null
  readonly built: boolean
  readonly dists: readonly InstalledDist[]
  /** Wheels whose segment was copied from an earlier layer instead of installed again. */
  readonly reused?: number
}

/** Where one wheel's installed files are in a layer blob (see `buildSegmentedLayer`). */
export interface SegmentRecord extends SegmentLocation {
  /** The wheel's sha256. */
  readonly wheel: string
  /** The files it installed, relative to the image root. */
  readonly paths: readonly string[]
  readonly dist: InstalledDist
}

export interface LayerMeta {
  readonly digest: Digest
  readonly diffId: Digest
  readonly size: number
  /** What each wheel of the layer installed where: checked against the interpreter's sys.path. */
  readonly dists: readonly InstalledDist[]
  /**
   * Where each wheel's files are in the blob, for a later layer to copy them from (one record
   * per wheel that installed whole, in the order of `dists`). Absent for unsegmented layers.
   */
  readonly segments?: readonly SegmentRecord[]
}

/** A layer blob's file name in the layer cache. */
export function layerBlobName(key: string, compression: Compression): string {
  return `${key}${{ gzip: '.tar.gz', zstd: '.tar.zst', none: '.tar' }[compression]}`
}

/** A wheel's files as an earlier layer blob holds them: copied as they are, the wheel not read. */
export interface ReusedSegment {
  readonly copy: SegmentCopy
  readonly paths: readonly string[]
  readonly dist: InstalledDist
}

/** One wheel of a layer: its segment from an earlier layer when there is one, else the wheel. */
export interface LayerPart {
  readonly sha256: string
  /** The wheel file, fetched if need be (a part whose segment is copied never asks). */
  readonly wheel: () => Promise<LayerMember>
  readonly segment: ReusedSegment | null
}

/** A part with the wheel at hand and no segment to copy. */
export function wheelPart(member: LayerMember): LayerPart {
  return { sha256: member.sha256, wheel: () => Promise.resolve(member), segment: null }
}

/**
 * The layer of these wheels, installed straight into it (nothing is written but the compressed
 * layer): each wheel's files are a segment of the blob, copied from an earlier layer where one
 * holds that wheel (only new wheels are read and compressed). A wheel whose deflate data cannot be
 * carried into the layer as it is (bytes after a stream), or a copied segment that turns out
 * damaged, has the layer written again from the wheels, every file deflated afresh in the first
 * case. Exported for its tests.
 */
export async function buildLayerFile(
  key: string,
  parts: readonly LayerPart[],
  layout: PythonLayout,
  compression: Compression,
  paths: CacheLayout,
  onChunk?: (chunk: Buffer) => Promise<void>
): Promise<BuiltLayer & { readonly segments: readonly SegmentRecord[]; readonly teed: boolean }> {
  try {
    const first = { carry: true, copy: true, ...(onChunk ? { onChunk } : {}) }
    return { ...(await writeLayerFile(key, parts, layout, compression, paths, first)), teed: !!onChunk }
  } catch (e) {
    const damaged = e instanceof SegmentDamagedError
    if (!damaged && !(e instanceof InexactDeflateError)) throw e
    // Written again, from the wheels (deflated afresh too when their deflate data cannot be
    // carried): what `onChunk` was given is not this blob (`teed` is false).
    const again = { carry: damaged, copy: false }
    return { ...(await writeLayerFile(key, parts, layout, compression, paths, again)), teed: false }
  }
}

/** What goes into the layer for one part: its copied segment, or its wheel installed. */
type Source =
  { readonly segment: ReusedSegment } | { readonly member: LayerMember; readonly wheel: WheelLayerEntries }

const sourcePaths = (s: Source): readonly string[] =>
  'segment' in s ? s.segment.paths : s.wheel.entries.map((e) => e.path)

async function installPart(part: LayerPart, layout: PythonLayout): Promise<Source> {
  const member = await part.wheel()
  const wheel = await install(member.path, new LayerDestination(layout), { filename: member.filename }).catch(
    namingWheel(member)
  )
  return { member, wheel }
}

async function writeLayerFile(
  key: string,
  parts: readonly LayerPart[],
  layout: PythonLayout,
  compression: Compression,
  paths: CacheLayout,
  how: {
    readonly carry: boolean
    readonly copy: boolean
    /** Also given every piece of the blob as it is written (a streamed upload). */
    readonly onChunk?: (chunk: Buffer) => Promise<void>
  }
): Promise<BuiltLayer & { readonly segments: readonly SegmentRecord[] }> {
  mkdirSync(paths.layers, { recursive: true })
  const blob = paths.layerBlob(layerBlobName(key, compression))
  const tmp = `${blob}.${randomBytes(4).toString('hex')}.tmp`
  const segmented = segmentable(compression)
  const sources: Source[] = []
  // Which part each path comes from.
  const owner = new Map<string, number>()
  try {
    let layer: LayerBlob & { readonly segments?: readonly SegmentLocation[] }
    try {
      for (const part of parts)
        sources.push(
          how.copy && segmented && part.segment ? { segment: part.segment } : await installPart(part, layout)
        )
      // Where two wheels of one layer install the same path, the later one wins, as when pip
      // installs them in that order. A copied segment holds all of its wheel's files, so one
      // that shares a path with another wheel of the layer is installed instead.
      const shared = new Set<number>()
      sources.forEach((s, i) => {
        for (const path of sourcePaths(s)) {
          const prev = owner.get(path)
          if (prev !== undefined) shared.add(prev).add(i)
          owner.set(path, i)
        }
      })
      for (const i of shared) if ('segment' in sources[i]!) sources[i] = await installPart(parts[i]!, layout)
      const entriesOf = (s: Source, i: number): LayerEntry[] =>
        'segment' in s ? [] : s.wheel.entries.filter((e) => owner.get(e.path) === i)
      const opts = {
        mtime: DEPS_MTIME,
        compression,
        reuseDeflate: how.carry,
        file: tmp,
        ...(how.onChunk ? { onChunk: how.onChunk } : {})
      }
      const written = segmented
        ? buildSegmentedLayer(
            [
              { entries: parentDirs(owner.keys()) },
              ...sources.map((s, i) =>
                'segment' in s ? { copy: s.segment.copy } : { entries: entriesOf(s, i) }
              )
            ],
            opts
          )
        : buildLayer([...sources.flatMap(entriesOf), ...parentDirs(owner.keys())], opts)
      // Errors found while the layer is written (a RECORD hash) name the wheel too.
      layer = await written.catch((e: unknown) => {
        const s =
          e instanceof WheelError
            ? sources.find((x) => 'member' in x && x.member.path === e.location.file)
            : undefined
        return s && 'member' in s ? namingWheel(s.member)(e) : Promise.reject(e)
      })
    } finally {
      await Promise.all(sources.map((s) => ('wheel' in s ? s.wheel.close() : undefined)))
    }
    renameSync(tmp, blob)
    const dists = sources.map((s) =>
      'segment' in s
        ? s.segment.dist
        : installedDist(
            s.wheel.name,
            s.wheel.version,
            s.wheel.entries.map((e) => e.path),
            layout
          )
    )
    // A segment is recorded for later layers to copy when it holds its whole wheel, written with
    // the wheel's deflate data carried (as any other build would write it), so copies keep every
    // layer the same bytes as a build from the wheels.
    const segments: SegmentRecord[] = []
    if (layer.segments && how.carry && parts.length > 1)
      sources.forEach((s, i) => {
        const paths = sourcePaths(s)
        if (paths.every((p) => owner.get(p) === i))
          segments.push({
            ...layer.segments![i + 1]!,
            wheel: parts[i]!.sha256,
            paths: [...paths],
            dist: dists[i]!
          })
      })
    // The descriptor last, written aside and renamed: a reader never sees half of it.
    const meta: LayerMeta = {
      digest: layer.digest,
      diffId: layer.diffId,
      size: layer.size,
      dists,
      ...(segments.length ? { segments } : {})
    }
    const metaTmp = `${tmp}.json`
    writeFileSync(metaTmp, JSON.stringify(meta))
    renameSync(metaTmp, paths.layerDescriptor(key))
    return {
      ...meta,
      file: blob,
      built: true,
      reused: sources.filter((s) => 'segment' in s).length,
      segments
    }
  } finally {
    rmSync(tmp, { force: true })
  }
}
