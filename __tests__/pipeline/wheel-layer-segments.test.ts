// Deps layers in segments, one per wheel: a layer built after a bump copies the segments of the
// wheels that did not change from the layer before it, and must come out byte for byte the layer
// a build from the wheels alone would write. Real wheels (Python's zipfile), real gzip readers.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { CacheLayout } from '../../src/cache/layout.js'
import { sha256 } from '../../src/oci/digest.js'
import type { LayerEntry } from '../../src/oci/entry.js'
import {
  buildSegmentedLayer,
  SegmentDamagedError,
  type LayerSegment,
  type SegmentLocation
} from '../../src/oci/layer.js'
import {
  buildLayerFile,
  wheelPart,
  type LayerPart,
  type SegmentRecord
} from '../../src/pipeline/wheel-layer.js'
import { pythonLayout } from '../../src/wheels/install/layout.js'
import { tempDir } from '../support/project.js'
import { filesIn } from '../support/tar-files.js'
import { umociUnpackLayer } from '../support/umoci.js'
import { buildSimpleWheels, type FixtureWheel } from '../support/wheel-fixtures.js'

const layout = pythonLayout('/usr/local', { major: 3, minor: 11 })
const site = 'usr/local/lib/python3.11/site-packages'

let dir: string
let w: Record<string, FixtureWheel>
beforeAll(async () => {
  dir = tempDir()
  const built = await buildSimpleWheels(join(dir, 'wheels'), [
    // 40 KiB modules: carried as the wheel's deflate data; 2 KiB ones: deflated in the blocks.
    { project: 'alpha', version: '1.0', modules: 3, kb: 40 },
    { project: 'beta', version: '1.0', modules: 2, kb: 20 },
    { project: 'beta', version: '2.0', modules: 2, kb: 20 },
    { project: 'gamma', version: '1.0', modules: 4, kb: 2, script: 'gamma' },
    // Two distributions of one import name: every module path is the same.
    { project: 'zeta', version: '1.0', modules: 2, kb: 2 },
    { project: 'Zeta', version: '2.0', modules: 2, kb: 2 }
  ])
  w = Object.fromEntries(built.map((x) => [`${x.project}-${x.version}`, x]))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const member = (x: FixtureWheel) => ({
  sha256: x.sha256,
  path: x.path,
  filename: x.filename,
  label: `${x.project} ${x.version}`
})

/** A part that copies its wheel's segment from `record` (in `file`), and counts asks for the wheel. */
function copiedPart(x: FixtureWheel, record: SegmentRecord, file: string, asked: string[]): LayerPart {
  return {
    sha256: x.sha256,
    wheel: () => {
      asked.push(x.project)
      return Promise.resolve(member(x))
    },
    segment: {
      copy: {
        file,
        offset: record.offset,
        length: record.length,
        crc32: record.crc32,
        tarSize: record.tarSize
      },
      paths: record.paths,
      dist: record.dist
    }
  }
}

const recordOf = (records: readonly SegmentRecord[], x: FixtureWheel) =>
  records.find((r) => r.wheel === x.sha256)!

describe('a layer built after a bump', () => {
  it('copies the segments of the wheels that stayed, and is the layer a build from the wheels writes', async () => {
    const cache = new CacheLayout(join(dir, 'cache-a'))
    const before = await buildLayerFile(
      'before',
      [w['alpha-1.0']!, w['beta-1.0']!, w['gamma-1.0']!].map((x) => wheelPart(member(x))),
      layout,
      'gzip',
      cache
    )
    expect(before.segments.map((s) => s.wheel)).toEqual(
      [w['alpha-1.0']!, w['beta-1.0']!, w['gamma-1.0']!].map((x) => x.sha256)
    )
    // Each segment is where its record says: its bytes inflate to its tar bytes on their own.
    const blob = readFileSync(before.file!)
    for (const s of before.segments) {
      const part = blob.subarray(s.offset, s.offset + s.length)
      expect(gunzipSync(part).length).toBe(s.tarSize)
    }

    const asked: string[] = []
    const after = await buildLayerFile(
      'after',
      [
        copiedPart(w['alpha-1.0']!, recordOf(before.segments, w['alpha-1.0']!), before.file!, asked),
        wheelPart(member(w['beta-2.0']!)),
        copiedPart(w['gamma-1.0']!, recordOf(before.segments, w['gamma-1.0']!), before.file!, asked)
      ],
      layout,
      'gzip',
      cache
    )
    expect(after.reused).toBe(2)
    expect(asked).toEqual([])

    const fresh = await buildLayerFile(
      'after',
      [w['alpha-1.0']!, w['beta-2.0']!, w['gamma-1.0']!].map((x) => wheelPart(member(x))),
      layout,
      'gzip',
      new CacheLayout(join(dir, 'cache-b'))
    )
    expect(fresh.reused).toBe(0)
    expect(after.digest).toBe(fresh.digest)
    expect(after.diffId).toBe(fresh.diffId)
    expect(readFileSync(after.file!).equals(readFileSync(fresh.file!))).toBe(true)
    expect(after.segments).toEqual(fresh.segments)
    expect(after.dists).toEqual(fresh.dists)
    expect(sha256(readFileSync(after.file!))).toBe(after.digest)
    expect(sha256(gunzipSync(readFileSync(after.file!)))).toBe(after.diffId)

    // Go's readers (as containerd and podman read layers) unpack it whole: beta is 2.0, the
    // copied wheels' files and script are there.
    const rootfs = umociUnpackLayer(
      after.file!,
      {
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        digest: after.digest,
        size: after.size,
        diffId: after.diffId
      },
      join(dir, 'umoci-after')
    )
    expect(readFileSync(join(rootfs, site, 'beta', '__init__.py'), 'utf8')).toContain('"2.0"')
    expect(readFileSync(join(rootfs, site, 'alpha', '__init__.py'), 'utf8')).toContain('"1.0"')
    expect(readFileSync(join(rootfs, 'usr/local/bin/gamma'), 'utf8')).toMatch(/^#!/)
    const files = filesIn(after.file!)
    expect(Object.keys(files).filter((p) => p.includes('beta-1.0.dist-info'))).toEqual([])
    expect(Object.keys(files).some((p) => p.includes('beta-2.0.dist-info'))).toBe(true)
  })

  it('installs a wheel whose copied segment turns out damaged, and still writes the same layer', async () => {
    const cache = new CacheLayout(join(dir, 'cache-damaged'))
    const before = await buildLayerFile(
      'before',
      [w['alpha-1.0']!, w['beta-1.0']!].map((x) => wheelPart(member(x))),
      layout,
      'gzip',
      cache
    )
    const alpha = recordOf(before.segments, w['alpha-1.0']!)
    const damaged = join(dir, 'damaged.tar.gz')
    copyFileSync(before.file!, damaged)
    const bytes = readFileSync(damaged)
    bytes[alpha.offset + Math.floor(alpha.length / 2)]! ^= 0xff
    writeFileSync(damaged, bytes)

    const asked: string[] = []
    const after = await buildLayerFile(
      'after',
      [copiedPart(w['alpha-1.0']!, alpha, damaged, asked), wheelPart(member(w['beta-2.0']!))],
      layout,
      'gzip',
      cache
    )
    expect(asked).toEqual(['alpha'])
    expect(after.reused).toBe(0)
    const fresh = await buildLayerFile(
      'after',
      [w['alpha-1.0']!, w['beta-2.0']!].map((x) => wheelPart(member(x))),
      layout,
      'gzip',
      new CacheLayout(join(dir, 'cache-damaged-fresh'))
    )
    expect(after.digest).toBe(fresh.digest)
  })

  it('installs a wheel that shares a path with another wheel of the layer (the later one wins)', async () => {
    const cache = new CacheLayout(join(dir, 'cache-clash'))
    const before = await buildLayerFile(
      'before',
      [w['alpha-1.0']!, w['zeta-1.0']!].map((x) => wheelPart(member(x))),
      layout,
      'gzip',
      cache
    )
    const asked: string[] = []
    const after = await buildLayerFile(
      'after',
      [
        copiedPart(w['alpha-1.0']!, recordOf(before.segments, w['alpha-1.0']!), before.file!, asked),
        copiedPart(w['zeta-1.0']!, recordOf(before.segments, w['zeta-1.0']!), before.file!, asked),
        wheelPart(member(w['Zeta-2.0']!))
      ],
      layout,
      'gzip',
      cache
    )
    expect(asked).toEqual(['zeta'])
    expect(after.reused).toBe(1)
    const tar = gunzipSync(readFileSync(after.file!))
    const script =
      'import json, sys, tarfile, io\n' +
      't = tarfile.open(fileobj=io.BytesIO(sys.stdin.buffer.read()))\n' +
      'names = [m.name for m in t]\n' +
      'print(json.dumps({"names": names, "init": t.extractfile("' +
      site +
      '/zeta/__init__.py").read().decode()}))'
    const read = JSON.parse(execFileSync('python3', ['-c', script], { input: tar, encoding: 'utf8' })) as {
      names: string[]
      init: string
    }
    // One entry per path, and zeta's modules are the later wheel's.
    expect(new Set(read.names).size).toBe(read.names.length)
    expect(read.init).toContain('"2.0"')
    // zeta 1.0 keeps only its dist-info: its segment is not whole, so it is not recorded.
    expect(after.segments.map((s) => s.wheel).sort()).toEqual(
      [w['alpha-1.0']!.sha256, w['Zeta-2.0']!.sha256].sort()
    )
    const fresh = await buildLayerFile(
      'after',
      [w['alpha-1.0']!, w['zeta-1.0']!, w['Zeta-2.0']!].map((x) => wheelPart(member(x))),
      layout,
      'gzip',
      new CacheLayout(join(dir, 'cache-clash-fresh'))
    )
    expect(after.digest).toBe(fresh.digest)
  })
})

describe('segmented layers', () => {
  const file = (path: string, text: string): LayerEntry => ({
    type: 'file',
    path,
    executable: false,
    size: Buffer.byteLength(text),
    content: () => Buffer.from(text)
  })
  const big = (path: string, seed: number): LayerEntry => {
    // Incompressible-ish text over several 2 MiB blocks.
    let x = seed
    const parts: string[] = []
    for (let i = 0; i < 300_000; i++) {
      x = (x * 1103515245 + 12345) >>> 0
      parts.push(x.toString(36))
    }
    return file(path, parts.join(' '))
  }
  const a = [file('a/one.txt', 'one\n'), file('a/two.txt', 'two\n')]
  const b = [big('b/big.txt', 7), file('b/small.txt', 'small\n')]
  const c = [file('c/three.txt', 'three\n')]
  const dirs: LayerEntry[] = ['a', 'b', 'c'].map((path) => ({ type: 'dir', path }))

  for (const compression of ['gzip', 'none'] as const) {
    it(`copy a segment as it is, whole or in pieces (${compression})`, async () => {
      const first = await buildSegmentedLayer(
        [{ entries: dirs }, { entries: a }, { entries: b }, { entries: c }],
        {
          mtime: 0,
          compression,
          file: join(dir, `first-${compression}`)
        }
      )
      expect(first.segments).toHaveLength(4)
      const at = (s: SegmentLocation) => ({ ...s, file: join(dir, `first-${compression}`) })
      const fresh = await buildSegmentedLayer([{ entries: dirs }, { entries: c }, { entries: b }], {
        mtime: 0,
        compression
      })
      for (const copyWholeBelow of [undefined, 1024]) {
        const segments: LayerSegment[] = [
          { entries: dirs },
          { copy: at(first.segments[3]!) },
          { copy: at(first.segments[2]!) }
        ]
        const copied = await buildSegmentedLayer(segments, {
          mtime: 0,
          compression,
          ...(copyWholeBelow ? { copyWholeBelow } : {})
        })
        expect(copied.data!.equals(fresh.data!)).toBe(true)
        expect(copied.diffId).toBe(fresh.diffId)
        expect(copied.segments).toEqual(fresh.segments)
      }
    })
  }

  it('copies read ahead of their turn keep the layer order; a bad one is reported at its turn', async () => {
    const blob = join(dir, 'ahead')
    const many = Array.from({ length: 12 }, (_, i) => [file(`m${i}/x.txt`, `${i}\n`.repeat(i + 1))])
    const first = await buildSegmentedLayer(
      many.map((entries) => ({ entries })),
      { mtime: 0, file: blob }
    )
    const at = (i: number) => ({ ...first.segments[i]!, file: blob })
    // Copies and written parts interleaved, in another order than the blob they come from.
    const order = [11, 3, 7, 0, 5, 9, 1]
    const mixed = (i: number, k: number): LayerSegment =>
      k % 3 === 1 ? { entries: many[i]! } : { copy: at(i) }
    const fresh = await buildSegmentedLayer(
      order.map((i) => ({ entries: many[i]! })),
      { mtime: 0 }
    )
    const copied = await buildSegmentedLayer(order.map(mixed), { mtime: 0 })
    expect(copied.data!.equals(fresh.data!)).toBe(true)
    expect(copied.diffId).toBe(fresh.diffId)
    // The last copy is damaged (read ahead at the start): an earlier part's own failure is
    // what the build reports, and without it, the damaged copy.
    const damaged: LayerSegment = { copy: { ...at(2), crc32: (at(2).crc32 + 1) >>> 0 } }
    const failing: LayerEntry = {
      type: 'file',
      path: 'f/fails.txt',
      executable: false,
      size: 4,
      content: () => {
        throw new Error('this part fails first')
      }
    }
    await expect(
      buildSegmentedLayer([{ copy: at(4) }, { entries: [failing] }, { copy: at(6) }, damaged], { mtime: 0 })
    ).rejects.toThrow('this part fails first')
    await expect(
      buildSegmentedLayer([{ copy: at(4) }, { entries: many[8]! }, damaged], { mtime: 0 })
    ).rejects.toBeInstanceOf(SegmentDamagedError)
  })

  it('refuse a copy whose bytes are not what was recorded', async () => {
    const blob = join(dir, 'refuse')
    const first = await buildSegmentedLayer([{ entries: a }, { entries: c }], { mtime: 0, file: blob })
    const seg = first.segments[1]!
    const copy = (over: Partial<SegmentLocation>) =>
      buildSegmentedLayer([{ copy: { ...seg, ...over, file: blob } }], { mtime: 0 })
    await expect(copy({ crc32: (seg.crc32 + 1) >>> 0 })).rejects.toBeInstanceOf(SegmentDamagedError)
    await expect(copy({ tarSize: seg.tarSize + 512 })).rejects.toBeInstanceOf(SegmentDamagedError)
    await expect(copy({ offset: first.size })).rejects.toBeInstanceOf(SegmentDamagedError)
    await expect(
      buildSegmentedLayer([{ copy: { ...seg, file: join(dir, 'no-such-blob') } }], { mtime: 0 })
    ).rejects.toBeInstanceOf(SegmentDamagedError)
  })
})
