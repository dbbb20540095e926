// A minimal, valid OCI image layout written by hand (for skopeo/umoci to read in integration
// tests): one gzip layer holding the given files, an image config, a manifest, index.json with a
// ref-name annotation, and oci-layout. Independent of src/oci on purpose: it is the test's reference.
import { createHash } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'

export interface Blob {
  digest: string
  size: number
  mediaType: string
}

export interface OciLayoutImage {
  dir: string
  tag: string
  /** `oci:DIR:TAG`, as skopeo names it. */
  ref: string
  manifest: Blob
  config: Blob
  layers: Blob[]
  /** The manifest's bytes, as written. */
  manifestBytes: Buffer
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`
}

/** A ustar archive of regular files (sorted, mode 0644, uid/gid 0, mtime 0). */
export function tarFiles(files: Record<string, Buffer | string>): Buffer {
  const blocks: Buffer[] = []
  for (const name of Object.keys(files).sort()) {
    const data = Buffer.from(files[name] as Buffer | string)
    if (Buffer.byteLength(name) > 100) throw new Error(`tarFiles: name too long: ${name}`)
    const h = Buffer.alloc(512)
    h.write(name, 0, 100, 'utf8')
    h.write('0000644\0', 100, 8, 'ascii') // mode
    h.write('0000000\0', 108, 8, 'ascii') // uid
    h.write('0000000\0', 116, 8, 'ascii') // gid
    h.write(data.length.toString(8).padStart(11, '0') + '\0', 124, 12, 'ascii') // size
    h.write('00000000000\0', 136, 12, 'ascii') // mtime
    h.write('        ', 148, 8, 'ascii') // checksum placeholder
    h.write('0', 156, 1, 'ascii') // typeflag: regular file
    h.write('ustar\0', 257, 6, 'ascii')
    h.write('00', 263, 2, 'ascii')
    let sum = 0
    for (const b of h) sum += b
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii')
    blocks.push(h, data)
    const pad = (512 - (data.length % 512)) % 512
    if (pad) blocks.push(Buffer.alloc(pad))
  }
  blocks.push(Buffer.alloc(1024))
  return Buffer.concat(blocks)
}

function putBlob(dir: string, data: Buffer, mediaType: string): Blob {
  const digest = sha256(data)
  writeFileSync(join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length)), data)
  return { digest, size: data.length, mediaType }
}

/**
 * Write an image into `dir` (created if needed). `files` go into one layer; `layerCount` > 1 adds
 * more layers with one small file each (distinct contents, so distinct digests).
 */
export function writeOciLayout(
  dir: string,
  opts: { tag?: string; files?: Record<string, Buffer | string>; layerCount?: number } = {}
): OciLayoutImage {
  const tag = opts.tag ?? 'latest'
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true })
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }))

  const layerFiles: Record<string, Buffer | string>[] = [
    opts.files ?? { 'hello.txt': 'hello from fast-build\n' }
  ]
  for (let i = 1; i < (opts.layerCount ?? 1); i++) layerFiles.push({ [`layer-${i}.txt`]: `layer ${i}\n` })
  const layers: Blob[] = []
  const diffIds: string[] = []
  for (const files of layerFiles) {
    const tar = tarFiles(files)
    diffIds.push(sha256(tar))
    layers.push(putBlob(dir, gzipSync(tar, { level: 1 }), 'application/vnd.oci.image.layer.v1.tar+gzip'))
  }
  const config = putBlob(
    dir,
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Cmd: ['/bin/sh'] },
        rootfs: { type: 'layers', diff_ids: diffIds }
      })
    ),
    'application/vnd.oci.image.config.v1+json'
  )
  const manifestBytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config,
      layers
    })
  )
  const manifest = putBlob(dir, manifestBytes, 'application/vnd.oci.image.manifest.v1+json')
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ ...manifest, annotations: { 'org.opencontainers.image.ref.name': tag } }]
    })
  )
  return { dir, tag, ref: `oci:${dir}:${tag}`, manifest, config, layers, manifestBytes }
}

/** The paths in a tar archive, in order (ustar names with their prefix; pax `path` records win). */
export function tarNames(tar: Buffer): string[] {
  const names: string[] = []
  let paxPath: string | null = null
  for (let at = 0; at + 512 <= tar.length;) {
    const h = tar.subarray(at, at + 512)
    if (h.every((b) => b === 0)) break
    const field = (from: number, len: number) => h.toString('utf8', from, from + len).replace(/\0.*$/s, '')
    const size = parseInt(field(124, 12).trim() || '0', 8)
    const type = field(156, 1)
    const body = tar.subarray(at + 512, at + 512 + size)
    if (type === 'x') paxPath = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(body.toString('utf8'))?.[1] ?? null
    else if (type !== 'g') {
      const prefix = field(345, 155)
      names.push(paxPath ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100)))
      paxPath = null
    }
    at += 512 + Math.ceil(size / 512) * 512
  }
  return names
}
