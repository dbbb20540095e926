// The Dockerfile builder's edge: write the build context (with a pip wheel when the base image's
// Python has no pip), check that docker has buildx when the command needs it, run the engine
// (docker buildx or buildah) with its output streamed line by line, and hand back the deps image
// it pushed, read from the registry like any other. What to write and which commands to run is
// dockerfile.ts's.
import { spawn } from 'node:child_process'
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { isAbsolute, join } from 'node:path'
import { describeError } from '../errors.js'
import { normalizeName } from '../names.js'
import type { Plan, VariantPlan } from '../plan/plan.js'
import { isLoopback, parseImageReference } from '../registry/client.js'
import type { ImageStore } from '../registry/store.js'
import { pythonFull, type PythonVersion } from '../target.js'
import { ArtifactCache } from '../cache/artifacts.js'
import { CacheLayout } from '../cache/layout.js'
import { fetchArtifacts } from '../wheels/fetch.js'
import { indexConfigFor } from '../packaging/index-credentials.js'
import { PackageIndex, type IndexConfig } from '../wheels/index.js'
import {
  buildArgsFor,
  contextFiles,
  engineCommands,
  engineOf,
  lockIndexUrl,
  newestPipWheel,
  PIP_CONTEXT_DIR,
  saysBuildxMissing,
  type BasePython,
  type DockerfileSettings
} from './dockerfile.js'
import { resolveDepsImage, type DepsImage } from './deps-image.js'
import { DockerfileError } from './errors.js'
import { emptyStats } from '../registry/push.js'
import type { FullPathResult } from './full-path.js'
import { shQuote } from './runtime.js'

/** How many of the build's last lines an error carries (and the job summary shows). */
export const LOG_TAIL_LINES = 20

export interface DockerfileBuildOptions {
  readonly plan: Plan
  readonly store: ImageStore
  /** The pinned base image (`repo@sha256:…`), passed as FAST_BUILD_BASE. */
  readonly base: string
  readonly workDir: string
  readonly env: NodeJS.ProcessEnv
  readonly onProgress?: (message: string) => void
  /**
   * The base image's Python, found in it: its interpreter goes to the Dockerfile as
   * FAST_BUILD_PYTHON, and without pip (hasPip false) the generated Dockerfile gets a pip wheel in
   * its context. Absent: FAST_BUILD_PYTHON keeps its default (`python3`), and no wheel is added.
   */
  readonly python?: BasePython
  /** The index a pip wheel comes from: a mirror (--index-url) when set, else the lock's index. */
  readonly mirror?: IndexConfig | null
  /** Where a pip wheel is downloaded to (default: `artifacts` in the default cache directory). */
  readonly cache?: ArtifactCache
}

/** What to do when docker has no buildx: said by the preflight check and by a failed build. */
const BUILDX_HINT =
  'install the buildx plugin (the docker-buildx or docker-buildx-plugin package), use docker/setup-buildx-action in the workflow, ' +
  'or build with buildah: dockerfile-command = "buildah bud"'

/** Run one command; every output line to `onLine`; the exit code and the last lines. */
function runStreaming(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  onLine: (line: string) => void
): Promise<{ code: number; tail: string[] }> {
  return new Promise((resolve) => {
    const tail: string[] = []
    const child = spawn(argv[0]!, argv.slice(1), { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    const feed = (stream: NodeJS.ReadableStream) => {
      let rest = ''
      stream.setEncoding('utf8')
      stream.on('data', (chunk: string) => {
        const lines = (rest + chunk).split(/\r?\n/)
        rest = lines.pop() ?? ''
        for (const l of lines) push(l)
      })
      stream.on('end', () => rest && push(rest))
    }
    const push = (line: string) => {
      onLine(line)
      tail.push(line)
      if (tail.length > LOG_TAIL_LINES) tail.shift()
    }
    feed(child.stdout)
    feed(child.stderr)
    child.on('error', (e) => {
      push(`${argv[0]}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : e.message}`)
      resolve({ code: 127, tail })
    })
    child.on('close', (code) => resolve({ code: code ?? 1, tail }))
  })
}

/** `docker buildx build …` / `buildah bud …`, as the log shows a command (arguments quoted when needed). */
function shown(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : shQuote(a))).join(' ')
}

