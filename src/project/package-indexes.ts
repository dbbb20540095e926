// Which named package index a lock's registry URL is, so that its credentials are found under
// the name people already use: uv keeps only the URL in uv.lock and the name in [[tool.uv.index]]
// (credentials in UV_INDEX_<NAME>_USERNAME/PASSWORD); Poetry names sources in the lock itself.
import { withoutUserinfo } from '../packaging/index-credentials.js'
import type { Project } from './pyproject.js'

export interface NamedPackageIndex {
  readonly name: string
  readonly url: string
}

/** Userinfo aside (the lock model's URLs have none; pyproject's may), trailing slashes and case. */
function comparable(url: string): string {
  return withoutUserinfo(url).replace(/\/+$/, '').toLowerCase()
}

/** [[tool.uv.index]] and [[tool.poetry.source]] entries that have both a name and a URL. */
export function namedIndexes(project: Project): NamedPackageIndex[] {
  const out: NamedPackageIndex[] = []
  const tool = project.data['tool']
  const uv =
    tool && typeof tool === 'object' && !Array.isArray(tool)
      ? (tool as Record<string, unknown>)['uv']
      : undefined
  const list = uv && typeof uv === 'object' ? (uv as Record<string, unknown>)['index'] : undefined
  if (Array.isArray(list)) {
    for (const e of list) {
      if (e && typeof e === 'object' && typeof e.name === 'string' && typeof e.url === 'string')
        out.push({ name: e.name, url: e.url })
    }
  }
  for (const s of project.poetrySources) if (s.url) out.push({ name: s.name, url: s.url })
  return out
}

/** The name the project gives the index at `url`, or null. */
export function indexNameFor(indexes: readonly NamedPackageIndex[], url: string): string | null {
  const key = comparable(url)
  return indexes.find((i) => comparable(i.url) === key)?.name ?? null
}
