// Round trips the client spares, counted on the wire (a recording proxy in front of a real
// registry): upload sessions opened ahead and taken by fresh blobs and streams, and blobs known
// present (put, found, or named by a manifest read) never asked about.
// Every blob is then checked on the registry itself, not through the client.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { sha256, type Digest } from '../../src/oci/digest.js'
import { buildIndex, buildManifest, describeBytes, serialize, type Descriptor } from '../../src/oci/image.js'
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST } from '../../src/oci/media-types.js'
import { RegistryClient } from '../../src/registry/client.js'
import { startFaultProxy, type FaultProxy, type ProxiedRequest } from '../support/fault-proxy.js'
import { tempDir } from '../support/project.js'
import { startRegistry, type TestRegistry } from '../support/registry.js'

let reg: TestRegistry
let proxy: FaultProxy

beforeAll(async () => {
  reg = await startRegistry()
  proxy = await startFaultProxy(reg.url)
})

afterAll(async () => {
  await proxy?.close()
  await reg?.stop()
})

let from = 0
beforeEach(async () => {
  await proxy.settled()
  from = proxy.requests.length
})

/** `METHOD /v2/…` of every request since the test began, in order, with its status. */
async function wire(): Promise<string[]> {
  expect(await proxy.settled(5000)).toBe(true)
  return proxy.requests
    .slice(from)
    .map((r: ProxiedRequest) => `${r.method} ${r.path.replace(/\?.*$/, '')} ${r.status}`)
}

const through = (repository: string) => new RegistryClient({ host: proxy.host, repository })
const direct = (repository: string) => new RegistryClient({ host: reg.host, repository })

function blob(bytes: Buffer, mediaType = OCI_LAYER_GZIP): { desc: Descriptor; bytes: Buffer } {
  return { desc: describeBytes(mediaType, bytes), bytes }
}

/** Whether the registry itself (not through the proxy) holds the blob, with these bytes. */
async function held(repository: string, digest: Digest): Promise<boolean> {
  const c = direct(repository)
  try {
    if (!(await c.blobExists(digest))) return false
    return sha256(await c.getBlob(digest)) === digest
  } finally {
    c.close()
  }
}

describe('upload sessions and fresh blobs', () => {
  it('a fresh blob takes a session opened ahead: asked about, then sent, with no POST of its own', async () => {
    const client = through('rt/fresh')
    const small = blob(randomBytes(64 * 1024))
    const big = blob(randomBytes(3 * 1024 * 1024))
    const file = join(tempDir(), 'big.bin')
    writeFileSync(file, big.bytes)
    try {
      client.openUploads(2)
      expect(await client.putBlob(small.desc, small.bytes, { fresh: true })).toBe('uploaded')
      expect(await client.putBlob(big.desc, { file }, { fresh: true })).toBe('uploaded')
      const seen = await wire()
      const kinds = (from: string) => seen.filter((l) => l.startsWith(from))
      expect(kinds('POST ')).toEqual([
        'POST /v2/rt/fresh/blobs/uploads/ 202',
        'POST /v2/rt/fresh/blobs/uploads/ 202'
      ])
      expect(kinds('HEAD ')).toEqual([
        `HEAD /v2/rt/fresh/blobs/${small.desc.digest} 404`,
        `HEAD /v2/rt/fresh/blobs/${big.desc.digest} 404`
      ])
      expect(kinds('PUT ')).toHaveLength(2)
      expect(seen).toHaveLength(6)
      expect(await held('rt/fresh', small.desc.digest)).toBe(true)
      expect(await held('rt/fresh', big.desc.digest)).toBe(true)
    } finally {
      client.close()
    }
  })

  it('a fresh blob the registry has already is not sent: its session is closed', async () => {
    const config = blob(Buffer.from('{"a":1}'), OCI_CONFIG)
    const first = direct('rt/again')
    try {
      await first.putBlob(config.desc, config.bytes)
    } finally {
      first.close()
    }
    const client = through('rt/again')
    try {
      client.openUploads(1)
      expect(await client.putBlob(config.desc, config.bytes, { fresh: true })).toBe('exists')
      expect((await wire()).map((l) => l.split(' ')[0]).sort()).toEqual(['DELETE', 'HEAD', 'POST'])
    } finally {
      client.close()
    }
  })

  it('a blob put without asking (ask: false) takes a session opened ahead and is sent at once', async () => {
    const client = through('rt/unasked')
    const config = blob(Buffer.from(`{"new":"${randomBytes(8).toString('hex')}"}`), OCI_CONFIG)
    const other = blob(Buffer.from(`{"new":"${randomBytes(8).toString('hex')}"}`), OCI_CONFIG)
    try {
      client.openUploads(1)
      expect(await client.putBlob(config.desc, config.bytes, { fresh: true, ask: false })).toBe('uploaded')
      // No session left ahead: it opens its own, still without a question.
      expect(await client.putBlob(other.desc, other.bytes, { ask: false })).toBe('uploaded')
      expect(await wire()).toEqual([
        'POST /v2/rt/unasked/blobs/uploads/ 202',
        expect.stringMatching(/^PUT \/v2\/rt\/unasked\/blobs\/uploads\/\S+ 201$/),
        'POST /v2/rt/unasked/blobs/uploads/ 202',
        expect.stringMatching(/^PUT \/v2\/rt\/unasked\/blobs\/uploads\/\S+ 201$/)
      ])
      expect(await held('rt/unasked', config.desc.digest)).toBe(true)
      expect(await held('rt/unasked', other.desc.digest)).toBe(true)
    } finally {
      client.close()
    }
  })

  it('sessions no blob took are closed by dropUploads', async () => {
    const client = through('rt/drop')
    const one = blob(randomBytes(1024))
    try {
      client.openUploads(3)
      expect(await client.putBlob(one.desc, one.bytes, { fresh: true })).toBe('uploaded')
      await client.dropUploads()
      const seen = await wire()
      expect(seen.filter((l) => l.startsWith('POST '))).toHaveLength(3)
      expect(seen.filter((l) => l.startsWith('PUT '))).toHaveLength(1)
      const deletes = seen.filter((l) => l.startsWith('DELETE '))
      expect(deletes).toHaveLength(2)
      for (const d of deletes) expect(d).toMatch(/^DELETE \/v2\/rt\/drop\/blobs\/uploads\/[^ ]+ 204$/)
      // Nothing left to drop, nothing asked.
      await client.dropUploads()
      expect(await wire()).toHaveLength(seen.length)
    } finally {
      client.close()
    }
  })
})

