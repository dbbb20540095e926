// install() into the layer destination (production: layer entries, nothing on disk) against
// install() into a directory (the test-only destination, itself checked against pip): the same
// paths, bytes and modes for every fixture wheel and for real wheels from the machine's mirror;
// broken wheels fail the same way.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { LayerDestination } from '../../src/wheels/install/destination.js'
import { install } from '../../src/wheels/install/install.js'
import { pythonLayout, type PythonLayout } from '../../src/wheels/install/layout.js'
import { WheelError } from '../../src/wheels/wheel-error.js'
import { installIntoDirectory } from '../support/directory-destination.js'
import { tempDir } from '../support/project.js'
import { buildFixtureWheels, mirrorWheels, type FixtureWheel } from '../support/wheel-fixtures.js'

const layout: PythonLayout = pythonLayout('/usr/local', { major: 3, minor: 11 })

let dir: string
let wheels: FixtureWheel[]
beforeAll(async () => {
  dir = tempDir()
  wheels = await buildFixtureWheels(join(dir, 'wheels'), { heavyMb: 3 })
}, 300_000)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function onDisk(path: string): Promise<Map<string, { bytes: Buffer; executable: boolean }>> {
  const staging = tempDir()
  try {
    const w = await installIntoDirectory(path, layout, staging)
    return new Map(
      w.files.map((f) => [f.path, { bytes: readFileSync(f.diskPath), executable: f.executable }])
    )
  } finally {
    rmSync(staging, { recursive: true, force: true })
  }
}

async function asEntries(path: string): Promise<Map<string, { bytes: Buffer; executable: boolean }>> {
  const w = await install(path, new LayerDestination(layout))
  try {
    const out = new Map<string, { bytes: Buffer; executable: boolean }>()
    for (const e of w.entries) {
      if (e.type !== 'file') continue
      let bytes: Buffer
      if (e.stream) {
        const parts: Buffer[] = []
        await e.stream(async (c) => void parts.push(Buffer.from(c)))
        bytes = Buffer.concat(parts)
      } else bytes = await e.content()
      expect(bytes.length).toBe(e.size)
      out.set(e.path, { bytes, executable: e.executable })
    }
    expect(w.installedSize).toBe([...out.values()].reduce((n, f) => n + f.bytes.length, 0))
    return out
  } finally {
    await w.close()
  }
}

function expectSame(a: Map<string, { bytes: Buffer; executable: boolean }>, b: typeof a): void {
  expect([...b.keys()].sort()).toEqual([...a.keys()].sort())
  for (const [path, f] of a) {
    const g = b.get(path)!
    expect({ path, executable: g.executable }).toEqual({ path, executable: f.executable })
    if (!g.bytes.equals(f.bytes)) throw new Error(`${path} differs`)
  }
}

describe('the layer destination', () => {
  it('gives the files the directory destination writes, for every fixture wheel', async () => {
    for (const w of wheels.filter((x) => !x.broken)) expectSame(await onDisk(w.path), await asEntries(w.path))
  })

  it('gives the same files for real wheels (when the machine has a wheel mirror)', async () => {
    const real = mirrorWheels([
      /^numpy-2\.4\.\d+-cp311-cp311-manylinux.*x86_64\.whl$/,
      /^black-.*\.whl$/,
      /^six-.*\.whl$/
    ])
    for (const path of real) expectSame(await onDisk(path), await asEntries(path))
  }, 120_000)

  it('fails like the directory install on broken wheels (refused entries up front, bad hashes when read)', async () => {
    for (const w of wheels.filter((x) => x.broken)) {
      let disk: unknown = null
      await installIntoDirectory(w.path, layout, join(tempDir(), 'x')).catch((e: unknown) => (disk = e))
      let ours: unknown = null
      await asEntries(w.path).catch((e: unknown) => (ours = e))
      expect({ wheel: w.broken, failed: ours instanceof WheelError }).toEqual({
        wheel: w.broken,
        failed: disk instanceof WheelError
      })
      if (disk instanceof WheelError) expect((ours as WheelError).entry).toBe(disk.entry)
    }
  })
})
