// An SBOM attached to a pushed image, found the way a client would find it: in a real CNCF
// distribution registry (Debian's docker-registry 2.8, which has no referrers API) and in an OCI
// image layout, through the fallback tag `sha256-<hex>.sbom`, read back by skopeo, and valid by
// the official CycloneDX schema.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Digest } from '../../src/oci/digest.js'
import { buildManifest, describeBytes, serialize, type Descriptor } from '../../src/oci/image.js'
import { buildLayer } from '../../src/oci/layer.js'
import { OCI_CONFIG, OCI_INDEX, OCI_MANIFEST } from '../../src/oci/media-types.js'
import { RegistryClient } from '../../src/registry/client.js'
import { LayoutStore } from '../../src/registry/layout.js'
import type { ImageStore } from '../../src/registry/store.js'
import { attachSbom, EMPTY_DESCRIPTOR, imageSubjects, OCI_EMPTY, sbomTag } from '../../src/sbom/attach.js'
import { CYCLONEDX_JSON, cycloneDxSbom, sbomBytes, type CycloneDxBom } from '../../src/sbom/cyclonedx.js'
import { uvProject, VARIANTS_CONFIG } from '../support/fixtures.js'
import { planDir, tempDir } from '../support/project.js'
import { startRegistry, type TestRegistry } from '../support/registry.js'
import { skopeoCopy, skopeoInspect } from '../support/skopeo.js'
import { validateCycloneDx } from './schema.js'

const CREATED = '2024-05-01T12:00:00.000Z'

/** A one-layer image pushed to `store` under `tag`; its manifest's descriptor. */
async function pushImage(store: ImageStore, tag: string): Promise<Descriptor> {
  const main = Buffer.from('print("hello")\n')
  const layer = await buildLayer(
    [
      { type: 'dir', path: 'app' },
      { type: 'file', path: 'app/main.py', executable: false, size: main.length, content: () => main }
    ],
    { mtime: 0 }
  )
  const config = serialize({
    architecture: 'amd64',
    os: 'linux',
    config: {},
    rootfs: { type: 'layers', diff_ids: [layer.diffId] }
  })
  const configDesc = describeBytes(OCI_CONFIG, config)
  await store.putBlob({ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }, layer.data!)
  await store.putBlob(configDesc, config)
  const manifest = serialize(
    buildManifest({
      mediaType: OCI_MANIFEST,
      config: configDesc,
      layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }]
    })
  )
  const digest = await store.putManifest(tag, manifest, OCI_MANIFEST)
  return { mediaType: OCI_MANIFEST, digest, size: manifest.length }
}

function sbom(): CycloneDxBom {
  const v = planDir(uvProject({ config: VARIANTS_CONFIG })).variants[0]!
  return cycloneDxSbom({ variant: v, platform: v.platforms[0]!, created: CREATED, name: 'app' })
}

/** What a reader of the fallback tag must find: an artifact manifest that refers to `subject`. */
function expectArtifact(raw: string, subject: Descriptor, doc: Buffer): Descriptor {
  const m = JSON.parse(raw)
  expect(m).toMatchObject({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: CYCLONEDX_JSON,
    config: { mediaType: OCI_EMPTY, digest: EMPTY_DESCRIPTOR.digest, size: 2 },
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations: { 'org.opencontainers.image.created': CREATED }
  })
  expect(m.layers).toHaveLength(1)
  expect(m.layers[0]).toMatchObject({ mediaType: CYCLONEDX_JSON, size: doc.length })
  return m.layers[0] as Descriptor
}

/** The files `skopeo copy … dir:OUT` wrote, by digest hex. */
function dirBlob(out: string, digest: Digest): Buffer {
  const hex = digest.slice('sha256:'.length)
  expect(readdirSync(out)).toContain(hex)
  return readFileSync(join(out, hex))
}

