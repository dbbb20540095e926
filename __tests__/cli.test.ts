// The CLI end to end in-process: plan (table and JSON), diff, and what bad input gets.
import { describe, expect, it } from '@jest/globals'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cli } from './support/cli.js'
import { uvProject, VARIANTS_CONFIG } from './support/fixtures.js'
import { tempDir, writeFiles } from './support/project.js'

describe('fast-build plan', () => {
  it('prints a table of variants, platforms and hashes', async () => {
    const dir = uvProject({ config: VARIANTS_CONFIG })
    const r = await cli('plan', '--project', dir)
    expect(r.code).toBe(0)
    const lines = r.out.trim().split('\n')
    expect(lines[0]).toMatch(/^variant\s+platform\s+hash\s+packages\s+local\s+runtime$/)
    expect(lines.slice(2).map((l) => l.split(/\s+/).slice(0, 2).join(' '))).toEqual([
      'base linux/amd64',
      'ml linux/amd64',
      'dev linux/amd64'
    ])
    // base: requests, certifi, idna; ml adds numpy; dev adds pytest, iniconfig; exp (runtime) adds rich.
    expect(lines.slice(2).map((l) => l.split(/\s+/).slice(3).join(' '))).toEqual([
      '3 app 1',
      '4 app 1',
      '5 app 1'
    ])
  })

  it('prints the documented JSON', async () => {
    const dir = uvProject({ config: VARIANTS_CONFIG })
    const r = await cli(
      'plan',
      '--project',
      dir,
      '--json',
      '--platform',
      'linux/amd64',
      '--platform',
      'linux/arm64',
      '--variant',
      'ml'
    )
    expect(r.code).toBe(0)
    const plan = JSON.parse(r.out)
    expect(plan.variants).toHaveLength(1)
    const v = plan.variants[0]
    expect(v.name).toBe('ml')
    expect(v.hash).toMatch(/^[0-9a-f]{64}$/)
    expect(v.platforms.map((p: { platform: string }) => p.platform)).toEqual(['linux/amd64', 'linux/arm64'])
    const amd = v.platforms[0].packages
    expect(amd.map((p: { name: string }) => p.name)).toEqual(['certifi', 'idna', 'numpy', 'requests'])
    expect(amd.find((p: { name: string }) => p.name === 'numpy')).toMatchObject({
      version: '2.1.3',
      source: 'pypi',
      file: 'numpy-2.1.3-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl'
    })
    expect(v.platforms[1].packages.find((p: { name: string }) => p.name === 'numpy').file).toMatch(/aarch64/)
    expect(v.local).toEqual([{ name: 'app', version: '0.1.0', path: '.' }])
    expect(v.runtime.map((p: { name: string }) => p.name)).toEqual(['rich'])
  })

  it('says where python came from when it derives it', async () => {
    const dir = uvProject()
    const r = await cli('plan', '--project', dir)
    expect(r.code).toBe(0)
    expect(r.err).toMatch(
      /python 3\.12: the lowest version requires-python ">=3\.12" in .*pyproject\.toml allows/
    )
    expect(r.out).toMatch(/^default\s+linux\/amd64/m)
  })
})

describe('fast-build diff', () => {
  it('explains a version bump in an extra, per variant', async () => {
    const dir = uvProject({ config: VARIANTS_CONFIG })
    const before = join(tempDir(), 'before.json')
    writeFileSync(before, (await cli('plan', '--project', dir, '--json')).out)
    const lock = join(dir, 'uv.lock')
    writeFileSync(
      lock,
      readFileSync(lock, 'utf8')
        .replace(/numpy-2\.1\.3/g, 'numpy-2.2.0')
        .replace('version = "2.1.3"', 'version = "2.2.0"')
    )
    const after = join(tempDir(), 'after.json')
    writeFileSync(after, (await cli('plan', '--project', dir, '--json')).out)
    const r = await cli('diff', before, after)
    expect(r.code).toBe(0)
    expect(r.out).toMatch(/^base: unchanged$/m)
    expect(r.out).toMatch(/^ml: changed \([0-9a-f]{16} → [0-9a-f]{16}\)\n {2}numpy 2\.1\.3 → 2\.2\.0$/m)
    expect(r.out).toMatch(/^dev: unchanged$/m)
  })

  it('refuses files that are not plans', async () => {
    const bad = writeFiles(tempDir(), { 'x.json': '{"nope": 1}' })
    const r = await cli('diff', join(bad, 'x.json'), join(bad, 'x.json'))
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/x\.json: not a fast-build plan/)
  })
})

describe('usage', () => {
  it('prints help, and usage errors exit 2', async () => {
    expect((await cli('--help')).out).toMatch(/usage: fast-build/)
    const r = await cli('plan', '--frobnicate')
    expect(r.code).toBe(2)
    expect(r.err).toMatch(/Unknown option '--frobnicate'/)
    expect((await cli('launch')).code).toBe(2)
  })
})

describe('fast-build build: the base image', () => {
  it('an unreachable base image registry fails up front, naming the base image and the way out', async () => {
    const dir = uvProject({
      config: '[tool.fast-build]\npython = "3.12"\nbase-image = "registry.invalid/library/python:3.12-slim"\n'
    })
    const r = await cli('build', '--project', dir, '--store', `oci:${join(dir, 'out')}`)
    expect(r.code).toBe(1)
    expect(r.err).toMatch(
      /base image registry\.invalid\/library\/python:3\.12-slim: cannot reach registry\.invalid: no such host\n {2}fix: .*registry\.invalid\/library\/python@sha256:…\) needs no lookup/
    )
    expect(r.err).not.toMatch(/\n\s+at /)
  })

  it('--fast-only and --rebuild do not go together', async () => {
    const r = await cli('build', '--project', uvProject(), '--fast-only', '--rebuild', 'all')
    expect(r.code).toBe(2)
    expect(r.err).toMatch(/--rebuild builds deps images, which --fast-only forbids/)
  })
})
