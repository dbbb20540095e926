// The source is checked before any deps image is built: a source that cannot ship fails the build
// at once, not after minutes of full paths (it used to surface only when the first variant
// reached its fast path, with every deps image already built and pushed).
import { describe, expect, it } from '@jest/globals'
import { cpSync, existsSync, readFileSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { cli } from '../support/cli.js'
import { tempDir } from '../support/project.js'

describe('a source tree that cannot ship', () => {
  it('fails the build before any deps image is built', async () => {
    const dir = tempDir()
    const project = join(dir, 'project')
    cpSync(join(process.cwd(), 'examples/offline'), project, { recursive: true })
    symlinkSync('/etc/passwd', join(project, 'app', 'secrets'))
    const store = join(dir, 'images')
    const r = await cli(
      'build',
      '--project',
      project,
      '--store',
      `oci:${store}`,
      '--cache-dir',
      join(dir, 'cache'),
      '--source',
      'walk'
    )
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/symlink app\/secrets -> \/etc\/passwd has an absolute target/)
    expect(r.err).not.toMatch(/full path/)
    // Nothing was built or written: no layers in the cache, no image in the store.
    expect(existsSync(join(dir, 'cache', 'work', 'layers'))).toBe(false)
    const manifests = existsSync(join(store, 'index.json'))
      ? (JSON.parse(readFileSync(join(store, 'index.json'), 'utf8')) as { manifests: unknown[] }).manifests
      : []
    expect(manifests).toEqual([])
  })
})
