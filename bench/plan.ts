// Issue: planning speed. `fast-build plan` on the largest corpus lock with all its natural
// variants, as a whole process and in-process; and against `poetry install --dry-run --no-root`
// for the same selection on a lock Poetry 1.3.2 can read (poetry-private-gpt, 255 packages).
import { appendFileSync, cpSync, existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { CORPUS_DIR as CORPUS, materializeCorpusCase } from '../__tests__/support/corpus.js'
import { loadPlan } from '../src/cli-plan.js'
import { readLock } from '../src/lock/index.js'
import { readProject } from '../src/project/pyproject.js'
import { check, ms, ratio, timeCommand, timeFunction } from './lib.js'

const CLI = resolve('dist', 'cli.cjs')

function largestLock(): string {
  let best = ''
  let size = 0
  for (const c of readdirSync(CORPUS)) {
    for (const f of ['uv.lock', 'poetry.lock']) {
      const p = join(CORPUS, c, f)
      if (existsSync(p) && statSync(p).size > size) {
        size = statSync(p).size
        best = c
      }
    }
  }
  return best
}

/** A copy of a corpus case with [tool.fast-build] listing its natural variants. */
function withNaturalVariants(name: string, python: string): { dir: string; variants: number } {
  const c = materializeCorpusCase(name)
  const root = mkdtempSync(join(tmpdir(), 'fast-build-bench-'))
  cpSync(c.baseDir, root, { recursive: true })
  const dir = join(root, relative(c.baseDir, c.projectDir))
  const project = readProject(dir)
  const { lock } = readLock(project)
  const groups = new Set([...lock.roots.flatMap((r) => r.groupNames), ...project.groups.keys()])
  const extras = new Set([...lock.roots.flatMap((r) => r.extraNames), ...project.extras.keys()])
  const lines = [`main = { groups = ["main"] }`]
  for (const e of extras) lines.push(`extra-${e} = { groups = ["main"], extras = ["${e}"] }`)
  for (const g of groups) if (g !== 'main') lines.push(`group-${g} = { groups = ["main", "${g}"] }`)
  appendFileSync(
    join(dir, 'pyproject.toml'),
    `\n[tool.fast-build]\npython = "${python}"\nplatforms = ["linux/amd64", "linux/arm64"]\n[tool.fast-build.variants]\n${lines.join('\n')}\n`
  )
  return { dir, variants: lines.length }
}

export function benchPlan(): void {
  if (!existsSync(CORPUS)) {
    console.log(`plan: skipped, the lock corpus is not at ${CORPUS}`)
    return
  }
  const largest = largestLock()
  const { dir, variants } = withNaturalVariants(largest, '3.12')
  const packages = readLock(readProject(dir)).lock.packages.length
  console.log(`\nplan — ${largest} (${packages} packages), ${variants} variants × 2 platforms`)

  const whole = timeCommand('node', [CLI, 'plan', '--project', dir], { runs: 15, warmup: 2 })
  const inProcess = timeFunction(() => loadPlan({ project: dir }), 20)
  console.log(
    `  whole process (node dist/cli.cjs plan): median ${ms(whole.median)}, min ${ms(whole.min)} over ${whole.runs} runs`
  )
  console.log(
    `  in-process (read + plan): first ${ms(inProcess.cold)}, then median ${ms(inProcess.warm.median)}`
  )
  const node = timeCommand('node', ['-e', '0'], { runs: 10 })
  console.log(`  (bare node start-up here: ${ms(node.median)})`)
  check('whole fast-build plan, largest lock, all variants', '< 300 ms', ms(whole.median), whole.median < 0.3)

  // Against Poetry, for one selection both can express: main + dev + every extra.
  const pg = 'poetry-private-gpt'
  const pgDir = join(mkdtempSync(join(tmpdir(), 'fast-build-bench-')), pg)
  cpSync(materializeCorpusCase(pg).projectDir, pgDir, { recursive: true })
  appendFileSync(
    join(pgDir, 'pyproject.toml'),
    `\n[tool.fast-build]\npython = "3.11"\n[tool.fast-build.variants]\nall = { groups = ["main", "dev"], extras = [${[...readProject(pgDir).extras.keys()].map((e) => `"${e}"`).join(', ')}] }\n`
  )
  const env = {
    ...process.env,
    POETRY_VIRTUALENVS_PATH: join(pgDir, '..', 'venvs'),
    POETRY_CACHE_DIR: join(pgDir, '..', 'cache'),
    PIP_CONFIG_FILE: '/dev/null',
    PIP_FIND_LINKS: ''
  }
  const poetry = timeCommand('poetry', ['install', '--dry-run', '--no-root', '--all-extras'], {
    cwd: pgDir,
    env,
    runs: 5,
    warmup: 1
  })
  const ours = timeCommand('node', [CLI, 'plan', '--project', pgDir], { runs: 15, warmup: 2 })
  console.log(`\nplan vs Poetry — ${pg} (255 packages), main + dev + all extras`)
  console.log(`  poetry install --dry-run --no-root --all-extras: median ${ms(poetry.median)}`)
  console.log(`  fast-build plan (same selection):                median ${ms(ours.median)}`)
  console.log(`  ratio: fast-build is ${ratio(poetry.median, ours.median)} faster`)
  check(
    'fast-build plan vs poetry install --dry-run',
    '≥ 10×',
    ratio(poetry.median, ours.median),
    poetry.median / ours.median >= 10
  )
}
