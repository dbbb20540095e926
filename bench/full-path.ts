// The full path on 41 real wheels (numpy, pandas, scipy, scikit-learn, pydantic, aiohttp and their
// dependencies) from the machine's wheel mirror, served over loopback HTTP as an index would:
//   cold:        `fast-build build` with an empty cache and an empty repository (choose, download,
//                verify, install, layer, push the deps image, then the source on top)
//   baseline:    `pip install --no-deps --no-compile --target` of the same wheel files (already on
//                disk: no download) followed by `tar | gzip -1` of the result, no push at all
//   incremental: after one package is bumped in the lock, with the cache and the registry of the
//                previous build, as on the next commit in CI
// Skipped (with a note) when the machine has no wheel mirror (/opt/pypi/files or
// FAST_BUILD_WHEEL_MIRROR): nothing else here can supply 85 MB of real wheels.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { runnableRootfs, stubPython, umociImage } from '../__tests__/support/deps-images.js'
import { startRegistry } from '../__tests__/support/registry.js'
import { wheelProject } from '../__tests__/support/wheel-project.js'
import type { FixtureWheel } from '../__tests__/support/wheel-fixtures.js'
import { normalizeName } from '../src/names.js'
import { compareVersions, parseVersion } from '../src/pep440.js'
import { DEFAULT_LIBC, type Target } from '../src/target.js'
import { parseWheelFilename } from '../src/packaging/filename.js'
import { wheelSupports } from '../src/packaging/tags.js'
import { check } from './lib.js'

const CLI = resolve('dist', 'cli.cjs')

export const PACKAGES = [
  'numpy',
  'pandas',
  'scipy',
  'scikit-learn',
  'pydantic',
  'pydantic-core',
  'aiohttp',
  'requests',
  'urllib3',
  'certifi',
  'idna',
  'charset-normalizer',
  'python-dateutil',
  'pytz',
  'tzdata',
  'six',
  'joblib',
  'threadpoolctl',
  'attrs',
  'multidict',
  'yarl',
  'frozenlist',
  'aiosignal',
  'aiohappyeyeballs',
  'propcache',
  'typing-extensions',
  'annotated-types',
  'typing-inspection',
  'click',
  'jinja2',
  'markupsafe',
  'packaging',
  'pyyaml',
  'tqdm',
  'rich',
  'pygments',
  'markdown-it-py',
  'mdurl',
  'anyio',
  'sniffio',
  'h11'
]
/** Bumped one at a time for the incremental runs: each has an older and a newer wheel in the mirror. */
const BUMPS = ['rich', 'multidict', 'pydantic-core']

const TARGET: Target = {
  python: { major: 3, minor: 11, patch: undefined },
  platform: { os: 'linux', architecture: 'amd64' },
  libc: DEFAULT_LIBC
}

function mirrorDir(): string | null {
  const configured = process.env['FAST_BUILD_WHEEL_MIRROR']
  const dirs = configured !== undefined ? configured.split(':') : ['/opt/pypi/files']
  return dirs.find((d) => d !== '' && existsSync(d)) ?? null
}

/** Every wheel of `name` in the mirror that installs on the target, oldest first. */
function wheelsOf(files: readonly string[], name: string): { file: string; version: string }[] {
  const out: { file: string; version: string }[] = []
  for (const f of files) {
    const w = parseWheelFilename(f)
    if (!w || w.distribution !== normalizeName(name)) continue
    if (!wheelSupports(f, TARGET)) continue
    out.push({ file: f, version: w.version })
  }
  return out.sort((a, b) => compareVersions(parseVersion(a.version)!, parseVersion(b.version)!))
}

function built(dir: string, file: string, project: string, version: string): FixtureWheel {
  const path = join(dir, file)
  const bytes = readFileSync(path)
  return {
    project,
    version,
    filename: file,
    path,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    size: bytes.length
  }
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer()
    s.once('error', rej)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => res(port))
    })
  })
}

/** The mirror's parent directory (simple/ and files/) over HTTP, in its own process. */
async function serveMirror(root: string): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort()
  const proc = spawn(
    'python3',
    ['-m', 'http.server', '--bind', '127.0.0.1', '--directory', root, String(port)],
    {
      stdio: 'ignore'
    }
  )
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`${url}/simple/`, { signal: AbortSignal.timeout(1000) })
      await r.arrayBuffer()
      return { url, proc }
    } catch {
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  proc.kill()
  throw new Error('the mirror HTTP server did not start')
}

function sh(script: string): number {
  const start = performance.now()
  const r = spawnSync('bash', ['-c', script], {
    encoding: 'utf8',
    timeout: 600_000,
    maxBuffer: 64 * 1024 * 1024
  })
  if (r.status !== 0) throw new Error(`bench step failed: ${script}\n${r.stderr}`)
  return (performance.now() - start) / 1000
}

