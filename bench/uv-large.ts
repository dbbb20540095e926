// Issue: reading a uv.lock grows linearly with its size. A generated project with 10,000 and with
// 20,000 requirements (each a locked package, and the root's metadata listing them all, which the
// freshness check compares with pyproject.toml): twice the size should take about twice as long.
// The reader used to copy a list per requirement (10k: 4.6 s, 20k: 30 s).
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readLock } from '../src/lock/index.js'
import { readProject } from '../src/project/pyproject.js'
import { check, ms, ratio, timeFunction } from './lib.js'

function largeProject(n: number): string {
  const names = Array.from({ length: n }, (_, i) => `pkg-${i}`)
  const dir = mkdtempSync(join(tmpdir(), 'fast-build-bench-uv-large-'))
  writeFileSync(
    join(dir, 'pyproject.toml'),
    `[project]\nname = "app"\nversion = "0.1"\nrequires-python = ">=3.11"\ndependencies = [\n${names.map((x) => `  "${x}>=1.0",`).join('\n')}\n]\n`
  )
  const parts = [
    'version = 1\nrevision = 3\nrequires-python = ">=3.11"\n',
    '[[package]]\nname = "app"\nversion = "0.1"\nsource = { editable = "." }\ndependencies = [',
    ...names.map((x) => `    { name = "${x}" },`),
    ']\n\n[package.metadata]\nrequires-dist = [',
    ...names.map((x) => `    { name = "${x}", specifier = ">=1.0" },`),
    ']\n'
  ]
  for (const x of names) {
    parts.push(
      `[[package]]\nname = "${x}"\nversion = "1.0"\nsource = { registry = "https://pypi.org/simple" }\n` +
        `wheels = [{ url = "https://files.example/${x.replace('-', '_')}-1.0-py3-none-any.whl", hash = "sha256:${'a'.repeat(64)}" }]\n`
    )
  }
  writeFileSync(join(dir, 'uv.lock'), parts.join('\n'))
  return dir
}

export function benchUvLarge(): void {
  console.log('\nuv-large: reading a uv.lock of 10,000 and of 20,000 requirements')
  const time = (n: number) => {
    const project = readProject(largeProject(n))
    return timeFunction(() => readLock(project), 3).warm.median
  }
  const small = time(10_000)
  const large = time(20_000)
  console.log(`  10k: ${ms(small)}, 20k: ${ms(large)}, ratio ${ratio(large, small)}`)
  check('uv.lock reading grows linearly (20k / 10k)', '< 3×', ratio(large, small), large / small < 3)
}
