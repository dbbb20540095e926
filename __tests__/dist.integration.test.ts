// The bundles as users run them: `node dist/cli.cjs` (the `fast-build` bin, which runs
// dist/cli-main.cjs) and dist/index.js as
// GitHub runs an action (INPUT_* environment, GITHUB_OUTPUT file).
import { describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { isAscii } from 'node:buffer'
import { cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { uvProject, VARIANTS_CONFIG } from './support/fixtures.js'
import { tempDir } from './support/project.js'

const ROOT = resolve('.')
const CLI = join(ROOT, 'dist', 'cli.cjs')

function node(args: string[], env: NodeJS.ProcessEnv = process.env) {
  return spawnSync('node', args, { encoding: 'utf8', env, timeout: 60_000 })
}

describe('dist/cli.cjs', () => {
  it('plans the bundled example', () => {
    const r = node([CLI, 'plan', '--project', join(ROOT, 'examples', 'demo'), '--json'])
    expect(r.status).toBe(0)
    const plan = JSON.parse(r.stdout)
    expect(plan.variants.map((v: { name: string }) => v.name)).toEqual(['base', 'ml', 'dev'])
    const ml = plan.variants[1].platforms[0].packages.map((p: { name: string }) => p.name)
    expect(ml).toEqual(expect.arrayContaining(['numpy', 'pandas', 'httpx', 'pydantic']))
    expect(plan.variants[0].runtime.map((p: { name: string }) => p.name)).toEqual(['tqdm'])
  })

  it('builds the offline example into an OCI layout', () => {
    const work = tempDir()
    cpSync(join(ROOT, 'examples', 'offline'), join(work, 'p'), { recursive: true })
    const r = node([
      CLI,
      'build',
      '--project',
      join(work, 'p'),
      '--store',
      `oci:${join(work, 'images')}`,
      '--cache-dir',
      join(work, 'cache'),
      '--json'
    ])
    expect(r.stderr).not.toMatch(/failed|internal error/)
    expect(r.status).toBe(0)
    expect(JSON.parse(r.stdout).variants.map((v: { path: string }) => v.path)).toEqual(['full', 'full'])
  })

  it('keeps V8 code of itself in the cache directory; runs the same with it, damaged, or turned off', () => {
    const cache = tempDir()
    const env = { ...process.env, FAST_BUILD_CACHE_DIR: cache }
    const args = [CLI, 'plan', '--project', join(ROOT, 'examples', 'demo'), '--json']
    const first = node(args, env)
    expect(first.status).toBe(0)
    const files = readdirSync(join(cache, 'v8'))
    expect(files).toEqual([expect.stringMatching(/^plan-[0-9a-f]{32}\.bin$/)])
    const path = join(cache, 'v8', files[0]!)
    const written = statSync(path).mtimeMs
    // Taken as it is (not written again), same answer.
    const second = node(args, env)
    expect(second.stdout).toBe(first.stdout)
    expect(statSync(path).mtimeMs).toBe(written)
    // Damaged: refused before V8 sees it, same answer, written anew.
    const bytes = readFileSync(path)
    bytes[bytes.length - 100]! ^= 0xff
    writeFileSync(path, bytes)
    const third = node(args, env)
    expect([third.status, third.signal, third.error?.message, third.stderr]).toEqual([0, null, undefined, ''])
    expect(third.stdout).toBe(first.stdout)
    expect(readFileSync(path).equals(bytes)).toBe(false)
    // Turned off: nothing written.
    const off = tempDir()
    const fourth = node(args, { ...env, FAST_BUILD_CACHE_DIR: off, FAST_BUILD_CODE_CACHE: '0' })
    expect(fourth.stdout).toBe(first.stdout)
    expect(existsSync(join(off, 'v8'))).toBe(false)
  })

  it('is ASCII, and still prints what is not (a bundle read as Latin-1)', () => {
    expect(isAscii(readFileSync(join(ROOT, 'dist', 'cli-main.cjs')))).toBe(true)
    const tmp = tempDir()
    const r = node([CLI, 'plan', '--project', join(ROOT, 'examples', 'demo'), '--json'])
    const before = join(tmp, 'before.json')
    const after = join(tmp, 'after.json')
    writeFileSync(before, r.stdout)
    const plan = JSON.parse(r.stdout) as { variants: { name: string; python: string }[] }
    for (const v of plan.variants) v.python = `${v.python}9`
    writeFileSync(after, JSON.stringify(plan))
    const d = node([CLI, 'diff', before, after])
    expect(d.stdout).toContain(
      `python ${plan.variants[0]!.python.slice(0, -1)} \u2192 ${plan.variants[0]!.python}`
    )
  })

  it('reports bad input without a stack trace, exit 1', () => {
    const dir = uvProject()
    writeFileSync(join(dir, 'pyproject.toml'), '[project\nname = "x"\n')
    const r = node([CLI, 'plan', '--project', dir])
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/^error: .*pyproject\.toml:1:\d+: malformed TOML/)
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })
})

describe('dist/index.js as an action', () => {
  it('writes the plan to GITHUB_OUTPUT and the table to GITHUB_STEP_SUMMARY', () => {
    const tmp = tempDir()
    const output = join(tmp, 'output')
    const summary = join(tmp, 'summary')
    writeFileSync(output, '')
    writeFileSync(summary, '')
    const r = node([join(ROOT, 'dist', 'index.js')], {
      PATH: process.env['PATH'],
      HOME: process.env['HOME'],
      // No image configured: plan mode needs no registry (the demo names ghcr.io, unreachable here).
      INPUT_PROJECT: uvProject({ config: VARIANTS_CONFIG }),
      INPUT_VARIANTS: 'ml',
      INPUT_PLATFORMS: '',
      INPUT_MODE: 'plan',
      GITHUB_OUTPUT: output,
      GITHUB_STEP_SUMMARY: summary
    })
    expect(r.status).toBe(0)
    const out = readFileSync(output, 'utf8')
    const m = /^plan<<(.+)\n([\s\S]*?)\n\1$/m.exec(out)
    expect(m).not.toBeNull()
    expect(JSON.parse(m![2]!).variants[0].name).toBe('ml')
    expect(readFileSync(summary, 'utf8')).toMatch(/<h2>fast-build plan<\/h2>[\s\S]*<td>ml<\/td>/)
  })
})
