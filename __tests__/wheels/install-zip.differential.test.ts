// The zip reader against Python's zipfile: the archives are written by zipfile (make_wheels.py
// zips), and each entry's name, sizes, CRC, attributes and content are compared with what zipfile
// reads from the same file. Damaged copies must fail with errors that name the file and the entry.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as zlib from 'node:zlib'
import { WheelError } from '../../src/wheels/wheel-error.js'
import { crc32, crc32Table, decodeCp437, ZipReader, type ZipEntry } from '../../src/wheels/zip.js'
import { buildZipCases } from '../support/wheel-fixtures.js'

interface PyEntry {
  name: string
  size: number
  compressedSize: number
  crc: number
  external: number
  system: number
  method: number
  content: string
}

const PY_READ = `
import base64, json, sys, zipfile
out = []
with zipfile.ZipFile(sys.argv[1]) as zf:
    for i in zf.infolist():
        out.append(dict(name=i.filename, size=i.file_size, compressedSize=i.compress_size, crc=i.CRC,
                        external=i.external_attr, system=i.create_system, method=i.compress_type,
                        content=base64.b64encode(zf.read(i)).decode()))
sys.stdout.write(json.dumps(out))
`

function pythonRead(path: string): PyEntry[] {
  const out = execFileSync('python3', ['-c', PY_READ, path], {
    maxBuffer: 512 * 1024 * 1024,
    encoding: 'utf8'
  })
  return JSON.parse(out) as PyEntry[]
}

function firstDifference(a: readonly string[], b: readonly string[]): string | null {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) return `at ${i}: ${a[i]?.slice(0, 200)} != ${b[i]?.slice(0, 200)}`
  }
  return null
}

async function withZip<T>(path: string, f: (z: ZipReader) => Promise<T>): Promise<T> {
  const z = await ZipReader.open(path)
  try {
    return await f(z)
  } finally {
    await z.close()
  }
}

async function readAllByExtract(
  z: ZipReader,
  opts: Parameters<ZipReader['extract']>[2]
): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>()
  await z.extract(
    z.entries.filter((e) => !e.isDirectory),
    {
      whole: (e, data) => {
        out.set(e.name, Buffer.from(data))
      },
      stream: async (e, chunks) => {
        const parts: Buffer[] = []
        for await (const c of chunks) parts.push(c)
        out.set(e.name, Buffer.concat(parts))
      }
    },
    opts
  )
  return out
}

async function failure(
  path: string,
  action: (z: ZipReader) => Promise<unknown> = async () => {}
): Promise<WheelError> {
  try {
    await withZip(path, action)
  } catch (e) {
    expect(e).toBeInstanceOf(WheelError)
    return e as WheelError
  }
  throw new Error(`${path}: expected a WheelError`)
}

let dir: string
let cases: Record<string, string>

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fast-build-zip-'))
  cases = await buildZipCases(dir)
}, 120_000)

afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

