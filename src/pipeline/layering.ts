// Which packages share a layer in a deps image. Pure: packages in, ordered groups out.
//
// - A heavy package (installed size over a threshold: torch, nvidia-*, scipy…) gets a layer of
//   its own, so bumping something else never re-uploads it.
// - Other packages are grouped by their sharing signature (the set of variants that install that
//   exact package), then by a stable bucket of their name: bumping one small package changes one
//   group's layer only, and a layer that every variant needs is the same blob in every variant.
// - Layers most shared across variants lie lowest (what every variant has, first).
// - A layer budget is never exceeded: when groups outnumber it, neighbours merge, smallest first,
//   and the result says so.
import type { NormalizedName } from '../names.js'

export interface LayerCandidate {
  /** What this package installs on this platform, exactly (the wheel's sha256). */
  readonly key: string
  readonly name: NormalizedName
  readonly version: string | null
  readonly installedSize: number
  /** Variants of the configuration that install this exact package on this platform. */
  readonly variants: readonly string[]
}

export interface LayerGroup {
  readonly packages: readonly LayerCandidate[]
  readonly kind: 'heavy' | 'group' | 'merged'
  /** For messages and history: the package, or the group's signature and bucket. */
  readonly label: string
}

export interface LayeringOptions {
  /** Layers available for packages (the budget less the base image's layers and the source layer). */
  readonly budget: number
  readonly heavyBytes: number
  /** Name buckets per sharing signature. Part of the layout: changing it regroups every layer. */
  readonly buckets?: number
}

export interface Layering {
  readonly groups: readonly LayerGroup[]
  readonly notes: readonly string[]
}

export const DEFAULT_BUCKETS = 8

/** FNV-1a (32 bit): a stable bucket for a name, the same on every machine and run. */
export function nameBucket(name: string, buckets: number): number {
  let h = 0x811c9dc5
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h % buckets
}

function byName(a: LayerCandidate, b: LayerCandidate): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0
}

/** What a group's packages install, in bytes. */
export const groupSize = (g: LayerGroup): number => g.packages.reduce((n, p) => n + p.installedSize, 0)

export function planLayers(packages: readonly LayerCandidate[], opts: LayeringOptions): Layering {
  const buckets = opts.buckets ?? DEFAULT_BUCKETS
  const notes: string[] = []
  const heavy: LayerGroup[] = []
  const light = new Map<string, { shared: number; members: Map<number, LayerCandidate[]> }>()
  for (const p of [...packages].sort(byName)) {
    if (p.installedSize > opts.heavyBytes) {
      heavy.push({ packages: [p], kind: 'heavy', label: `${p.name} ${p.version ?? ''}`.trim() })
      continue
    }
    const signature = [...p.variants].sort().join(',')
    let sig = light.get(signature)
    if (!sig) light.set(signature, (sig = { shared: p.variants.length, members: new Map() }))
    const b = nameBucket(p.name, buckets)
    sig.members.set(b, [...(sig.members.get(b) ?? []), p])
  }

  // Most shared first; at equal sharing, heavy before light (large and stable at the bottom),
  // then by signature and bucket, so the order is the same in every build.
  type Ordered = { shared: number; heavy: boolean; sort: string; group: LayerGroup }
  const ordered: Ordered[] = []
  for (const h of heavy) {
    ordered.push({ shared: h.packages[0]!.variants.length, heavy: true, sort: h.packages[0]!.name, group: h })
  }
  for (const [signature, sig] of light) {
    for (const [b, members] of sig.members) {
      ordered.push({
        shared: sig.shared,
        heavy: false,
        sort: `${signature}#${String(b).padStart(3, '0')}`,
        group: {
          packages: members,
          kind: 'group',
          label: `${members.length} package${members.length === 1 ? '' : 's'} (${signature || 'no variant'}, bucket ${b})`
        }
      })
    }
  }
  ordered.sort((a, b) =>
    a.shared !== b.shared
      ? b.shared - a.shared
      : a.heavy !== b.heavy
        ? a.heavy
          ? -1
          : 1
        : a.sort < b.sort
          ? -1
          : a.sort > b.sort
            ? 1
            : 0
  )
  let groups = ordered.map((o) => o.group)

  if (opts.budget < 1 && groups.length > 0) {
    throw new RangeError(`no room for package layers (budget ${opts.budget})`)
  }
  if (groups.length > opts.budget) {
    const before = groups.length
    // Merge the adjacent pair with the smallest combined size until the budget holds; light
    // pairs before any pair with a heavy package, so heavy packages stay alone as long as possible.
    while (groups.length > opts.budget) {
      let best = -1
      let bestCost = Infinity
      for (let i = 0; i + 1 < groups.length; i++) {
        const a = groups[i]!
        const b = groups[i + 1]!
        const cost =
          groupSize(a) +
          groupSize(b) +
          (a.kind === 'heavy' || b.kind === 'heavy' ? Number.MAX_SAFE_INTEGER / 2 : 0)
        if (cost < bestCost) {
          bestCost = cost
          best = i
        }
      }
      const a = groups[best]!
      const b = groups[best + 1]!
      const packagesMerged = [...a.packages, ...b.packages]
      groups = [
        ...groups.slice(0, best),
        { packages: packagesMerged, kind: 'merged', label: `${packagesMerged.length} packages (merged)` },
        ...groups.slice(best + 2)
      ]
    }
    notes.push(
      `${before} package layers would exceed the layer budget; merged into ${groups.length} (raise max-layers to keep more apart)`
    )
  }
  return { groups, notes }
}
