#!/usr/bin/env node
// The import graph of src/ must point down: no file-level cycle, and no import from a lower layer
// to a higher one. `npm run lint` runs this after eslint; it exits 1 and lists every offence as
// `from → to` when the graph breaks either rule.
//
// Why a script and not dependency-cruiser: the rules are two, the graph is a few hundred edges,
// and TypeScript's own `preProcessFile` already finds every import the compiler sees (static,
// `export … from`, side-effect and dynamic `import()`), so the check costs one dependency we have.
//
// What counts as an edge:
// - every relative specifier, `x.js` resolved to the `x.ts` beside it as tsc does (NodeNext);
//   package and `node:` specifiers are outside the graph;
// - type-only imports too: a type is part of a module's surface, so a lower module that names a
//   higher one's type changes when that one does, and two files that name each other's types
//   cannot be read (or moved) one without the other;
// - dynamic `import()` too: it defers loading, not the dependency (the CLI loads `build` lazily,
//   and the lazily loaded file still must not reach back into the CLI).
// Specifiers that resolve to no file are left to tsc, which reports them with a better message.
//
// Usage: node script/check-imports.mjs [root]
// Without root it checks src/, and that README.md's layer table is LAYERS; with one, that tree
// only (the tests run it on small trees of their own).
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

/**
 * The layers, bottom (0) to top, by path under src/: a directory (`lock/`) or a top-level file
 * (`pep440.ts`). A file may import files of its own layer or of lower ones, never of a higher one.
 * README.md's Architecture section lists the same table, and this script fails when they differ.
 */
export const LAYERS = [
  // Plain helpers, and the error classes every module throws.
  ['util/', 0],
  ['errors.ts', 0],
  ['names.ts', 0],
  ['version.ts', 0],
  // PEP 440 versions and specifiers; the target (platform, Python) a build is for.
  ['pep440.ts', 1],
  ['target.ts', 1],
  // PEP 508 markers and requirements, which compare versions with PEP 440.
  ['markers/', 2],
  // File formats, no project in sight: wheel and sdist names, compatibility tags, version
  // constraints, dependency edges and index credentials (packaging/); digests, tar layers,
  // manifests (oci/).
  ['packaging/', 3],
  ['oci/', 3],
  // pyproject.toml and [tool.fast-build] → the project model. Lock readers need the project
  // (its root dependencies, uv's workspace members), never the other way round.
  ['project/', 4],
  // poetry.lock, uv.lock, pylock.toml → one lock model.
  ['lock/', 5],
  // Variants, closures, the wheel each target takes, canonical hashes, diffs: the plan stage.
  ['plan/', 6],
  // Which commit and event a run builds, read from the environment: an input of the pipeline,
  // unlike the rest of github/, which publishes the results.
  ['github/context.ts', 6],
  // The one HTTP client (requests, retries, deadlines); the one owner of the cache directory's
  // layout and the artifact store in it.
  ['net/', 7],
  ['cache/', 7],
  // Stores (registry, OCI layout), wheel download and install, SBOMs: the outside world behind
  // small interfaces.
  ['registry/', 8],
  ['wheels/', 8],
  ['sbom/', 8],
  // The build: resolve each variant's deps image, execute the fast and full paths.
  ['pipeline/', 9],
  // Publish on GitHub: cache, check runs, statuses, comments, job summary.
  ['github/', 10],
  // The two front doors, the action and the CLI, and their input readers.
  ['inputs.ts', 11],
  ['main.ts', 11],
  ['index.ts', 11],
  ['cli.ts', 11],
  ['cli-build.ts', 11],
  ['cli-plan.ts', 11],
  ['cli-entry.ts', 11],
  ['cli-start.ts', 11]
]

/** `lock/uv.ts` → its layer entry, by the longest matching prefix; null when no entry names it. */
export function layerOf(file, layers = LAYERS) {
  const path = file.split(sep).join('/')
  let best = null
  for (const [prefix, rank] of layers) {
    const matches = prefix.endsWith('/') ? path.startsWith(prefix) : path === prefix
    if (matches && (best === null || prefix.length > best.prefix.length)) best = { prefix, rank }
  }
  return best
}

function listTs(dir) {
  const out = []
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) out.push(...listTs(p))
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p)
  }
  return out
}