/**
 * Write back what earlier steps left in the page cache before a measured step: otherwise the
 * kernel flushes hundreds of MB (pip's trees, earlier images) during whichever step comes next,
 * and that step is charged for it. Called before every measured step, ours and the baseline's.
 */
function settle(): void {
  spawnSync('sync', { timeout: 120_000 })
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

interface BuildJson {
  variants: {
    path: string
    error: string | null
    full: {
      bytesUploaded: number
      layers: number
      layersUploaded: number
      packagesCopied: number
      wheels: number
      phases: Record<string, number> | null
    } | null
  }[]
}

/**
 * One `fast-build build` as a process. Asynchronous on purpose: this process also drains the test
 * registry's log pipe, and a synchronous wait would let that pipe fill until the registry blocks
 * writing its log (and with it every request that logs).
 */
async function build(
  project: string,
  registry: string,
  cache: string
): Promise<{ seconds: number; result: BuildJson }> {
  const start = performance.now()
  const child = spawn(
    'node',
    [CLI, 'build', '--project', project, '--registry', registry, '--cache-dir', cache, '--json', '--quiet'],
    { stdio: ['ignore', 'pipe', 'pipe'] }
  )
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')))
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')))
  const timer = setTimeout(() => child.kill('SIGKILL'), 600_000)
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)))
  clearTimeout(timer)
  const seconds = (performance.now() - start) / 1000
  if (code !== 0) throw new Error(`fast-build build failed:\n${stdout}\n${stderr}`)
  return { seconds, result: JSON.parse(stdout) as BuildJson }
}