describe('reading archives written by Python zipfile', () => {
  it.each(['mixed', 'zip64', 'cp437', 'descriptor', 'big', 'many'])(
    '%s: same entries and content as zipfile',
    async (name) => {
      const path = cases[name]!
      const reference = pythonRead(path)
      await withZip(path, async (z) => {
        expect(z.entries.map((e) => e.name)).toEqual(reference.map((r) => r.name))
        const byName = new Map(reference.map((r) => [r.name, r]))
        const meta = z.entries.map((e) =>
          JSON.stringify([
            e.name,
            e.size,
            e.compressedSize,
            e.crc32,
            e.externalAttributes,
            e.creatorSystem,
            e.method,
            e.unixMode
          ])
        )
        const metaWant = reference.map((r) =>
          JSON.stringify([
            r.name,
            r.size,
            r.compressedSize,
            r.crc,
            r.external,
            r.system,
            r.method,
            r.system === 3 ? r.external >>> 16 : null
          ])
        )
        expect(firstDifference(meta, metaWant)).toBeNull()
        // read() one by one (a sample of the 70000 for `many`), extract() in windows and streams.
        const sample = name === 'many' ? z.entries.filter((_, i) => i % 997 === 0) : z.entries
        for (const e of sample) expect((await z.read(e)).toString('base64')).toBe(byName.get(e.name)!.content)
        const want = reference.filter((r) => !r.name.endsWith('/')).map((r) => `${r.name}:${r.content}`)
        for (const opts of [{}, { windowBytes: 1024, streamThreshold: 4096, concurrency: 3 }]) {
          const got = await readAllByExtract(z, opts)
          const ours = reference
            .filter((r) => !r.name.endsWith('/'))
            .map((r) => `${r.name}:${got.get(r.name)?.toString('base64')}`)
          expect(got.size).toBe(want.length)
          expect(firstDifference(ours, want)).toBeNull()
        }
      })
    }
  )

  it('mixed: directories, stored and deflated entries, modes, a UTF-8 name and an archive comment', async () => {
    await withZip(cases['mixed']!, async (z) => {
      const e = (n: string): ZipEntry => z.entry(n)!
      expect(e('dir/').isDirectory).toBe(true)
      expect(e('stored.txt').method).toBe(0)
      expect(e('deflated.txt').method).toBe(8)
      expect(e('deflated.txt').unixMode).toBe(0o100755)
      expect(e('empty.txt').size).toBe(0)
      expect((await z.read(e('empty.txt'))).length).toBe(0)
      expect(e('dir/café.txt').flags & 0x800).toBe(0x800)
    })
  })

  it('cp437: names without the UTF-8 flag are decoded as code page 437', async () => {
    await withZip(cases['cp437']!, async (z) => {
      expect(z.entries.map((e) => e.name)).toEqual(['café-1.txt', 'köln-2.txt'])
      expect(z.entries.every((e) => (e.flags & 0x800) === 0)).toBe(true)
    })
  })

  it('zip64: sizes and offsets come from ZIP64 extra fields and the ZIP64 end record', async () => {
    const raw = readFileSync(cases['zip64']!)
    expect(raw.includes(Buffer.from([0x50, 0x4b, 0x06, 0x06]))).toBe(true) // ZIP64 end record
    expect(raw.includes(Buffer.from([0x50, 0x4b, 0x06, 0x07]))).toBe(true) // its locator
    await withZip(cases['zip64']!, async (z) => {
      expect(z.entries.map((e) => [e.name, e.size])).toEqual([
        ['a.txt', 5000],
        ['b.bin', 5000]
      ])
    })
  })

  it('many: 70000 entries (a ZIP64 end record written by zipfile itself)', async () => {
    await withZip(cases['many']!, async (z) => {
      expect(z.entries).toHaveLength(70000)
      expect((await z.read(z.entry('f/69999')!)).toString()).toBe('69999')
    })
  })
})

