// Small entries of a wheel are inflated in batches in the zip's order as they are taken (so a
// layer of torch does not hold every small file at once), each handed out once; a damaged entry
// fails the take that needs it with its own error.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { LazyEntries } from '../../src/wheels/install/contents.js'
import { WheelError } from '../../src/wheels/wheel-error.js'
import { ZipReader, type ZipEntry } from '../../src/wheels/zip.js'
import { tempDir } from '../support/project.js'

// 200 entries of 4 kB of random bytes (about 4 kB compressed each), written in name order.
const MAKE_ZIP = String.raw`
import hashlib, json, os, random, sys, zipfile
random.seed(7)
out = {}
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as zf:
    for i in range(200):
        data = bytes(random.getrandbits(8) for _ in range(4000))
        name = f"pkg/m{i:03d}.py"
        zf.writestr(name, data)
        out[name] = hashlib.sha256(data).hexdigest()
print(json.dumps(out))
`

let dir: string
let path: string
let hashes: Record<string, string>
beforeAll(() => {
  dir = tempDir()
  path = join(dir, 'many.zip')
  hashes = JSON.parse(execFileSync('python3', ['-c', MAKE_ZIP, path], { encoding: 'utf8' }))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

/** The zip, with every entry `extract` is asked to inflate counted. */
async function counted(file: string): Promise<{ zip: ZipReader; inflated: () => number }> {
  const zip = await ZipReader.open(file)
  let n = 0
  const extract = zip.extract.bind(zip)
  zip.extract = (entries, handlers, opts) => {
    n += entries.length
    return extract(entries, handlers, opts)
  }
  return { zip, inflated: () => n }
}

describe('LazyEntries', () => {
  it('inflates a batch or two ahead of what is taken, in the zip order, and hands each out once', async () => {
    const { zip, inflated } = await counted(path)
    try {
      const lazy = new LazyEntries(zip, zip.entries, {}, 40_000)
      const first = zip.entries[0]!
      expect(sha(await lazy.take(first))).toBe(hashes[first.name])
      // About ten entries per 40 kB batch: the one taken and the one read ahead, not 200.
      expect(inflated()).toBeLessThanOrEqual(30)
      for (const e of zip.entries.slice(1)) expect(sha(await lazy.take(e))).toBe(hashes[e.name])
      expect(inflated()).toBe(200)
      await expect(lazy.take(first)).rejects.toThrow(/read twice/)
    } finally {
      await zip.close()
    }
  })

  it('taken out of order, every entry still comes out right', async () => {
    const zip = await ZipReader.open(path)
    try {
      const lazy = new LazyEntries(zip, zip.entries, {}, 40_000)
      for (const e of [...zip.entries].reverse()) expect(sha(await lazy.take(e))).toBe(hashes[e.name])
    } finally {
      await zip.close()
    }
  })

  it('a damaged entry fails with its own error, also when it was read ahead', async () => {
    const bytes = readFileSync(path)
    const zip0 = await ZipReader.open(path)
    const victim: ZipEntry = zip0.entries[150]!
    await zip0.close()
    // Flip a byte in the middle of the entry's deflate data (its local header is 30 bytes + name).
    bytes[victim.localHeaderOffset + 30 + victim.name.length + 100]! ^= 0xff
    const damaged = join(dir, 'damaged.zip')
    writeFileSync(damaged, bytes)
    const zip = await ZipReader.open(damaged)
    try {
      const lazy = new LazyEntries(zip, zip.entries, {}, 40_000)
      for (const e of zip.entries.slice(0, 140)) expect(sha(await lazy.take(e))).toBe(hashes[e.name])
      const e = await (async () => {
        for (const entry of zip.entries.slice(140)) await lazy.take(entry)
      })().then(
        () => null,
        (err: unknown) => err
      )
      expect(e).toBeInstanceOf(WheelError)
      expect((e as WheelError).entry).toBe(victim.name)
    } finally {
      await zip.close()
    }
  })
})
