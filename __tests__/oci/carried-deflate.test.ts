// gzip layers of installed wheels carry each big file's deflate data from the wheel as a gzip
// member of its own (oci/layer.ts). The tar inside must be byte for byte the one a layer deflated
// afresh holds, and real readers (GNU gzip, Python's tarfile, umoci's Go gzip reader) must take
// the blob whole; a wheel whose deflate data runs on past its stream must still install.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { deflateRawSync, gunzipSync } from 'node:zlib'
import { crc32 } from '../../src/wheels/zip.js'
import { CacheLayout } from '../../src/cache/layout.js'
import { sha256 } from '../../src/oci/digest.js'
import type { LayerEntry } from '../../src/oci/entry.js'
import { BLOCK_SIZE, buildLayer, InexactDeflateError, type LayerOptions } from '../../src/oci/layer.js'
import { buildLayerFile, wheelPart } from '../../src/pipeline/wheel-layer.js'
import { LayerDestination } from '../../src/wheels/install/destination.js'
import { install } from '../../src/wheels/install/install.js'
import { pythonLayout } from '../../src/wheels/install/layout.js'
import { tempDir } from '../support/project.js'
import { filesIn } from '../support/tar-files.js'
import { umociUnpackLayer } from '../support/umoci.js'
import { mirrorWheels } from '../support/wheel-fixtures.js'

const layout = pythonLayout('/usr/local', { major: 3, minor: 11 })

// A wheel written by Python's zipfile at deflate level 9: text modules above and below the size
// that is carried, a stored entry, an empty file. With `trailing`, the big module's deflate data
// has bytes after its stream (zipfile, and so pip, reads past them).
const MAKE_WHEEL = String.raw`
import base64, hashlib, json, sys, zipfile, zlib
out, trailing = sys.argv[1], sys.argv[2] == "1"
name, version = "carry", "1.0"
files = {
    "carry/__init__.py": b"from .big import VALUE\n",
    "carry/big.py": b"".join(b"VALUE_%d = %r\n" % (i, "x" * (i % 50)) for i in range(4000)),
    "carry/medium.py": b"# medium\n" + b"".join(b"def f%d(): return %d\n" % (i, i) for i in range(1200)),
    "carry/small.py": b"SMALL = 1\n",
    "carry/empty.py": b"",
    "carry/stored.bin": bytes(range(256)) * 200,
}
info = f"{name}-{version}.dist-info"
files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
def rec(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
record = "".join(f"{p},{rec(d)},{len(d)}\n" for p, d in files.items()) + f"{info}/RECORD,,\n"
files[f"{info}/RECORD"] = record.encode()

class Trailing:
    def __init__(self):
        self.c = zlib.compressobj(9, zlib.DEFLATED, -15)
    def compress(self, data):
        return self.c.compress(data)
    def flush(self):
        return self.c.flush() + b"NOT DEFLATE"

real = zipfile._get_compressor
with zipfile.ZipFile(out, "w", compresslevel=9) as zf:
    for path, data in files.items():
        zi = zipfile.ZipInfo(path, (2020, 1, 1, 0, 0, 0))
        zi.external_attr = 0o100644 << 16
        zi.compress_type = zipfile.ZIP_STORED if path.endswith(".bin") else zipfile.ZIP_DEFLATED
        if trailing and path == "carry/big.py":
            zipfile._get_compressor = lambda *a, **k: Trailing()
        try:
            zf.writestr(zi, data)
        finally:
            zipfile._get_compressor = real
with zipfile.ZipFile(out) as zf:  # Python reads it back, trailing bytes and all
    assert zf.read("carry/big.py") == files["carry/big.py"]
print(json.dumps({p: hashlib.sha256(d).hexdigest() for p, d in files.items() if not p.endswith("RECORD")}))
`

