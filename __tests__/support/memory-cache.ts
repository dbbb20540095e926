// An Actions cache in memory behind the CacheBackend interface, for tests of the action that
// need a cache but not its wire protocol (that is the cache service stand-in's: cache-server.ts).
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { CacheBackend } from '../../src/github/cache.js'

/** An Actions cache in memory, with @actions/cache's semantics: exact key, then newest prefix. */
export function memoryCache(): CacheBackend & {
  entries: Map<string, Map<string, Buffer>>
  failing: boolean
  calls: number
} {
  const entries = new Map<string, Map<string, Buffer>>()
  const collect = (paths: string[]) => {
    const files = new Map<string, Buffer>()
    for (const p of paths) {
      if (p.endsWith('*.json')) {
        const dir = dirname(p)
        if (existsSync(dir))
          for (const f of readdirSync(dir))
            if (f.endsWith('.json')) files.set(join(dir, f), readFileSync(join(dir, f)))
      } else if (existsSync(p) && statSync(p).isDirectory()) {
        for (const f of readdirSync(p)) files.set(join(p, f), readFileSync(join(p, f)))
      } else if (existsSync(p)) files.set(p, readFileSync(p))
    }
    return files
  }
  const backend = {
    entries,
    failing: false,
    calls: 0,
    available: () => true,
    async restore(_paths: string[], key: string, restoreKeys: string[]) {
      backend.calls++
      if (backend.failing) throw new Error('cache service unavailable (503)')
      let hit = entries.has(key) ? key : undefined
      for (const prefix of restoreKeys) {
        if (hit) break
        hit = [...entries.keys()].reverse().find((k) => k.startsWith(prefix))
      }
      if (!hit) return undefined
      for (const [path, bytes] of entries.get(hit)!) {
        mkdirSync(dirname(path), { recursive: true })
        writeFileSync(path, bytes)
      }
      return hit
    },
    async save(paths: string[], key: string) {
      backend.calls++
      if (backend.failing) throw new Error('cache service unavailable (503)')
      if (entries.has(key)) {
        const e = new Error(
          `Unable to reserve cache with key ${key}, another job may be creating this cache.`
        )
        e.name = 'ReserveCacheError'
        throw e
      }
      entries.set(key, collect(paths))
      return entries.size
    }
  }
  return backend
}
