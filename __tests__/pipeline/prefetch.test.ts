// Wheels fetched ahead of the deps image lookup: only a bump's few new wheels on a machine that has
// the rest, of sizes the lock gives and bounds, and through the artifact cache, so the build's own
// fetch waits for that download instead of making another. A real index on loopback.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createHash, randomBytes } from 'node:crypto'
import { ArtifactCache } from '../../src/cache/artifacts.js'
import type { LockedFile, LockedPackage } from '../../src/lock/model.js'
import { normalizeName } from '../../src/names.js'
import { prefetchWheels } from '../../src/pipeline/full-path.js'
import type { PlatformPlan, VariantPlan } from '../../src/plan/plan.js'
import type { Chosen } from '../../src/plan/wheel-choice.js'
import { startPypiServer, type PypiServer, type ServedFile } from '../support/pypi-server.js'
import { tempDir } from '../support/project.js'

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')

const served: ServedFile[] = Array.from({ length: 12 }, (_, i) => ({
  project: `pkg${i}`,
  filename: `pkg${i}-1.0-py3-none-any.whl`,
  bytes: randomBytes(20_000 + i)
}))

let server: PypiServer
beforeAll(async () => {
  server = await startPypiServer({ files: served })
})
afterAll(async () => {
  await server.close()
})

function chosen(f: ServedFile, size: number | null = (f.bytes as Buffer).length): Chosen {
  const file: LockedFile = {
    name: f.filename,
    url: server.fileUrl(f.filename),
    path: null,
    hashes: { sha256: sha256(f.bytes as Buffer) },
    size,
    kind: 'wheel'
  }
  const pkg = {
    id: `${f.project}==1.0`,
    name: normalizeName(f.project),
    version: '1.0',
    source: { kind: 'registry', url: server.simpleUrl },
    files: [file]
  } as unknown as LockedPackage
  return { pkg, file, sha256: file.hashes['sha256']! }
}

/** A one-platform variant of these wheels; the cache already holds the first `present`. */
async function setup(wheels: Chosen[], present: number) {
  const cache = new ArtifactCache(tempDir())
  for (const c of wheels.slice(0, present))
    await cache.put(served.find((s) => s.filename === c.file.name)!.bytes as Buffer)
  const platform = {} as PlatformPlan
  const v = { name: 'base', platforms: [platform] } as unknown as VariantPlan
  const ctx = {
    wheelsOf: () => ({ chosen: wheels, problems: [] }),
    cache,
    indexFor: () => null,
    mirror: null,
    lockDir: tempDir()
  }
  return { cache, v, ctx }
}

describe('prefetchWheels', () => {
  it('fetches a bump’s one new wheel when the machine has the others, as the artifact cache’s fetch', async () => {
    const wheels = served.slice(0, 10).map((f) => chosen(f))
    const { cache, v, ctx } = await setup(wheels, 9)
    server.requests.length = 0
    prefetchWheels(v, ctx)
    const arriving = cache.arriving(wheels[9]!.sha256)
    expect(arriving).toBeDefined()
    const got = await arriving!
    expect(got.path).toBe(cache.pathFor(wheels[9]!.sha256))
    expect(cache.has(wheels[9]!.sha256)).toBe(true)
    expect(server.fileRequests().map((r) => r.path)).toEqual([`/files/${served[9]!.filename}`])
    await cache.settled()
  })

  it('fetches nothing on an empty cache, for more than three new wheels, or without sizes', async () => {
    const cases: { wheels: Chosen[]; present: number }[] = [
      // A first build here: everything is new.
      { wheels: served.slice(0, 10).map((f) => chosen(f)), present: 0 },
      // Four new of twelve: not a bump of one package.
      { wheels: served.slice(0, 12).map((f) => chosen(f)), present: 8 },
      // Two new, but only four others here: not (nearly) all of the rest.
      { wheels: served.slice(0, 6).map((f) => chosen(f)), present: 4 },
      // One new, whose size the lock does not give (Poetry's locks): it could be torch.
      { wheels: served.slice(0, 10).map((f, i) => chosen(f, i === 9 ? null : undefined)), present: 9 },
      // One new, bigger than the bound.
      {
        wheels: served.slice(0, 10).map((f, i) => chosen(f, i === 9 ? 64 * 1024 * 1024 : undefined)),
        present: 9
      }
    ]
    for (const { wheels, present } of cases) {
      const { cache, v, ctx } = await setup(wheels, present)
      server.requests.length = 0
      prefetchWheels(v, ctx)
      for (const c of wheels) expect(cache.arriving(c.sha256)).toBeUndefined()
      await cache.settled()
      expect(server.requests).toEqual([])
    }
  })
})