let dir: string
let good: string
let trailing: string
let expected: Record<string, string>
beforeAll(() => {
  dir = tempDir()
  good = join(dir, 'carry-1.0-py3-none-any.whl')
  trailing = join(dir, 'trailing', 'carry-1.0-py3-none-any.whl')
  mkdirSync(join(dir, 'trailing'))
  expected = JSON.parse(execFileSync('python3', ['-c', MAKE_WHEEL, good, '0'], { encoding: 'utf8' }))
  execFileSync('python3', ['-c', MAKE_WHEEL, trailing, '1'])
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** The wheel installed as layer entries (each install's entries are read once). */
async function entriesOf(wheel: string): Promise<{ entries: readonly LayerEntry[]; close(): Promise<void> }> {
  return install(wheel, new LayerDestination(layout))
}

async function layerOf(wheel: string, opts: Omit<LayerOptions, 'mtime'>, file?: string) {
  const w = await entriesOf(wheel)
  try {
    return await buildLayer(w.entries, { mtime: 0, ...opts, ...(file ? { file } : {}) })
  } finally {
    await w.close()
  }
}

const site = 'usr/local/lib/python3.11/site-packages'

/** Members written around carried deflate data start with this header (XFL 0, OS unknown). */
const CARRIED_HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff])
function count(haystack: Buffer, needle: Buffer): number {
  let n = 0
  for (let i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + 1)) n++
  return n
}

describe('gzip layers of wheels carry the deflate data', () => {
  it('hold the same tar as a layer deflated afresh, in fewer bytes, the same every time', async () => {
    const carried = await layerOf(good, {})
    const fresh = await layerOf(good, { reuseDeflate: false })
    const again = await layerOf(good, {})
    expect(carried.diffId).toBe(fresh.diffId)
    expect(gunzipSync(carried.data!).equals(gunzipSync(fresh.data!))).toBe(true)
    expect(sha256(gunzipSync(carried.data!))).toBe(carried.diffId)
    expect(carried.digest).not.toBe(fresh.digest)
    expect(again.digest).toBe(carried.digest)
    // Level 9 from the wheel against level 1 here.
    expect(carried.size).toBeLessThan(fresh.size)
    // big.py and medium.py are carried (deflated, at least CARRY_MIN_BYTES, 16 KiB); the stored entry,
    // the small files and the dist-info are deflated again.
    expect(count(carried.data!, CARRIED_HEADER)).toBe(2)
    expect(count(fresh.data!, CARRIED_HEADER)).toBe(0)
  })

  it('are read whole by GNU gzip, Python tarfile and umoci (Go)', async () => {
    const blob = join(dir, 'carried.tar.gz')
    const layer = await layerOf(good, {}, blob)
    execFileSync('gzip', ['-t', blob])
    const listed = filesIn(blob)
    for (const [path, hash] of Object.entries(expected)) expect(listed[`${site}/${path}`]).toBe(hash)

    const rootfs = umociUnpackLayer(blob, layer, join(dir, 'umoci'))
    for (const [path, hash] of Object.entries(expected)) {
      const bytes = readFileSync(join(rootfs, site, path))
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(hash)
    }
  })

  it('leave zstd and uncompressed layers as they were', async () => {
    for (const compression of ['zstd', 'none'] as const) {
      const w = await entriesOf(good)
      const stripped = await entriesOf(good)
      try {
        const withDeflate = await buildLayer(w.entries, { mtime: 0, compression })
        const plain = stripped.entries.map((e) => {
          if (e.type !== 'file') return e
          const { deflated: _omitted, ...rest } = e
          return rest
        })
        const without = await buildLayer(plain, { mtime: 0, compression })
        expect(withDeflate.digest).toBe(without.digest)
      } finally {
        await w.close()
        await stripped.close()
      }
    }
  })

  it('the test wheel and real wheels from the mirror: the same tar either way, and smaller', async () => {
    // Without a mirror, the test wheel alone (this test never checks nothing).
    const wheels = [good, ...mirrorWheels([/^six-.*\.whl$/, /^numpy-.*cp311.*manylinux.*x86_64\.whl$/])]
    for (const wheel of wheels) {
      const carried = await layerOf(wheel, {})
      const fresh = await layerOf(wheel, { reuseDeflate: false })
      expect(carried.diffId).toBe(fresh.diffId)
      expect(sha256(gunzipSync(carried.data!))).toBe(carried.diffId)
      expect(carried.size).toBeLessThanOrEqual(fresh.size)
    }
  })
})

