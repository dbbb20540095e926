// What a pull request shows of a run, as data: the check run (summary and notice annotations on
// the lock-file lines of the packages that caused each rebuild), one commit status per variant,
// and the body of the one comment fast-build keeps up to date. Pure: publish.ts sends them.
import { normalizeName } from '../names.js'
import { describeChange, type PackageChange } from '../plan/diff.js'
import type { SummaryRow } from './summary.js'

/** Where each [[package]] of a lock starts: `name = "…"` line (1-based) and its version. */
export interface LockEntryLine {
  readonly line: number
  readonly version: string | null
}

/**
 * The lines of a lock's package entries by normalized name (poetry.lock and uv.lock use
 * `[[package]]`, pylock.toml `[[packages]]`; each entry's `name` and `version` keys follow its
 * header). A line scan, not a TOML parse: the lock was parsed already, this only needs positions.
 */
export function lockEntryLines(text: string): Map<string, LockEntryLine[]> {
  const out = new Map<string, LockEntryLine[]>()
  const lines = text.split('\n')
  let inEntry = false
  let current: { name: string; line: number; version: string | null } | null = null
  let pendingVersion: string | null = null
  const flush = () => {
    if (!current) return
    const key = normalizeName(current.name) as string
    const list = out.get(key) ?? []
    list.push({ line: current.line, version: current.version })
    out.set(key, list)
    current = null
  }
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!.trim()
    if (l.startsWith('[')) {
      // Sub-tables ([package.metadata], [[package.wheels]]…) belong to the entry above.
      if (l === '[[package]]' || l === '[[packages]]') {
        flush()
        inEntry = true
        pendingVersion = null
      } else if (!/^\[\[?(package|packages)\./.test(l)) {
        flush()
        inEntry = false
      }
      continue
    }
    if (!inEntry) continue
    const m = /^(name|version)\s*=\s*"([^"]*)"/.exec(l)
    if (!m) continue
    // Either key may come first (TOML does not order keys).
    if (m[1] === 'name' && !current) current = { name: m[2]!, line: i + 1, version: pendingVersion }
    else if (m[1] === 'version' && current && current.version === null) current.version = m[2]!
    else if (m[1] === 'version' && !current) pendingVersion = m[2]!
  }
  flush()
  return out
}

export interface Annotation {
  readonly path: string
  readonly start_line: number
  readonly end_line: number
  readonly annotation_level: 'notice' | 'warning' | 'failure'
  readonly title: string
  readonly message: string
}

/** Why a variant rebuilt, package by package: the changes a notice annotation can point at. */
export interface RebuildCause {
  readonly variant: string
  readonly changes: readonly PackageChange[]
}

/**
 * One notice per changed package still in the lock, on its entry's `name` line, naming every
 * variant it rebuilt. A removed package has no line left to point at (the summary lists it).
 */
export function rebuildAnnotations(
  lockPath: string,
  lockText: string,
  causes: readonly RebuildCause[]
): Annotation[] {
  const lines = lockEntryLines(lockText)
  const byLine = new Map<number, { text: string; variants: string[] }>()
  for (const cause of causes) {
    for (const c of cause.changes) {
      if (c.kind === 'removed') continue
      const entries = lines.get(normalizeName(c.name) as string) ?? []
      const version = c.kind === 'version' ? c.to : c.version
      const entry = entries.find((e) => e.version === version) ?? entries[0]
      if (!entry) continue
      const at = byLine.get(entry.line) ?? { text: describeChange(c), variants: [] }
      if (!at.variants.includes(cause.variant)) at.variants.push(cause.variant)
      byLine.set(entry.line, at)
    }
  }
  return [...byLine.entries()]
    .sort(([a], [b]) => a - b)
    .map(([line, { text, variants }]) => ({
      path: lockPath,
      start_line: line,
      end_line: line,
      annotation_level: 'notice' as const,
      title: `fast-build: ${variants.join(', ')} rebuilt`,
      message: `${text}: the deps image of ${variants.join(', ')} was rebuilt for this change`
    }))
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ')
}

