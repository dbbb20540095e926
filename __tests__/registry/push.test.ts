// The one image writer: every blob, then each platform's manifest, then the index, then the tags,
// last; blobs written already are counted, not written again. And the edit it writes, appendLayers:
// pure, with the config's diff_ids and history in step with the manifest's layers.
import { describe, expect, it } from '@jest/globals'
import { sha256 } from '../../src/oci/digest.js'
import { appendLayers } from '../../src/oci/image-edit.js'
import { describeBytes, type ImageConfig, type ImageManifest } from '../../src/oci/image.js'
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST } from '../../src/oci/media-types.js'
import { describeImage, pushImage, type ManifestWrite } from '../../src/registry/push.js'
import { MemoryStore } from '../support/memory-store.js'

const base: { manifest: ImageManifest; config: ImageConfig } = {
  manifest: {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: sha256('cfg'), size: 3 },
    layers: [{ mediaType: OCI_LAYER_GZIP, digest: sha256('l1'), size: 2 }]
  },
  config: {
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['A=1'] },
    rootfs: { type: 'layers', diff_ids: [sha256('d1')] },
    history: [{ created_by: 'base' }]
  }
}

/** A store that has the base image's layer (a registry refuses a manifest naming a missing blob). */
function storeWithBase(): MemoryStore {
  const store = new MemoryStore()
  store.blobs.set(sha256('l1'), Buffer.from('l1'))
  return store
}

function edited(arch: string, layer: Buffer) {
  const e = appendLayers(
    { ...base, config: { ...base.config, architecture: arch } },
    [
      {
        descriptor: describeBytes(OCI_LAYER_GZIP, layer),
        diffId: sha256(`${layer.toString()}-tar`),
        history: { created_by: 'new' }
      }
    ],
    { created: '2025-01-01T00:00:00Z' }
  )
  const write: ManifestWrite = {
    blobs: [
      { descriptor: describeBytes(OCI_LAYER_GZIP, layer), data: layer },
      { descriptor: e.configDescriptor, data: e.configBytes }
    ],
    bytes: e.manifestBytes,
    mediaType: OCI_MANIFEST,
    platform: { architecture: arch, os: 'linux' }
  }
  return { e, write }
}

describe('appendLayers', () => {
  it('appends layers, diff_ids and history in step, patches the config, keeps the rest', () => {
    const { e } = edited('amd64', Buffer.from('new layer'))
    expect(e.manifest.layers.map((l) => l.digest)).toEqual([sha256('l1'), sha256('new layer')])
    expect(e.config.rootfs.diff_ids).toEqual([sha256('d1'), sha256('new layer-tar')])
    expect(e.config.history!.map((h) => h.created_by)).toEqual(['base', 'new'])
    expect(e.config).toMatchObject({ created: '2025-01-01T00:00:00Z', config: { Env: ['A=1'] } })
    expect(e.manifest.config).toEqual(e.configDescriptor)
    expect(e.manifestDescriptor.digest).toBe(sha256(e.manifestBytes))
    // The input is not touched.
    expect(base.config.rootfs.diff_ids).toHaveLength(1)
  })
})

describe('pushImage', () => {
  it('writes blobs, then manifests, then the index, then the tags', async () => {
    const store = storeWithBase()
    const amd = edited('amd64', Buffer.from('amd layer'))
    const arm = edited('arm64', Buffer.from('arm layer'))
    const pushed = await pushImage(
      store,
      { manifests: [amd.write, arm.write], index: { mediaType: OCI_INDEX } },
      ['v1', 'latest']
    )
    const ops = store.calls.filter((c) => c.op === 'putBlob' || c.op === 'putManifest').map((c) => c.op)
    expect(ops).toEqual([
      'putBlob',
      'putBlob',
      'putBlob',
      'putBlob',
      'putManifest',
      'putManifest',
      'putManifest',
      'putManifest'
    ])
    expect(store.callsOf('putManifest').slice(-2)).toEqual(['v1', 'latest'])
    expect(store.tags.get('latest')).toBe(pushed.digest)
    expect(pushed.stats).toMatchObject({ uploaded: 4 + 4, skipped: 0 })
  })

  it('counts a blob written already without writing it; a single manifest is tagged itself', async () => {
    const store = storeWithBase()
    const { e, write } = edited('amd64', Buffer.from('streamed'))
    const layer = write.blobs[0]!
    store.blobs.set(layer.descriptor.digest, Buffer.from('streamed'))
    const pushed = await pushImage(
      store,
      {
        manifests: [
          { ...write, blobs: [{ descriptor: layer.descriptor, outcome: 'uploaded' }, write.blobs[1]!] }
        ],
        index: null
      },
      []
    )
    expect(store.callsOf('putBlob')).toEqual([e.configDescriptor.digest])
    expect(pushed.digest).toBe(e.manifestDescriptor.digest)
    expect(pushed.stats.uploaded).toBe(3)
  })

  it('knows the digest its tags will name before it writes anything (describeImage)', async () => {
    const amd = edited('amd64', Buffer.from('amd layer'))
    const arm = edited('arm64', Buffer.from('arm layer'))
    for (const image of [
      { manifests: [amd.write, arm.write], index: { mediaType: OCI_INDEX } },
      { manifests: [amd.write], index: null }
    ]) {
      const { digest, mediaType } = describeImage(image)
      const pushed = await pushImage(storeWithBase(), image, ['t'])
      expect(pushed.digest).toBe(digest)
      expect(pushed.mediaType).toBe(mediaType)
    }
  })

  it('with `after`, writes its blobs at once and its manifests only once `after` resolves', async () => {
    const store = storeWithBase()
    const { write } = edited('amd64', Buffer.from('on top'))
    let release!: () => void
    const after = new Promise<void>((r) => (release = r))
    const pushing = pushImage(store, { manifests: [write], index: null }, ['app'], undefined, after)
    // Bounded wait for both blobs, while the manifest waits for `after`.
    for (let i = 0; i < 100 && store.callsOf('putBlob').length < 2; i++)
      await new Promise((r) => setTimeout(r, 1))
    expect(store.callsOf('putBlob')).toHaveLength(2)
    expect(store.callsOf('putManifest')).toEqual([])
    release()
    await pushing
    expect(store.callsOf('putManifest')).toEqual(['app'])
  })

  it('with `after` rejected, writes no manifest and no tag, and fails with its error', async () => {
    const store = storeWithBase()
    const { write } = edited('amd64', Buffer.from('orphan'))
    const after = Promise.reject(new Error('the deps image was not written'))
    await expect(
      pushImage(store, { manifests: [write], index: null }, ['app'], undefined, after)
    ).rejects.toThrow('the deps image was not written')
    expect(store.callsOf('putManifest')).toEqual([])
    expect(store.tags.has('app')).toBe(false)
  })
})
