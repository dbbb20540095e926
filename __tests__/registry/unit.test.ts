// The registry client's pure parts: challenges, references, Retry-After, credentials, retries.
import { describe, expect, it } from '@jest/globals'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseChallenge } from '../../src/registry/auth.js'
import { parseImageReference } from '../../src/registry/client.js'
import {
  credentialFromDockerConfig,
  describeCredential,
  normalizeRegistryHost
} from '../../src/registry/credentials.js'
import { TransientHttpError } from '../../src/net/errors.js'
import { parseRetryAfter, withRetry } from '../../src/net/retry.js'
import { parseStoreSpec } from '../../src/registry/open.js'
import { tempDir } from '../support/project.js'

describe('parseChallenge', () => {
  it('reads Bearer challenges as GHCR and Docker Hub send them', () => {
    expect(
      parseChallenge(
        'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:acme/app:pull"'
      )
    ).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://ghcr.io/token', service: 'ghcr.io', scope: 'repository:acme/app:pull' }
    })
    expect(
      parseChallenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/python:pull,push"'
      )!.params['scope']
    ).toBe('repository:library/python:pull,push')
  })

  it('reads Basic challenges and unquoted values', () => {
    expect(parseChallenge('Basic realm="Registry Realm"')).toEqual({
      scheme: 'basic',
      params: { realm: 'Registry Realm' }
    })
    expect(parseChallenge('Bearer realm=https://x/token, service=x')!.params).toEqual({
      realm: 'https://x/token',
      service: 'x'
    })
  })
})

describe('parseImageReference', () => {
  it.each([
    ['ghcr.io/acme/app', { host: 'ghcr.io', repository: 'acme/app', tag: null }],
    [
      '127.0.0.1:5000/demo:deps-base-0123',
      { host: '127.0.0.1:5000', repository: 'demo', tag: 'deps-base-0123' }
    ],
    ['python:3.12-slim', { host: 'registry-1.docker.io', repository: 'library/python', tag: '3.12-slim' }],
    ['docker.io/library/python', { host: 'registry-1.docker.io', repository: 'library/python', tag: null }],
    ['localhost/x/y', { host: 'localhost', repository: 'x/y', tag: null }]
  ])('%s', (text, want) => {
    expect(parseImageReference(text)).toMatchObject(want)
  })

  it('refuses what is not a reference', () => {
    expect(() => parseImageReference('ghcr.io/Acme/App')).toThrow(/is not an image reference/)
    expect(() => parseImageReference('ghcr.io/acme/app:bad tag')).toThrow(/invalid tag/)
    expect(() => parseImageReference('ghcr.io/acme/app@sha256:nope')).toThrow(/is not a digest/)
  })

  it('store specs: oci: directories and registries', () => {
    expect(parseStoreSpec('oci:./images')).toEqual({ kind: 'layout', dir: './images' })
    expect(parseStoreSpec('docker://127.0.0.1:5000/demo')).toEqual({
      kind: 'registry',
      image: '127.0.0.1:5000/demo'
    })
  })
})

describe('Retry-After', () => {
  it('takes seconds or an HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3000)
    expect(
      parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))
    ).toBe(10_000)
    expect(parseRetryAfter(undefined)).toBeNull()
    expect(parseRetryAfter('soon')).toBeNull()
  })
})

describe('withRetry', () => {
  const fast = { attempts: 4, baseDelayMs: 1, maxDelayMs: 5 }

  it('retries transient failures, honouring Retry-After (capped)', async () => {
    const delays: number[] = []
    let n = 0
    const result = await withRetry(
      async () => {
        if (++n < 3) throw new TransientHttpError('503', n === 1 ? 60_000 : null)
        return 'ok'
      },
      fast,
      (_e, d) => delays.push(d)
    )
    expect(result).toBe('ok')
    expect(n).toBe(3)
    expect(delays[0]).toBe(5) // Retry-After of a minute, capped by maxDelayMs
  })

  it('does not retry other errors, and gives up after the attempts', async () => {
    let n = 0
    await expect(
      withRetry(async () => {
        n++
        throw new Error('401 unauthorized')
      }, fast)
    ).rejects.toThrow('401')
    expect(n).toBe(1)
    n = 0
    await expect(
      withRetry(async () => {
        n++
        throw new TransientHttpError('502')
      }, fast)
    ).rejects.toThrow('502')
    expect(n).toBe(4)
  })
})

describe('credentials from the Docker config', () => {
  const write = (config: object) => {
    const dir = tempDir()
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config))
    return join(dir, 'config.json')
  }

  it('reads auths as docker/login-action writes them, matching hosts loosely', async () => {
    const path = write({
      auths: {
        'ghcr.io': { auth: Buffer.from('octocat:ghp_secret').toString('base64') },
        'https://index.docker.io/v1/': { auth: Buffer.from('hubuser:hubpass').toString('base64') }
      }
    })
    const ghcr = await credentialFromDockerConfig('ghcr.io', { path })
    expect(ghcr).toMatchObject({ kind: 'basic', username: 'octocat', password: 'ghp_secret' })
    expect(describeCredential(ghcr)).toMatch(/^user "octocat" from .*config\.json \(auths\["ghcr\.io"\]\)$/)
    expect(describeCredential(ghcr)).not.toMatch(/ghp_secret/)
    expect(await credentialFromDockerConfig('registry-1.docker.io', { path })).toMatchObject({
      username: 'hubuser'
    })
    expect(await credentialFromDockerConfig('quay.io', { path })).toMatchObject({ kind: 'anonymous' })
  })

  it('asks credential helpers first (credHelpers, then credsStore), with the right server URL', async () => {
    const path = write({
      credHelpers: { '123.dkr.ecr.us-east-1.amazonaws.com': 'ecr-login' },
      credsStore: 'desktop',
      auths: { 'ghcr.io': {} }
    })
    const asked: string[] = []
    const runHelper = async (helper: string, server: string) => {
      asked.push(`${helper} ${server}`)
      if (helper === 'ecr-login') return { Username: 'AWS', Secret: 'ecr-token' }
      if (server === 'ghcr.io') return { Username: '<token>', Secret: 'refresh' }
      return null
    }
    expect(
      await credentialFromDockerConfig('123.dkr.ecr.us-east-1.amazonaws.com', { path, runHelper })
    ).toMatchObject({
      kind: 'basic',
      username: 'AWS',
      source: expect.stringMatching(/docker-credential-ecr-login/)
    })
    expect(await credentialFromDockerConfig('ghcr.io', { path, runHelper })).toMatchObject({
      kind: 'identity-token',
      token: 'refresh'
    })
    expect(await credentialFromDockerConfig('docker.io', { path, runHelper })).toMatchObject({
      kind: 'anonymous'
    })
    expect(asked).toContain('desktop https://index.docker.io/v1/')
  })

  it('a broken config file is an error naming it', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'config.json'), '{ nope')
    await expect(credentialFromDockerConfig('ghcr.io', { path: join(dir, 'config.json') })).rejects.toThrow(
      /config\.json is not valid JSON/
    )
    expect(normalizeRegistryHost('https://index.docker.io/v1/')).toBe('docker.io')
  })
})
