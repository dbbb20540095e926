import { describe, expect, it } from '@jest/globals'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'smol-toml'
import { failureMessage } from '../../src/github/publish.js'
import {
  ANNOTATIONS_PER_REQUEST,
  checkRunPayloads,
  commentBody,
  COMMENT_MARKER,
  lockEntryLines,
  markdownTable,
  rebuildAnnotations,
  statusPayloads,
  type RunReport
} from '../../src/github/report.js'
import type { SummaryRow } from '../../src/github/summary.js'
import { normalizeName } from '../../src/names.js'

const CORPUS = join('__tests__', 'corpus')
const locks = readdirSync(CORPUS)
  .filter((d) => !d.includes('.'))
  .flatMap((d) =>
    ['uv.lock', 'poetry.lock']
      .filter((f) => readdirSync(join(CORPUS, d)).includes(f))
      .map((f) => join(CORPUS, d, f))
  )

describe('lockEntryLines', () => {
  it.each(locks)('points at every package entry of %s, as a TOML parser sees them', (path) => {
    const text = readFileSync(path, 'utf8')
    const packages = (parse(text) as { package: { name: string; version?: string }[] }).package
    const found = lockEntryLines(text)
    const lines = text.split('\n')
    expect([...found.values()].flat()).toHaveLength(packages.length)
    for (const p of packages) {
      const entries = found.get(normalizeName(p.name) as string) ?? []
      const hit = entries.find((e) => e.version === (p.version ?? null))
      expect(hit).toBeDefined()
      expect(lines[hit!.line - 1]).toBe(`name = "${p.name}"`)
    }
  })

  it('reads pylock.toml [[packages]] and skips sub-tables', () => {
    const text = `lock-version = "1.0"
[[packages]]
name = "Torch"
version = "2.6.0"
[[packages.wheels]]
name = "torch-2.6.0-cp311-none-any.whl"
[[packages]]
version = "1.0"
name = "six"
[tool.x]
name = "not-a-package"
`
    expect(Object.fromEntries(lockEntryLines(text))).toEqual({
      torch: [{ line: 3, version: '2.6.0' }],
      six: [{ line: 9, version: '1.0' }]
    })
  })
})

const LOCK = `version = 1

[[package]]
name = "einops"
version = "0.8.0"

[[package]]
name = "torch"
version = "2.5.1"

[[package]]
name = "torch"
version = "2.6.0"
`

describe('rebuildAnnotations', () => {
  it('one notice per changed package, on the entry of its new version, naming every variant it rebuilt', () => {
    const a = rebuildAnnotations('svc/uv.lock', LOCK, [
      {
        variant: 'ml',
        changes: [
          { kind: 'version', name: 'torch', from: '2.5.1', to: '2.6.0' },
          { kind: 'added', name: 'einops', version: '0.8.0' },
          { kind: 'removed', name: 'gone', version: '1.0' }
        ]
      },
      { variant: 'gpu', changes: [{ kind: 'version', name: 'torch', from: '2.5.1', to: '2.6.0' }] }
    ])
    expect(a).toEqual([
      {
        path: 'svc/uv.lock',
        start_line: 4,
        end_line: 4,
        annotation_level: 'notice',
        title: 'fast-build: ml rebuilt',
        message: '+ einops 0.8.0: the deps image of ml was rebuilt for this change'
      },
      {
        path: 'svc/uv.lock',
        start_line: 12,
        end_line: 12,
        annotation_level: 'notice',
        title: 'fast-build: ml, gpu rebuilt',
        message: 'torch 2.5.1 → 2.6.0: the deps image of ml, gpu was rebuilt for this change'
      }
    ])
  })
})

const row = (variant: string, path: string, why: string[]): SummaryRow => ({
  variant,
  path,
  why,
  image: `r/app:${variant}-abc@sha256:00`,
  layers: '',
  uploaded: '1 kB',
  seconds: '0.5'
})

const report: RunReport = {
  rows: [row('base', 'fast', ['deps image found']), row('ml', 'full', ['torch 2.5.1 → 2.6.0', 'a|b'])],
  failed: [],
  planOnly: false,
  notes: ['Lock: `uv.lock`; 2 variants.']
}

describe('payloads', () => {
  it('the check run: a title saying what rebuilt, the table, annotations in batches of 50', () => {
    const many = Array.from({ length: 120 }, (_, i) => ({
      path: 'uv.lock',
      start_line: i + 1,
      end_line: i + 1,
      annotation_level: 'notice' as const,
      title: 't',
      message: 'm'
    }))
    const { create, more } = checkRunPayloads('f00', report, many)
    expect(create).toMatchObject({
      name: 'fast-build',
      head_sha: 'f00',
      status: 'completed',
      conclusion: 'success',
      output: { title: 'ml rebuilt; 1 on the fast path' }
    })
    expect(create.output.annotations).toHaveLength(ANNOTATIONS_PER_REQUEST)
    expect(more.map((b) => b.length)).toEqual([50, 20])
    expect(create.output.summary).toContain('| ml | full | torch 2.5.1 → 2.6.0<br>a\\|b |')
    expect(checkRunPayloads('f00', { ...report, failed: ['ml'] }, []).create.conclusion).toBe('failure')
  })

  it('one status per variant, its description cut to GitHub’s 140 characters', () => {
    const long = { ...report, rows: [row('ml', 'full', ['x'.repeat(50), 'y '.repeat(80)])] }
    const [s] = statusPayloads(long)
    expect(s!.context).toBe('fast-build/ml')
    expect(s!.state).toBe('success')
    expect(s!.description.length).toBeLessThanOrEqual(140)
    expect(statusPayloads({ ...report, failed: ['ml'] }).map((x) => x.state)).toEqual(['success', 'failure'])
  })

  it('the comment carries the marker that finds it again', () => {
    const body = commentBody(report, '0123456789abcdef')
    expect(body.startsWith(COMMENT_MARKER)).toBe(true)
    expect(body).toContain('### fast-build: ml rebuilt; 1 on the fast path')
    expect(body).toContain(markdownTable(report.rows))
    expect(body).toContain('for 0123456789ab')
  })
})

describe('failureMessage', () => {
  it('names the permission GitHub asked for', () => {
    const e = Object.assign(new Error('Resource not accessible by integration'), {
      status: 403,
      response: { headers: { 'x-accepted-github-permissions': 'checks=write' } }
    })
    expect(failureMessage('create the check run', 'checks: write', e)).toBe(
      'fast-build could not create the check run: the workflow token lacks checks: write. Add it to the job: permissions: { checks: write } (the build itself is not affected)'
    )
  })
  it('other failures say what happened', () => {
    expect(failureMessage('post statuses', 'statuses: write', new Error('socket hang up'))).toMatch(
      /^fast-build could not post statuses: socket hang up/
    )
  })
})
