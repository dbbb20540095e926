// The generated Dockerfile's install script run by sh on this machine, with Debian's real pip wheel
// and a venv without pip standing for a base image's Python without it.
import { describe, expect, it } from '@jest/globals'
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { defaultDockerfile } from '../../src/pipeline/dockerfile.js'
import { tempDir } from '../support/project.js'

describe("the generated Dockerfile's install script", () => {
  // Debian's python3-pip-whl ships a real pip wheel; a venv without pip stands for a base image's
  // Python without it.
  // (script/setup installs python3-pip-whl: the test runs everywhere the suite does.)
  const wheelDir = '/usr/share/python-wheels'
  it('bootstraps pip from the wheel in the context, then installs the pins', () => {
    const wheel = readdirSync(wheelDir).find((f) => /^pip-.*\.whl$/.test(f))
    if (!wheel) throw new Error(`no pip wheel in ${wheelDir}: run script/setup (python3-pip-whl)`)
    const root = tempDir('fast-build-nopip-')
    execFileSync('python3', ['-m', 'venv', '--without-pip', join(root, 'venv')])
    const python = join(root, 'venv', 'bin', 'python')
    expect(spawnSync(python, ['-m', 'pip', '--version']).status).not.toBe(0)
    // The context as COPY lays it out, under another root than /tmp/fast-build.
    const ctx = join(root, 'fb')
    mkdirSync(join(ctx, 'pip'), { recursive: true })
    writeFileSync(join(ctx, 'pip', wheel!), readFileSync(join(wheelDir, wheel!)))
    writeFileSync(join(ctx, 'requirements-linux-amd64.txt'), '# nothing pinned\n')
    writeFileSync(join(ctx, 'requirements-vcs-linux-amd64.txt'), '# nothing from git\n')
    const text = defaultDockerfile()
    const script = text
      .slice(text.indexOf('RUN ') + 4)
      .replace(/\\\n/g, '')
      .replaceAll('/tmp/fast-build', ctx)
    const env: NodeJS.ProcessEnv = {
      PATH: process.env['PATH'],
      HOME: root,
      PIP_CONFIG_FILE: '/dev/null',
      PIP_NO_INDEX: '1',
      TARGETOS: 'linux',
      TARGETARCH: 'amd64',
      FAST_BUILD_PYTHON: python
    }
    const r = spawnSync('sh', ['-c', script], { env, encoding: 'utf8', timeout: 120_000 })
    expect(r.stderr).not.toMatch(/ERROR/)
    expect(r.status).toBe(0)
    expect(spawnSync(python, ['-m', 'pip', '--version'], { encoding: 'utf8' }).stdout).toMatch(/^pip /)
    expect(existsSync(ctx)).toBe(false) // cleaned up, as in the image
  })
})
