// Faults between fast-build and a real registry: a fault-injection proxy drops connections
// (mid-upload, or after the registry did the work), answers 5xx and 429 with Retry-After, slows
// bodies, or accepts and never answers. Every build either ends with a complete image (every blob
// checked directly on the registry) or fails cleanly with no tag pointing at a broken image; the
// next run converges. Persistent faults end within their bounds (a deadline per request, a budget
// per operation, set small here) with a message that names the host and what was waited for.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runBuild } from '../../src/pipeline/build.js'
import { runCli } from '../../src/cli.js'
import { parseManifest } from '../../src/oci/image.js'
import type { Digest } from '../../src/oci/digest.js'
import { RegistryClient, type RegistryClientOptions } from '../../src/registry/client.js'
import { RegistryError } from '../../src/registry/errors.js'
import type { Credential } from '../../src/registry/credentials.js'
import { buildManifest, describeBytes, serialize } from '../../src/oci/image.js'
import { OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST } from '../../src/oci/media-types.js'
import { sha256 } from '../../src/oci/digest.js'
import { runnableRootfs, umociImage } from '../support/deps-images.js'
import { startFaultProxy, type Fault, type FaultProxy } from '../support/fault-proxy.js'
import { uvProject } from '../support/fixtures.js'
import { planDir, tempDir } from '../support/project.js'
import { startRegistry, type TestRegistry } from '../support/registry.js'
import { startTokenIssuer } from '../support/token-issuer.js'
import { skopeoCopy } from '../support/skopeo.js'

// Pinned, so the fast path never looks the base image up (it only matters to the full path).
const PINNED_BASE = `python:3.12-slim@sha256:${'ab'.repeat(32)}`

const FAST_RETRY = { attempts: 5, baseDelayMs: 20, maxDelayMs: 1500 }

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@e',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@e'
}

function project(): string {
  const dir = uvProject({
    config: `[tool.fast-build]\npython = "3.12"\nbase-image = "${PINNED_BASE}"\n[tool.fast-build.variants]\nbase = { groups = ["main"] }\nml = { groups = ["main"], extras = ["ml"] }\n`
  })
  // Enough source that uploads take several writes (and a drop can land mid-body).
  for (let i = 0; i < 40; i++)
    writeFileSync(join(dir, `module_${i}.py`), `VALUE = ${i}\n${'# padding line\n'.repeat(400)}`)
  execFileSync('git', ['init', '-q', '-b', 'main', dir])
  execFileSync('git', ['-C', dir, 'add', '-A'])
  execFileSync('git', ['-C', dir, 'commit', '-q', '-m', 'init'], { env: GIT_ENV })
  return dir
}

/** Every blob and child manifest of `tag` is on the registry (checked directly, not via the proxy). */
async function assertComplete(
  reg: TestRegistry,
  repo: string,
  tag: string,
  credential?: Credential
): Promise<Digest> {
  const client = new RegistryClient({ host: reg.host, repository: repo }, credential ? { credential } : {})
  try {
    const top = await client.getManifest(tag)
    expect(top).not.toBeNull()
    const check = async (bytes: Buffer, mediaType: string) => {
      const p = parseManifest(bytes, mediaType, tag)
      if (p.kind === 'index') {
        for (const m of p.index.manifests) {
          const child = await client.getManifest(m.digest)
          expect(child).not.toBeNull()
          await check(child!.bytes, child!.mediaType)
        }
      } else {
        for (const b of [p.manifest.config, ...p.manifest.layers])
          expect(await client.blobExists(b.digest)).toBe(true)
      }
    }
    await check(top!.bytes, top!.mediaType)
    return top!.digest
  } finally {
    client.close()
  }
}

let reg: TestRegistry
let proxy: FaultProxy
let dir: string

beforeAll(async () => {
  reg = await startRegistry()
  proxy = await startFaultProxy(reg.url)
  dir = project()
  const layout = join(tempDir(), 'deps')
  await umociImage(layout, 'deps', runnableRootfs(join(tempDir(), 'rootfs')))
  for (const v of planDir(dir).variants) {
    expect(
      (await skopeoCopy(`oci:${layout}:deps`, `docker://${reg.host}/demo:deps-${v.name}-${v.shortHash}`))
        .stderr
    ).toBe('')
  }
})

