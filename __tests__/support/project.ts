// Throwaway projects on disk for tests: copy a corpus case (or write files), edit, plan.
import { randomBytes } from 'node:crypto'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { parse, stringify } from 'smol-toml'
import { pinPlan } from '../../src/pipeline/plan-stage.js'
import { readLock } from '../../src/lock/index.js'
import { planProject, type Plan, type PlanOptions } from '../../src/plan/plan.js'
import { readProject } from '../../src/project/pyproject.js'
import type { TomlTable } from '../../src/util/toml.js'
import { materializeCorpusCase } from './corpus.js'

export function tempDir(prefix = 'fast-build-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

/** A temp dir whose path is all lowercase (podman refuses `oci:` paths with capitals). */
export function lowercaseTempDir(prefix = 'fast-build-test-'): string {
  const dir = join(tmpdir(), `${prefix}${randomBytes(6).toString('hex')}`)
  mkdirSync(dir)
  return dir
}

/** A copy of a corpus case's tree; returns the project directory in the copy. */
export function copyCorpusCase(name: string): string {
  const c = materializeCorpusCase(name)
  const dest = tempDir()
  cpSync(c.baseDir, dest, { recursive: true })
  return join(dest, relative(c.baseDir, c.projectDir))
}

export function writeFiles(dir: string, files: Record<string, string>): string {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), text)
  }
  return dir
}

/** Parse a TOML file, let `edit` change it, write it back (reformatted by smol-toml). */
export function editToml(path: string, edit: (data: TomlTable) => void): void {
  const data = parse(readFileSync(path, 'utf8')) as TomlTable
  edit(data)
  writeFileSync(path, stringify(data))
}

/** Append a [tool.fast-build] section (text), leaving the rest of pyproject.toml byte for byte. */
export function addFastBuildConfig(projectDir: string, toml: string): void {
  const path = join(projectDir, 'pyproject.toml')
  writeFileSync(path, readFileSync(path, 'utf8') + '\n' + toml)
}

export function planDir(dir: string, options: PlanOptions = {}): Plan {
  const project = readProject(dir)
  const { lock, notes } = readLock(project)
  const plan = planProject(project, lock, options)
  return { ...plan, notes: [...notes, ...plan.notes] }
}

/** The plan `fast-build build` works from: the base image pinned to its digest (hashes cover it). */
export async function pinnedPlanDir(dir: string, options: PlanOptions = {}): Promise<Plan> {
  const { plan, base } = await pinPlan(planDir(dir, options))
  base?.store.close?.()
  return plan
}

export function hashes(plan: Plan): Record<string, string> {
  return Object.fromEntries(plan.variants.map((v) => [v.name, v.hash]))
}
