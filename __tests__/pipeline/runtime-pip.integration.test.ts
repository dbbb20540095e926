// pip reads the requirements file the run-time layer writes: installs its pins offline with
// --require-hashes from real wheels, and refuses one whose hash was changed.
import { describe, expect, it } from '@jest/globals'
import { readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { requirementsText, runtimeRequirements } from '../../src/pipeline/runtime.js'
import {
  AMD64,
  closureEntry as pkg,
  H,
  LOCK,
  lockedFile as file,
  target
} from '../support/closure-entries.js'
import { run } from '../support/process.js'
import { tempDir } from '../support/project.js'
import { buildSimpleWheels } from '../support/wheel-fixtures.js'

describe('pip reads the requirements we write', () => {
  it('installs them offline with --require-hashes, and refuses a wrong hash', async () => {
    const dir = tempDir()
    const wheels = await buildSimpleWheels(join(dir, 'wheels'), [
      { project: 'fb_rt_one', version: '1.0.0' },
      { project: 'fb-rt-two', version: '2.0.0' }
    ])
    const entries = wheels.map((w) =>
      pkg(w.project, w.version, [
        file(w.filename, w.sha256),
        file(`${w.project}-${w.version}.tar.gz`, H('0'))
      ])
    )
    const reqs = runtimeRequirements(entries, target(), LOCK)
    const write = (name: string, text: string) => (writeFileSync(join(dir, name), text), join(dir, name))
    const pip = (req: string, into: string) =>
      run(
        'python3',
        [
          '-m',
          'pip',
          'install',
          '--no-deps',
          '--require-hashes',
          '--no-input',
          '--disable-pip-version-check',
          '--quiet',
          '--no-index',
          '--find-links',
          join(dir, 'wheels'),
          '--target',
          join(dir, into),
          '-r',
          req
        ],
        {
          env: { ...process.env, PIP_CONFIG_FILE: '/dev/null', PIP_ROOT_USER_ACTION: 'ignore' },
          timeoutMs: 120_000
        }
      )
    const good = await pip(write('good.txt', requirementsText('base', AMD64, reqs)), 'good')
    expect(good.stderr).toBe('')
    expect(good.code).toBe(0)
    expect(
      readdirSync(join(dir, 'good'))
        .filter((f) => f.endsWith('.dist-info'))
        .sort()
    ).toEqual(['fb_rt_one-1.0.0.dist-info', 'fb_rt_two-2.0.0.dist-info'])
    const tampered = reqs.map((r, i) => (i === 0 ? { ...r, hashes: [H('c')] } : r))
    const bad = await pip(write('bad.txt', requirementsText('base', AMD64, tampered)), 'bad')
    expect(bad.code).not.toBe(0)
    expect(bad.stderr).toMatch(/THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE/)
  }, 180_000)
})
