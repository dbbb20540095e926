import { describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildLayer, CompressionError } from '../../src/oci/layer.js'
import type { LayerEntry } from '../../src/oci/entry.js'
import { OCI_LAYER_ZSTD } from '../../src/oci/media-types.js'
import { openLayerTar, readTar } from '../../src/oci/tar-read.js'

// The zstd program path (what a Node without built-in zstd uses), forced with FAST_BUILD_ZSTD so
// it is tested on any Node. Checked against the zstd program's own decompression.
const file = (path: string, data: Buffer): LayerEntry => ({
  type: 'file',
  path,
  executable: false,
  size: data.length,
  content: () => data
})
// Incompressible bytes over several tar blocks, so the stream crosses many pipe buffers.
const random = Buffer.concat(
  Array.from({ length: 160_000 }, (_, i) => createHash('sha256').update(String(i)).digest())
)
const entries: LayerEntry[] = [
  { type: 'dir', path: 'app' },
  file('app/random.bin', random),
  file('app/small.txt', Buffer.from('hello\n'))
]

function withProgram<T>(program: string, f: () => Promise<T>): Promise<T> {
  const before = process.env['FAST_BUILD_ZSTD']
  process.env['FAST_BUILD_ZSTD'] = program
  return f().finally(() => {
    if (before === undefined) delete process.env['FAST_BUILD_ZSTD']
    else process.env['FAST_BUILD_ZSTD'] = before
  })
}

describe('zstd layers through the zstd program', () => {
  it('writes a zstd blob whose decompressed bytes are the tar of the diff_id, the same every time', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'zstd-layer-'))
    try {
      const a = await withProgram('zstd', () => buildLayer(entries, { mtime: 0, compression: 'zstd' }))
      const b = await withProgram('zstd', () =>
        buildLayer(entries, { mtime: 0, compression: 'zstd', file: join(dir, 'b.tar.zst') })
      )
      expect(a.mediaType).toBe(OCI_LAYER_ZSTD)
      expect(b.digest).toBe(a.digest)
      expect(readFileSync(join(dir, 'b.tar.zst')).equals(a.data!)).toBe(true)
      const gz = await buildLayer(entries, { mtime: 0, compression: 'gzip' })
      expect(a.diffId).toBe(gz.diffId)
      expect(a.size).toBeLessThan(gz.size)
      const tar = spawnSync('zstd', ['-d', '-q', '-c'], { input: a.data!, maxBuffer: 64 << 20 })
      expect(tar.status).toBe(0)
      expect(`sha256:${createHash('sha256').update(tar.stdout).digest('hex')}`).toBe(a.diffId)
      expect(createHash('sha256').update(a.data!).digest('hex')).toBe(a.digest.replace('sha256:', ''))

      // And read back, as the base image reader does, through the program too.
      const names: string[] = []
      await withProgram('zstd', () =>
        readTar(openLayerTar(join(dir, 'b.tar.zst'), OCI_LAYER_ZSTD), {
          onEntry: (e) => void names.push(e.path)
        })
      )
      expect(names.map((n) => n.replace(/\/$/, ''))).toEqual(['app', 'app/random.bin', 'app/small.txt'])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('says what to install when there is no zstd, and a damaged blob names its file', async () => {
    const err = await withProgram('/nonexistent/zstd', () =>
      buildLayer(entries, { mtime: 0, compression: 'zstd' })
    ).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CompressionError)
    expect((err as CompressionError).message).toMatch(/zstd/)
    expect((err as CompressionError).hint).toMatch(/apt-get install zstd/)

    const dir = mkdtempSync(join(tmpdir(), 'zstd-bad-'))
    try {
      const bad = join(dir, 'bad.tar.zst')
      writeFileSync(bad, Buffer.from('not zstd at all'))
      const e2 = await withProgram('zstd', () =>
        readTar(openLayerTar(bad, OCI_LAYER_ZSTD), { onEntry: () => {} })
      ).catch((e: unknown) => e)
      expect(e2).toBeInstanceOf(CompressionError)
      expect((e2 as Error).message).toContain(bad)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
