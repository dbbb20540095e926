// `fast-build build` without --store: the images go to a layout in the cache directory, outside the
// project, and the build says where (no registry, no daemon: the deps images are missing and
// --fast-only stops there).
import { describe, expect, it } from '@jest/globals'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { projectId } from '../src/registry/open.js'
import { cli } from './support/cli.js'
import { uvProject } from './support/fixtures.js'
import { tempDir } from './support/project.js'

const PINNED = `python@sha256:${'0'.repeat(64)}`

describe('fast-build build: the default store', () => {
  it('is <cache-dir>/oci/<project-id>, outside the project, printed as an absolute oci: path', async () => {
    const dir = uvProject({ config: `[tool.fast-build]\npython = "3.12"\nbase-image = "${PINNED}"\n` })
    const before = readdirSync(dir).sort()
    const cache = tempDir('fast-build-cache-')
    const first = await cli('build', '--project', dir, '--cache-dir', cache, '--fast-only', '--json')
    const store = join(cache, 'oci', projectId(dir))
    expect(first.err).toContain(`images: oci:${store}\n`)
    expect(first.json().store).toBe(`oci:${store}`)
    expect(existsSync(join(store, 'oci-layout'))).toBe(true)
    expect(existsSync(join(store, '.gitignore'))).toBe(true)
    // Nothing new in the project (source.test.ts checks that a store inside it is never packed).
    expect(readdirSync(dir).sort()).toEqual(before)
  })
})

describe('fast-build build: an image name with capitals', () => {
  it.each(['--registry', '--store'])(
    '%s: says repository names are lowercase, and the lowercase form',
    async (flag) => {
      const dir = uvProject({ config: `[tool.fast-build]\npython = "3.12"\nbase-image = "${PINNED}"\n` })
      const r = await cli('build', '--project', dir, flag, 'ghcr.io/Acme/App')
      expect(r.code).toBe(1)
      expect(r.err).toBe(
        `error: ${flag}: "ghcr.io/Acme/App" has capitals in its repository name, and registries take only lowercase repository names\n  fix: write ghcr.io/acme/app\n`
      )
    }
  )
})
