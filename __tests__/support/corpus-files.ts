// Every distribution file name recorded in the lock corpus, grouped per locked package
// (one release: one name and version), read straight from the TOML so that it does not depend
// on our lock readers.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'smol-toml'
import { CORPUS_DIR, corpusCaseNames } from './corpus.js'

export interface CorpusRelease {
  /** `case:name==version`, for messages. */
  readonly id: string
  /** The package name and version as the lock writes them (version null when it has none). */
  readonly name: string
  readonly version: string | null
  readonly files: string[]
}

type Table = Record<string, unknown>

function lastSegment(url: string): string {
  const path = url.split(/[?#]/)[0] ?? url
  const last = path.slice(path.lastIndexOf('/') + 1)
  try {
    return decodeURIComponent(last)
  } catch {
    return last
  }
}

function fileEntries(list: unknown): string[] {
  if (!Array.isArray(list)) return []
  return (list as Table[])
    .map((f) => (typeof f['file'] === 'string' ? f['file'] : null))
    .filter((f) => f !== null)
}

function uvFiles(pkg: Table): string[] {
  const out: string[] = []
  const one = (f: unknown): void => {
    if (f === null || typeof f !== 'object') return
    const t = f as Table
    const name = typeof t['filename'] === 'string' ? t['filename'] : null
    const ref = typeof t['url'] === 'string' ? t['url'] : typeof t['path'] === 'string' ? t['path'] : null
    if (name ?? ref) out.push(name ?? lastSegment(ref!))
  }
  if (Array.isArray(pkg['wheels'])) for (const w of pkg['wheels']) one(w)
  one(pkg['sdist'])
  return out
}

export function corpusReleases(): CorpusRelease[] {
  const releases: CorpusRelease[] = []
  for (const name of corpusCaseNames()) {
    const dir = join(CORPUS_DIR, name)
    for (const lockName of readdirSync(dir).filter((f) => f === 'poetry.lock' || f === 'uv.lock')) {
      const doc = parse(readFileSync(join(dir, lockName), 'utf8')) as Table
      const packages = (Array.isArray(doc['package']) ? doc['package'] : []) as Table[]
      const legacy = ((doc['metadata'] as Table | undefined)?.['files'] ?? {}) as Table
      for (const pkg of packages) {
        const id = `${name}:${String(pkg['name'])}==${String(pkg['version'])}`
        const files =
          lockName === 'uv.lock'
            ? uvFiles(pkg)
            : pkg['files'] !== undefined
              ? fileEntries(pkg['files'])
              : fileEntries(legacy[String(pkg['name'])])
        const version = typeof pkg['version'] === 'string' ? pkg['version'] : null
        releases.push({ id, name: String(pkg['name']), version, files })
      }
    }
  }
  return releases
}
