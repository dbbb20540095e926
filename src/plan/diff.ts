// What changed between two plans, per variant and platform: the "why" of a rebuild.
import type { PackageJson, PlanJson } from './plan.js'

export type PackageChange =
  | { kind: 'added'; name: string; version: string | null }
  | { kind: 'removed'; name: string; version: string | null }
  | { kind: 'version'; name: string; from: string | null; to: string | null }
  | { kind: 'source'; name: string; version: string | null; from: string; to: string }
  | { kind: 'file'; name: string; version: string | null; from: string; to: string }

export interface VariantDiff {
  variant: string
  /** `failed`: the new plan could not plan it (`error` says why). */
  status: 'added' | 'removed' | 'changed' | 'unchanged' | 'failed'
  oldHash: string | null
  newHash: string | null
  /** Changes that are not about packages: python, base image, platforms. */
  settings: string[]
  platforms: { platform: string; changes: PackageChange[] }[]
  /** The new plan's error for a failed variant. */
  error?: string
}

type Variant = PlanJson['variants'][number]

export function diffPackages(before: readonly PackageJson[], after: readonly PackageJson[]): PackageChange[] {
  const a = new Map(before.map((p) => [p.name, p]))
  const b = new Map(after.map((p) => [p.name, p]))
  const changes: PackageChange[] = []
  for (const name of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const x = a.get(name)
    const y = b.get(name)
    if (!x && y) changes.push({ kind: 'added', name, version: y.version })
    else if (x && !y) changes.push({ kind: 'removed', name, version: x.version })
    else if (x && y) {
      if (x.version !== y.version) changes.push({ kind: 'version', name, from: x.version, to: y.version })
      else if (x.source !== y.source)
        changes.push({ kind: 'source', name, version: y.version, from: x.source, to: y.source })
      else if ((x.sha256 ?? x.file) !== (y.sha256 ?? y.file)) {
        changes.push({
          kind: 'file',
          name,
          version: y.version,
          from: x.file ?? x.sha256 ?? '?',
          to: y.file ?? y.sha256 ?? '?'
        })
      }
    }
  }
  return changes
}

export function diffVariant(
  name: string,
  before: Variant | undefined,
  after: Variant | undefined
): VariantDiff {
  const settings: string[] = []
  if (before && after) {
    if (before.python !== after.python) settings.push(`python ${before.python} → ${after.python}`)
    if (before.baseImage !== after.baseImage)
      settings.push(`base image ${before.baseImage} → ${after.baseImage}`)
  }
  const platforms: VariantDiff['platforms'] = []
  const names = [
    ...new Set([...(before?.platforms ?? []), ...(after?.platforms ?? [])].map((p) => p.platform))
  ]
  for (const platform of names) {
    const x = before?.platforms.find((p) => p.platform === platform)
    const y = after?.platforms.find((p) => p.platform === platform)
    if (before && after && !x) settings.push(`+ platform ${platform}`)
    if (before && after && !y) settings.push(`- platform ${platform}`)
    platforms.push({ platform, changes: diffPackages(x?.packages ?? [], y?.packages ?? []) })
  }
  const status = !before ? 'added' : !after ? 'removed' : before.hash === after.hash ? 'unchanged' : 'changed'
  return {
    variant: name,
    status,
    oldHash: before?.hash ?? null,
    newHash: after?.hash ?? null,
    settings,
    platforms
  }
}

export function diffPlans(before: PlanJson, after: PlanJson): VariantDiff[] {
  const failed = new Map((after.failed ?? []).map((f) => [f.name, f.error]))
  const names = [
    ...new Set([
      ...before.variants.map((v) => v.name),
      ...after.variants.map((v) => v.name),
      ...failed.keys()
    ])
  ]
  return names.map((n) => {
    const d = diffVariant(
      n,
      before.variants.find((v) => v.name === n),
      after.variants.find((v) => v.name === n)
    )
    // A variant the new plan could not plan is not "removed": say that it failed, and why.
    const error = failed.get(n)
    return error === undefined ? d : { ...d, status: 'failed', newHash: null, platforms: [], error }
  })
}

export function describeChange(c: PackageChange): string {
  switch (c.kind) {
    case 'added':
      return `+ ${c.name} ${c.version ?? ''}`.trim()
    case 'removed':
      return `- ${c.name} ${c.version ?? ''}`.trim()
    case 'version':
      return `${c.name} ${c.from ?? '(dynamic)'} → ${c.to ?? '(dynamic)'}`
    case 'source':
      return `${c.name} ${c.version ?? ''} source ${c.from} → ${c.to}`
    case 'file':
      return `${c.name} ${c.version ?? ''} file ${c.from} → ${c.to}`
  }
}

/**
 * One line per variant, the changes merged over platforms (a change on every platform is shown
 * once; one on some platforms names them).
 */
export function summarizeVariantDiff(d: VariantDiff): string[] {
  if (d.status === 'added') return ['new variant']
  if (d.status === 'removed') return ['variant removed']
  if (d.status === 'failed') return [`does not plan: ${(d.error ?? '').split('\n')[0]}`]
  const lines = [...d.settings]
  const seen = new Map<string, string[]>()
  for (const p of d.platforms) {
    for (const c of p.changes) {
      const text = describeChange(c)
      seen.set(text, [...(seen.get(text) ?? []), p.platform])
    }
  }
  for (const [text, platforms] of seen) {
    lines.push(platforms.length === d.platforms.length ? text : `${text} (${platforms.join(', ')})`)
  }
  if (lines.length === 0 && d.status === 'changed')
    lines.push('hash inputs changed (schema, libc or cache epoch)')
  return lines
}
