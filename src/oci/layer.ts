// A layer blob from entries: tar them deterministically, compress, and take both digests (the
// compressed blob's, for the manifest; the tar's, the diff_id, for the config) in one pass.
import { createWriteStream } from 'node:fs'
import { Readable, Transform, type TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import * as zlib from 'node:zlib'
import { FastBuildError } from '../errors.js'
import { DigestWriter, type Digest } from './digest.js'
import type { LayerEntry } from './entry.js'
import { layerMediaType, OCI_MANIFEST, type Compression } from './media-types.js'
import { tarChunks } from './tar.js'

export interface LayerOptions {
  readonly mtime: number
  readonly compression?: Compression
  /** gzip/zstd level; defaults to fast (gzip 1, zstd 3): a layer is written once per change. */
  readonly level?: number
  /** The manifest family the layer goes into (decides the layer media type). */
  readonly manifestType?: string
  /** Write the blob to this file instead of keeping it in memory (large dependency layers). */
  readonly file?: string
}

export interface LayerBlob {
  readonly compression: Compression
  /** The OCI (or, for manifestType Docker, Docker) layer media type. */
  readonly mediaType: string
  readonly digest: Digest
  readonly size: number
  readonly diffId: Digest
  readonly uncompressedSize: number
  /** The blob bytes, unless written to `file`. */
  readonly data: Buffer | null
  readonly file: string | null
  readonly entries: number
}

export class CompressionError extends FastBuildError {}

function compressor(compression: Compression, level: number | undefined): Transform | null {
  if (compression === 'none') return null
  if (compression === 'gzip') return zlib.createGzip({ level: level ?? 1 })
  const create = (zlib as unknown as { createZstdCompress?: (o: object) => Transform }).createZstdCompress
  if (!create) {
    throw new CompressionError(
      `zstd layers need Node.js 22.15 or later (this is ${process.version})`,
      {},
      'use compression gzip, or run fast-build with a newer Node.js'
    )
  }
  const params = (zlib.constants as unknown as Record<string, number>)['ZSTD_c_compressionLevel']
  return create(params === undefined ? {} : { params: { [params]: level ?? 3 } })
}

/** Hashes what passes through; for gzip, first sets the header's OS byte to 255 ("unknown"). */
class Measure extends Transform {
  readonly digest = new DigestWriter()
  private first = true

  constructor(private readonly fixGzipHeader: boolean) {
    super()
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.first && this.fixGzipHeader) {
      // zlib writes the build's OS code (3 on Unix, 10 on Windows) into byte 9 of the header;
      // a fixed value keeps the blob identical whichever OS wrote it.
      chunk = Buffer.from(chunk)
      if (chunk.length > 9) chunk[9] = 0xff
    }
    this.first = false
    this.digest.update(chunk)
    done(null, chunk)
  }
}

export async function buildLayer(entries: readonly LayerEntry[], opts: LayerOptions): Promise<LayerBlob> {
  const compression = opts.compression ?? 'gzip'
  const tar = new Measure(false)
  const blob = new Measure(compression === 'gzip')
  const chunks: Buffer[] = []
  const collect = opts.file
    ? createWriteStream(opts.file)
    : new Transform({
        transform(chunk: Buffer, _e, done) {
          chunks.push(chunk)
          done()
        }
      })
  const stages: NodeJS.ReadWriteStream[] = [tar]
  const c = compressor(compression, opts.level)
  if (c) stages.push(c)
  stages.push(blob)
  // pipeline's overloads do not take a spread of stages; the runtime takes any number.
  const run = pipeline as unknown as (
    ...streams: (NodeJS.ReadableStream | NodeJS.WritableStream)[]
  ) => Promise<void>
  await run(Readable.from(tarChunks(entries, { mtime: opts.mtime })), ...stages, collect)
  return {
    compression,
    mediaType: layerMediaType(opts.manifestType ?? OCI_MANIFEST, compression),
    digest: blob.digest.digest(),
    size: blob.digest.size,
    diffId: tar.digest.digest(),
    uncompressedSize: tar.digest.size,
    data: opts.file ? null : Buffer.concat(chunks),
    file: opts.file ?? null,
    entries: entries.length
  }
}