describe('damaged archives', () => {
  it('a truncated file is "not a zip file" and names the file', async () => {
    const e = await failure(cases['truncated']!)
    expect(e.message).toMatch(/^not a zip file/)
    expect(e.describe()).toContain('truncated.zip')
    expect(e.describe()).toMatch(/fix: .*download truncated\.zip again/)
  })

  it.each(['empty', 'notzip'])('%s is not a zip file', async (name) => {
    expect((await failure(cases[name]!)).message).toMatch(/^not a zip file/)
  })

  it('data prepended to the archive is refused (offsets would not be what the directory says)', async () => {
    expect((await failure(cases['prepended']!)).message).toMatch(/not a zip file.*central directory/)
  })

  it('a changed byte in a stored entry is a CRC mismatch naming the entry', async () => {
    const e = await failure(cases['crc']!, (z) => z.read(z.entry('stored.txt')!))
    expect(e.message).toMatch(/^CRC mismatch in "stored.txt"/)
    expect(e.entry).toBe('stored.txt')
    // extract() reports it too
    const e2 = await failure(cases['crc']!, (z) => readAllByExtract(z, {}))
    expect(e2.message).toMatch(/^CRC mismatch in "stored.txt"/)
  })

  it('a corrupt deflate stream names the entry', async () => {
    const e = await failure(cases['deflate-corrupt']!, (z) => z.read(z.entry('deflated.txt')!))
    expect(e.message).toMatch(/"deflated.txt" is corrupt/)
    const e2 = await failure(cases['deflate-corrupt']!, (z) =>
      readAllByExtract(z, { streamThreshold: 16, windowBytes: 64 })
    )
    expect(e2.message).toMatch(/"deflated.txt" is (corrupt|truncated)/)
  })

  it('an entry whose deflate stream is cut short is truncated', async () => {
    // Shrink deflated.txt's compressed size in the central directory (not its data).
    const raw = Buffer.from(readFileSync(cases['mixed']!))
    const name = Buffer.from('deflated.txt')
    let at = -1
    for (let p = raw.indexOf('PK\x01\x02'); p >= 0; p = raw.indexOf('PK\x01\x02', p + 4)) {
      if (raw.subarray(p + 46, p + 46 + name.length).equals(name)) at = p
    }
    raw.writeUInt32LE(Math.floor(raw.readUInt32LE(at + 20) / 2), at + 20)
    const path = join(dir, 'short-entry.zip')
    writeFileSync(path, raw)
    const e = await failure(path, (z) => z.read(z.entry('deflated.txt')!))
    expect(e.message).toBe('entry "deflated.txt" is truncated (its deflate stream ends early)')
    const e2 = await failure(path, (z) => readAllByExtract(z, { streamThreshold: 1 }))
    expect(e2.message).toBe('entry "deflated.txt" is truncated (its deflate stream ends early)')
  })

  it('an entry that claims more bytes than it inflates to, or fewer, is corrupt', async () => {
    const raw = Buffer.from(readFileSync(cases['mixed']!))
    const name = Buffer.from('deflated.txt')
    let at = -1
    for (let p = raw.indexOf('PK\x01\x02'); p >= 0; p = raw.indexOf('PK\x01\x02', p + 4)) {
      if (raw.subarray(p + 46, p + 46 + name.length).equals(name)) at = p
    }
    const size = raw.readUInt32LE(at + 24)
    for (const [fake, pattern] of [
      [size - 1, /inflates to more than/],
      [size + 1, /bytes instead of/]
    ] as const) {
      raw.writeUInt32LE(fake, at + 24)
      const path = join(dir, `size-${fake}.zip`)
      writeFileSync(path, raw)
      expect((await failure(path, (z) => z.read(z.entry('deflated.txt')!))).message).toMatch(pattern)
      expect((await failure(path, (z) => readAllByExtract(z, { streamThreshold: 1 }))).message).toMatch(
        pattern
      )
    }
  })

  it('a missing file is a WheelError naming it', async () => {
    const e = await failure(join(dir, 'nope.whl'))
    expect(e.describe()).toContain('nope.whl')
  })
})

describe('crc32 and cp437', () => {
  it('the table CRC-32 equals zlib on random data, in one go and continued', () => {
    for (const n of [0, 1, 7, 8, 9, 1000, 65537]) {
      const data = randomBytes(n)
      const want = zlib.crc32 ? zlib.crc32(data) : Number.NaN
      expect(crc32Table(data)).toBe(want)
      expect(crc32(data)).toBe(want)
      const cut = Math.floor(n / 3)
      expect(crc32Table(data.subarray(cut), crc32Table(data.subarray(0, cut)))).toBe(want)
    }
    expect(crc32Table(Buffer.from('123456789'))).toBe(0xcbf43926)
  })

  it("decodes every byte as Python's cp437 codec does", () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
    const python = execFileSync('python3', [
      '-c',
      'import sys; sys.stdout.write(bytes(range(256)).decode("cp437").encode("utf-32-le").hex())'
    ]).toString()
    const ours = Buffer.from(
      Array.from(decodeCp437(all)).flatMap((c) => {
        const b = Buffer.alloc(4)
        b.writeUInt32LE(c.codePointAt(0)!)
        return [...b]
      })
    ).toString('hex')
    expect(ours).toBe(python)
  })
})
