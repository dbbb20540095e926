// Bytes re-uploaded when one package is bumped, per corpus lock: the layer partition decides how
// much of the deps image a typical bump sends again (every package sharing the bumped one's layer
// goes up with it). For each corpus lock, its main variant on linux/amd64, python 3.11: the wheel
// each package installs, taken from the machine's wheel mirror (packages the mirror lacks are left
// out and counted), grouped by `planLayers` at several heavy-package thresholds. For each package,
// the bytes of its layer (compressed wheel sizes, which gzip -1 layers come close to) are what a
// bump of it re-uploads; the table gives the median and 90th percentile over the packages.
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { corpusCaseNames, materializeCorpusCase } from '../__tests__/support/corpus.js'
import { planLayers, type LayerCandidate } from '../src/pipeline/layering.js'
import { readLock } from '../src/lock/index.js'
import { filesForTarget } from '../src/plan/hash.js'
import { planProject } from '../src/plan/plan.js'
import { readProject } from '../src/project/pyproject.js'
import { ZipReader } from '../src/wheels/zip.js'

const MIRRORS = ['/opt/pypi/files', '/opt/pypi-more/files', '/opt/wheels']
const MB = 1024 * 1024
/** The thresholds compared: the old default first, then the candidates. */
export const THRESHOLDS_MB = [64, 32, 16, 8]

function mirrorFile(filename: string): string | null {
  for (const m of MIRRORS) {
    const p = join(m, filename)
    if (existsSync(p)) return p
  }
  return null
}

async function unpacked(path: string): Promise<number> {
  const zip = await ZipReader.open(path)
  try {
    return zip.entries.reduce((n, e) => n + e.size, 0)
  } finally {
    await zip.close()
  }
}

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(p * (s.length - 1)))] ?? 0
}

function mb(n: number): string {
  return `${(n / 1e6).toFixed(1)} MB`
}

interface Row {
  name: string
  found: number
  total: number
  perThreshold: Map<number, { median: number; p90: number; layers: number }>
}

export async function benchReupload(): Promise<Row[]> {
  if (!MIRRORS.some((m) => existsSync(m))) {
    console.log('\nre-upload per bump — skipped: no wheel mirror on this machine')
    return []
  }
  console.log(
    '\nre-upload per single-package bump (main variant, linux/amd64, python 3.11; wheels from the mirror)'
  )
  const rows: Row[] = []
  for (const name of corpusCaseNames()) {
    const c = materializeCorpusCase(name)
    let plan
    try {
      const project = readProject(c.projectDir)
      const { lock } = readLock(project)
      plan = planProject(project, lock, {
        python: { major: 3, minor: 11, patch: undefined },
        platforms: [{ os: 'linux', architecture: 'amd64' }]
      })
    } catch (e) {
      console.log(`  ${name}: not planned (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`)
      continue
    }
    const v = plan.variants[0]
    if (!v) continue
    const p = v.platforms[0]!
    const candidates: (LayerCandidate & { compressed: number })[] = []
    for (const e of p.closure.installed) {
      const [file] = filesForTarget(e.package.files, p.target)
      if (!file || file.kind !== 'wheel') continue
      const path = mirrorFile(file.name)
      if (!path) continue
      candidates.push({
        key: file.hashes['sha256'] ?? file.name,
        name: e.package.name,
        version: e.package.version,
        installedSize: await unpacked(path),
        variants: [v.name],
        compressed: statSync(path).size
      })
    }
    const row: Row = {
      name,
      found: candidates.length,
      total: p.closure.installed.length,
      perThreshold: new Map()
    }
    if (candidates.length === 0) continue
    const compressed = new Map(candidates.map((x) => [x.key, x.compressed]))
    for (const t of THRESHOLDS_MB) {
      const layering = planLayers(candidates, { budget: 98, heavyBytes: t * MB })
      const layerOf = new Map<string, number>()
      for (const g of layering.groups) {
        const bytes = g.packages.reduce((n, x) => n + compressed.get(x.key)!, 0)
        for (const x of g.packages) layerOf.set(x.key, bytes)
      }
      const bumps = candidates.map((x) => layerOf.get(x.key)!)
      row.perThreshold.set(t, {
        median: percentile(bumps, 0.5),
        p90: percentile(bumps, 0.9),
        layers: layering.groups.length
      })
    }
    rows.push(row)
    const cells = THRESHOLDS_MB.map((t) => {
      const r = row.perThreshold.get(t)!
      return `${t} MB: ${mb(r.median)} / ${mb(r.p90)} (${r.layers} layers)`
    })
    console.log(
      `  ${name.padEnd(22)} ${String(row.found).padStart(3)}/${String(row.total).padEnd(3)} wheels  ${cells.join('  ')}`
    )
  }
  console.log(
    '  (each cell: heavy-package threshold: median / 90th percentile of bytes re-uploaded per bump)'
  )
  return rows
}
