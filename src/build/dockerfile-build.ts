// The Dockerfile builder's edge: write the build context, run the engine (docker buildx or
// buildah) with its output streamed line by line, and hand back the deps image it pushed, read
// from the registry like any other. What to write and which commands to run is dockerfile.ts's.
import { spawn } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { isAbsolute, join } from 'node:path'
import type { Plan, VariantPlan } from '../plan/plan.js'
import { isLoopback, parseImageReference } from '../registry/client.js'
import type { ImageStore } from '../registry/store.js'
import {
  buildArgsFor,
  contextFiles,
  engineCommands,
  engineOf,
  type DockerfileSettings
} from './dockerfile.js'
import { resolveDepsImage, type DepsImage } from './deps-image.js'
import { DockerfileError } from './errors.js'
import { emptyStats } from './fast-path.js'
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
}

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
  const context = join(o.workDir, 'dockerfile', `${v.name}-${v.shortHash}`)
  rmSync(context, { recursive: true, force: true })
  mkdirSync(context, { recursive: true })
  for (const f of contextFiles(v.name, v.platforms, o.plan.lock.path))
    writeFileSync(join(context, f.name), f.text)
  let file: string
  if (settings.path === null) {
    file = join(context, 'Dockerfile')
    writeFileSync(file, settings.text)
  } else {
    file = isAbsolute(settings.path) ? settings.path : join(o.plan.project.dir, settings.path)
  }
  const ref = `${o.store.name}:${tag}`
  const platforms = v.platforms.map((p) => p.platform)
  const commands = engineCommands({
    settings,
    file,
    context,
    variant: v.name,
    buildArgs: buildArgsFor({ settings, variant: v.name, base: o.base, platforms }),
    platforms,
    tag: ref,
    insecure: isLoopback(parseImageReference(ref, 'image').host),
    githubCache: Boolean(o.env['ACTIONS_RUNTIME_TOKEN']) && engineOf(settings.command) === 'docker'
  })
  const start = performance.now()
  for (const argv of commands) {
    say(`$ ${shown(argv)}`)
    const { code, tail } = await runStreaming(argv, o.env, context, (line) => say(line))
    if (code !== 0) {
      throw new DockerfileError(
        `${v.name}: ${argv[0]} exited with ${code} building ${ref}${settings.path ? ` from ${settings.path}` : ''}; its last lines:\n${tail.join('\n')}`,
        settings.path ? { file: settings.path } : { keyPath: 'tool.fast-build.dockerfile' },
        code === 127
          ? `install ${argv[0]} or set dockerfile-command (for instance "buildah bud")`
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
