// Timing helpers for the benchmarks: medians over repeated runs, whole processes and in-process.
import { spawnSync } from 'node:child_process'
import { performance } from 'node:perf_hooks'

export interface Timing {
  /** Median seconds. */
  median: number
  min: number
  runs: number
}

function summarize(samples: number[]): Timing {
  const sorted = [...samples].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  return { median, min: sorted[0]!, runs: sorted.length }
}

/** Run a command `runs` times after `warmup` runs; it must exit 0. */
export function timeCommand(
  cmd: string,
  args: readonly string[],
  opts: { runs?: number; warmup?: number; cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}
): Timing {
  const samples: number[] = []
  const total = (opts.warmup ?? 1) + (opts.runs ?? 10)
  for (let i = 0; i < total; i++) {
    const start = performance.now()
    const r = spawnSync(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: opts.timeoutMs ?? 300_000,
      maxBuffer: 64 * 1024 * 1024
    })
    const seconds = (performance.now() - start) / 1000
    if (r.status !== 0) {
      throw new Error(
        `${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${String(r.stderr).slice(0, 2000)}`
      )
    }
    if (i >= (opts.warmup ?? 1)) samples.push(seconds)
  }
  return summarize(samples)
}

/** Time a function in this process; the first call is reported apart (cold: JIT, caches). */
export function timeFunction(f: () => unknown, runs = 20): { cold: number; warm: Timing } {
  let start = performance.now()
  f()
  const cold = (performance.now() - start) / 1000
  const samples: number[] = []
  for (let i = 0; i < runs; i++) {
    start = performance.now()
    f()
    samples.push((performance.now() - start) / 1000)
  }
  return { cold, warm: summarize(samples) }
}

export function ms(seconds: number): string {
  return `${(seconds * 1000).toFixed(1)} ms`
}

export function ratio(slow: number, fast: number): string {
  return `${(slow / fast).toFixed(1)}×`
}

export interface Verdict {
  name: string
  target: string
  measured: string
  ok: boolean
}

export const verdicts: Verdict[] = []

export function check(name: string, target: string, measured: string, ok: boolean): void {
  verdicts.push({ name, target, measured, ok })
  console.log(`  ${ok ? 'PASS' : 'MISS'}  ${name}: ${measured} (target ${target})`)
}
