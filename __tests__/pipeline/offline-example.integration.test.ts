// The bundled offline example (what `npm run example` builds): path-sourced wheels from uv.lock
// and a base image in an OCI layout, built with no network; umoci unpacks the result.
import { describe, expect, it } from '@jest/globals'
import { cpSync, existsSync, readFileSync, appendFileSync } from 'node:fs'
import { join } from 'node:path'
import { cli } from '../support/cli.js'
import { runOk } from '../support/process.js'
import { tempDir } from '../support/project.js'
import { skopeoCopy } from '../support/skopeo.js'

async function build(project: string, store: string, cache: string, tag: string) {
  const r = await cli(
    'build',
    '--project',
    project,
    '--store',
    `oci:${store}`,
    '--cache-dir',
    cache,
    '--tag',
    tag,
    '--json'
  )
  expect(r.err).not.toMatch(/failed/)
  expect(r.code).toBe(0)
  return r.json()
}

describe('examples/offline', () => {
  it('builds both variants from the wheels on disk, then takes the fast path after a source edit', async () => {
    const work = tempDir()
    const project = join(work, 'project')
    cpSync(join(process.cwd(), 'examples', 'offline'), project, { recursive: true })
    const store = join(work, 'images')
    const cache = join(work, 'cache')

    const first = await build(project, store, cache, '{variant}-1')
    expect(first.variants.map((v: { path: string }) => v.path)).toEqual(['full', 'full'])
    expect(first.variants[0].full).toMatchObject({ wheels: 2, layers: 4 }) // 2 packages × 2 platforms

    // umoci unpacks one platform's image: skopeo picks this machine's (amd64) out of the index.
    expect((await skopeoCopy(`oci:${store}:base-1`, `oci:${join(work, 'single')}:x`)).stderr).toBe('')
    await runOk('umoci', ['unpack', '--image', `${join(work, 'single')}:x`, join(work, 'bundle')])
    const root = join(work, 'bundle', 'rootfs')
    const site = join(root, 'usr/local/lib/python3.12/site-packages')
    expect(readFileSync(join(site, 'greeting/__init__.py'), 'utf8')).toMatch(/def hello/)
    expect(readFileSync(join(site, 'tinycolor-0.4.1.dist-info/INSTALLER'), 'utf8')).toBe('fast-build\n')
    expect(readFileSync(join(root, 'usr/local/bin/tinycolor'), 'utf8')).toMatch(
      /^#!\/usr\/local\/bin\/python3\.12\n/
    )
    expect(existsSync(join(site, 'checkit'))).toBe(false) // dev only
    expect(readFileSync(join(root, 'etc/os-release'), 'utf8')).toMatch(/fast-build example base/)
    expect(existsSync(join(root, 'app/app/__main__.py'))).toBe(true)
    expect(existsSync(join(root, 'app/wheels'))).toBe(false) // .dockerignore

    appendFileSync(join(project, 'app', '__main__.py'), 'print("more")\n')
    const second = await build(project, store, cache, '{variant}-2')
    expect(second.variants.map((v: { path: string }) => v.path)).toEqual(['fast', 'fast'])
    expect(second.variants[0].depsRef).toBe(first.variants[0].depsRef)
    expect(second.sourceLayer.digest).not.toBe(first.sourceLayer.digest)
  })
})