export async function benchFullPath(): Promise<void> {
  const mirror = mirrorDir()
  if (!mirror) {
    console.log(
      '\nfull path — skipped: no wheel mirror on this machine (/opt/pypi/files or FAST_BUILD_WHEEL_MIRROR)'
    )
    return
  }
  const files = readdirSync(mirror)
  const latest = new Map<string, FixtureWheel>()
  const older = new Map<string, FixtureWheel>()
  for (const name of PACKAGES) {
    const all = wheelsOf(files, name)
    const last = all.at(-1)
    if (!last) {
      console.log(`\nfull path — skipped: the mirror has no wheel of ${name} for cp311 linux/amd64`)
      return
    }
    latest.set(name, built(mirror, last.file, name, last.version))
    const prev = all.filter((w) => w.version !== last.version).at(-1)
    if (prev) older.set(name, built(mirror, prev.file, name, prev.version))
  }
  for (const b of BUMPS)
    if (!older.has(b)) throw new Error(`the mirror has one version of ${b}: no bump to measure`)
  const totalBytes = [...latest.values()].reduce((n, w) => n + w.size, 0)

  const work = mkdtempSync(join(tmpdir(), 'fast-build-bench-full-'))
  const server = await serveMirror(resolve(mirror, '..'))
  const reg = await startRegistry()
  try {
    const base = join(work, 'base')
    await umociImage(base, 'base', runnableRootfs(join(work, 'rootfs'), stubPython('3.11')))
    const project = join(work, 'project')
    mkdirSync(project)
    // The cold builds use the older version of each bumped package; incremental runs bump them.
    const versions = new Map(PACKAGES.map((n) => [n, BUMPS.includes(n) ? older.get(n)! : latest.get(n)!]))
    const writeProject = (dir = project, extra = '') =>
      wheelProject(
        {
          indexUrl: `${server.url}/simple`,
          fileUrl: (f) => `${server.url}/files/${f}`,
          main: [...versions.values()],
          config: `[tool.fast-build]\npython = "3.11"\nplatforms = ["linux/amd64"]\nbase-image = "oci:${base}:base"\n${extra}`,
          files: { 'app.py': 'print("bench")\n' }
        },
        dir
      )
    writeProject()
    const coldWheels = [...versions.values()]
    console.log(
      `\nfull path — ${coldWheels.length} wheels, ${(totalBytes / 1e6).toFixed(0)} MB, from the mirror over loopback HTTP; registry on loopback`
    )

    // Cold: empty cache, empty repository, each time.
    const cold: number[] = []
    let coldResult: BuildJson | null = null
    for (let i = 0; i < 3; i++) {
      settle()
      const { seconds, result } = await build(project, `${reg.host}/cold${i}`, join(work, `cache-cold-${i}`))
      cold.push(seconds)
      coldResult = result
      rmSync(join(work, `cache-cold-${i}`), { recursive: true, force: true })
    }
    const full = coldResult!.variants[0]!.full!
    console.log(
      `  fast-build cold build:   median ${median(cold).toFixed(2)} s  (${cold.map((s) => s.toFixed(2)).join(', ')}); ${full.layers} layers, ${(full.bytesUploaded / 1e6).toFixed(1)} MB pushed`
    )
    // Where the last cold build's deps image time went (full.phases of --json; build and upload
    // overlap inside "layers", so they are busy times).
    if (full.phases)
      console.log(
        `  phases (last cold run): ${Object.entries(full.phases)
          .map(([k, v]) => `${k} ${v.toFixed(2)} s`)
          .join(', ')}`
      )

    // The same cold build with zstd layers (compression = "zstd"), for time and size.
    const zstdProject = join(work, 'project-zstd')
    mkdirSync(zstdProject)
    writeProject(zstdProject, 'compression = "zstd"\n')
    const coldZstd: number[] = []
    let zstdFull: NonNullable<BuildJson['variants'][0]['full']> | null = null
    for (let i = 0; i < 3; i++) {
      const cache = join(work, `cache-zstd-${i}`)
      settle()
      const { seconds, result } = await build(zstdProject, `${reg.host}/zstd${i}`, cache)
      coldZstd.push(seconds)
      zstdFull = result.variants[0]!.full
      rmSync(cache, { recursive: true, force: true })
    }
    console.log(
      `  cold, zstd layers:       median ${median(coldZstd).toFixed(2)} s  (${coldZstd.map((s) => s.toFixed(2)).join(', ')}); ${(zstdFull!.bytesUploaded / 1e6).toFixed(1)} MB pushed`
    )
    console.log(
      `  gzip vs zstd (cold):     gzip ${median(cold).toFixed(2)} s, ${(full.bytesUploaded / 1e6).toFixed(1)} MB; zstd ${median(coldZstd).toFixed(2)} s, ${(zstdFull!.bytesUploaded / 1e6).toFixed(1)} MB (${((zstdFull!.bytesUploaded / full.bytesUploaded) * 100).toFixed(0)}% of gzip's bytes)`
    )

    // Baseline: pip --target of the same files, then tar | gzip -1 of the tree.
    const list = coldWheels.map((w) => w.path).join(' ')
    const pip: number[] = []
    const tar: number[] = []
    for (let i = 0; i < 3; i++) {
      const target = join(work, `pip-${i}`)
      settle()
      pip.push(
        sh(
          `PIP_CONFIG_FILE=/dev/null python3 -m pip install --quiet --no-deps --no-compile --no-index --disable-pip-version-check --target ${target} ${list}`
        )
      )
      settle()
      tar.push(sh(`tar -C ${target} -cf - . | gzip -1 > ${target}.tar.gz`))
      const du = statSync(`${target}.tar.gz`).size
      if (i === 0) console.log(`  (baseline layer: ${(du / 1e6).toFixed(1)} MB gzip -1)`)
      rmSync(target, { recursive: true, force: true })
      rmSync(`${target}.tar.gz`, { force: true })
    }
    const baseline = pip.map((p, i) => p + tar[i]!)
    console.log(
      `  pip --target + tar|gzip: median ${median(baseline).toFixed(2)} s  (pip ${median(pip).toFixed(2)} s + tar|gzip -1 ${median(tar).toFixed(2)} s)`
    )

    // Incremental: one warm state (cache + registry), then one bump per run.
    const cache = join(work, 'cache')
    await build(project, `${reg.host}/app`, cache)
    const incremental: number[] = []
    for (const name of BUMPS) {
      versions.set(name, latest.get(name)!)
      writeProject()
      settle()
      const { seconds, result } = await build(project, `${reg.host}/app`, cache)
      const v = result.variants[0]!
      if (v.path !== 'full') throw new Error(`bumping ${name} did not take the full path`)
      incremental.push(seconds)
      console.log(
        `  bump ${name} ${older.get(name)!.version} → ${latest.get(name)!.version}: ${seconds.toFixed(2)} s, ${v.full!.layersUploaded} of ${v.full!.layers} layers uploaded, ${(v.full!.bytesUploaded / 1e6).toFixed(2)} MB, ${v.full!.packagesCopied} packages copied from the layer before`
      )
    }
    const c = median(cold)
    const b = median(baseline)
    const inc = median(incremental)
    console.log(
      `  fast-build incremental:  median ${inc.toFixed(2)} s = ${((inc / c) * 100).toFixed(1)}% of cold`
    )
    check('full path cold vs pip --target + tar|gzip -1', '≥ 2.5×', `${(b / c).toFixed(2)}×`, b / c >= 2.5)
    check(
      'full path incremental (one bump) vs cold',
      '< 10%',
      `${((inc / c) * 100).toFixed(1)}%`,
      inc / c < 0.1
    )
  } finally {
    server.proc.kill()
    await reg.stop()
    if (process.env['FAST_BUILD_BENCH_KEEP']) console.log(`  kept ${work}`)
    else rmSync(work, { recursive: true, force: true })
  }
}
