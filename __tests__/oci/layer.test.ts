// Layers are read back by real tools (GNU tar, Python's tarfile) and must be byte-identical
// whenever the entries are.
import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { sha256 } from '../../src/oci/digest.js'
import type { LayerEntry } from '../../src/oci/entry.js'
import { buildLayer } from '../../src/oci/layer.js'
import { DOCKER_LAYER_GZIP, DOCKER_MANIFEST, OCI_LAYER, OCI_LAYER_GZIP } from '../../src/oci/media-types.js'
import { LayerPathError } from '../../src/oci/tar.js'
import { tempDir } from '../support/project.js'
import { umociUnpackLayer } from '../support/umoci.js'

const file = (path: string, text: string, executable = false): LayerEntry => {
  const content = Buffer.from(text)
  return { type: 'file', path, executable, size: content.length, content: () => content }
}

const longName = `app/${'deeply/'.repeat(20)}nested_module_with_a_long_name.py`
const ENTRIES: LayerEntry[] = [
  { type: 'dir', path: 'app' },
  file('app/main.py', 'print("hi")\n'),
  file('app/run.sh', '#!/bin/sh\necho run\n', true),
  file('app/empty.txt', ''),
  file('app/ünïcödé.py', '# unicode name\n'),
  file(longName, 'x = 1\n'),
  { type: 'symlink', path: 'app/link.py', target: 'main.py' },
  { type: 'dir', path: 'app/pkg' },
  file('app/pkg/__init__.py', '')
]

function pythonList(tarPath: string): {
  name: string
  type: string
  mode: number
  uid: number
  gid: number
  mtime: number
  size: number
  linkname: string
}[] {
  const script = `
import json, sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    print(json.dumps([{"name": m.name, "type": m.type.decode(), "mode": m.mode, "uid": m.uid, "gid": m.gid,
                       "mtime": m.mtime, "size": m.size, "linkname": m.linkname} for m in t.getmembers()]))
`
  return JSON.parse(execFileSync('python3', ['-c', script, tarPath], { encoding: 'utf8' }))
}

