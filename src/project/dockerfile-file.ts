// The project's Dockerfile, read for the planner (its text is part of a Dockerfile-built
// variant's hash). The one place it is read from disk; a missing one names itself and the fix.
import { readFileSync } from 'node:fs'
import { isAbsolute, join } from 'node:path'
import { ConfigError } from '../errors.js'
import type { Project } from './pyproject.js'

/** `path` (relative to the project), else [tool.fast-build] dockerfile; null when neither names one. */
export function readDockerfile(
  project: Project,
  path: string | null = null,
  keyPath = 'tool.fast-build.dockerfile'
): { path: string; text: string } | null {
  const given = path ?? project.config.dockerfile.path
  if (given === null) return null
  const full = isAbsolute(given) ? given : join(project.dir, given)
  try {
    return { path: given, text: readFileSync(full, 'utf8') }
  } catch (e) {
    throw new ConfigError(
      `cannot read the Dockerfile ${given}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
      { file: project.file, keyPath },
      'give a path relative to the project directory, or leave dockerfile out for the generated one'
    )
  }
}