/** The layer file of one carry wheel, with what a streamed upload of it was given. */
async function teedLayerOf(wheel: string, key: string, cache: string) {
  const teed: Buffer[] = []
  const built = await buildLayerFile(
    key,
    [
      wheelPart({
        sha256: createHash('sha256').update(readFileSync(wheel)).digest('hex'),
        path: wheel,
        filename: 'carry-1.0-py3-none-any.whl',
        label: 'carry 1.0'
      })
    ],
    layout,
    'gzip',
    new CacheLayout(join(dir, cache)),
    async (chunk) => void teed.push(Buffer.from(chunk))
  )
  return { built, teed }
}

describe('a layer streamed as it is written', () => {
  it('gives the upload exactly the bytes of the file, in order, in pieces', async () => {
    const { built, teed } = await teedLayerOf(good, 'teed-key', 'cache-teed')
    expect(built.teed).toBe(true)
    expect(Buffer.concat(teed).equals(readFileSync(built.file!))).toBe(true)
    expect(sha256(Buffer.concat(teed))).toBe(built.digest)
  })
})

describe('deflate data with bytes after its stream', () => {
  it('is not carried: the layer says so, and is written again deflated afresh', async () => {
    await expect(layerOf(trailing, {})).rejects.toBeInstanceOf(InexactDeflateError)

    // What a streamed upload was given: the first try's bytes, which are not the layer's.
    const { built, teed } = await teedLayerOf(trailing, 'trailing-key', 'cache')
    expect(built.teed).toBe(false)
    const bytes = readFileSync(built.file!)
    expect(Buffer.concat(teed).equals(bytes)).toBe(false)
    expect(sha256(bytes)).toBe(built.digest)
    expect(count(bytes, CARRIED_HEADER)).toBe(0)
    const tar = gunzipSync(bytes)
    expect(sha256(tar)).toBe(built.diffId)
    // The files of the well-formed wheel (the zips differ, the installs do not).
    const listed = filesIn(built.file!)
    for (const [path, hash] of Object.entries(expected)) expect(listed[`${site}/${path}`]).toBe(hash)
  })
})

describe('carried files among many others', () => {
  /** A file whose deflate data is given, as a wheel entry's is. */
  const deflatedFile = (path: string, content: Buffer, exact = true): LayerEntry => {
    const raw = deflateRawSync(content, { level: 9 })
    return {
      type: 'file',
      path,
      executable: false,
      size: content.length,
      content: () => content,
      deflated: {
        crc32: crc32(content),
        exact: () => exact,
        raw: async function* () {
          yield raw
        }
      }
    }
  }
  const plainFile = (path: string, content: Buffer): LayerEntry => ({
    type: 'file',
    path,
    executable: false,
    size: content.length,
    content: () => content
  })

  it('keep every record where it belongs when they move the blocks off the 512-byte grid', async () => {
    // Carried sizes that are no multiple of 512, then thousands of small files (a header, 300
    // bytes, padding) across several 2 MiB blocks: headers and padding land where blocks end.
    const entries: LayerEntry[] = []
    for (let i = 0; i < 40; i++)
      entries.push(deflatedFile(`a/carried${i}.py`, Buffer.from(`# ${i}\n${'y = 1\n'.repeat(3000 + i * 7)}`)))
    for (let i = 0; i < 6000; i++)
      entries.push(plainFile(`b/small${i}.txt`, Buffer.from(`${i}`.repeat(300).slice(0, 300))))
    entries.push(deflatedFile('c/last.py', Buffer.from('z = 2\n'.repeat(5000))))
    const carried = await buildLayer(entries, { mtime: 0 })
    const fresh = await buildLayer(entries, { mtime: 0, reuseDeflate: false })
    expect(carried.uncompressedSize).toBeGreaterThan(3 * BLOCK_SIZE)
    expect(count(carried.data!, CARRIED_HEADER)).toBe(41)
    const tar = gunzipSync(carried.data!)
    expect(tar.equals(gunzipSync(fresh.data!))).toBe(true)
    expect(sha256(tar)).toBe(carried.diffId)
    expect(carried.diffId).toBe(fresh.diffId)
  })

  it('refuse deflate data that does not end with its stream', async () => {
    const entries = [deflatedFile('a/x.py', Buffer.from('x = 1\n'.repeat(10000)), false)]
    await expect(buildLayer(entries, { mtime: 0 })).rejects.toBeInstanceOf(InexactDeflateError)
    await expect(buildLayer(entries, { mtime: 0, reuseDeflate: false })).resolves.toBeTruthy()
  })
})
