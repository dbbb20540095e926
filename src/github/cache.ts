// The Actions cache as fast-build uses it: hints that save work, never the truth. Two kinds of
// entries, both immutable and keyed by content so that only what is new is ever saved:
//
//   fast-build-v1-index-<variant>-<hash16>   the layer index (CacheLayout.layerIndexEntry: each
//       layer's descriptor by the wheels it holds, each wheel's unpacked size, the variant's plan
//       at that hash, the base images' Python facts). A few kB. Restored by exact key, else the newest of
//       that variant, else of any variant (layers are shared across variants); a descriptor is
//       trusted only once the registry has its blob.
//   fast-build-v1-wheel-<sha256>             one wheel, restored only when a layer holding it
//       must be built, and checked against its digest before use.
//
// A cache service that is down, slow or full costs a warning and some speed, never the build:
// every call has a deadline and every failure is caught here. After the first failure the cache
// is left alone for the rest of the run: @actions/cache retries a failing service for about 30 s
// per call, and a build making dozens of calls would otherwise wait minutes for nothing.
import * as actionsCache from '@actions/cache'
import { createHash } from 'node:crypto'
import { createReadStream, existsSync, linkSync, mkdirSync, copyFileSync, rmSync, statSync } from 'node:fs'
import { dirname } from 'node:path'
import { describeError } from '../errors.js'
import type { ArtifactCache } from '../cache/artifacts.js'
import type { CacheLayout } from '../cache/layout.js'
import { limit } from '../util/limit.js'

/** The part of @actions/cache fast-build uses (a seam for tests of the logic above it). */
export interface CacheBackend {
  available(): boolean
  restore(paths: string[], key: string, restoreKeys: string[]): Promise<string | undefined>
  /** The entry's id; -1 (or a throw) when it was not saved. */
  save(paths: string[], key: string): Promise<number>
}

export function actionsCacheBackend(): CacheBackend {
  return {
    available: () => actionsCache.isFeatureAvailable(),
    restore: (paths, key, restoreKeys) => actionsCache.restoreCache(paths, key, restoreKeys),
    save: (paths, key) => actionsCache.saveCache(paths, key)
  }
}

export interface CacheLog {
  info(message: string): void
  warning(message: string): void
}

export const CACHE_PREFIX = 'fast-build-v1'

export function indexKey(variant: string, hash16: string): string {
  return `${CACHE_PREFIX}-index-${variant}-${hash16}`
}

export function wheelKey(sha256: string): string {
  return `${CACHE_PREFIX}-wheel-${sha256}`
}

class Deadline extends Error {}

const INDEX_TIMEOUT_MS = 15_000
const WHEEL_TIMEOUT_MS = 300_000

function withDeadline<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Deadline(`no answer in ${Math.round(ms / 1000)} s`)), ms)
    timer.unref()
  })
  return Promise.race([work, late]).finally(() => clearTimeout(timer))
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256')
    createReadStream(path)
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')))
  })
}

export interface BuildCacheOptions {
  /** Deadline for one index restore or save (default 15 s: the entry is a few kB). */
  readonly indexTimeoutMs?: number
  /** Deadline for one wheel's restore or save (default 300 s). */
  readonly wheelTimeoutMs?: number
}

export class BuildCache {
  /** Set by the first failure: no further calls in this run. */
  private broken = false
  /** Bytes and entries saved in this run, for the summary. */
  saved = { entries: 0, bytes: 0 }
  restored = { entries: 0 }

  constructor(
    private readonly backend: CacheBackend,
    /** The build's cache directory: which of its paths make an entry (src/cache/layout.ts). */
    private readonly paths: CacheLayout,
    /** The build's one artifact cache, which wheels are restored into and saved from. */
    readonly artifacts: ArtifactCache,
    private readonly log: CacheLog,
    private readonly opts: BuildCacheOptions = {}
  ) {}

  get usable(): boolean {
    if (this.broken) return false
    try {
      return this.backend.available()
    } catch {
      return false
    }
  }

  /** The first failure is a warning and ends the cache's use in this run; later ones are info. */
  private trouble(what: string, e: unknown): void {
    const text = `Actions cache: ${what} failed (${e instanceof Deadline ? e.message : describeError(e)})`
    if (this.broken) this.log.info(text)
    else this.log.warning(`${text}; the build goes on without the cache for the rest of this run`)
    this.broken = true
  }

