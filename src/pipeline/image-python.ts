// The edge of base-python.ts: read an image's layers (names only, plus any pyvenv.cfg) from a
// store, and keep what was found by the image's manifest digest, so each base image is read once
// per machine (and per runner, through the Actions cache, which saves the cache directory's
// `base-python/` entries).
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { randomBytes } from 'node:crypto'
import { CacheLayout } from '../cache/layout.js'
import { digestHex, type Digest } from '../oci/digest.js'
import { ImageFilesystem, type FsEntry } from '../oci/filesystem.js'
import type { Descriptor, ImageConfig } from '../oci/image.js'
import { openLayerTar, readTar } from '../oci/tar-read.js'
import type { ImageStore } from '../registry/store.js'
import { detectPython, FACTS_SCHEMA, type BasePythonFacts } from './base-python.js'
import { formatBytes } from '../util/format.js'

/** Reads every layer of an image into one filesystem of names; pyvenv.cfg files are read whole. */
export async function readImageFilesystem(
  store: ImageStore,
  layers: readonly Descriptor[]
): Promise<{ fs: ImageFilesystem; files: Map<string, string> }> {
  const fs = new ImageFilesystem()
  const files = new Map<string, string>()
  for (const layer of layers) {
    const { file } = await store.openBlob(layer.digest)
    const entries: FsEntry[] = []
    await readTar(openLayerTar(file, layer.mediaType), {
      onEntry: (e) => entries.push({ path: e.path, type: e.type, linkTarget: e.linkTarget, mode: e.mode }),
      want: (e) => e.path.endsWith('pyvenv.cfg') && e.size < 64 * 1024,
      onContent: (e, content) => files.set(`/${e.path}`, content.toString('utf8'))
    })
    fs.applyLayer(entries)
  }
  return { fs, files }
}

function cachePath(cacheDir: string, manifest: Digest): string {
  return new CacheLayout(cacheDir).basePythonFacts(digestHex(manifest))
}

function readCached(path: string): BasePythonFacts | null {
  if (!existsSync(path)) return null
  try {
    const f = JSON.parse(readFileSync(path, 'utf8')) as BasePythonFacts
    return f.schema === FACTS_SCHEMA && Array.isArray(f.pythons) ? f : null
  } catch {
    return null // torn or foreign: read the image again
  }
}

/**
 * The Python facts of one platform image: from the cache when this manifest was read before,
 * else from its layers (and then cached).
 */
export async function imagePythonFacts(args: {
  readonly store: ImageStore
  readonly manifestDigest: Digest
  readonly layers: readonly Descriptor[]
  readonly config: ImageConfig
  /** null: no cache (always read). */
  readonly cacheDir: string | null
  /** For the progress line: `base image python:3.12-slim (linux/amd64)`. */
  readonly what: string
  readonly onProgress?: (message: string) => void
}): Promise<BasePythonFacts> {
  const path = args.cacheDir ? cachePath(args.cacheDir, args.manifestDigest) : null
  const cached = path ? readCached(path) : null
  if (cached) return cached
  const bytes = args.layers.reduce((n, l) => n + l.size, 0)
  args.onProgress?.(
    `reading ${args.what} (${args.layers.length} layer${args.layers.length === 1 ? '' : 's'}, ${formatBytes(bytes)}) to find its Python`
  )
  const { fs, files } = await readImageFilesystem(args.store, args.layers)
  const facts = detectPython(fs, args.config.config?.Env, files)
  if (path) {
    mkdirSync(dirname(path), { recursive: true })
    const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`
    try {
      writeFileSync(tmp, JSON.stringify(facts))
      renameSync(tmp, path)
    } finally {
      rmSync(tmp, { force: true })
    }
  }
  return facts
}
