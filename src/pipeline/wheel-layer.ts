// The layer of some wheels, as a file in the layer cache: each wheel installed straight into the
// layer (our installer, pip's layout, no staging tree on disk), the layer written once, then its
// descriptor. Pure of the registry and of the plan, so that a worker thread can run it
// (layer-worker.ts) while the main thread downloads and uploads.
import { randomBytes } from 'node:crypto'
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import type { CacheLayout } from '../cache/layout.js'
import type { Digest } from '../oci/digest.js'
import type { LayerEntry } from '../oci/entry.js'
import { buildLayer, InexactDeflateError, type LayerBlob } from '../oci/layer.js'
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

/**
 * The installed files of these wheels as layer entries, with every parent directory (each layer
 * carries its own). Where two wheels of one layer install the same path, the later one wins, as
 * when pip installs them in that order.
 */
function layerEntries(wheels: readonly WheelLayerEntries[]): LayerEntry[] {
  const files = new Map<string, LayerEntry>()
  for (const w of wheels) for (const e of w.entries) files.set(e.path, e)
  const dirs = new Set<string>()
  for (const path of files.keys())
    for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) dirs.add(path.slice(0, i))
  return [...files.values(), ...[...dirs].map((d): LayerEntry => ({ type: 'dir', path: d }))]
}

export interface BuiltLayer {
  readonly digest: Digest
  readonly diffId: Digest
  readonly size: number
  /** The compressed layer on disk; null when only its descriptor is known (the registry has it). */
  readonly file: string | null
  readonly built: boolean
  readonly dists: readonly InstalledDist[]
}

export interface LayerMeta {
  readonly digest: Digest
  readonly diffId: Digest
  readonly size: number
  /** What each wheel of the layer installed where: checked against the interpreter's sys.path. */
  readonly dists: readonly InstalledDist[]
}

/** A layer blob's file name in the layer cache. */
export function layerBlobName(key: string, compression: Compression): string {
  return `${key}${{ gzip: '.tar.gz', zstd: '.tar.zst', none: '.tar' }[compression]}`
}

/**
 * The layer of these wheels, installed straight into it (nothing is written but the compressed
 * layer). A wheel whose deflate data cannot be carried into the layer as it is (bytes after a
 * stream) has the layer written again with every file deflated afresh. Exported for its tests.
 */
export async function buildLayerFile(
  key: string,
  members: readonly LayerMember[],
  layout: PythonLayout,
  compression: Compression,
  paths: CacheLayout
): Promise<BuiltLayer> {
  try {
    return await writeLayerFile(key, members, layout, compression, paths, true)
  } catch (e) {
    if (!(e instanceof InexactDeflateError)) throw e
    return writeLayerFile(key, members, layout, compression, paths, false)
  }
}

async function writeLayerFile(
  key: string,
  members: readonly LayerMember[],
  layout: PythonLayout,
  compression: Compression,
  paths: CacheLayout,
  reuseDeflate: boolean
): Promise<BuiltLayer> {
  mkdirSync(paths.layers, { recursive: true })
  const blob = paths.layerBlob(layerBlobName(key, compression))
  const tmp = `${blob}.${randomBytes(4).toString('hex')}.tmp`
  try {
    const wheels: WheelLayerEntries[] = []
    let layer: LayerBlob
    try {
      for (const m of members)
        wheels.push(
          await install(m.path, new LayerDestination(layout), { filename: m.filename }).catch(namingWheel(m))
        )
      // Errors found while the layer is written (a RECORD hash) name the wheel too.
      layer = await buildLayer(layerEntries(wheels), {
        mtime: DEPS_MTIME,
        compression,
        reuseDeflate,
        file: tmp
      }).catch((e: unknown) => {
        const m = e instanceof WheelError ? members.find((x) => x.path === e.location.file) : undefined
        return m ? namingWheel(m)(e) : Promise.reject(e)
      })
    } finally {
      await Promise.all(wheels.map((w) => w.close()))
    }
    renameSync(tmp, blob)
    // The descriptor last, written aside and renamed: a reader never sees half of it.
    const meta: LayerMeta = {
      digest: layer.digest,
      diffId: layer.diffId,
      size: layer.size,
      dists: wheels.map((w) =>
        installedDist(
          w.name,
          w.version,
          w.entries.map((e) => e.path),
          layout
        )
      )
    }
    const metaTmp = `${tmp}.json`
    writeFileSync(metaTmp, JSON.stringify(meta))
    renameSync(metaTmp, paths.layerDescriptor(key))
    return { ...meta, file: blob, built: true }
  } finally {
    rmSync(tmp, { force: true })
  }
}
