// What `builder = "auto"` saves: the same wheel-only variant's deps image built both ways, cold,
// into an empty repository of a loopback registry, from the same index over loopback HTTP.
//   wheels:     `fast-build build --builder wheels` (download, verify, install into layers, push)
//   dockerfile: `fast-build build --builder dockerfile --dockerfile-command "buildah bud …"`: the
//               generated Dockerfile (base image, then pip install --require-hashes of the pins)
//               built by buildah (vfs storage, chroot isolation: no Docker engine here) and pushed
// Both put the source on top afterwards. The wheels are the 41 real ones of the full-path bench
// from the machine's wheel mirror; without a mirror, Debian's setuptools and wheel wheels only.
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { debianWheel, pushPythonPipBase, startBuildah } from '../__tests__/support/buildah.js'
import { run } from '../__tests__/support/process.js'
import { startPypiServer } from '../__tests__/support/pypi-server.js'
import { startRegistry } from '../__tests__/support/registry.js'
import { servedFiles, wheelProject } from '../__tests__/support/wheel-project.js'
import type { FixtureWheel } from '../__tests__/support/wheel-fixtures.js'
import { normalizeName } from '../src/names.js'
import { parseWheelFilename } from '../src/packaging/filename.js'
import { wheelSupports } from '../src/packaging/tags.js'
import { compareVersions, parseVersion } from '../src/pep440.js'
import { DEFAULT_LIBC, type Target } from '../src/target.js'
import { check } from './lib.js'
import { PACKAGES } from './full-path.js'

const CLI = resolve('dist', 'cli.cjs')
const SITE = '/usr/local/lib/python3.11/dist-packages'
const TARGET: Target = {
  python: { major: 3, minor: 11, patch: undefined },
  platform: { os: 'linux', architecture: 'amd64' },
  libc: DEFAULT_LIBC
}

function record(path: string): FixtureWheel {
  const file = path.split('/').at(-1)!
  const w = parseWheelFilename(file)!
  const bytes = readFileSync(path)
  return {
    project: w.distribution,
    version: w.version,
    filename: file,
    path,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    size: bytes.length
  }
}

/** The newest installable wheel of each bench package in the mirror, or null without a mirror. */
function mirrorWheels(): FixtureWheel[] | null {
  const dirs = (process.env['FAST_BUILD_WHEEL_MIRROR'] ?? '/opt/pypi/files').split(':')
  const dir = dirs.find((d) => d !== '' && existsSync(d))
  if (!dir) return null
  const files = readdirSync(dir)
  const out: FixtureWheel[] = []
  for (const name of PACKAGES) {
    const candidates = files
      .filter((f) => parseWheelFilename(f)?.distribution === normalizeName(name))
      .filter((f) => wheelSupports(f, TARGET))
      .sort((a, b) =>
        compareVersions(
          parseVersion(parseWheelFilename(a)!.version)!,
          parseVersion(parseWheelFilename(b)!.version)!
        )
      )
    const last = candidates.at(-1)
    if (!last) return null
    out.push(record(join(dir, last)))
  }
  return out
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

/** One build in a child process (asynchronously: the package index answers from this process). */
async function build(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const start = performance.now()
  const r = await run('node', [CLI, 'build', '--quiet', ...args], { env, timeoutMs: 1_200_000 })
  if (r.code !== 0) throw new Error(`fast-build build ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`)
  return (performance.now() - start) / 1000
}

export async function benchDockerfile(): Promise<void> {
  const pip = debianWheel('pip')
  const wheels = mirrorWheels() ?? [debianWheel('setuptools'), debianWheel('wheel')]
  const bytes = wheels.reduce((n, w) => n + w.size, 0)
  const work = mkdtempSync(join(tmpdir(), 'fast-build-bench-dockerfile-'))
  const reg = await startRegistry()
  const buildah = startBuildah()
  const index = await startPypiServer({ files: servedFiles([pip, ...wheels]) })
  try {
    const base = await pushPythonPipBase(reg, buildah, index)
    const project = wheelProject(
      {
        indexUrl: index.simpleUrl,
        fileUrl: (f) => index.fileUrl(f),
        main: wheels,
        config: `[tool.fast-build]
python = "3.11"
platforms = ["linux/amd64"]
base-image = "${base}"
site-packages = "${SITE}"
interpreter = "/usr/bin/python3"
`,
        files: { 'app.py': 'print("bench")\n' }
      },
      join(work, 'project')
    )
    console.log(
      `\nDockerfile builder vs wheels builder — one wheel-only variant, ${wheels.length} wheels (${(bytes / 1e6).toFixed(0)} MB), cold, into an empty repository; buildah on vfs (no Docker engine here)`
    )
    const env = { ...process.env, ...buildah.env }
    const wheelsRuns: number[] = []
    const dockerRuns: number[] = []
    for (let i = 0; i < 2; i++) {
      wheelsRuns.push(
        await build(
          [
            '--project',
            project,
            '--registry',
            `${reg.host}/wheels${i}`,
            '--builder',
            'wheels',
            '--cache-dir',
            join(work, `cw${i}`)
          ],
          env
        )
      )
      dockerRuns.push(
        await build(
          [
            '--project',
            project,
            '--registry',
            `${reg.host}/dockerfile${i}`,
            '--builder',
            'dockerfile',
            '--dockerfile-command',
            'buildah bud --network host',
            '--cache-dir',
            join(work, `cd${i}`)
          ],
          env
        )
      )
    }
    const w = median(wheelsRuns)
    const d = median(dockerRuns)
    console.log(
      `  wheels builder:     median ${w.toFixed(2)} s  (${wheelsRuns.map((s) => s.toFixed(2)).join(', ')})`
    )
    console.log(
      `  Dockerfile builder: median ${d.toFixed(2)} s  (${dockerRuns.map((s) => s.toFixed(2)).join(', ')})`
    )
    check(
      'wheels builder vs Dockerfile builder, same variant, cold',
      'wheels faster',
      `${(d / w).toFixed(1)}×`,
      d > w
    )
  } finally {
    await index.close()
    await buildah.close()
    await reg.stop()
    rmSync(work, { recursive: true, force: true })
  }
}