describe('an SBOM attached in a registry without the referrers API', () => {
  let reg: TestRegistry
  let client: RegistryClient
  beforeAll(async () => {
    reg = await startRegistry()
    client = new RegistryClient({ host: reg.host, repository: 'team/app' })
  })
  afterAll(async () => {
    client?.close()
    await reg?.stop()
  })

  it('has no referrers API (so the fallback tag is what finds an SBOM)', async () => {
    const res = await fetch(`${reg.url}/v2/team/app/referrers/${EMPTY_DESCRIPTOR.digest}`)
    await res.arrayBuffer()
    expect(res.status).toBe(404)
  })

  it('is found through sha256-<hex>.sbom by skopeo, refers to the image, and reads back as the valid document', async () => {
    const subject = await pushImage(client, 'v1')
    const doc = sbom()
    const bytes = sbomBytes(doc)
    const attached = await attachSbom({ store: client, subject, document: doc, created: CREATED })
    expect(attached.referrers).toBe(false)
    expect(attached.tag).toBe(`sha256-${subject.digest.slice(7)}.sbom`)
    expect(attached.tag).toBe(sbomTag(subject.digest))

    const ref = `docker://${reg.host}/team/app:${attached.tag}`
    const raw = await skopeoInspect(ref, { raw: true })
    expect(raw.stderr).toBe('')
    const layer = expectArtifact(raw.stdout, subject, bytes)

    // skopeo copies the artifact as it is, checking every digest on the way.
    const out = tempDir()
    const copy = await skopeoCopy(ref, `dir:${join(out, 'sbom')}`)
    expect(copy.stderr).toBe('')
    expect(copy.code).toBe(0)
    const blob = dirBlob(join(out, 'sbom'), layer.digest)
    expect(Buffer.compare(blob, bytes)).toBe(0)
    expect(validateCycloneDx(blob.toString('utf8'))).toEqual({ documents: 1, errors: [] })

    // The image itself is untouched, and attaching again is the same artifact.
    expect((await client.getManifest('v1'))?.digest).toBe(subject.digest)
    const again = await attachSbom({ store: client, subject, document: bytes, created: CREATED })
    expect(again.descriptor).toEqual(attached.descriptor)
    expect(await client.listTags()).toEqual([attached.tag, 'v1'].sort())
  })

  it('finds the platform manifests of an index to attach to', async () => {
    const child = await pushImage(client, 'single')
    const index = serialize({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{ ...child, platform: { architecture: 'amd64', os: 'linux' } }]
    })
    const indexDigest = await client.putManifest('multi', index, OCI_INDEX)
    expect(await imageSubjects(client, indexDigest)).toEqual([
      { descriptor: child, platform: { architecture: 'amd64', os: 'linux' } }
    ])
    expect(await imageSubjects(client, 'single')).toEqual([{ descriptor: child, platform: null }])
    await expect(imageSubjects(client, 'nope')).rejects.toThrow(/no image nope to attach an SBOM to/)
  })
})

describe('an SBOM attached in an OCI image layout', () => {
  it('is tagged sha256-<hex>.sbom, which skopeo reads, and the blob is the valid document', async () => {
    const dir = join(tempDir(), 'layout')
    mkdirSync(dir)
    const store = new LayoutStore(dir)
    store.init()
    const subject = await pushImage(store, 'v1')
    const doc = sbom()
    const bytes = sbomBytes(doc)
    const attached = await attachSbom({ store, subject, document: doc, created: CREATED })
    expect(attached).toMatchObject({ referrers: false, tag: sbomTag(subject.digest) })
    expect(await store.listTags()).toEqual([attached.tag, 'v1'].sort())

    const ref = `oci:${dir}:${attached.tag}`
    const raw = await skopeoInspect(ref, { raw: true })
    expect(raw.stderr).toBe('')
    const layer = expectArtifact(raw.stdout, subject, bytes)
    const out = join(tempDir(), 'sbom')
    const copy = await skopeoCopy(ref, `dir:${out}`)
    expect(copy.stderr).toBe('')
    expect(copy.code).toBe(0)
    expect(Buffer.compare(dirBlob(out, layer.digest), bytes)).toBe(0)
    // The layout's own file, as any reader of the format finds it.
    const file = readFileSync(join(dir, 'blobs', 'sha256', layer.digest.slice(7)))
    expect(validateCycloneDx(file.toString('utf8'))).toEqual({ documents: 1, errors: [] })
  })

  it('is not tagged where the store answers the referrers API', async () => {
    const dir = join(tempDir(), 'layout')
    const layout = new LayoutStore(dir)
    layout.init()
    const subject = await pushImage(layout, 'v1')
    // The layout, told to say it has the API: what attach does with a registry that has it.
    const store: ImageStore = Object.assign(Object.create(layout) as LayoutStore, {
      supportsReferrers: async (d: Digest) => d === subject.digest
    })
    const attached = await attachSbom({ store, subject, document: sbom(), created: CREATED })
    expect(attached).toMatchObject({ referrers: true, tag: null })
    expect(await layout.listTags()).toEqual(['v1'])
    expect((await layout.getManifest(attached.descriptor.digest))?.digest).toBe(attached.descriptor.digest)
  })
})