/**
 * When `command` is `docker buildx …`, check that the docker found has the buildx plugin
 * (`docker buildx version`), so that a missing plugin says so rather than failing the build with
 * "unknown flag". A docker that is not found at all is left to the build, which says to install it.
 */
export async function checkBuildx(
  command: readonly string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  variant: string
): Promise<void> {
  if (engineOf(command) !== 'docker' || command[1] !== 'buildx') return
  const argv = [command[0]!, 'buildx', 'version']
  const { code, tail } = await runStreaming(argv, env, cwd, () => undefined)
  if (code === 0 || code === 127) return
  throw new DockerfileError(
    `${variant}: the Dockerfile builder runs ${command.join(' ')}, and ${command[0]} has no buildx plugin (${shown(argv)}: ${tail.find((l) => l.trim() !== '') ?? `exit ${code}`})`,
    { keyPath: 'tool.fast-build.dockerfile-command' },
    BUILDX_HINT
  )
}

/**
 * Put the newest pip wheel of `index` that runs on `python` into `dir`, its sha256 checked against
 * the index page; the file name. A DockerfileError naming the index when it has none or fails.
 */
export async function fetchPipWheel(
  index: IndexConfig,
  python: PythonVersion,
  dir: string,
  cache: ArtifactCache,
  why: string
): Promise<string> {
  const listing = new PackageIndex(index)
  const fix = `use a base image whose Python has pip, or set index-url to an index that serves pip wheels (${why})`
  let files
  try {
    files = await listing.files('pip')
  } catch (e) {
    throw new DockerfileError(
      `${why}, and pip cannot be listed on the index ${listing.url}: ${describeError(e)}`,
      { keyPath: 'tool.fast-build.index-url' },
      fix
    )
  }
  const wheel = newestPipWheel(files, pythonFull(python))
  if (!wheel)
    throw new DockerfileError(
      `${why}, and the index ${listing.url} lists no pip wheel (final, not yanked, with a sha256) for Python ${pythonFull(python)}`,
      { keyPath: 'tool.fast-build.index-url' },
      fix
    )
  const version = /^pip-([^-]+)-/.exec(wheel.filename)![1]!
  let path: string
  try {
    const [fetched] = await fetchArtifacts(
      [
        {
          name: normalizeName('pip'),
          version,
          file: {
            name: wheel.filename,
            url: wheel.url,
            path: null,
            hashes: { sha256: wheel.hashes['sha256']!.toLowerCase() },
            size: wheel.size ?? null,
            kind: 'wheel'
          },
          index
        }
      ],
      { cache }
    )
    path = fetched!.path
  } catch (e) {
    throw new DockerfileError(
      `${why}, and ${wheel.filename} could not be fetched from the index ${listing.url}: ${describeError(e)}`,
      { keyPath: 'tool.fast-build.index-url' },
      fix
    )
  }
  mkdirSync(dir, { recursive: true })
  copyFileSync(path, join(dir, wheel.filename))
  return wheel.filename
}

/**
 * The build context of the variant (its pins, and a pip wheel when the generated Dockerfile needs
 * one), and the Dockerfile to build it with.
 */
