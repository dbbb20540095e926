// Wheels and zip files built offline by make_wheels.py (Python's zipfile; gcc for the C extension):
// the installer's fixture wheels (good and broken), zip edge cases, and small pure wheels for the
// full-path tests. See make_wheels.py for what each one holds.
import { execFile } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'make_wheels.py')
const run = promisify(execFile)

/** A wheel file made for a test, and what the test needs to know of it. */
export interface FixtureWheel {
  /** The project name as written in the wheel (`FB_data`, `fbns_a`). */
  readonly project: string
  readonly version: string
  readonly filename: string
  readonly path: string
  /** Hex sha256 of the wheel file. */
  readonly sha256: string
  readonly size: number
  /** What a fixture wheel is there to exercise (not said of simple wheels). */
  readonly exercises?: string
  /** For the deliberately broken ones: which fault (record-hash, escape, absolute, truncated...). */
  readonly broken?: string
  /** For broken ones: the entry at fault, when there is one. */
  readonly entry?: string
  /** fbext: the module to import to check the extension loads; simple wheels: their module. */
  readonly module?: string
  /** fbscripts: the entry-point names. */
  readonly scripts?: string[]
  /** fbns_a / fbns_b: the shared namespace package. */
  readonly namespace?: string
}

function pythonEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' }
  delete env['PYTHONPATH']
  return env
}

/**
 * Build every fixture wheel into `dir` (good and broken). The heavy one holds `heavyMb` MiB of
 * random bytes (default: `FB_HEAVY_MB` from the environment, else 20 so the suite stays fast;
 * the brief's realistic size is ~70).
 */
export async function buildFixtureWheels(
  dir: string,
  opts: { heavyMb?: number } = {}
): Promise<FixtureWheel[]> {
  const heavyMb = opts.heavyMb ?? Number(process.env['FB_HEAVY_MB'] ?? 20)
  const { stdout } = await run('python3', [SCRIPT, 'wheels', dir, '--heavy-mb', String(heavyMb)], {
    env: pythonEnv(),
    maxBuffer: 16 * 1024 * 1024,
    timeout: 300_000
  })
  return JSON.parse(stdout) as FixtureWheel[]
}

export interface SimpleWheelSpec {
  readonly project: string
  readonly version: string
  readonly modules?: number
  /** Random KiB per module (incompressible). */
  readonly kb?: number
  /** A console script that prints "<project> <version>". */
  readonly script?: string
}

/** Build small pure wheels (deterministic for a given spec). */
export async function buildSimpleWheels(
  dir: string,
  specs: readonly SimpleWheelSpec[]
): Promise<FixtureWheel[]> {
  const child = run('python3', [SCRIPT, 'simple', dir], {
    env: pythonEnv(),
    maxBuffer: 16 * 1024 * 1024,
    timeout: 300_000
  })
  child.child.stdin!.end(JSON.stringify(specs))
  return JSON.parse((await child).stdout) as FixtureWheel[]
}

/** Zip edge cases by name: mixed, zip64, many, cp437, descriptor, big, truncated, crc... */
export async function buildZipCases(dir: string): Promise<Record<string, string>> {
  const { stdout } = await run('python3', [SCRIPT, 'zips', dir], {
    env: pythonEnv(),
    maxBuffer: 16 * 1024 * 1024,
    timeout: 300_000
  })
  return JSON.parse(stdout) as Record<string, string>
}

/**
 * Real wheels from the machine's mirror, when there is one (`/opt/pypi/files`, `/opt/wheels`, or
 * the `:`-separated directories in FAST_BUILD_WHEEL_MIRROR; set it empty to run as without a
 * mirror): for each pattern, the last matching file in name order. Empty when there is no mirror.
 */
export function mirrorWheels(patterns: readonly RegExp[]): string[] {
  const configured = process.env['FAST_BUILD_WHEEL_MIRROR']
  const candidates = configured === undefined ? ['/opt/pypi/files', '/opt/wheels'] : configured.split(':')
  const dirs = candidates.filter((d) => d !== '' && existsSync(d))
  const files = dirs.flatMap((d) => readdirSync(d).map((f) => join(d, f)))
  const out: string[] = []
  for (const p of patterns) {
    const hits = files.filter((f) => p.test(f.slice(f.lastIndexOf('/') + 1))).sort()
    const last = hits[hits.length - 1]
    if (last) out.push(last)
  }
  return out
}
