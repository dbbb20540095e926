// The registry client against a real CNCF distribution registry (Debian's docker-registry 2.8),
// without auth, with htpasswd Basic auth, and behind Bearer token auth. skopeo, a client we did
// not write, reads back what ours pushed.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { RegistryAuthError } from '../../src/registry/auth.js'
import { RegistryClient } from '../../src/registry/client.js'
import { ANONYMOUS, type Credential } from '../../src/registry/credentials.js'
import type { LayerEntry } from '../../src/oci/entry.js'
import { buildLayer, type LayerBlob } from '../../src/oci/layer.js'
import { buildManifest, describeBytes, serialize } from '../../src/oci/image.js'
import { OCI_CONFIG, OCI_MANIFEST } from '../../src/oci/media-types.js'
import { startRegistry, type TestRegistry } from '../support/registry.js'
import { skopeoCopy, skopeoInspect } from '../support/skopeo.js'
import { tempDir } from '../support/project.js'

const random = randomBytes(300 * 1024)
const ENTRIES: LayerEntry[] = [
  { type: 'dir', path: 'app' },
  { type: 'file', path: 'app/data.bin', executable: false, size: random.length, content: () => random },
  { type: 'file', path: 'app/main.py', executable: false, size: 6, content: () => Buffer.from('x = 1\n') }
]

async function image(layer: LayerBlob) {
  const config = serialize({
    architecture: 'amd64',
    os: 'linux',
    config: {},
    rootfs: { type: 'layers', diff_ids: [layer.diffId] }
  })
  const configDesc = describeBytes(OCI_CONFIG, config)
  const manifest = serialize(
    buildManifest({
      mediaType: OCI_MANIFEST,
      config: configDesc,
      layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }]
    })
  )
  return { config, configDesc, manifest }
}

const credentialOf = (reg: TestRegistry): Credential =>
  reg.credentials
    ? {
        kind: 'basic',
        username: reg.credentials.username,
        password: reg.credentials.password,
        source: 'the test'
      }
    : ANONYMOUS

describe.each(['none', 'basic', 'token'] as const)('RegistryClient with %s auth', (auth) => {
  let reg: TestRegistry
  let layer: LayerBlob
  beforeAll(async () => {
    reg = await startRegistry({ auth })
    // Incompressible, so the blob is larger than the 64 kB chunk size below.
    layer = await buildLayer(ENTRIES, { mtime: 0 })
  })
  afterAll(async () => {
    await reg?.stop()
  })

  it('pushes blobs (chunked and monolithic) and a tagged manifest that skopeo reads back', async () => {
    const client = new RegistryClient(
      { host: reg.host, repository: 'team/app' },
      { credential: credentialOf(reg), chunkSize: 64 * 1024 }
    )
    try {
      await client.ping()
      const { config, configDesc, manifest } = await image(layer)
      expect(layer.size).toBeGreaterThan(64 * 1024)
      expect(
        await client.putBlob(
          { mediaType: layer.mediaType, digest: layer.digest, size: layer.size },
          layer.data!
        )
      ).toBe('uploaded')
      expect(await client.putBlob(configDesc, config)).toBe('uploaded')
      expect(await client.putBlob(configDesc, config)).toBe('exists')
      const digest = await client.putManifest('v1', manifest, OCI_MANIFEST)

      const inspected = await skopeoInspect(`docker://${reg.host}/team/app:v1`, { creds: reg.credentials })
      expect(inspected.stderr).toBe('')
      expect(JSON.parse(inspected.stdout)).toMatchObject({ Digest: digest, Layers: [layer.digest] })
      // skopeo copies every blob and checks every digest on the way.
      const out = tempDir()
      expect(
        (
          await skopeoCopy(`docker://${reg.host}/team/app:v1`, `oci:${join(out, 'img')}:v1`, {
            creds: reg.credentials
          })
        ).code
      ).toBe(0)

      const got = await client.getManifest('v1')
      expect(got?.digest).toBe(digest)
      expect(Buffer.compare(got!.bytes, manifest)).toBe(0)
      expect((await client.getManifest(digest))?.mediaType).toBe(OCI_MANIFEST)
      expect(await client.getManifest('nope')).toBeNull()
      expect(await client.listTags()).toEqual(['v1'])
      expect(Buffer.compare(await client.getBlob(configDesc.digest), config)).toBe(0)
    } finally {
      client.close()
    }
  })

  it('mounts a blob from another repository of the registry instead of uploading it', async () => {
    const client = new RegistryClient(
      { host: reg.host, repository: 'team/app' },
      { credential: credentialOf(reg) }
    )
    const other = client.sibling('team/other')
    try {
      const desc = { mediaType: layer.mediaType, digest: layer.digest, size: layer.size }
      await client.putBlob(desc, layer.data!)
      expect(await other.putBlob(desc, layer.data!, { mountFrom: 'team/app' })).toBe('mounted')
      expect(await other.blobExists(layer.digest)).toBe(true)
      if (auth === 'token') {
        const scopes = reg.tokenIssuer!.requests.flatMap((r) => r.scopes)
        expect(scopes).toEqual(
          expect.arrayContaining(['repository:team/other:pull,push', 'repository:team/app:pull'])
        )
      }
    } finally {
      client.close()
    }
  })
})

