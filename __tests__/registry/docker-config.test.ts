// A malformed Docker config (~/.docker/config.json) is refused naming the file, line and column,
// never quoting it: JSON.parse's own message quotes the text around the error, which in this
// file is a credential.
import { describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describeError } from '../../src/errors.js'
import { CredentialError, credentialFromDockerConfig } from '../../src/registry/credentials.js'
import { jsonSyntaxProblem } from '../../src/util/json-syntax.js'
import { tempDir } from '../support/project.js'

const SECRET = 's3cretXYZ'

async function refusal(text: string): Promise<CredentialError> {
  const path = join(tempDir(), 'config.json')
  writeFileSync(path, text)
  const e = await credentialFromDockerConfig('ghcr.io', { path, runHelper: async () => null }).catch(
    (x: unknown) => x
  )
  expect(e).toBeInstanceOf(CredentialError)
  return e as CredentialError
}

describe('a Docker config that is not valid JSON', () => {
  it.each<[string, string, number, number]>([
    ['an unquoted token', `{"auths": {"ghcr.io": {"identitytoken": ${SECRET}}}}`, 1, 41],
    ['a second line', `{\n  "auths": {"ghcr.io": {"auth": "${SECRET}" "x"}}\n}`, 2, 45],
    ['a trailing comma', `{"auths": {"ghcr.io": {"password": "${SECRET}",}}}`, 1, 48],
    ['a cut-off file', `{"auths": {"ghcr.io": {"password": "${SECRET}`, 1, 46],
    ['text after the object', `{"auths": {}} ${SECRET}`, 1, 15]
  ])('%s: file, line and column; not the text', async (_what, text, line, column) => {
    const e = await refusal(text)
    expect(e.location).toMatchObject({ line, column })
    expect(e.location.file).toMatch(/config\.json$/)
    const shown = describeError(e)
    expect(shown).toMatch(/config\.json:\d+:\d+: .*config\.json is not valid JSON/)
    expect(shown).not.toContain(SECRET)
    expect(shown).not.toContain(SECRET.slice(0, 4))
  })

  it('values of the wrong type are refused by key, without their value', async () => {
    for (const [text, key] of [
      [`{"auths": {"ghcr.io": {"auth": 123456789}}}`, 'auths["ghcr.io"].auth'],
      [`{"auths": {"ghcr.io": {"auth": ["${SECRET}"]}}}`, 'auths["ghcr.io"].auth'],
      [`{"auths": ["${SECRET}"]}`, 'auths'],
      [`{"credHelpers": {"ghcr.io": {"x": "${SECRET}"}}}`, 'credHelpers["ghcr.io"]'],
      [`["${SECRET}"]`, '(top level)']
    ] as const) {
      const e = await refusal(text)
      expect(e.location.keyPath).toBe(key)
      expect(describeError(e)).not.toContain(SECRET)
      expect(describeError(e)).not.toContain('123456789')
    }
  })

  it('a valid config still gives its credential', async () => {
    const path = join(tempDir(), 'config.json')
    const auth = Buffer.from(`me:${SECRET}`).toString('base64')
    writeFileSync(path, JSON.stringify({ auths: { 'ghcr.io': { auth } }, credsStore: '' }))
    expect(await credentialFromDockerConfig('ghcr.io', { path })).toMatchObject({
      kind: 'basic',
      username: 'me',
      password: SECRET
    })
  })
})

describe('jsonSyntaxProblem', () => {
  it('agrees with JSON.parse on what is JSON', () => {
    const jsonish = fc
      .array(
        fc.oneof(
          fc.constantFrom(
            '{',
            '}',
            '[',
            ']',
            ':',
            ',',
            '"',
            '"a"',
            '1',
            '-',
            '0.5e3',
            'true',
            'null',
            ' ',
            '\n',
            '\\',
            '\\u00e9',
            '\t',
            'x'
          ),
          fc.string({ maxLength: 2 })
        ),
        { maxLength: 14 }
      )
      .map((p) => p.join(''))
    fc.assert(
      fc.property(fc.oneof(jsonish, fc.json()), (text) => {
        let parses = true
        try {
          JSON.parse(text)
        } catch {
          parses = false
        }
        const problem = jsonSyntaxProblem(text)
        expect(problem === null).toBe(parses)
        if (problem) {
          expect(problem.line).toBeGreaterThanOrEqual(1)
          expect(problem.line).toBeLessThanOrEqual(text.split('\n').length)
          expect(problem.reason).not.toMatch(/"/)
        }
      }),
      { numRuns: 3000 }
    )
  })

  it('deep nesting is no stack overflow', () => {
    expect(jsonSyntaxProblem('['.repeat(100_000))).toMatchObject({ line: 1, column: 100_001 })
    expect(jsonSyntaxProblem('['.repeat(50_000) + ']'.repeat(50_000))).toBeNull()
  })
})