async function writeContext(
  v: VariantPlan,
  settings: DockerfileSettings,
  o: DockerfileBuildOptions,
  say: (message: string) => void
): Promise<{ context: string; file: string }> {
  const context = join(o.workDir, 'dockerfile', `${v.name}-${v.shortHash}`)
  rmSync(context, { recursive: true, force: true })
  mkdirSync(context, { recursive: true })
  for (const f of contextFiles(v.name, v.platforms, o.plan.lock.path))
    writeFileSync(join(context, f.name), f.text)
  // Always there (the generated Dockerfile copies it); holds a pip wheel only when needed.
  mkdirSync(join(context, PIP_CONTEXT_DIR))
  if (settings.path !== null)
    return {
      context,
      file: isAbsolute(settings.path) ? settings.path : join(o.plan.project.dir, settings.path)
    }
  const file = join(context, 'Dockerfile')
  writeFileSync(file, settings.text)
  // Only the generated Dockerfile knows the wheel; a project's own Dockerfile brings its pip.
  if (o.python && !o.python.hasPip) {
    const index = o.mirror ?? indexConfigFor(lockIndexUrl(v.platforms), null, o.env)
    const name = await fetchPipWheel(
      index,
      v.python,
      join(context, PIP_CONTEXT_DIR),
      o.cache ?? new ArtifactCache(CacheLayout.default(o.env).artifacts),
      `${v.name}: the base image's ${o.python.interpreter} has no pip`
    )
    say(`the base image's ${o.python.interpreter} has no pip: ${name} goes into the build context`)
  }
  return { context, file }
}

/** Build and push the variant's deps image `tag` with its Dockerfile; the image as pushed. */
export async function buildDepsWithDockerfile(
  v: VariantPlan,
  settings: DockerfileSettings,
  tag: string,
  o: DockerfileBuildOptions
): Promise<FullPathResult> {
  const say = o.onProgress ?? (() => undefined)
  if (o.store.name.startsWith('oci:'))
    throw new DockerfileError(
      `${v.name}: the Dockerfile builder pushes its deps image to a registry, and ${o.store.name} is an OCI layout`,
      { keyPath: 'tool.fast-build.builder' },
      'build to a registry (--registry HOST/REPO), or use the wheels builder for this variant'
    )
  const { context, file } = await writeContext(v, settings, o, say)
  const ref = `${o.store.name}:${tag}`
  const platforms = v.platforms.map((p) => p.platform)
  const commands = engineCommands({
    settings,
    file,
    context,
    variant: v.name,
    buildArgs: buildArgsFor({
      settings,
      variant: v.name,
      base: o.base,
      platforms,
      ...(o.python ? { python: o.python.interpreter } : {})
    }),
    platforms,
    tag: ref,
    insecure: isLoopback(parseImageReference(ref, 'image').host),
    githubCache: Boolean(o.env['ACTIONS_RUNTIME_TOKEN']) && engineOf(settings.command) === 'docker'
  })
  await checkBuildx(settings.command, o.env, context, v.name)
  const start = performance.now()
  for (const argv of commands) {
    say(`$ ${shown(argv)}`)
    const { code, tail } = await runStreaming(argv, o.env, context, (line) => say(line))
    if (code !== 0) {
      const noBuildx = engineOf(argv) === 'docker' && saysBuildxMissing(tail)
      throw new DockerfileError(
        `${v.name}: ${argv[0]} exited with ${code} building ${ref}${settings.path ? ` from ${settings.path}` : ''}${noBuildx ? `: ${argv[0]} has no buildx plugin` : ''}; its last lines:\n${tail.join('\n')}`,
        noBuildx
          ? { keyPath: 'tool.fast-build.dockerfile-command' }
          : settings.path
            ? { file: settings.path }
            : { keyPath: 'tool.fast-build.dockerfile' },
        code === 127
          ? `install ${argv[0]} or set dockerfile-command (for instance "buildah bud")`
          : noBuildx
            ? BUILDX_HINT
            : 'fix the Dockerfile or the packages it installs (the full log is above)'
      )
    }
  }
  const seconds = (performance.now() - start) / 1000
  const image: DepsImage | null = await resolveDepsImage(o.store, tag, platforms)
  if (!image)
    throw new DockerfileError(
      `${v.name}: ${commands[0]![0]} finished, but ${ref} is not in the registry`,
      { keyPath: 'tool.fast-build.dockerfile-command' },
      'check that the command pushes (docker buildx needs a builder that can push: docker/setup-buildx-action)'
    )
  say(`deps image ${ref} built with the Dockerfile builder in ${seconds.toFixed(1)} s`)
  return {
    image,
    stats: emptyStats(),
    layers: [],
    notes: [],
    wheels: { total: 0, fetched: 0, downloaded: 0, bytesDownloaded: 0, restored: 0, downloadedSha256: [] }
  }
}