afterAll(async () => {
  await proxy?.close()
  await reg?.stop()
})

/** Each variant's image, pushed under `<tag>-<variant>`, is complete; its digest is the one reported. */
async function assertAllComplete(
  reg: TestRegistry,
  repo: string,
  tag: string,
  variants: readonly { variant: string; digest: string | null }[]
): Promise<void> {
  for (const v of variants) expect(await assertComplete(reg, repo, `${tag}-${v.variant}`)).toBe(v.digest)
}

async function buildThroughProxy(
  tag: string,
  opts: { retry?: RegistryClientOptions['retry']; requestTimeoutMs?: number; variants?: string[] } = {}
) {
  const store = new RegistryClient(
    { host: proxy.host, repository: 'demo' },
    {
      retry: opts.retry ?? FAST_RETRY,
      insecure: true,
      ...(opts.requestTimeoutMs ? { requestTimeoutMs: opts.requestTimeoutMs } : {})
    }
  )
  const retries: string[] = []
  try {
    const plan = planDir(dir, opts.variants ? { variants: opts.variants } : {})
    // One tag per variant: a fixed tag shared by variants is refused (the last would take it).
    const result = await runBuild({ plan, store, tags: [`${tag}-{variant}`] })
    return { result, retries }
  } finally {
    store.close()
  }
}