function resolveSpecifier(fromFile, specifier) {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return null
  const base = resolve(dirname(fromFile), specifier)
  const candidates = base.endsWith('.js')
    ? [base.slice(0, -3) + '.ts']
    : [base + '.ts', join(base, 'index.ts'), base]
  return candidates.find((c) => c.endsWith('.ts') && existsSync(c)) ?? null
}

/** Every file under root (paths relative to it) → the files it imports, sorted. */
export function importGraph(root) {
  const graph = new Map()
  for (const file of listTs(root)) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true)
    const targets = new Set()
    for (const { fileName } of importedFiles) {
      const target = resolveSpecifier(file, fileName)
      if (target) targets.add(relative(root, target))
    }
    graph.set(relative(root, file), [...targets].sort())
  }
  return graph
}

/** The strongly connected components with more than one file, or a file importing itself (Tarjan). */
export function cycles(graph) {
  let counter = 0
  const index = new Map()
  const low = new Map()
  const onStack = new Set()
  const stack = []
  const found = []
  const visit = (v) => {
    index.set(v, counter)
    low.set(v, counter)
    counter++
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v), low.get(w)))
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)))
    }
    if (low.get(v) === index.get(v)) {
      const component = []
      let w
      do {
        w = stack.pop()
        onStack.delete(w)
        component.push(w)
      } while (w !== v)
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort())
    }
  }
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v)
  return found.sort((a, b) => (a[0] < b[0] ? -1 : 1))
}

/** Every rule the graph breaks, as lines to print; empty when it keeps them all. */
export function offences(graph, layers = LAYERS) {
  const lines = []
  for (const component of cycles(graph)) {
    const members = new Set(component)
    lines.push(`cycle among ${component.length} files:`)
    for (const from of component)
      for (const to of graph.get(from) ?? []) if (members.has(to)) lines.push(`  ${from} → ${to}`)
  }
  for (const [from, targets] of [...graph].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const own = layerOf(from, layers)
    if (!own) {
      lines.push(`no layer for ${from}: add its directory to LAYERS in script/check-imports.mjs`)
      continue
    }
    for (const to of targets) {
      const theirs = layerOf(to, layers)
      if (theirs && theirs.rank > own.rank)
        lines.push(
          `upward import: ${from} → ${to} (${own.prefix} is layer ${own.rank}, ${theirs.prefix} is ${theirs.rank})`
        )
    }
  }
  return lines
}

/**
 * Where the README's layer table (the `| rank | modules |` rows under `### Layers`) and LAYERS
 * disagree: a module in one and not the other, or at another rank.
 */
export function readmeDisagreements(readme, layers = LAYERS) {
  const section = /^### Layers\n([\s\S]*?)(?=^#)/m.exec(readme)
  if (!section) return ['README.md has no "### Layers" section listing the layers']
  const listed = new Map()
  for (const row of section[1].matchAll(/^\|\s*(\d+)\s*\|([^|]*)\|/gm))
    for (const [, name] of row[2].matchAll(/`([^`]+)`/g)) listed.set(name, Number(row[1]))
  const lines = []
  for (const [prefix, rank] of layers) {
    if (!listed.has(prefix)) lines.push(`README.md: the layer table does not list ${prefix} (layer ${rank})`)
    else if (listed.get(prefix) !== rank)
      lines.push(`README.md: the layer table puts ${prefix} at ${listed.get(prefix)}, LAYERS at ${rank}`)
  }
  const known = new Set(layers.map(([prefix]) => prefix))
  for (const name of listed.keys())
    if (!known.has(name)) lines.push(`README.md: the layer table lists ${name}, which LAYERS does not`)
  return lines
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const repo = join(dirname(fileURLToPath(import.meta.url)), '..')
  const root = resolve(process.argv[2] ?? join(repo, 'src'))
  const graph = importGraph(root)
  // The README is checked with the project's own tree, not with a tree given on the command line.
  const found = [
    ...offences(graph),
    ...(process.argv[2] ? [] : readmeDisagreements(readFileSync(join(repo, 'README.md'), 'utf8')))
  ]
  if (found.length) {
    console.error(
      `check-imports: the import graph of ${relative(process.cwd(), root) || '.'} breaks its rules`
    )
    for (const line of found) console.error(line)
    process.exit(1)
  }
  const edges = [...graph.values()].reduce((n, t) => n + t.length, 0)
  console.log(`check-imports: ${graph.size} files, ${edges} imports, no cycle, every import points down`)
}
