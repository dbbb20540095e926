// Tag templates: each variant must get tags of its own, checked before anything is built (two
// variants on one tag would leave the first one's reported digest naming an image the tag no longer
// holds).
import { describe, expect, it } from '@jest/globals'
import { cpSync, existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { checkDistinctTags } from '../../src/pipeline/tags.js'
import { ConfigError } from '../../src/errors.js'
import { cli } from '../support/cli.js'
import { tempDir } from '../support/project.js'

const values = (variant: string) => ({ variant, sha: 'abcdef012345', ref: 'main' })

describe('checkDistinctTags', () => {
  it.each(['latest', '{sha}', '{ref}', '{ref}-{sha}'])('refuses %s for two variants, naming both', (t) => {
    let e: unknown
    try {
      checkDistinctTags([t], ['base', 'dev'], values)
    } catch (x) {
      e = x
    }
    expect(e).toBeInstanceOf(ConfigError)
    expect((e as ConfigError).message).toMatch(
      new RegExp(
        `tag template "${t.replace(/[{}]/g, '\\$&')}" gives the same tag ".+" to variants base and dev`
      )
    )
    expect((e as ConfigError).hint).toMatch(/\{variant\}/)
  })

  it('accepts templates with {variant}, and anything for one variant', () => {
    expect(() => checkDistinctTags(['{variant}-{sha}', '{variant}'], ['base', 'dev'], values)).not.toThrow()
    expect(() => checkDistinctTags(['latest'], ['base'], values)).not.toThrow()
  })
})

describe('fast-build build --tag latest on a project with two variants', () => {
  it('exits 1 before building anything', async () => {
    const dir = tempDir()
    cpSync(join(process.cwd(), 'examples/offline'), join(dir, 'project'), { recursive: true })
    const store = join(dir, 'images')
    const r = await cli(
      'build',
      '--project',
      join(dir, 'project'),
      '--store',
      `oci:${store}`,
      '--cache-dir',
      join(dir, 'cache'),
      '--tag',
      'latest'
    )
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/tag template "latest" gives the same tag "latest" to variants base and dev/)
    expect(existsSync(join(dir, 'cache', 'work'))).toBe(false)
    expect(
      existsSync(join(store, 'index.json'))
        ? JSON.parse(readFileSync(join(store, 'index.json'), 'utf8')).manifests
        : []
    ).toEqual([])
  })
})
