// The edge of project-install.ts: read the pyproject.toml of the project and of each local package
// the source layer ships, and build the small layer that installs them (their .dist-info, .pth
// and commands) where the deps image's Python reads packages. Its bytes depend only on that
// metadata and the layout, so a code change leaves it as it was.
import { existsSync } from 'node:fs'
import { join, relative } from 'node:path'
import { readTomlFile, type TomlTable } from '../util/toml.js'
import { buildLayer } from '../oci/layer.js'
import type { Compression } from '../oci/media-types.js'
import type { Plan } from '../plan/plan.js'
import { normalizeName } from '../names.js'
import type { ProjectLayer } from './fast-path.js'
import { DEPS_MTIME } from './wheel-layer.js'
import { projectInstallFiles, type LocalProject } from './project-install.js'
import { installedDist, verifyInstall, type RecordedPython } from './python-layout.js'
import type { LocalPackageRef, SourceTree } from './source.js'

/** The packages to install: every shipped package with a pyproject.toml that is not virtual. */
export function localProjects(
  plan: Plan,
  source: SourceTree,
  refs: readonly LocalPackageRef[]
): { projects: LocalProject[]; notes: string[] } {
  const notes: string[] = []
  const versions = new Map<string, string>()
  for (const v of plan.variants)
    for (const p of v.platforms)
      for (const e of p.closure.local) if (e.package.version) versions.set(e.package.name, e.package.version)
  const virtual = new Set(refs.filter((r) => r.virtual).map((r) => r.path))
  const projects: LocalProject[] = []
  for (const pkg of source.packages) {
    const file = join(plan.project.dir, pkg.path, 'pyproject.toml')
    const display = relative(process.cwd(), file) || 'pyproject.toml'
    if (virtual.has(pkg.path)) {
      // As uv does: a virtual project (no [build-system]) is not installed, only its dependencies.
      notes.push(
        `${display}: not installed as a package (the lock marks it virtual); its code is on PYTHONPATH`
      )
      continue
    }
    if (!existsSync(file)) continue
    const { data } = readTomlFile(file, display)
    if (!installable(data)) {
      notes.push(`${display}: not installed as a package (package mode is off); its code is on PYTHONPATH`)
      continue
    }
    const name = projectName(data)
    projects.push({
      pyproject: data,
      file: display,
      dirInImage: pkg.dir,
      importRoots: pkg.importRoots,
      lockVersion: name ? (versions.get(normalizeName(name)) ?? null) : null
    })
  }
  return { projects, notes }
}

function table(v: unknown): TomlTable | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as TomlTable) : null
}

function projectName(data: TomlTable): string | null {
  const n = table(data['project'])?.['name'] ?? table(table(data['tool'])?.['poetry'])?.['name']
  return typeof n === 'string' ? n : null
}

/** Poetry's `package-mode = false` and uv's `package = false` mean "not a package": nothing to install. */
function installable(data: TomlTable): boolean {
  const tool = table(data['tool'])
  if (table(tool?.['poetry'])?.['package-mode'] === false) return false
  if (table(tool?.['uv'])?.['package'] === false) return false
  return true
}

/** The project layer for one deps image's Python, checked to land on its sys.path. */
export async function projectLayer(args: {
  readonly projects: readonly LocalProject[]
  readonly python: RecordedPython
  readonly compression: Compression
  readonly what: string
  readonly file: string
}): Promise<{ layer: ProjectLayer | null; notes: string[] }> {
  if (args.projects.length === 0) return { layer: null, notes: [] }
  const layout = {
    sitePackages: args.python.sitePackages,
    scripts: args.python.scripts,
    interpreter: args.python.interpreter
  }
  const installed = projectInstallFiles({ packages: args.projects, layout })
  if (installed.distributions.length === 0) return { layer: null, notes: installed.notes }
  const pyLayout = {
    purelib: layout.sitePackages,
    platlib: layout.sitePackages,
    scripts: layout.scripts,
    interpreter: layout.interpreter
  }
  verifyInstall({
    dists: installed.distributions.map((d) =>
      installedDist(
        d.name,
        d.version,
        installed.entries.filter((e) => e.type === 'file').map((e) => e.path),
        pyLayout
      )
    ),
    layout: pyLayout,
    // The interpreter is the deps image's own, checked when it was built.
    resolved: { sysPath: args.python.sysPath, interpreters: [layout.interpreter], hasSh: true, python: null },
    what: args.what,
    file: args.file
  })
  const blob = await buildLayer(installed.entries, { mtime: DEPS_MTIME, compression: args.compression })
  return {
    layer: {
      blob,
      distributions: installed.distributions.map((d) => `${d.name} ${d.version}`),
      scripts: installed.scripts.length
    },
    notes: installed.notes
  }
}