describe('buildLayer', () => {
  it('writes a tar that Python and GNU tar read back exactly, with fixed owners, modes and times', async () => {
    const layer = await buildLayer(ENTRIES, { mtime: 1_700_000_000 })
    expect(layer.mediaType).toBe(OCI_LAYER_GZIP)
    const dir = tempDir()
    const tgz = join(dir, 'layer.tar.gz')
    writeFileSync(tgz, layer.data!)
    const members = pythonList(tgz)
    expect(members.map((m) => m.name)).toEqual(
      [
        'app',
        `app/${'deeply/'.repeat(20)}nested_module_with_a_long_name.py`.replace(/^app\//, 'app/'),
        'app/empty.txt',
        'app/link.py',
        'app/main.py',
        'app/pkg',
        'app/pkg/__init__.py',
        'app/run.sh',
        'app/ünïcödé.py'
      ].sort()
    )
    const byName = Object.fromEntries(members.map((m) => [m.name, m]))
    expect(byName['app/run.sh']).toMatchObject({
      mode: 0o755,
      uid: 0,
      gid: 0,
      mtime: 1_700_000_000,
      type: '0'
    })
    expect(byName['app/main.py']).toMatchObject({ mode: 0o644, size: 12 })
    expect(byName['app/pkg']).toMatchObject({ mode: 0o755, type: '5' })
    expect(byName['app/link.py']).toMatchObject({ type: '2', linkname: 'main.py' })
    expect(byName[longName]).toMatchObject({ size: 6 })
    // GNU tar agrees on names and contents.
    const listed = execFileSync('tar', ['-tzf', tgz], { encoding: 'utf8' }).trim().split('\n')
    expect(listed).toContain(longName)
    expect(listed).toContain('app/ünïcödé.py')
    execFileSync('tar', ['-xzf', tgz, '-C', dir])
    expect(readFileSync(join(dir, longName), 'utf8')).toBe('x = 1\n')
    expect(readFileSync(join(dir, 'app/ünïcödé.py'), 'utf8')).toBe('# unicode name\n')
  })

  it('takes both digests: the blob and the uncompressed tar (diff_id)', async () => {
    const layer = await buildLayer(ENTRIES, { mtime: 0 })
    expect(layer.digest).toBe(sha256(layer.data!))
    expect(layer.size).toBe(layer.data!.length)
    const tar = gunzipSync(layer.data!)
    expect(layer.diffId).toBe(sha256(tar))
    expect(layer.uncompressedSize).toBe(tar.length)
    expect(tar.length % 512).toBe(0)
  })

  it('gives the same bytes for the same entries in any order, and others for another time', async () => {
    const a = await buildLayer(ENTRIES, { mtime: 42 })
    const b = await buildLayer([...ENTRIES].reverse(), { mtime: 42 })
    expect(b.digest).toBe(a.digest)
    expect(Buffer.compare(a.data!, b.data!)).toBe(0)
    expect((await buildLayer(ENTRIES, { mtime: 43 })).diffId).not.toBe(a.diffId)
    // The gzip header carries no time and a fixed OS byte.
    expect([...a.data!.subarray(4, 10)]).toEqual([0, 0, 0, 0, 4, 0xff])
  })

  it('writes uncompressed and Docker-family layers', async () => {
    const none = await buildLayer(ENTRIES, { mtime: 0, compression: 'none' })
    expect(none.mediaType).toBe(OCI_LAYER)
    expect(none.digest).toBe(none.diffId)
    expect((await buildLayer(ENTRIES, { mtime: 0, manifestType: DOCKER_MANIFEST })).mediaType).toBe(
      DOCKER_LAYER_GZIP
    )
  })

  it('refuses paths that could escape the layer root', async () => {
    for (const path of ['/etc/passwd', '../x', 'app/../../x', 'app//x', './x', 'app/']) {
      await expect(buildLayer([file(path, 'x')], { mtime: 0 })).rejects.toThrow(LayerPathError)
    }
  })

  it('notices a file that changed size while the layer was written', async () => {
    const e: LayerEntry = {
      type: 'file',
      path: 'a',
      executable: false,
      size: 5,
      content: () => Buffer.from('longer than five')
    }
    await expect(buildLayer([e], { mtime: 0 })).rejects.toThrow(/changed while the layer was written/)
  })
})

describe('large layers', () => {
  it('compress in parallel blocks (a multi-member gzip) that every reader takes whole', async () => {
    const { randomBytes } = await import('node:crypto')
    const { BLOCK_SIZE } = await import('../../src/oci/layer.js')
    const big = Buffer.concat([randomBytes(3 * 1024 * 1024), Buffer.from('text '.repeat(1024 * 1024))])
    const entries: LayerEntry[] = [
      { type: 'dir', path: 'data' },
      { type: 'file', path: 'data/big.bin', executable: false, size: big.length, content: () => big },
      file('data/tail.txt', 'the end\n')
    ]
    const dir = tempDir()
    const layer = await buildLayer(entries, { mtime: 0, file: join(dir, 'blob') })
    expect(layer.uncompressedSize).toBeGreaterThan(2 * BLOCK_SIZE)
    expect(layer.data).toBeNull()
    const bytes = readFileSync(join(dir, 'blob'))
    expect(sha256(bytes)).toBe(layer.digest)
    // Several gzip members, each with our fixed header.
    let members = 0
    for (
      let i = bytes.indexOf(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 0xff]));
      i >= 0;
      i = bytes.indexOf(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 0xff]), i + 1)
    )
      members++
    expect(members).toBeGreaterThanOrEqual(3)
    expect(sha256(gunzipSync(bytes))).toBe(layer.diffId)
    execFileSync('gzip', ['-t'], { input: bytes })
    expect(pythonList(join(dir, 'blob')).map((m) => m.name)).toEqual([
      'data',
      'data/big.bin',
      'data/tail.txt'
    ])
    // umoci (Go's gzip reader) unpacks it.
    const rootfs = umociUnpackLayer(join(dir, 'blob'), layer, join(dir, 'umoci'))
    expect(readFileSync(join(rootfs, 'data', 'tail.txt'), 'utf8')).toBe('the end\n')
    expect(sha256(readFileSync(join(rootfs, 'data', 'big.bin')))).toBe(sha256(big))
  })
})

describe('zstd', () => {
  it("writes zstd layers: with Node's zstd where it has one, else with the zstd program", async () => {
    const layer = await buildLayer(ENTRIES, { mtime: 0, compression: 'zstd' })
    expect(layer.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+zstd')
    expect([...layer.data!.subarray(0, 4)]).toEqual([0x28, 0xb5, 0x2f, 0xfd]) // zstd frame magic
    const { spawnSync } = await import('node:child_process')
    const tar = spawnSync('zstd', ['-d', '-q', '-c'], { input: layer.data! })
    expect(tar.status).toBe(0)
    expect(sha256(tar.stdout)).toBe(layer.diffId)
  })
})
