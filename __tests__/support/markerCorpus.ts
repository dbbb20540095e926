// Every marker and PEP 508 requirement string in the real lock corpus (../shared/corpus):
// the locks, the projects' pyproject.toml files and their members'. The TOML is parsed and
// walked, so strings are found by the key they sit under, not by their look:
// - markers: string values anywhere under a key named marker, markers (a string, or Poetry's
//   table of group -> marker), resolution-markers, supported-markers, required-markers,
//   environments or required-environments (uv);
// - requirements: strings in arrays under dependencies, optional-dependencies,
//   dependency-groups, requires, extras (poetry.lock `[package.extras]`), dev-dependencies,
//   constraint-dependencies, override-dependencies.
// In pyproject.toml only the packaging tables are read (project, dependency-groups,
// build-system, tool.poetry, tool.uv): `[tool.pytest.ini_options] markers` are pytest's, and
// hatch's metadata hooks hold templates (`pkg=={{ version }}`), not requirements.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'smol-toml'
import { CORPUS_DIR, corpusCaseNames } from './corpus.js'

const MARKER_KEYS = new Set([
  'marker',
  'markers',
  'resolution-markers',
  'supported-markers',
  'required-markers',
  'environments',
  'required-environments'
])

const REQUIREMENT_KEYS = new Set([
  'dependencies',
  'optional-dependencies',
  'dependency-groups',
  'requires',
  'extras',
  'dev-dependencies',
  'constraint-dependencies',
  'override-dependencies'
])

export interface CorpusStrings {
  /** Distinct marker strings, sorted. */
  markers: string[]
  /** Distinct requirement strings, sorted. */
  requirements: string[]
  /** Files read, relative to the corpus directory. */
  files: string[]
}

function tomlFiles(dir: string, rel: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir).sort()) {
    const full = join(dir, entry)
    if (statSync(full).isDirectory()) out.push(...tomlFiles(full, join(rel, entry)))
    else if (/^(poetry\.lock|uv\.lock|pyproject\.toml)$/.test(entry)) out.push(join(rel, entry))
  }
  return out
}

let collected: CorpusStrings | null = null

export function corpusStrings(): CorpusStrings {
  if (collected) return collected
  const markers = new Set<string>()
  const requirements = new Set<string>()
  const files = corpusCaseNames().flatMap((name) => tomlFiles(join(CORPUS_DIR, name), name))

  const walk = (value: unknown, inMarker: boolean, inRequirements: boolean, inArray: boolean): void => {
    if (typeof value === 'string') {
      if (inMarker) markers.add(value)
      else if (inRequirements && inArray) requirements.add(value)
    } else if (Array.isArray(value)) {
      for (const v of value) walk(v, inMarker, inRequirements, true)
    } else if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
      for (const [k, v] of Object.entries(value)) {
        walk(v, inMarker || MARKER_KEYS.has(k), inRequirements || REQUIREMENT_KEYS.has(k), false)
      }
    }
  }
  for (const file of files) {
    const doc = parse(readFileSync(join(CORPUS_DIR, file), 'utf8'))
    if (file.endsWith('.lock')) {
      walk(doc, false, false, false)
    } else {
      const {
        project,
        'dependency-groups': groups,
        'build-system': build,
        tool
      } = doc as Record<string, unknown>
      const { poetry, uv } = (tool ?? {}) as Record<string, unknown>
      walk({ project, 'dependency-groups': groups, 'build-system': build, poetry, uv }, false, false, false)
    }
  }

  collected = { markers: [...markers].sort(), requirements: [...requirements].sort(), files }
  return collected
}
