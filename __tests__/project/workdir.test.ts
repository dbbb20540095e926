// tool.fast-build.workdir: where the source goes in the image. It must be a directory of its own
// below `/`: `/app/../..` once put the source at the image root, over the base image's files.
import { describe, expect, it } from '@jest/globals'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, describeError } from '../../src/errors.js'
import { readProject } from '../../src/project/pyproject.js'

function withWorkdir(workdir: string | null): string {
  const dir = mkdtempSync(join(tmpdir(), 'fast-build-workdir-'))
  writeFileSync(
    join(dir, 'pyproject.toml'),
    `[project]\nname = "app"\nversion = "0.1"\n` +
      (workdir === null ? '' : `\n[tool.fast-build]\nworkdir = ${JSON.stringify(workdir)}\n`)
  )
  return dir
}

describe('tool.fast-build.workdir', () => {
  it.each<[string, string]>([
    ['/app', '/app'],
    ['/app/', '/app'],
    ['/app/./src//', '/app/src'],
    ['//srv//app', '/srv/app'],
    ['/opt/my app', '/opt/my app']
  ])('%j is %j', (written, want) => {
    expect(readProject(withWorkdir(written)).config.workdir).toBe(want)
  })

  it('is /app when not set', () => {
    expect(readProject(withWorkdir(null)).config.workdir).toBe('/app')
  })

  it.each(['/app/../..', '/..', '/app/..', '/a/../b', '..', '/', '//', '/./', '/.', 'app', './app', ''])(
    '%j is refused, naming the key',
    (written) => {
      let error: unknown
      try {
        readProject(withWorkdir(written))
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(ConfigError)
      const e = error as ConfigError
      expect(e.location.keyPath).toBe('tool.fast-build.workdir')
      expect(e.location.file).toMatch(/pyproject\.toml$/)
      expect(e.hint).toBeTruthy()
      expect(describeError(e)).toContain('tool.fast-build.workdir: workdir must')
    }
  )
})
