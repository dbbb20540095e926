import { describe, expect, it } from '@jest/globals'
import { isValidName, normalizeName } from '../src/names.js'

describe('normalizeName (PEP 503)', () => {
  it.each([
    ['Typing_Extensions', 'typing-extensions'],
    ['zope.interface', 'zope-interface'],
    ['A--B__C..d', 'a-b-c-d'],
    ['requests', 'requests']
  ])('%s → %s', (input, expected) => {
    expect(normalizeName(input)).toBe(expected)
  })

  it('accepts PEP 508 names and refuses others', () => {
    expect(isValidName('backports.tarfile')).toBe(true)
    expect(isValidName('-bad')).toBe(false)
    expect(isValidName('a b')).toBe(false)
  })
})
