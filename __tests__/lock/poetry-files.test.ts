// Cutting poetry.lock's `files` arrays out before the TOML parse changes nothing a reader sees:
// every corpus Poetry lock gives the same files per package either way, error lines stay right,
// and arrays of any other shape are left to the TOML parser.
import { describe, expect, it } from '@jest/globals'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { readLock } from '../../src/lock/index.js'
import { readPoetryLock } from '../../src/lock/poetry.js'
import { cutPoetryFileArrays } from '../../src/lock/poetry-files.js'
import { readProject } from '../../src/project/pyproject.js'
import { parseToml } from '../../src/util/toml.js'
import { LockError } from '../../src/errors.js'
import { corpusCaseNames, materializeCorpusCase } from '../support/corpus.js'
import { copyCorpusCase } from '../support/project.js'

const poetryCases = corpusCaseNames().filter((n) => materializeCorpusCase(n).format === 'poetry')

describe('cutPoetryFileArrays', () => {
  it.each(poetryCases)('%s: the same files for every package as the TOML parser gives', (name) => {
    const c = materializeCorpusCase(name)
    const project = readProject(c.projectDir)
    const text = readFileSync(join(c.projectDir, 'poetry.lock'), 'utf8')
    const whole = readPoetryLock(text, parseToml(text, 'poetry.lock'), 'poetry.lock', project)
    const cut = cutPoetryFileArrays(text)
    expect(cut.text.split('\n').length).toBe(text.split('\n').length)
    const fast = readPoetryLock(text, parseToml(cut.text, 'poetry.lock'), 'poetry.lock', project, cut)
    expect(fast.packages.map((p) => [p.id, p.line, p.files])).toEqual(
      whole.packages.map((p) => [p.id, p.line, p.files])
    )
  })

  it('leaves arrays of another shape, and `files` keys of sub-tables, to the parser', () => {
    const text = [
      '[[package]]',
      'name = "a"',
      'files = [',
      '    {file = "a-1.whl", hash = "sha256:00"},',
      '    {file = "a-1.tar.gz", hash = "sha256:11", url = "https://x/a-1.tar.gz"},',
      ']',
      '',
      '[package.dependencies]',
      'files = [',
      '    {file = "not-a-file", hash = "sha256:22"},',
      ']',
      '',
      '[[package]]',
      'name = "b"',
      'files = [',
      '    {file = "b-1.whl", hash = "sha256:33"},',
      ']',
      ''
    ].join('\n')
    const cut = cutPoetryFileArrays(text)
    expect([...cut.bodies.keys()]).toEqual([1])
    expect(cut.text).toContain('url = "https://x/a-1.tar.gz"')
    expect(cut.text).toContain('{file = "not-a-file"')
    expect(cut.text).not.toContain('b-1.whl')
  })

  it('errors after a cut array still name their line', () => {
    const dir = copyCorpusCase(poetryCases[0]!)
    const path = join(dir, 'poetry.lock')
    const lines = readFileSync(path, 'utf8').split('\n')
    const at = lines.findIndex((l, i) => i > 50 && l.startsWith('version = '))
    lines[at] = 'version = "1.0'
    writeFileSync(path, lines.join('\n'))
    let error: unknown = null
    try {
      readLock(readProject(dir))
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(LockError)
    expect((error as LockError).location.line).toBe(at + 1)
  })
})
