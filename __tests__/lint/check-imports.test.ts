// The import-graph check (script/check-imports.mjs, run by `npm run lint`) on small source trees
// written here: it must name every cycle and every upward import, file → file, and exit 1 for
// them; a tree that points down passes. The trees use the real layer table's directories.
import { describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'

const SCRIPT = resolve('script', 'check-imports.mjs')

/** Writes the files (path under the root → text) into a fresh directory and runs the check on it. */
function check(files: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const root = mkdtempSync(join(tmpdir(), 'check-imports-'))
  try {
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true })
      writeFileSync(join(root, path), text)
    }
    const r = spawnSync(process.execPath, [SCRIPT, root], { encoding: 'utf8' })
    return { status: r.status, stdout: r.stdout, stderr: r.stderr }
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}

/**
 * readmeDisagreements of each text, by the script in one node process (the script is plain ESM).
 * The texts go through stdin: two READMEs are more than one command-line argument may hold.
 */
function readmeCheck(texts: readonly string[]): string[][] {
  const code = `import { readmeDisagreements } from ${JSON.stringify(SCRIPT)}
import { readFileSync } from 'node:fs'
const texts = JSON.parse(readFileSync(0, 'utf8'))
process.stdout.write(JSON.stringify(texts.map((t) => readmeDisagreements(t))))`
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    encoding: 'utf8',
    input: JSON.stringify(texts)
  })
  expect(r.stderr).toBe('')
  return JSON.parse(r.stdout) as string[][]
}

describe('check-imports', () => {
  it('lists every cycle and every upward import, file → file, and exits 1', () => {
    const r = check({
      // util/ (layer 0) naming a type of plan/ (layer 6): type-only imports count.
      'util/format.ts': "import type { Plan } from '../plan/plan.js'\nexport type P = Plan\n",
      // plan.ts ↔ closure.ts, one way through a dynamic import: that is a cycle too.
      'plan/plan.ts':
        "import { walk } from './closure.js'\nexport interface Plan { n: number }\nexport const w = walk\n",
      'plan/closure.ts': "export const walk = () => import('./plan.js')\n",
      'lock/model.ts': "import { walk } from '../plan/closure.js'\nexport const m = walk\n",
      // A loop through three files of one layer, one edge an `export … from`.
      'oci/a.ts': "export { b } from './b.js'\nexport const a = 1\n",
      'oci/b.ts': "import { c } from './c.js'\nexport const b = c\n",
      'oci/c.ts': "import { a } from './a.js'\nexport const c = a\n",
      // A directory the layer table does not know.
      'elsewhere/x.ts': 'export const x = 1\n'
    })
    expect(r.status).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr.split('\n').slice(1)).toEqual([
      'cycle among 3 files:',
      '  oci/a.ts → oci/b.ts',
      '  oci/b.ts → oci/c.ts',
      '  oci/c.ts → oci/a.ts',
      'cycle among 2 files:',
      '  plan/closure.ts → plan/plan.ts',
      '  plan/plan.ts → plan/closure.ts',
      'no layer for elsewhere/x.ts: add its directory to LAYERS in script/check-imports.mjs',
      'upward import: lock/model.ts → plan/closure.ts (lock/ is layer 5, plan/ is 6)',
      'upward import: util/format.ts → plan/plan.ts (util/ is layer 0, plan/ is 6)',
      ''
    ])
  })

  it('passes a tree whose imports point down, and ignores packages and node: modules', () => {
    const r = check({
      'errors.ts': 'export class E extends Error {}\n',
      'util/format.ts': "import { E } from '../errors.js'\nexport const f = () => new E()\n",
      'plan/plan.ts':
        "import { join } from 'node:path'\nimport { parse } from 'smol-toml'\nimport { f } from '../util/format.js'\nimport { g } from './closure.js'\nexport const p = [join, parse, f, g]\n",
      'plan/closure.ts': "import { f } from '../util/format.js'\nexport const g = f\n",
      'main.ts': "import { p } from './plan/plan.js'\nexport const m = p\n"
    })
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(r.stdout).toBe('check-imports: 5 files, 5 imports, no cycle, every import points down\n')
  })

  it("finds where the README's layer table and the script's disagree", () => {
    const readme = readFileSync('README.md', 'utf8')
    const edited = readme
      .replace(/^\| 7 \| `net\/`, `cache\/` \|/m, '| 7 | `net/` |')
      .replace(/^\| 2 \| `markers\/` \|/m, '| 3 | `markers/`, `elsewhere/` |')
    expect(edited).not.toBe(readme)
    expect(readmeCheck([readme, edited, '# fast-build\n'])).toEqual([
      [],
      [
        'README.md: the layer table puts markers/ at 3, LAYERS at 2',
        'README.md: the layer table does not list cache/ (layer 7)',
        'README.md: the layer table lists elsewhere/, which LAYERS does not'
      ],
      ['README.md has no "### Layers" section listing the layers']
    ])
  })
})
