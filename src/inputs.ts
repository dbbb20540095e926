// The only reader of @actions/core inputs: action.yml names in, a typed object out.
import * as core from '@actions/core'
import { ConfigError } from './errors.js'
import { parsePlatform, type Platform } from './target.js'

export interface Inputs {
  readonly project: string
  readonly variants: readonly string[]
  readonly platforms: readonly Platform[]
}

/** Split a list input on commas and newlines, dropping blanks. */
export function listInput(value: string): string[] {
  return value
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter((s) => s !== '')
}

export function getInputs(): Inputs {
  const project = core.getInput('project') || '.'
  const platforms = listInput(core.getInput('platforms')).map((p) => {
    try {
      return parsePlatform(p, 'platforms')
    } catch (e) {
      if (e instanceof ConfigError)
        throw new ConfigError(`input ${e.message}`, { keyPath: 'with.platforms' }, e.hint)
      throw e
    }
  })
  return { project, variants: listInput(core.getInput('variants')), platforms }
}