describe('authentication failures', () => {
  let basic: TestRegistry
  let token: TestRegistry
  beforeAll(async () => {
    ;[basic, token] = await Promise.all([startRegistry({ auth: 'basic' }), startRegistry({ auth: 'token' })])
  })
  afterAll(async () => {
    await Promise.all([basic?.stop(), token?.stop()])
  })

  const wrong: Credential = {
    kind: 'basic',
    username: 'ci-bot',
    password: 'not-the-password-s3cr3t',
    source: 'registry-password input'
  }

  it.each(['basic', 'token'] as const)(
    '%s: wrong credentials fail at once, naming the user and the scope, not the password',
    async (which) => {
      const reg = which === 'basic' ? basic : token
      const client = new RegistryClient({ host: reg.host, repository: 'team/app' }, { credential: wrong })
      try {
        const err = await client.putManifest('v1', Buffer.from('{}'), OCI_MANIFEST).catch((e: unknown) => e)
        expect(err).toBeInstanceOf(RegistryAuthError)
        const text = (err as RegistryAuthError).describe()
        expect(text).toMatch(/user "ci-bot" from registry-password input/)
        expect(text).toMatch(/repository:team\/app:pull,push/)
        expect(text).not.toMatch(/s3cr3t/)
        expect(text).toMatch(/fix: check the credentials for 127\.0\.0\.1:\d+/)
      } finally {
        client.close()
      }
    }
  )

  it('anonymous against a registry that needs a login says so', async () => {
    const client = new RegistryClient({ host: basic.host, repository: 'team/app' })
    try {
      await expect(client.blobExists(`sha256:${'0'.repeat(64)}` as never)).rejects.toThrow(
        /requires a user name and password/
      )
    } finally {
      client.close()
    }
  })

  it('token: a credential without push gets pull but a clear refusal on push', async () => {
    const issuer = token.tokenIssuer!
    const client = new RegistryClient(
      { host: token.host, repository: 'team/app' },
      {
        credential: {
          kind: 'basic',
          username: issuer.username,
          password: issuer.password,
          source: 'the test'
        }
      }
    )
    try {
      expect(await client.getManifest('missing')).toBeNull()
      expect(issuer.requests.at(-1)!.scopes).toEqual(['repository:team/app:pull'])
    } finally {
      client.close()
    }
  })

  it('an unknown host is an error without retries', async () => {
    const client = new RegistryClient(
      { host: 'registry.invalid', repository: 'x' },
      { retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 } }
    )
    try {
      await expect(client.ping()).rejects.toThrow(/cannot reach registry\.invalid/)
    } finally {
      client.close()
    }
  })
})