/** The summary table in Markdown (check runs and comments take Markdown, not the HTML of the job summary). */
export function markdownTable(rows: readonly SummaryRow[]): string {
  const head = '| variant | path | why | image | uploaded | seconds |\n| --- | --- | --- | --- | --- | --- |'
  const body = rows.map(
    (r) =>
      `| ${cell(r.variant)} | ${cell(r.path)} | ${r.why.map(cell).join('<br>')} | ${r.image === '–' ? '–' : `\`${cell(r.image)}\``} | ${cell(r.uploaded)} | ${cell(r.seconds)} |`
  )
  return [head, ...body].join('\n')
}

export interface RunReport {
  readonly rows: readonly SummaryRow[]
  /** Variants that failed (their rows say why). */
  readonly failed: readonly string[]
  readonly planOnly: boolean
  /** A line under the table (plan only, fork, lock). */
  readonly notes: readonly string[]
}

function title(r: RunReport): string {
  const rebuilt = r.rows.filter((x) => x.path.startsWith('full') || x.path.startsWith('invalidated'))
  if (r.failed.length) return `${r.failed.length} of ${r.rows.length} variants failed`
  const verb = r.planOnly ? 'would rebuild' : 'rebuilt'
  return rebuilt.length === 0
    ? `fast path for all ${r.rows.length} variants`
    : `${rebuilt.map((x) => x.variant).join(', ')} ${verb}; ${r.rows.length - rebuilt.length} on the fast path`
}

/** Most annotations one check-run request may carry (the API refuses more). */
export const ANNOTATIONS_PER_REQUEST = 50

export interface CheckRunPayload {
  readonly name: 'fast-build'
  readonly head_sha: string
  readonly status: 'completed'
  readonly conclusion: 'success' | 'failure' | 'neutral'
  readonly output: { title: string; summary: string; annotations: Annotation[] }
}

/** The check run's creation and, when more than 50 annotations, the batches that follow it. */
export function checkRunPayloads(
  headSha: string,
  report: RunReport,
  annotations: readonly Annotation[]
): { create: CheckRunPayload; more: Annotation[][] } {
  const summary = [markdownTable(report.rows), '', ...report.notes].join('\n')
  const t = title(report)
  const batches: Annotation[][] = []
  for (let i = 0; i < annotations.length; i += ANNOTATIONS_PER_REQUEST)
    batches.push(annotations.slice(i, i + ANNOTATIONS_PER_REQUEST))
  return {
    create: {
      name: 'fast-build',
      head_sha: headSha,
      status: 'completed',
      conclusion: report.failed.length ? 'failure' : report.planOnly ? 'neutral' : 'success',
      output: { title: t, summary, annotations: batches[0] ?? [] }
    },
    more: batches.slice(1)
  }
}

export interface StatusPayload {
  readonly context: string
  readonly state: 'success' | 'failure' | 'error' | 'pending'
  readonly description: string
}

/** GitHub cuts a status description at 140 characters; cut it ourselves, on a word. */
function shortDescription(text: string): string {
  if (text.length <= 140) return text
  const cut = text.slice(0, 139)
  return `${cut.slice(0, Math.max(cut.lastIndexOf(' '), 100))}…`
}

export function statusPayloads(report: RunReport): StatusPayload[] {
  return report.rows.map((r) => ({
    context: `fast-build/${r.variant}`,
    state: report.failed.includes(r.variant) ? 'failure' : 'success',
    description: shortDescription(`${r.path}: ${r.why.join('; ') || 'no change'}`)
  }))
}

/** Marks the comment fast-build owns, so the next run edits it instead of adding one. */
export const COMMENT_MARKER = '<!-- fast-build:report -->'

export function commentBody(report: RunReport, sha: string | null): string {
  return [
    COMMENT_MARKER,
    `### fast-build: ${title(report)}`,
    '',
    markdownTable(report.rows),
    '',
    ...report.notes,
    ...(sha ? ['', `<sub>for ${sha.slice(0, 12)}; this comment is updated on every push</sub>`] : [])
  ].join('\n')
}
