// The app image's config and manifest, derived from the deps image's, as pure data.
import { describe, expect, it } from '@jest/globals'
import { appConfig, appImage, type AppSettings } from '../../src/pipeline/app-image.js'
import { sha256, type Digest } from '../../src/oci/digest.js'
import type { ImageConfig, ImageManifest } from '../../src/oci/image.js'
import { DOCKER_MANIFEST, OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST } from '../../src/oci/media-types.js'

const d = (s: string) => sha256(s)
const deps: ImageConfig = {
  architecture: 'amd64',
  os: 'linux',
  created: '2024-01-01T00:00:00Z',
  config: {
    Env: ['PATH=/usr/local/bin:/usr/bin', 'PYTHONPATH=/opt/extra'],
    Cmd: ['python3'],
    Labels: { vendor: 'x' },
    User: '1000'
  },
  rootfs: { type: 'layers', diff_ids: [d('base'), d('deps')] },
  history: [{ created_by: 'base' }, { created_by: 'deps' }],
  'moby.buildkit.buildinfo.v1': 'kept'
}
const manifest: ImageManifest = {
  schemaVersion: 2,
  mediaType: OCI_MANIFEST,
  config: { mediaType: OCI_CONFIG, digest: d('cfg'), size: 10 },
  layers: [
    { mediaType: OCI_LAYER_GZIP, digest: d('l1'), size: 1 },
    { mediaType: OCI_LAYER_GZIP, digest: d('l2'), size: 2 }
  ]
}
const layer = { digest: d('src'), size: 100, mediaType: OCI_LAYER_GZIP, diffId: d('src-tar'), files: 3 }
const settings: AppSettings = {
  workdir: '/app',
  env: { APP_ENV: 'prod' },
  pythonPath: ['/app/src', '/app/_local/lib/src'],
  entrypoint: ['python', '-m', 'demo'],
  cmd: null,
  labels: { 'org.opencontainers.image.revision': 'abc123', 'dev.fast-build.variant': 'base' },
  created: '2025-06-01T12:00:00.000Z'
}

describe('appConfig', () => {
  it('keeps the deps config and sets workdir, env, PYTHONPATH in front, entrypoint, labels', () => {
    const c = appConfig(deps, layer, settings)
    expect(c.config!.Env).toEqual([
      'PATH=/usr/local/bin:/usr/bin',
      'PYTHONPATH=/app/src:/app/_local/lib/src:/opt/extra',
      'APP_ENV=prod'
    ])
    expect(c.config!.WorkingDir).toBe('/app')
    expect(c.config!.Entrypoint).toEqual(['python', '-m', 'demo'])
    expect(c.config!.Cmd).toBeNull() // a new entrypoint drops the inherited CMD, as in a Dockerfile
    expect(c.config!['User']).toBe('1000')
    expect(c.config!.Labels).toEqual({
      'dev.fast-build.variant': 'base',
      'org.opencontainers.image.revision': 'abc123',
      vendor: 'x'
    })
    expect(c.rootfs.diff_ids).toEqual([d('base'), d('deps'), d('src-tar')])
    expect(c.history).toHaveLength(3)
    expect(c.created).toBe(settings.created)
    expect(c['moby.buildkit.buildinfo.v1']).toBe('kept')
  })

  it('keeps the deps CMD when only cmd is unset and no entrypoint is given', () => {
    expect(appConfig(deps, layer, { ...settings, entrypoint: null }).config!.Cmd).toEqual(['python3'])
    expect(appConfig(deps, layer, { ...settings, entrypoint: null, cmd: ['x'] }).config!.Cmd).toEqual(['x'])
  })
})

describe('appImage', () => {
  const args = {
    depsManifest: manifest,
    depsManifestDigest: d('m') as Digest,
    depsConfig: deps,
    depsRef: 'reg/app:deps-base-1',
    layer,
    settings
  }

  it('appends the source layer and records the base image', () => {
    const img = appImage(args)
    const m = JSON.parse(img.manifestBytes.toString())
    expect(m.layers.map((l: { digest: string }) => l.digest)).toEqual([d('l1'), d('l2'), d('src')])
    expect(m.config).toEqual(img.configDescriptor)
    expect(m.annotations['org.opencontainers.image.base.digest']).toBe(d('m'))
    expect(img.manifestDescriptor.digest).toBe(sha256(img.manifestBytes))
    expect(img.configDescriptor.digest).toBe(sha256(img.configBytes))
  })

  it('is byte-identical for the same inputs', () => {
    expect(Buffer.compare(appImage(args).manifestBytes, appImage({ ...args }).manifestBytes)).toBe(0)
  })

  it('writes Docker schema 2 manifests without annotations', () => {
    const m = JSON.parse(
      appImage({
        ...args,
        depsManifest: { ...manifest, mediaType: DOCKER_MANIFEST }
      }).manifestBytes.toString()
    )
    expect(m.mediaType).toBe(DOCKER_MANIFEST)
    expect(m.annotations).toBeUndefined()
    expect(m.config.mediaType).toBe('application/vnd.docker.container.image.v1+json')
  })

  it('refuses a deps image whose config and manifest disagree', () => {
    expect(() =>
      appImage({ ...args, depsConfig: { ...deps, rootfs: { type: 'layers', diff_ids: [d('x')] } } })
    ).toThrow(/1 diff_ids for 2 layers/)
  })
})
