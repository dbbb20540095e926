// Faults between fast-build and a real registry: a fault-injection proxy drops connections
// (mid-upload, or after the registry did the work), answers 5xx and 429 with Retry-After, and
// slows bodies. Every build either ends with a complete image (every blob checked directly on
// the registry) or fails cleanly with no tag pointing at a broken image; the next run converges.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runBuild } from '../../src/build/build.js'
import { runCli } from '../../src/cli.js'
import { parseManifest } from '../../src/oci/image.js'
import type { Digest } from '../../src/oci/digest.js'
import { RegistryClient } from '../../src/registry/client.js'
import { runnableRootfs, umociImage } from '../support/deps-images.js'
import { startFaultProxy, type Fault, type FaultProxy } from '../support/fault-proxy.js'
import { uvProject } from '../support/fixtures.js'
import { planDir, tempDir } from '../support/project.js'
import { startRegistry, type TestRegistry } from '../support/registry.js'
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
async function assertComplete(reg: TestRegistry, repo: string, tag: string): Promise<Digest> {
  const client = new RegistryClient({ host: reg.host, repository: repo })
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

async function buildThroughProxy(tag: string, opts: { retry?: typeof FAST_RETRY } = {}) {
  const store = new RegistryClient(
    { host: proxy.host, repository: 'demo' },
    { retry: opts.retry ?? FAST_RETRY, insecure: true }
  )
  const retries: string[] = []
  try {
    const plan = planDir(dir)
    const result = await runBuild({ plan, store, tags: [tag] })
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
    for (const v of result.variants) {
      expect(v).toMatchObject({ path: 'fast', error: null })
      expect(await assertComplete(reg, 'demo', tag.replace(/^/, ''))).toBe(result.variants.at(-1)!.digest)
    }
  })

  it('429 with Retry-After is waited for, and said so', async () => {
    proxy.setRules([
      {
        match: { method: 'PUT', path: /\/manifests\// },
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
      { match: { method: 'PUT', path: /\/manifests\/persist$/ }, fault: { kind: 'status', status: 500 } }
    ])
    const { result } = await buildThroughProxy('persist', {
      retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 }
    })
    proxy.setRules([])
    expect(result.variants.every((v) => v.path === 'failed')).toBe(true)
    expect(result.variants[0]!.error).toMatch(/PUT .*manifests\/persist: 500/)
    const direct = new RegistryClient({ host: reg.host, repository: 'demo' })
    expect(await direct.getManifest('persist')).toBeNull()
    direct.close()
    const again = await buildThroughProxy('persist')
    expect(again.result.variants.every((v) => v.path === 'fast')).toBe(true)
    await assertComplete(reg, 'demo', 'persist')
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
        if (result.variants.every((v) => v.path === 'fast')) await assertComplete(reg, 'demo', tag)
        else if ((await direct.getManifest(tag)) !== null) await assertComplete(reg, 'demo', tag)
      } finally {
        direct.close()
      }
      // Converges without faults.
      const clean = await buildThroughProxy(tag)
      expect(clean.result.variants.every((v) => v.path === 'fast')).toBe(true)
      await assertComplete(reg, 'demo', tag)
    }
  })
})

describe('races and secrets', () => {
  it('two builds racing on the same tag both succeed with the same digest', async () => {
    const build = async () => {
      const store = new RegistryClient({ host: reg.host, repository: 'race' }, { retry: FAST_RETRY })
      try {
        return await runBuild({ plan: planDir(dir), store, tags: ['same'] })
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
    const [a, b] = await Promise.all([build(), build()])
    for (let i = 0; i < a.variants.length; i++) {
      expect(a.variants[i]).toMatchObject({ path: 'fast' })
      expect(b.variants[i]!.digest).toBe(a.variants[i]!.digest)
    }
    expect(await assertComplete(reg, 'race', 'same')).toBe(a.variants.at(-1)!.digest)
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
