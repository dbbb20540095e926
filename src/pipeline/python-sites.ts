// Where each image's Python reads packages, found once per build: the base image's (what a deps
// image is built for: read from its layers, only when a deps image is built) and each deps
// image's (recorded in its label by the wheels builder; else read from its layers and kept by
// digest). The base image itself is resolved here when the plan stage did not need to.
import { formatPlatform, type Platform } from '../target.js'
import type { Plan, VariantPlan } from '../plan/plan.js'
import type { ImageStore } from '../registry/store.js'
import type { BasePythonFacts } from './base-python.js'
import { resolveBase, type BaseOptions, type ResolvedBase } from './base-image.js'
import type { PlatformImage } from './deps-image.js'
import type { BasePython } from './dockerfile.js'
import { imagePythonFacts } from './image-python.js'
import {
  PythonLayoutError,
  readRecordedPython,
  recordedPython,
  resolveLayout,
  type RecordedPython,
  type ResolvedLayout
} from './python-layout.js'

/** Where a variant's target python came from, for messages. */
function pythonFrom(plan: Plan): string {
  const c = plan.project.config
  if (plan.options.python) return 'as asked (--python)'
  if (c.python) return 'python under [tool.fast-build]'
  if (c.baseImage !== null && c.pythonInBase) return "the base image's"
  return 'the lowest requires-python allows'
}

export function uniquePlatforms(plan: Plan): Platform[] {
  const seen = new Map<string, Platform>()
  for (const v of plan.variants) for (const p of v.platforms) seen.set(formatPlatform(p.platform), p.platform)
  return [...seen.values()]
}

export class PythonSites {
  private base: Promise<ResolvedBase> | null
  private layouts: Promise<Map<string, ResolvedLayout>> | null = null

  constructor(
    private readonly plan: Plan,
    /** The base image as the plan stage resolved it, if it did. */
    resolved: ResolvedBase | null,
    private readonly o: {
      readonly store: ImageStore
      readonly baseOptions?: BaseOptions
      readonly cacheDir: string
      readonly progress: (variant: string | null, message: string) => void
    }
  ) {
    this.base = resolved ? Promise.resolve(resolved) : null
  }

  /** The base image, resolved once (when the plan stage did not). */
  baseImage(): Promise<ResolvedBase> {
    return (this.base ??= resolveBase(this.plan.variants[0]!.baseImage, uniquePlatforms(this.plan), {
      ...this.o.baseOptions,
      cwd: this.plan.project.dir
    }))
  }

  /** Its registry connection closed, whatever happened. */
  async close(): Promise<void> {
    if (this.base)
      await this.base.then(
        (b) => b.store.close?.(),
        () => undefined
      )
  }

  private factsOf(from: ImageStore, pi: PlatformImage, what: string, say: (m: string) => void) {
    if (!this.plan.project.config.pythonInBase) return Promise.resolve(null)
    return imagePythonFacts({
      store: from,
      manifestDigest: pi.manifestDigest,
      layers: pi.manifest.layers,
      config: pi.config,
      cacheDir: this.o.cacheDir,
      what: `${what} (${formatPlatform(pi.platform)})`,
      onProgress: say
    })
  }

  private layoutOf(
    facts: BasePythonFacts | null,
    python: VariantPlan['python'],
    image: string,
    pi: PlatformImage
  ): ResolvedLayout {
    return resolveLayout({
      config: this.plan.project.config,
      python,
      pythonFrom: pythonFrom(this.plan),
      facts,
      base: image,
      platform: formatPlatform(pi.platform),
      file: this.plan.project.file
    })
  }

  /** Where each platform's packages go: what the base image's Python reads (by formatPlatform). */
  baseLayouts(): Promise<Map<string, ResolvedLayout>> {
    return (this.layouts ??= (async () => {
      const b = await this.baseImage()
      const out = new Map<string, ResolvedLayout>()
      const say = (m: string) => this.o.progress(null, m)
      for (const pi of b.image.platforms) {
        const platform = formatPlatform(pi.platform)
        const facts = await this.factsOf(b.store, pi, `base image ${b.reference}`, say)
        const resolved = this.layoutOf(facts, this.plan.variants[0]!.python, b.reference, pi)
        say(`${platform}: ${resolved.description}`)
        out.set(platform, resolved)
      }
      return out
    })())
  }

  /**
   * The Python of a deps image. A deps image with none (made elsewhere, with no Python on its
   * PATH) gets no project layer.
   */
  async depsPython(v: VariantPlan, ref: string, pi: PlatformImage): Promise<RecordedPython | null> {
    const recorded = readRecordedPython(pi.config.config?.Labels)
    if (recorded) return recorded
    const say = (m: string) => this.o.progress(v.name, m)
    const facts = await this.factsOf(this.o.store, pi, `deps image ${ref}`, say)
    if (facts && !facts.python) {
      say(
        `note: deps image ${ref} (${formatPlatform(pi.platform)}) has no Python on its PATH: the project is not installed as a package there (its code is on PYTHONPATH)`
      )
      return null
    }
    try {
      return recordedPython(this.layoutOf(facts, v.python, ref, pi))
    } catch (e) {
      // Not ours to refuse: the deps image exists. Its app image just does not install the project.
      if (!(e instanceof PythonLayoutError)) throw e
      say(`note: ${e.message}: the project is not installed as a package there`)
      return null
    }
  }

  /**
   * The generated Dockerfile installs with the base image's interpreter (and bootstraps pip when
   * it has none): a base without Python, or with another version, fails as the wheels builder
   * would. A Dockerfile of the project's own may bring its Python: there it is only a hint.
   */
  async dockerfilePython(v: VariantPlan): Promise<{ python?: BasePython }> {
    if (v.builder.kind !== 'dockerfile' || !this.plan.project.config.pythonInBase) return {}
    const own = v.builder.settings.path !== null
    try {
      const m = await this.baseLayouts()
      const r = m.get(formatPlatform(v.platforms[0]!.platform))
      return r?.python ? { python: { interpreter: r.layout.interpreter, hasPip: r.python.hasPip } } : {}
    } catch (e) {
      if (own && e instanceof PythonLayoutError) {
        this.layouts = null
        return {}
      }
      throw e
    }
  }
}