/** An image of `layers` random layers in `repository`, tagged `tag`, pushed directly. */
async function pushImage(repository: string, tag: string, layers: number, arch = 'amd64') {
  const c = direct(repository)
  try {
    const ls = Array.from({ length: layers }, () => blob(randomBytes(2048)))
    const config = blob(
      serialize({ architecture: arch, os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [] } }),
      OCI_CONFIG
    )
    for (const b of [...ls, config]) await c.putBlob(b.desc, b.bytes)
    const manifest = serialize(
      buildManifest({ mediaType: OCI_MANIFEST, config: config.desc, layers: ls.map((l) => l.desc) })
    )
    const digest = await c.putManifest(tag, manifest, OCI_MANIFEST)
    return {
      descriptor: { mediaType: OCI_MANIFEST, digest, size: manifest.length },
      blobs: [config.desc.digest, ...ls.map((l) => l.desc.digest)]
    }
  } finally {
    c.close()
  }
}

describe('blobs known present', () => {
  it('recallImage: the blobs an earlier image names need no HEAD; others do; a missing tag costs one GET', async () => {
    const earlier = await pushImage('rt/recall', 'v1', 3)
    const client = through('rt/recall')
    const stranger = blob(randomBytes(512)).desc.digest
    try {
      client.recallImage('v1')
      client.recallImage('not-there')
      for (const d of earlier.blobs) expect(await client.blobExists(d)).toBe(true)
      expect(await client.blobExists(stranger)).toBe(false)
      expect((await wire()).sort()).toEqual(
        [
          'GET /v2/rt/recall/manifests/v1 200',
          'GET /v2/rt/recall/manifests/not-there 404',
          `HEAD /v2/rt/recall/blobs/${stranger} 404`
        ].sort()
      )
    } finally {
      client.close()
    }
  })

  it('recallImage of an index reads each platform image (not the attestations)', async () => {
    const amd = await pushImage('rt/index', 'amd', 2, 'amd64')
    const arm = await pushImage('rt/index', 'arm', 2, 'arm64')
    const attestation = await pushImage('rt/index', 'att', 1)
    const index = serialize(
      buildIndex({
        mediaType: OCI_INDEX,
        manifests: [
          { ...amd.descriptor, platform: { os: 'linux', architecture: 'amd64' } },
          { ...arm.descriptor, platform: { os: 'linux', architecture: 'arm64' } },
          { ...attestation.descriptor, platform: { os: 'unknown', architecture: 'unknown' } }
        ]
      })
    )
    const c = direct('rt/index')
    try {
      await c.putManifest('multi', index, OCI_INDEX)
    } finally {
      c.close()
    }
    const client = through('rt/index')
    try {
      client.recallImage('multi')
      for (const d of [...amd.blobs, ...arm.blobs]) expect(await client.blobExists(d)).toBe(true)
      expect((await wire()).sort()).toEqual(
        [
          'GET /v2/rt/index/manifests/multi 200',
          `GET /v2/rt/index/manifests/${amd.descriptor.digest} 200`,
          `GET /v2/rt/index/manifests/${arm.descriptor.digest} 200`
        ].sort()
      )
    } finally {
      client.close()
    }
  })

  it('a blob put, found, or named by a manifest pushed is not asked about again', async () => {
    const client = through('rt/known')
    const layer = blob(randomBytes(4096))
    const found = blob(randomBytes(4096))
    const config = blob(
      serialize({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }),
      OCI_CONFIG
    )
    const other = direct('rt/known')
    try {
      await other.putBlob(found.desc, found.bytes)
      expect(await client.putBlob(layer.desc, layer.bytes)).toBe('uploaded')
      expect(await client.blobExists(found.desc.digest)).toBe(true)
      const manifest = serialize(
        buildManifest({ mediaType: OCI_MANIFEST, config: config.desc, layers: [layer.desc] })
      )
      await other.putBlob(config.desc, config.bytes)
      await client.putManifest('k', manifest, OCI_MANIFEST)
      const before = (await wire()).length
      for (const d of [layer.desc.digest, found.desc.digest, config.desc.digest])
        expect(await client.blobExists(d)).toBe(true)
      expect(await wire()).toHaveLength(before)
    } finally {
      other.close()
      client.close()
    }
  })
})
