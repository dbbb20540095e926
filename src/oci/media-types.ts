// Media types of the OCI image spec and their Docker (schema 2) counterparts, which registries
// and base images still use widely.

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json'
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json'
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar'
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip'
export const OCI_LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd'

export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json'
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json'
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json'
export const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip'

export const MANIFEST_TYPES = [OCI_MANIFEST, DOCKER_MANIFEST] as const
export const INDEX_TYPES = [OCI_INDEX, DOCKER_MANIFEST_LIST] as const

/** What a registry is asked for when a tag may name a manifest or an index. */
export const ACCEPT_ANY_MANIFEST = [OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST].join(', ')

export function isIndexType(mediaType: string | undefined): boolean {
  return mediaType === OCI_INDEX || mediaType === DOCKER_MANIFEST_LIST
}

export function isManifestType(mediaType: string | undefined): boolean {
  return mediaType === OCI_MANIFEST || mediaType === DOCKER_MANIFEST
}

export type Compression = 'gzip' | 'zstd' | 'none'

/** The layer media type that goes with a manifest's family and a compression. */
export function layerMediaType(manifestType: string, compression: Compression): string {
  if (manifestType === DOCKER_MANIFEST) {
    if (compression !== 'gzip') {
      throw new Error(`Docker schema 2 manifests only carry gzip layers (asked for ${compression})`)
    }
    return DOCKER_LAYER_GZIP
  }
  return compression === 'gzip' ? OCI_LAYER_GZIP : compression === 'zstd' ? OCI_LAYER_ZSTD : OCI_LAYER
}
