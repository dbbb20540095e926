// The job summary and the reasons it gives, as data: pure functions from the build's results to
// table rows; main.ts hands them to core.summary.
import { describeError } from '../errors.js'
import type { Decision, DecisionReason } from '../pipeline/resolve.js'
import type { VariantResult } from '../pipeline/results.js'
import { formatBytes } from '../util/format.js'
import { diffVariant, summarizeVariantDiff } from '../plan/diff.js'
import type { PlanJson } from '../plan/plan.js'

type VariantJson = PlanJson['variants'][number]

/** Why a variant takes the full path: what changed since the last build of it that the cache remembers. */
export function reasonsFor(
  decision: DecisionReason,
  previous: VariantJson | null,
  current: VariantJson
): string[] {
  const lines: string[] = []
  if (decision === 'invalidated') lines.push('invalidated (invalidate input)')
  if (decision === 'fast') return ['deps image found']
  // The lookup's error says it all (summaryRow adds it).
  if (decision === 'failed') return []
  if (!previous) {
    lines.push('no earlier build of this variant in the cache')
    return lines
  }
  if (previous.hash === current.hash) {
    if (decision === 'full') lines.push('deps image missing from the registry')
    return lines
  }
  lines.push(...summarizeVariantDiff(diffVariant(current.name, previous, current)))
  return lines
}

export interface SummaryRow {
  readonly variant: string
  readonly path: string
  readonly why: readonly string[]
  readonly image: string
  readonly layers: string
  readonly uploaded: string
  readonly seconds: string
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** What a summary row needs of a decision. */
export type DecisionRow = Pick<Decision, 'variant' | 'reason' | 'depsRef' | 'error'>

export function summaryRow(d: DecisionRow, why: readonly string[], r: VariantResult | null): SummaryRow {
  const path = r
    ? r.path === 'full' && d.reason === 'invalidated'
      ? 'invalidated'
      : r.path
    : d.reason === 'failed'
      ? 'failed'
      : `${d.reason} (planned)`
  const error = r?.error ?? (d.reason === 'failed' && d.error ? describeError(d.error) : null)
  const layers = !r
    ? '–'
    : r.full?.builder === 'dockerfile'
      ? 'deps image by the Dockerfile builder, source layer'
      : r.full
        ? `${r.full.layersUploaded} of ${r.full.layers} deps layers uploaded, source layer`
        : r.path === 'fast'
          ? 'source layer only'
          : '–'
  const bytes = r ? r.bytesUploaded + (r.full?.bytesUploaded ?? 0) : 0
  return {
    variant: d.variant,
    path,
    why: [
      ...why,
      ...(r?.full?.builderReason ? [`Dockerfile builder: ${r.full.builderReason}`] : []),
      ...(error ? [`error: ${error.split('\n')[0]}`] : [])
    ],
    image: r?.appRef ?? (r ? '–' : d.depsRef),
    layers,
    uploaded: r ? formatBytes(bytes) : '–',
    seconds: r ? r.seconds.toFixed(1) : '–'
  }
}

/** The rows as core.summary.addTable takes them (cells are HTML; text is escaped). */
export function summaryTable(rows: readonly SummaryRow[]): { data: string; header?: boolean }[][] {
  const head = ['variant', 'path', 'why', 'image', 'layers', 'uploaded', 'seconds'].map((h) => ({
    data: h,
    header: true
  }))
  return [
    head,
    ...rows.map((r) => [
      { data: escapeHtml(r.variant) },
      { data: escapeHtml(r.path) },
      { data: r.why.map(escapeHtml).join('<br>') },
      { data: r.image === '–' ? '–' : `<code>${escapeHtml(r.image)}</code>` },
      { data: escapeHtml(r.layers) },
      { data: escapeHtml(r.uploaded) },
      { data: escapeHtml(r.seconds) }
    ])
  ]
}
