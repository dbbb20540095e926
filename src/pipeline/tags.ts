// Tags of the app images: templates with {variant}, {sha}, {ref}, expanded per variant and checked
// before any work (a bad template, or two variants given the same tag, fails the build up front).
import { ConfigError } from '../errors.js'
import { TAG_PATTERN } from '../registry/store.js'

export const DEFAULT_TAG = '{variant}-{sha}'

/** Expand a tag template; the result must be a valid registry tag. */
export function expandTag(template: string, values: { variant: string; sha: string; ref: string }): string {
  const tag = template.replace(/\{(variant|sha|ref)\}/g, (_, k: 'variant' | 'sha' | 'ref') => values[k])
  if (!TAG_PATTERN.test(tag)) {
    throw new ConfigError(
      `tag template ${JSON.stringify(template)} gives ${JSON.stringify(tag)}, which is not a valid tag`,
      { keyPath: 'tags' },
      'tags are letters, digits, "_", "." and "-", at most 128, not starting with "." or "-"'
    )
  }
  return tag
}

/**
 * Each variant must get tags of its own, else the last push wins and the digests reported for the
 * others name images their tags no longer hold.
 */
export function checkDistinctTags(
  templates: readonly string[],
  variants: readonly string[],
  values: (variant: string) => { variant: string; sha: string; ref: string }
): void {
  if (variants.length < 2) return
  for (const t of templates) {
    const owner = new Map<string, string>()
    for (const v of variants) {
      const tag = expandTag(t, values(v))
      const other = owner.get(tag)
      if (other !== undefined) {
        throw new ConfigError(
          `tag template ${JSON.stringify(t)} gives the same tag ${JSON.stringify(tag)} to variants ${other} and ${v}: the last one pushed would take it from the other`,
          { keyPath: 'tags' },
          'put {variant} in every tag template (e.g. "{variant}-{sha}"), or configure one variant'
        )
      }
      owner.set(tag, v)
    }
  }
}

/** A branch or tag name as a tag: `feature/x` → `feature-x`. */
export function refSlug(ref: string): string {
  return (
    ref
      .replace(/^refs\/(heads|tags)\//, '')
      .replace(/[^\w.-]+/g, '-')
      .replace(/^[.-]+/, '')
      .slice(0, 100) || 'ref'
  )
}
