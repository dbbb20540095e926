// Running the bundled action (dist/index.js) as GitHub runs it: INPUT_* and GITHUB_* environment,
// an event payload file, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, RUNNER_TEMP as the runner's
// temp dir (the caches), and whatever stand-ins the test points it at (cache service, REST API).
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { runnableRootfs, stubPython, umociImage } from './deps-images.js'
import { run } from './process.js'
import { tempDir } from './project.js'
import { startPypiServer, type PypiServer } from './pypi-server.js'
import { startRegistry, type TestRegistry } from './registry.js'
import { skopeoCopy } from './skopeo.js'
import { servedFiles, wheelProject } from './wheel-project.js'
import { buildSimpleWheels, type FixtureWheel } from './wheel-fixtures.js'

export const ACTION = resolve('dist', 'index.js')

export interface ActionRun {
  readonly code: number
  readonly stdout: string
  readonly outputs: Record<string, string>
  readonly summary: string
}

/** GITHUB_OUTPUT as @actions/core writes it: `name<<delimiter`, value lines, `delimiter`. */
export function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  const re = /^([\w-]+)<<(.+)\n([\s\S]*?)\n\2$/gm
  for (let m = re.exec(text); m; m = re.exec(text)) out[m[1]!] = m[3]!
  return out
}

export interface ActionStep {
  /** The checkout (GITHUB_WORKSPACE; the project input defaults to it). */
  readonly dir: string
  readonly sha: string
  /** The runner's temp dir: kept between steps for one runner, fresh for another. */
  readonly runner: string
  readonly inputs?: Record<string, string>
  /** push (default), pull_request, workflow_dispatch… */
  readonly event?: string
  /** The event payload; default: a push to main of acme/app. */
  readonly payload?: unknown
  readonly env?: Record<string, string>
}

export const PUSH_PAYLOAD = {
  repository: { full_name: 'acme/app', default_branch: 'main' },
  ref: 'refs/heads/main'
}

export async function runAction(step: ActionStep): Promise<ActionRun> {
  const files = tempDir()
  const output = join(files, 'output')
  const summary = join(files, 'summary')
  const event = join(files, 'event.json')
  writeFileSync(output, '')
  writeFileSync(summary, '')
  writeFileSync(event, JSON.stringify(step.payload ?? PUSH_PAYLOAD))
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: step.runner,
    RUNNER_TEMP: step.runner,
    GITHUB_WORKSPACE: step.dir,
    GITHUB_EVENT_NAME: step.event ?? 'push',
    GITHUB_EVENT_PATH: event,
    GITHUB_SHA: step.sha,
    GITHUB_REF: 'refs/heads/main',
    GITHUB_REF_NAME: 'main',
    GITHUB_REPOSITORY: 'acme/app',
    GITHUB_ACTOR: 'octocat',
    GITHUB_OUTPUT: output,
    GITHUB_STEP_SUMMARY: summary,
    ...Object.fromEntries(
      Object.entries({ project: step.dir, ...step.inputs }).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v])
    ),
    ...step.env
  }
  const r = await run('node', [ACTION], { env, cwd: step.dir, timeoutMs: 240_000 })
  return {
    code: r.code ?? -1,
    stdout: r.stdout,
    outputs: parseOutputs(readFileSync(output, 'utf8')),
    summary: readFileSync(summary, 'utf8')
  }
}

const GIT_ENV = {
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@e',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@e'
}

/** Commit everything in `dir` (a git repository); the new commit's sha. */
export function commitAll(dir: string, message: string): string {
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', dir, ...args], {
      env: { ...process.env, ...GIT_ENV },
      encoding: 'utf8'
    }).trim()
  git('add', '-A')
  git('commit', '-q', '-m', message)
  return git('rev-parse', 'HEAD')
}

export function gitInit(dir: string): void {
  execFileSync('git', ['init', '-q', '-b', 'main', dir])
}

export const rebuiltOf = (r: ActionRun): string[] | null => JSON.parse(r.outputs['rebuilt'] ?? 'null')

/**
 * What the end-to-end tests of the action share: a real registry holding a small runnable base
 * image, a package index with a handful of wheels, and a uv project writer with variants base
 * (main) and ml (main + the ml extra), optionally a run-time group exp.
 */
export interface ActionFixture {
  readonly reg: TestRegistry
  readonly index: PypiServer
  readonly wheels: readonly FixtureWheel[]
  writeProject(dir: string, v?: ProjectVersions): void
  close(): Promise<void>
}

export interface ProjectVersions {
  readonly six?: string
  readonly torch?: string
  readonly einops?: boolean
  /** Registry repository under the test registry (default acme/app). */
  readonly repository?: string
  /** Packages of a run-time group `exp`. */
  readonly exp?: boolean
}

export async function startActionFixture(): Promise<ActionFixture> {
  const reg = await startRegistry()
  const wheels = await buildSimpleWheels(join(tempDir(), 'w'), [
    ...['requests-ish', 'urllib-ish', 'certifi-ish', 'idna-ish', 'six-ish', 'attrs-ish'].map((p) => ({
      project: p,
      version: '1.0.0'
    })),
    { project: 'six-ish', version: '1.1.0' },
    { project: 'torch-ish', version: '2.5.1', kb: 64 },
    { project: 'torch-ish', version: '2.6.0', kb: 64 },
    { project: 'einops-ish', version: '0.8.0' },
    { project: 'polars-ish', version: '1.0.0' }
  ])
  const index = await startPypiServer({ files: servedFiles(wheels) })
  const base = join(tempDir(), 'base')
  await umociImage(base, 'base', runnableRootfs(join(tempDir(), 'rootfs'), stubPython('3.11')))
  const copied = await skopeoCopy(`oci:${base}:base`, `docker://${reg.host}/library/python:3.11`)
  if (copied.code !== 0) throw new Error(`pushing the base image failed: ${copied.stderr}`)
  const w = (project: string, version = '1.0.0') =>
    wheels.find((x) => x.project === project && x.version === version)!
  return {
    reg,
    index,
    wheels,
    writeProject(dir, v = {}) {
      wheelProject(
        {
          indexUrl: index.simpleUrl,
          fileUrl: (f) => index.fileUrl(f),
          main: ['requests-ish', 'urllib-ish', 'certifi-ish', 'idna-ish', 'attrs-ish']
            .map((p) => w(p))
            .concat(w('six-ish', v.six ?? '1.0.0')),
          extras: {
            ml: [w('torch-ish', v.torch ?? '2.5.1'), ...(v.einops ? [w('einops-ish', '0.8.0')] : [])]
          },
          ...(v.exp ? { groups: { exp: [w('polars-ish')] } } : {}),
          config: `[tool.fast-build]
python = "3.11"
base-image = "${reg.host}/library/python:3.11"
image = "${reg.host}/${v.repository ?? 'acme/app'}"
${v.exp ? 'runtime-groups = ["exp"]\n' : ''}[tool.fast-build.variants]
base = { groups = ["main"] }
ml = { groups = ["main"], extras = ["ml"] }
`,
          files: { 'app/__init__.py': '', 'app/main.py': 'print("v1")\n' }
        },
        dir
      )
    },
    async close() {
      await index.close()
      await reg.stop()
    }
  }
}
