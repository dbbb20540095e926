// Poetry's lock freshness check (`Locker._get_content_hash`): sha256 of Python's
// json.dumps(relevant pyproject content, sort_keys=True).
import { createHash } from 'node:crypto'
import { pythonJsonDumps } from '../util/python-json.js'
import { isTable, type TomlTable } from '../util/toml.js'

const LEGACY_KEYS = ['dependencies', 'source', 'extras', 'dev-dependencies']
const RELEVANT_KEYS = [...LEGACY_KEYS, 'group']
const PROJECT_KEYS = ['requires-python', 'dependencies', 'optional-dependencies']

/**
 * The content hashes Poetry versions would write for this pyproject: Poetry 2.2+ also hashes
 * [dependency-groups]; 2.0/2.1 ignore them; 1.x hashes [tool.poetry] alone (which the 2.x rule
 * reduces to when [project] has none of its keys). A lock is fresh if it matches any of them.
 */
export function poetryContentHashes(pyproject: TomlTable): string[] {
  const withGroups = sha256(relevantContent(pyproject, true))
  const withoutGroups = sha256(relevantContent(pyproject, false))
  return withGroups === withoutGroups ? [withGroups] : [withGroups, withoutGroups]
}

function relevantContent(pyproject: TomlTable, dependencyGroups: boolean): unknown {
  const project = isTable(pyproject['project']) ? pyproject['project'] : {}
  const tool = isTable(pyproject['tool']) ? pyproject['tool'] : {}
  const poetry = isTable(tool['poetry']) ? tool['poetry'] : {}
  const groups =
    dependencyGroups && isTable(pyproject['dependency-groups']) ? pyproject['dependency-groups'] : null
  const hasGroups = groups !== null && Object.keys(groups).length > 0

  const relevantProject: Record<string, unknown> = {}
  for (const key of PROJECT_KEYS) {
    if (project[key] !== undefined) relevantProject[key] = project[key]
  }
  const hasProject = Object.keys(relevantProject).length > 0

  const relevantPoetry: Record<string, unknown> = {}
  for (const key of RELEVANT_KEYS) {
    const data = poetry[key]
    // Legacy keys are hashed as null when absent, but only in the [tool.poetry]-only layout.
    if (data === undefined && (!LEGACY_KEYS.includes(key) || hasProject || hasGroups)) continue
    relevantPoetry[key] = data ?? null
  }

  if (!hasProject && !hasGroups) return relevantPoetry
  const out: Record<string, unknown> = {}
  if (hasProject) out['project'] = relevantProject
  if (hasGroups) out['dependency-groups'] = groups
  out['tool'] = { poetry: relevantPoetry }
  return out
}

function sha256(content: unknown): string {
  return createHash('sha256').update(pythonJsonDumps(content), 'utf8').digest('hex')
}
