// The CLI end to end in-process: plan (table and JSON), diff, and what bad input gets.
import { describe, expect, it } from '@jest/globals'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cli } from './support/cli.js'
import { DEFAULT_PACKAGES, uvProject, VARIANTS_CONFIG } from './support/fixtures.js'
import { tempDir, writeFiles } from './support/project.js'

const TORCH = '__tests__/fixtures/uv-torch-conflicts'

describe('fast-build plan', () => {
  it('prints a table of variants, platforms and hashes', async () => {
    const dir = uvProject({ config: VARIANTS_CONFIG })
    const r = await cli('plan', '--project', dir)
    expect(r.code).toBe(0)
    const lines = r.out.trim().split('\n')
    expect(lines[0]).toMatch(/^variant\s+platform\s+hash\s+packages\s+local\s+runtime\s+builder$/)
    expect(lines.slice(2).map((l) => l.split(/\s+/).slice(0, 2).join(' '))).toEqual([
      'base linux/amd64',
      'ml linux/amd64',
      'dev linux/amd64'
    ])
    // base: requests, certifi, idna; ml adds numpy; dev adds pytest, iniconfig; exp (runtime) adds rich.
    expect(lines.slice(2).map((l) => l.split(/\s+/).slice(3).join(' '))).toEqual([
      '3 app 1 wheels',
      '4 app 1 wheels',
      '5 app 1 wheels'
    ])
  })

  it('the builder column says why auto sends a variant to the Dockerfile builder', async () => {
    // pytest published as an sdist only: the wheels builder cannot install dev's closure.
    const packages = DEFAULT_PACKAGES.map((p) => (p.name === 'pytest' ? { ...p, wheels: [] } : p))
    const r = await cli('plan', '--project', uvProject({ config: VARIANTS_CONFIG, packages }))
    expect(r.code).toBe(0)
    const builder = (variant: string) =>
      r.out
        .split('\n')
        .find((l) => l.startsWith(`${variant} `))!
        .replace(/^(\S+\s+){6}/, '')
    expect(builder('base')).toBe('wheels')
    expect(builder('dev')).toBe('dockerfile (auto: no wheel for pytest 8.3.3)')
  })

  it('a variant that cannot be planned: the others are printed, then its error, and exit 1', async () => {
    const r = await cli('plan', '--project', TORCH)
    expect(r.code).toBe(1)
    expect(
      r.out
        .split('\n')
        .slice(2, -1)
        .map((l) => l.split(/\s+/)[0])
    ).toEqual(['none', 'cpu', 'cu124'])
    expect(r.err).toMatch(
      /^error: __tests__\/fixtures\/uv-torch-conflicts\/uv\.lock:9: conflicts: variant both selects conflicting items: project\[cpu\] with project\[cu124\]\. .*\n {2}fix: drop one of them from the variant, or make two variants, one with each\n$/m
    )
    const json = await cli('plan', '--project', TORCH, '--json')
    expect(json.code).toBe(1)
    const plan = json.json()
    expect(plan.variants.map((v: { name: string }) => v.name)).toEqual(['none', 'cpu', 'cu124'])
    expect(plan.failed).toEqual([
      {
        name: 'both',
        error: expect.stringMatching(
          /^__tests__\/fixtures\/uv-torch-conflicts\/uv\.lock:9: conflicts: variant both selects/
        )
      }
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

  it('a variant the new plan cannot plan shows as failed, with its error', async () => {
    const dir = tempDir()
    const before = join(dir, 'before.json')
    const after = join(dir, 'after.json')
    writeFileSync(before, (await cli('plan', '--project', TORCH, '--json', '--variant', 'cpu')).out)
    writeFileSync(
      after,
      (await cli('plan', '--project', TORCH, '--json', '--variant', 'cpu', '--variant', 'both')).out
    )
    const r = await cli('diff', before, after)
    expect(r.code).toBe(0)
    expect(r.out).toMatch(/^cpu: unchanged$/m)
    expect(r.out).toMatch(/^both: failed\n {2}does not plan: .*variant both selects conflicting items/m)
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