  /** The layer index for this variant and hash, else the newest one there is; the key matched. */
  async restoreIndex(variant: string, hash16: string): Promise<string | undefined> {
    if (!this.usable) return undefined
    const key = indexKey(variant, hash16)
    try {
      const hit = await withDeadline(
        this.opts.indexTimeoutMs ?? INDEX_TIMEOUT_MS,
        this.backend.restore(this.paths.layerIndexEntry, key, [
          `${CACHE_PREFIX}-index-${variant}-`,
          `${CACHE_PREFIX}-index-`
        ])
      )
      if (hit) this.restored.entries++
      return hit
    } catch (e) {
      this.trouble(`restoring ${key}`, e)
      return undefined
    }
  }

  /** Save the layer index under this variant's hash (a no-op when that entry exists). */
  async saveIndex(variant: string, hash16: string): Promise<boolean> {
    if (!this.usable) return false
    const key = indexKey(variant, hash16)
    return this.save(this.paths.layerIndexEntry, key, this.opts.indexTimeoutMs ?? INDEX_TIMEOUT_MS, 0)
  }

  /**
   * Restore these wheels into the artifact cache, four at a time; each is checked against its
   * digest before it is committed. Returns how many were restored.
   */
  async restoreWheels(sha256s: readonly string[]): Promise<number> {
    return this.eachWheel(sha256s, async (sha) => {
      if (this.artifacts.has(sha)) return false
      const path = this.paths.transfer(sha)
      try {
        const hit = await withDeadline(
          this.opts.wheelTimeoutMs ?? WHEEL_TIMEOUT_MS,
          this.backend.restore([path], wheelKey(sha), [])
        )
        if (!hit || !existsSync(path)) return false
        if ((await sha256File(path)) !== sha) {
          this.log.info(
            `Actions cache: ${wheelKey(sha)} did not match its digest; downloading the wheel instead`
          )
          return false
        }
        const temp = await this.artifacts.tempPath()
        copyFileSync(path, temp)
        await this.artifacts.commit(temp, sha)
        this.restored.entries++
        return true
      } catch (e) {
        this.trouble(`restoring ${wheelKey(sha)}`, e)
        return false
      } finally {
        rmSync(path, { force: true })
      }
    })
  }

  /** Runs `one` for each wheel, four at a time, until the cache breaks; counts those it did. */
  private async eachWheel(
    sha256s: readonly string[],
    one: (sha: string) => Promise<boolean>
  ): Promise<number> {
    if (!this.usable || sha256s.length === 0) return 0
    const run = limit(4)
    const done = await Promise.all(sha256s.map((sha) => run(async () => !this.broken && (await one(sha)))))
    return done.filter(Boolean).length
  }

  /** Save these wheels (new to the cache: downloaded in this run), four at a time. */
  async saveWheels(sha256s: readonly string[]): Promise<number> {
    return this.eachWheel(sha256s, async (sha) => {
      if (!this.artifacts.has(sha)) return false
      const path = this.paths.transfer(sha)
      mkdirSync(dirname(path), { recursive: true })
      rmSync(path, { force: true })
      try {
        linkSync(this.artifacts.pathFor(sha), path)
      } catch {
        copyFileSync(this.artifacts.pathFor(sha), path)
      }
      try {
        return await this.save(
          [path],
          wheelKey(sha),
          this.opts.wheelTimeoutMs ?? WHEEL_TIMEOUT_MS,
          statSync(path).size
        )
      } finally {
        rmSync(path, { force: true })
      }
    })
  }

  private async save(paths: string[], key: string, timeoutMs: number, bytes: number): Promise<boolean> {
    try {
      const id = await withDeadline(timeoutMs, this.backend.save(paths, key))
      if (id === -1) return false
      this.saved.entries++
      this.saved.bytes += bytes
      return true
    } catch (e) {
      // An entry that exists was saved by an earlier run: nothing new to save.
      if (e instanceof Error && (e.name === 'ReserveCacheError' || /already exists/i.test(e.message)))
        return false
      this.trouble(`saving ${key}`, e)
      return false
    }
  }
}
