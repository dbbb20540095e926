// One layer blob unpacked by umoci (Go's gzip, zstd and tar readers, as containerd and podman
// read layers): a one-layer OCI layout written by hand around the blob, then `umoci unpack`.
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { sha256 } from './oci-layout.js'

export interface LayerBlobRef {
  readonly mediaType: string
  readonly digest: string
  readonly size: number
  readonly diffId: string
}

/** Unpack the layer in `blobFile` under `workDir`; the unpacked root file system's path. */
export function umociUnpackLayer(blobFile: string, layer: LayerBlobRef, workDir: string): string {
  const layout = join(workDir, 'layout')
  const blobs = join(layout, 'blobs', 'sha256')
  mkdirSync(blobs, { recursive: true })
  const put = (data: Buffer | string): { digest: string; size: number } => {
    const digest = sha256(data)
    writeFileSync(join(blobs, digest.slice(7)), data)
    return { digest, size: Buffer.byteLength(data) }
  }
  copyFileSync(blobFile, join(blobs, layer.digest.slice(7)))
  const config = put(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: [layer.diffId] }
    })
  )
  const manifest = put(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }]
    })
  )
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }))
  writeFileSync(
    join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          annotations: { 'org.opencontainers.image.ref.name': 'layer' }
        }
      ]
    })
  )
  const bundle = join(workDir, 'bundle')
  execFileSync('umoci', ['unpack', '--image', `${layout}:layer`, bundle])
  return join(bundle, 'rootfs')
}
