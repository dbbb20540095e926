// Runs __tests__/support/packaging_tags.py: Python's `packaging` (the reference for wheel tags,
// wheel file names and wheel choice) answering for a target rather than for this machine.
import { execFileSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { machineOf, type Target } from '../../src/target.js'

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'packaging_tags.py')

export interface ReferenceTarget {
  readonly python: [number, number]
  readonly arch: string
  readonly libc: [family: 'glibc' | 'musl', major: number, minor: number]
}

export function referenceTarget(t: Target): ReferenceTarget {
  return {
    python: [t.python.major, t.python.minor],
    arch: machineOf(t.platform),
    libc: [t.libc.family, t.libc.major, t.libc.minor]
  }
}

export interface PackagingRequest {
  readonly targets?: readonly ReferenceTarget[]
  readonly parse?: readonly string[]
  readonly choose?: ReadonlyArray<{ readonly target: number; readonly files: readonly string[] }>
}

export interface PackagingAnswer {
  readonly packaging: string
  readonly host: {
    readonly python: [number, number]
    readonly implementation: string
    readonly system: string
    readonly platform: string
    readonly debug: boolean
    readonly free_threaded: boolean
    readonly manylinux_override: boolean
    readonly libc: ['glibc' | 'musl', number, number] | null
    readonly sys_tags: string[]
  }
  readonly tags: string[][]
  readonly parse: Array<{ name: string; build: [number, string] | null; tags: string[] } | { error: string }>
  readonly choose: Array<{ file: string; rank: number } | null>
}

/** One Python run for a whole batch of questions. */
export function askPackaging(request: PackagingRequest): PackagingAnswer {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' }
  delete env['PYTHONPATH']
  const out = execFileSync('python3', [SCRIPT], {
    input: JSON.stringify(request),
    env,
    timeout: 60_000,
    maxBuffer: 256 * 1024 * 1024,
    encoding: 'utf8'
  })
  return JSON.parse(out) as PackagingAnswer
}