describe('transient faults are retried and the image is complete', () => {
  const cases: {
    name: string
    rules: { match?: { method?: string; path?: RegExp }; fault: Fault; times?: number }[]
  }[] = [
    {
      name: '503 twice on blob uploads',
      rules: [
        {
          match: { method: 'PUT', path: /\/blobs\/uploads\// },
          fault: { kind: 'status', status: 503 },
          times: 2
        }
      ]
    },
    {
      name: 'a connection dropped in the middle of an upload',
      rules: [
        {
          match: { method: 'PUT', path: /\/blobs\/uploads\// },
          fault: { kind: 'drop', afterBytes: 8000 },
          times: 1
        }
      ]
    },
    {
      name: 'a manifest PUT whose answer is lost after the registry stored it',
      rules: [
        {
          match: { method: 'PUT', path: /\/manifests\// },
          fault: { kind: 'drop', phase: 'response' },
          times: 1
        }
      ]
    },
    {
      name: '500 on the first HEAD of each kind',
      rules: [{ match: { method: 'HEAD' }, fault: { kind: 'status', status: 500 }, times: 3 }]
    },
    {
      name: 'slow bodies on manifest and config reads',
      rules: [{ match: { method: 'GET' }, fault: { kind: 'slow', chunkSize: 64, delayMs: 2 } }]
    },
    {
      name: 'the streamed upload (one PATCH while compressing) dropped mid-body',
      rules: [{ match: { method: 'PATCH' }, fault: { kind: 'drop', afterBytes: 50_000 }, times: 1 }]
    },
    {
      name: '502 on starting an upload session',
      rules: [
        {
          match: { method: 'POST', path: /\/blobs\/uploads\/$/ },
          fault: { kind: 'status', status: 502 },
          times: 2
        }
      ]
    }
  ]

  it.each(cases)('$name', async ({ name, rules }) => {
    proxy.setRules(rules)
    const tag = `t-${name
      .replace(/[^a-z0-9]+/gi, '-')
      .slice(0, 40)
      .toLowerCase()}`
    const { result } = await buildThroughProxy(tag)
    proxy.setRules([])
    expect(proxy.faulted().length).toBeGreaterThan(0)
    for (const v of result.variants) expect(v).toMatchObject({ path: 'fast', error: null })
    await assertAllComplete(reg, 'demo', tag, result.variants)
  })

  it('429 with Retry-After is waited for, and said so', async () => {
    // The tag's PUT exactly: the SBOM's fallback tag is written alongside it and may come first.
    proxy.setRules([
      {
        match: { method: 'PUT', path: /\/manifests\/ra$/ },
        fault: { kind: 'status', status: 429, headers: { 'retry-after': '1' } },
        times: 1
      }
    ])
    let err = ''
    const code = await runCli(
      [
        'build',
        '--project',
        dir,
        '--registry',
        `${proxy.host}/demo`,
        '--variant',
        'base',
        '--tag',
        'ra',
        '--quiet'
      ],
      {
        out: () => {},
        err: (t) => (err += t)
      }
    )
    proxy.setRules([])
    expect(code).toBe(0)
    expect(err).toMatch(/retrying in 1\.0 s: PUT http:\/\/127\.0\.0\.1:\d+\/v2\/demo\/manifests\/ra: 429/)
    await assertComplete(reg, 'demo', 'ra')
  })
})

describe('persistent faults fail cleanly, and the next run converges', () => {
  it('a manifest PUT that always fails leaves no tag; the next run completes', async () => {
    proxy.setRules([
      { match: { method: 'PUT', path: /\/manifests\/persist-/ }, fault: { kind: 'status', status: 500 } }
    ])
    const { result } = await buildThroughProxy('persist', {
      retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 }
    })
    proxy.setRules([])
    expect(result.variants.every((v) => v.path === 'failed')).toBe(true)
    expect(result.variants[0]!.error).toMatch(/PUT .*manifests\/persist-base: 500/)
    const direct = new RegistryClient({ host: reg.host, repository: 'demo' })
    expect(await direct.getManifest('persist-base')).toBeNull()
    expect(await direct.getManifest('persist-ml')).toBeNull()
    direct.close()
    const again = await buildThroughProxy('persist')
    expect(again.result.variants.every((v) => v.path === 'fast')).toBe(true)
    await assertAllComplete(reg, 'demo', 'persist', again.result.variants)
  })

  it('random mixes of faults: every run is complete or leaves its tag untouched', async () => {
    let seed = 7
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    const faults: Fault[] = [
      { kind: 'status', status: 503 },
      { kind: 'status', status: 429, headers: { 'retry-after': '0' } },
      { kind: 'drop' },
      { kind: 'drop', afterBytes: 2000 },
      { kind: 'drop', phase: 'response' },
      { kind: 'slow', chunkSize: 256, delayMs: 1 }
    ]
    for (let run = 0; run < 6; run++) {
      proxy.setPolicy(() => (rand() < 0.3 ? faults[Math.floor(rand() * faults.length)]! : null))
      const tag = `mix-${run}`
      const { result } = await buildThroughProxy(tag, {
        retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 100 }
      })
      proxy.setPolicy(null)
      expect(await proxy.settled(5000)).toBe(true)
      const direct = new RegistryClient({ host: reg.host, repository: 'demo' })
      try {
        for (const v of result.variants) {
          const t = `${tag}-${v.variant}`
          if (v.path === 'fast' || (await direct.getManifest(t)) !== null)
            await assertComplete(reg, 'demo', t)
        }
      } finally {
        direct.close()
      }
      // Converges without faults.
      const clean = await buildThroughProxy(tag)
      expect(clean.result.variants.every((v) => v.path === 'fast')).toBe(true)
      await assertAllComplete(reg, 'demo', tag, clean.result.variants)
    }
  })
})

describe('races and secrets', () => {
  it('builds racing on the same tags both succeed with the same digest', async () => {
    // Concurrent uploads of the same new blobs into one repository race in distribution: a
    // manifest PUT can be refused with 400 MANIFEST_BLOB_UNKNOWN although every blob got 201.
    const build = async (tag: string) => {
      const store = new RegistryClient({ host: reg.host, repository: 'race' }, { retry: FAST_RETRY })
      try {
        return await runBuild({ plan: planDir(dir), store, tags: [`${tag}-{variant}`] })
      } finally {
        store.close()
      }
    }
    const layout = join(tempDir(), 'deps')
    await umociImage(layout, 'deps', runnableRootfs(join(tempDir(), 'rootfs')))
    for (const v of planDir(dir).variants) {
      expect(
        (await skopeoCopy(`oci:${layout}:deps`, `docker://${reg.host}/race:deps-${v.name}-${v.shortHash}`))
          .stderr
      ).toBe('')
    }
    for (let round = 0; round < 4; round++) {
      // New source each round, so every round's blobs go up for the first time, from both builds.
      writeFileSync(join(dir, 'module_1.py'), `VALUE = 'race ${round}'\n`)
      const [a, b] = await Promise.all([build(`same-${round}`), build(`same-${round}`)])
      for (let i = 0; i < a.variants.length; i++) {
        expect(a.variants[i]).toMatchObject({ path: 'fast', error: null })
        expect(b.variants[i]).toMatchObject({ path: 'fast', error: null })
        expect(b.variants[i]!.digest).toBe(a.variants[i]!.digest)
      }
      await assertAllComplete(reg, 'race', `same-${round}`, a.variants)
    }
  })

  it('a downloaded blob read while the same blob downloads again is whole', async () => {
    // Two builds in one process read the same base layers: a second download must not rewrite the
    // file the first one handed out (it used to truncate it under its reader).
    const client = new RegistryClient({ host: proxy.host, repository: 'blobs' }, { retry: FAST_RETRY })
    try {
      const data = randomBytes(4 << 20)
      const desc = describeBytes('application/octet-stream', data)
      await client.putBlob(desc, data)
      const first = await client.openBlob(desc.digest)
      proxy.setRules([
        {
          match: { method: 'GET', path: /\/blobs\/sha256:/ },
          fault: { kind: 'slow', chunkSize: 64 * 1024, delayMs: 16 }
        }
      ])
      const again = client.openBlob(desc.digest)
      await new Promise((r) => setTimeout(r, 300)) // the second download is under way
      expect(sha256(readFileSync(first.file))).toBe(desc.digest)
      expect((await again).file).toBe(first.file)
      expect(sha256(readFileSync(first.file))).toBe(desc.digest)
    } finally {
      proxy.setRules([])
      client.close()
    }
  })

  it('tokens and passwords never reach the output, in success or failure', async () => {
    const tokenReg = await startRegistry({ auth: 'token' })
    try {
      const layout = join(tempDir(), 'deps')
      await umociImage(layout, 'deps', runnableRootfs(join(tempDir(), 'rootfs')))
      const creds = tokenReg.credentials!
      for (const v of planDir(dir).variants) {
        expect(
          (
            await skopeoCopy(
              `oci:${layout}:deps`,
              `docker://${tokenReg.host}/secret:deps-${v.name}-${v.shortHash}`,
              { creds }
            )
          ).stderr
        ).toBe('')
      }
      const output: string[] = []
      const io = { out: (t: string) => output.push(t), err: (t: string) => output.push(t) }
      const env = process.env
      try {
        process.env['FAST_BUILD_REGISTRY_USERNAME'] = creds.username
        process.env['FAST_BUILD_REGISTRY_PASSWORD'] = creds.password
        expect(
          await runCli(['build', '--project', dir, '--registry', `${tokenReg.host}/secret`, '--json'], io)
        ).toBe(0)
        process.env['FAST_BUILD_REGISTRY_PASSWORD'] = `${creds.password}-wrong`
        expect(await runCli(['build', '--project', dir, '--registry', `${tokenReg.host}/secret`], io)).toBe(1)
      } finally {
        process.env = env
      }
      const text = output.join('')
      expect(text).toMatch(
        /refused user "fast-build" from FAST_BUILD_REGISTRY_USERNAME\/PASSWORD|token service refused user/
      )
      expect(text).not.toContain(creds.password)
      expect(text).not.toMatch(/eyJ[\w-]+\.[\w-]+/) // no JWT
      expect(text).not.toMatch(/Basic [A-Za-z0-9+/=]{8,}/)
    } finally {
      await tokenReg.stop()
    }
  })
})

// Small bounds, so that persistent faults end in seconds: 2 s per request, 6 s per operation.
const BOUNDED = {
  requestTimeoutMs: 2000,
  retry: { attempts: 100, baseDelayMs: 100, maxDelayMs: 1000, budgetMs: 6000 }
}
// An operation ends at its budget plus one attempt (a few requests, each within the deadline).
const boundMs = (requestTimeoutMs: number): number => 6000 + 3 * requestTimeoutMs + 2000
const BOUND_MS = boundMs(BOUNDED.requestTimeoutMs)
// Faults that are not about time (a status, a cut) keep a longer request deadline: the error must
// name the fault, and on a loaded machine a 2 s deadline can catch a slow answer to the request
// between two faulted ones (a POST in CI once took over 2 s), which would be reported instead.
const UNTIMED = { ...BOUNDED, requestTimeoutMs: 5000 }
const HOST = String.raw`127\.0\.0\.1:\d+`
const SUMMARY = String.raw`\(\d+ attempts? in [\d.]+ s; budget 6 s\)`

async function noTag(
  reg: TestRegistry,
  repo: string,
  tag: string,
  credential?: Credential
): Promise<boolean> {
  const direct = new RegistryClient({ host: reg.host, repository: repo }, credential ? { credential } : {})
  try {
    return (await direct.getManifest(tag)) === null
  } finally {
    direct.close()
  }
}

describe('persistent faults end within their bounds, push no tag, and the next run completes', () => {
  const cases: {
    name: string
    rules: { match?: { method?: string | string[]; path?: RegExp }; fault: Fault }[]
    error: RegExp
    /** The request deadline is what the fault tests (else UNTIMED's longer one). */
    timed?: boolean
  }[] = [
    {
      name: 'a registry that accepts and never answers',
      timed: true,
      rules: [{ fault: { kind: 'silent' } }],
      error: new RegExp(
        `^${HOST}: no answer to (GET|HEAD|POST) /v2/demo/\\S+ within 2 s ${SUMMARY}\\n  fix: ${HOST} accepts connections but does not answer in time: .*FAST_BUILD_REQUEST_TIMEOUT_S .*FAST_BUILD_RETRY_BUDGET_S .*request-timeout and retry-budget$`
      )
    },
    {
      name: 'blob uploads accepted and never answered',
      timed: true,
      rules: [{ match: { method: ['PUT', 'PATCH'], path: /\/blobs\/uploads\// }, fault: { kind: 'silent' } }],
      error: new RegExp(
        `^${HOST}: no answer to (PUT|PATCH) /v2/demo/blobs/uploads/\\S+ within 2 s ${SUMMARY}`
      )
    },
    {
      name: 'answers at one byte a second',
      timed: true,
      rules: [{ match: { method: 'GET' }, fault: { kind: 'slow', chunkSize: 1, delayMs: 1000 } }],
      error: new RegExp(
        `^${HOST}: GET /v2/demo/manifests/\\S+ too slow \\(.*\\) ${SUMMARY}\\n  fix: ${HOST} answers too slowly`
      )
    },
    {
      name: '500 for ever on blob uploads',
      rules: [
        { match: { method: 'PUT', path: /\/blobs\/uploads\// }, fault: { kind: 'status', status: 500 } }
      ],
      error: new RegExp(`^PUT http://${HOST}/v2/demo/blobs/uploads/\\S+: 500: UNAVAILABLE .* ${SUMMARY}`)
    },
    {
      name: '429 with Retry-After for ever on the manifest',
      rules: [
        {
          match: { method: 'PUT', path: /\/manifests\// },
          fault: { kind: 'status', status: 429, headers: { 'retry-after': '1' } }
        }
      ],
      error: new RegExp(`^PUT http://${HOST}/v2/demo/manifests/\\S+: 429: TOOMANYREQUESTS .* ${SUMMARY}`)
    },
    {
      name: 'every upload dropped mid-body',
      rules: [
        {
          match: { method: ['PUT', 'PATCH'], path: /\/blobs\/uploads\// },
          fault: { kind: 'drop', afterBytes: 500 }
        }
      ],
      error: new RegExp(
        `^(PUT|PATCH) http://${HOST}/v2/demo/blobs/uploads/\\S+: connection dropped .* ${SUMMARY}`
      )
    }
  ]

  it.each(cases)(
    '$name',
    async ({ name, rules, error, timed }) => {
      const tag = `b-${name
        .replace(/[^a-z0-9]+/gi, '-')
        .slice(0, 40)
        .toLowerCase()}`
      // New source, so the image's blobs are not on the registry yet and have to go up.
      writeFileSync(join(dir, 'module_0.py'), `VALUE = ${JSON.stringify(tag)}\n`)
      proxy.setRules(rules)
      const start = Date.now()
      const bounds = timed ? BOUNDED : UNTIMED
      const { result } = await buildThroughProxy(tag, { ...bounds, variants: ['base'] })
      const ms = Date.now() - start
      proxy.setRules([])
      expect(await proxy.settled(5000)).toBe(true)
      expect(proxy.faulted().length).toBeGreaterThan(0)
      expect(result.variants).toHaveLength(1)
      expect(result.variants[0]).toMatchObject({ path: 'failed', appRef: null })
      expect(result.variants[0]!.error).toMatch(error)
      expect(ms).toBeLessThan(boundMs(bounds.requestTimeoutMs))
      expect(await noTag(reg, 'demo', `${tag}-base`)).toBe(true)
      // Faults off: the next run completes the image.
      const again = await buildThroughProxy(tag, { variants: ['base'] })
      expect(again.result.variants[0]).toMatchObject({ path: 'fast', error: null })
      await assertAllComplete(reg, 'demo', tag, again.result.variants)
    },
    40_000
  )

  it('the CLI takes the bounds from FAST_BUILD_REQUEST_TIMEOUT_S and FAST_BUILD_RETRY_BUDGET_S', async () => {
    proxy.setRules([{ fault: { kind: 'silent' } }])
    let err = ''
    const saved = { ...process.env }
    process.env['FAST_BUILD_REQUEST_TIMEOUT_S'] = '2'
    process.env['FAST_BUILD_RETRY_BUDGET_S'] = '6'
    const start = Date.now()
    let code: number
    try {
      code = await runCli(
        [
          'build',
          '--project',
          dir,
          '--registry',
          `${proxy.host}/demo`,
          '--variant',
          'base',
          '--tag',
          'env-bounds'
        ],
        { out: () => {}, err: (t) => (err += t) }
      )
    } finally {
      process.env = saved
    }
    const ms = Date.now() - start
    proxy.setRules([])
    expect(await proxy.settled(5000)).toBe(true)
    expect(code).toBe(1)
    expect(ms).toBeLessThan(BOUND_MS)
    expect(err).toMatch(
      new RegExp(`base: ${HOST}: no answer to (GET|HEAD|POST) /v2/demo/\\S+ within 2 s ${SUMMARY}`)
    )
    expect(err).toMatch(/fix: .*FAST_BUILD_RETRY_BUDGET_S/)
    expect(await noTag(reg, 'demo', 'env-bounds')).toBe(true)
  }, 40_000)

  it('a token service that never answers: bounded, named, and the next run completes', async () => {
    const issuer = await startTokenIssuer()
    const realm = await startFaultProxy(issuer.url)
    const tokenReg = await startRegistry({ auth: 'token', tokenIssuer: issuer, realm: `${realm.url}/token` })
    try {
      const creds = tokenReg.credentials!
      const credential: Credential = { kind: 'basic', ...creds, source: 'the test' }
      const layout = join(tempDir(), 'deps')
      await umociImage(layout, 'deps', runnableRootfs(join(tempDir(), 'rootfs')))
      const v = planDir(dir, { variants: ['base'] }).variants[0]!
      expect(
        (
          await skopeoCopy(`oci:${layout}:deps`, `docker://${tokenReg.host}/tok:deps-base-${v.shortHash}`, {
            creds
          })
        ).stderr
      ).toBe('')
      const build = async (bounds: Partial<typeof BOUNDED>) => {
        const store = new RegistryClient(
          { host: tokenReg.host, repository: 'tok' },
          { ...bounds, credential }
        )
        try {
          return await runBuild({ plan: planDir(dir, { variants: ['base'] }), store, tags: ['t'] })
        } finally {
          store.close()
        }
      }
      realm.setRules([{ fault: { kind: 'silent' } }])
      const start = Date.now()
      const failed = await build(BOUNDED)
      const ms = Date.now() - start
      realm.setRules([])
      expect(await realm.settled(5000)).toBe(true)
      expect(failed.variants[0]).toMatchObject({ path: 'failed' })
      expect(failed.variants[0]!.error).toMatch(
        new RegExp(`^${realm.host.replace(/\./g, '\\.')}: no answer to GET /token\\?… within 2 s ${SUMMARY}`)
      )
      expect(ms).toBeLessThan(BOUND_MS)
      expect(await noTag(tokenReg, 'tok', 't', credential)).toBe(true)
      const again = await build({})
      expect(again.variants[0]).toMatchObject({ path: 'fast', error: null })
      await assertComplete(tokenReg, 'tok', 't', credential)
    } finally {
      await tokenReg.stop()
      await realm.close()
      await issuer.close()
    }
  }, 60_000)
})

describe('MANIFEST_BLOB_UNKNOWN after every blob got 201 (a registry race)', () => {
  const blobUnknown = JSON.stringify({
    errors: [{ code: 'MANIFEST_BLOB_UNKNOWN', message: 'blob unknown to registry', detail: 'sha256:…' }]
  })

  it('the manifest PUT is retried once after HEAD finds every blob it names', async () => {
    proxy.setRules([
      {
        match: { method: 'PUT', path: /\/manifests\/race-once-base$/ },
        fault: { kind: 'status', status: 400, body: blobUnknown },
        times: 1
      }
    ])
    const before = proxy.requests.length
    const { result } = await buildThroughProxy('race-once', { variants: ['base'] })
    proxy.setRules([])
    expect(result.variants[0]).toMatchObject({ path: 'fast', error: null })
    await assertAllComplete(reg, 'demo', 'race-once', result.variants)
    const seen = proxy.requests.slice(before)
    const refused = seen.findIndex((r) => r.status === 400)
    expect(refused).toBeGreaterThanOrEqual(0)
    const after = seen.slice(refused + 1)
    const heads = after.filter((r) => r.method === 'HEAD' && /\/blobs\/sha256:/.test(r.path))
    expect(heads.length).toBeGreaterThanOrEqual(2) // config and layers
    expect(after.filter((r) => r.method === 'PUT' && r.path.endsWith('/manifests/race-once-base'))).toEqual([
      expect.objectContaining({ status: 201 })
    ])
  })

  it('a blob that is really missing is named, and the manifest is not pushed again', async () => {
    const client = new RegistryClient({ host: reg.host, repository: 'missing' }, { retry: FAST_RETRY })
    try {
      const config = Buffer.from(
        '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
      )
      const configDesc = describeBytes(OCI_CONFIG, config)
      await client.putBlob(configDesc, config)
      const layer = Buffer.from('never uploaded')
      const layerDesc = { mediaType: OCI_LAYER_GZIP, digest: sha256(layer), size: layer.length }
      const manifest = serialize(
        buildManifest({ mediaType: OCI_MANIFEST, config: configDesc, layers: [layerDesc] })
      )
      const e = await client.putManifest('broken', manifest, OCI_MANIFEST).catch((x: unknown) => x)
      expect(e).toBeInstanceOf(RegistryError)
      expect((e as RegistryError).message).toBe(
        `${reg.host}/missing: the registry refused manifest broken (400 MANIFEST_BLOB_UNKNOWN): it does not have layer 1 of 1 ${layerDesc.digest}`
      )
      expect((e as RegistryError).hint).toMatch(/^run again: the next run uploads what is missing/)
      expect(await client.getManifest('broken')).toBeNull()
    } finally {
      client.close()
    }
  })
})
