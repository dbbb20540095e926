// What a user types for a store (`oci:DIR`, `HOST/REPO`), the CLI's default store, and how podman
// is told to run an image of a layout. The real podman takes that command: open.integration.test.ts.
import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError } from '../../src/errors.js'
import { LayoutStore } from '../../src/registry/layout.js'
import {
  defaultStoreDir,
  lowercaseRepository,
  parseStoreSpec,
  podmanAcceptsPath,
  podmanRunCommand,
  projectId
} from '../../src/registry/open.js'
import { tempDir } from '../support/project.js'

describe('lowercaseRepository', () => {
  it.each<[string, string | null]>([
    ['ghcr.io/Acme/App', 'ghcr.io/acme/app'],
    ['ghcr.io/Acme/App:Release-1', 'ghcr.io/acme/app:Release-1'],
    ['GHCR.io/acme/app', null], // the host is case-insensitive
    ['localhost:5000/Team/app@sha256:' + 'a'.repeat(64), 'localhost:5000/team/app@sha256:' + 'a'.repeat(64)],
    ['Acme/app', 'acme/app'], // Docker Hub: no host
    ['ghcr.io/acme/app', null]
  ])('%s → %s', (text, expected) => {
    expect(lowercaseRepository(text)).toBe(expected)
  })
})

describe('parseStoreSpec', () => {
  it('a registry repository with capitals: says registries take lowercase, and the lowercase form', () => {
    let e: unknown
    try {
      parseStoreSpec('ghcr.io/Acme/App', '--registry')
    } catch (x) {
      e = x
    }
    expect(e).toBeInstanceOf(ConfigError)
    expect((e as ConfigError).describe()).toBe(
      '--registry: "ghcr.io/Acme/App" has capitals in its repository name, and registries take only lowercase repository names\n  fix: write ghcr.io/acme/app'
    )
    expect(() => parseStoreSpec('docker://ghcr.io/Acme/app')).toThrow(
      /"ghcr\.io\/Acme\/app" has capitals in its repository name/
    )
  })

  it('layouts and lowercase repositories as before', () => {
    expect(parseStoreSpec('oci:./Images')).toEqual({ kind: 'layout', dir: './Images' })
    expect(parseStoreSpec('registry://127.0.0.1:5000/demo')).toEqual({
      kind: 'registry',
      image: '127.0.0.1:5000/demo'
    })
  })
})

describe('the default store', () => {
  it('lives in the cache directory, one per project, named podman-safe', () => {
    const a = projectId('/home/Alice/src/My Project.v2')
    expect(a).toMatch(/^my-project-v2-[0-9a-f]{8}$/)
    expect(a).toBe(projectId('/home/Alice/src/My Project.v2/'))
    // Same name, other place: another store.
    expect(projectId('/tmp/My Project.v2')).not.toBe(a)
    expect(projectId('/srv/___')).toMatch(/^project-[0-9a-f]{8}$/)
    expect(defaultStoreDir('/home/alice/src/app', '/home/alice/.cache/fast-build')).toBe(
      `/home/alice/.cache/fast-build/oci/${projectId('/home/alice/src/app')}`
    )
  })

  it('a layout made by the store is named by its absolute path and ignored by git', () => {
    const dir = tempDir('fast-build-open-')
    const cwd = process.cwd()
    process.chdir(dir)
    try {
      const store = new LayoutStore('images')
      expect(store.name).toBe(`oci:${join(dir, 'images')}`)
      store.init()
    } finally {
      process.chdir(cwd)
    }
    expect(readFileSync(join(dir, 'images', '.gitignore'), 'utf8')).toBe('*\n')
    execFileSync('git', ['init', '-q'], { cwd: dir })
    expect(execFileSync('git', ['status', '--porcelain'], { cwd: dir, encoding: 'utf8' })).toBe('')
    // A layout that was there before is left as it is.
    const before = join(dir, 'before')
    mkdirSync(before)
    new LayoutStore(before).init()
    expect(existsSync(join(before, '.gitignore'))).toBe(false)
  })
})

describe('podman and layouts', () => {
  it.each<[string, boolean]>([
    ['/tmp/images', true],
    ['/home/alice/.cache/fast-build/oci/app-0123abcd', false], // a dot-folder
    ['/home/Alice/images', false], // capitals
    ['/srv/my_app/out', true]
  ])('%s: podman 4 takes the absolute path: %s', (dir, ok) => {
    expect(podmanAcceptsPath(dir)).toBe(ok)
  })

  it('the command to run an image: the path as is, else from the parent directory', () => {
    expect(podmanRunCommand('/tmp/images', 'base-local')).toBe('podman run --rm oci:/tmp/images:base-local')
    expect(podmanRunCommand('/home/alice/.cache/fast-build/oci/app-0123abcd', 'base-local')).toBe(
      '(cd /home/alice/.cache/fast-build/oci && podman run --rm oci:app-0123abcd:base-local)'
    )
    expect(podmanRunCommand('/home/alice/My Images', 'x')).toBe(
      "skopeo copy oci:'/home/alice/My Images:x' containers-storage:localhost/fast-build:x && podman run --rm localhost/fast-build:x"
    )
  })
})
