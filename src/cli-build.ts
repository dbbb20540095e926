// `fast-build build`, loaded by the CLI only when asked for (see runCli): the flags translated
// into the build's stages (plan once with the base image pinned, then resolve and execute in
// runBuild), and its result into a table or JSON.
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { runBuild } from './pipeline/build.js'
import { formatBytes } from './util/format.js'
import { prefetchSource } from './pipeline/source.js'
import { planInputOf, UsageError, type CliIO } from './cli-plan.js'
import { planBuild, type BuildPlan } from './pipeline/plan-stage.js'
import type { Compression } from './oci/media-types.js'
import {
  defaultStoreDir,
  openStore,
  parseStoreSpec,
  podmanRunCommand,
  type StoreSpec
} from './registry/open.js'
import type { BuildResult } from './pipeline/results.js'
import { defaultCacheDir } from './cache/layout.js'
import { renderTable } from './util/table.js'

/** The flags of `build`, checked. */
function parseBuildArgs(args: readonly string[]) {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      project: { type: 'string', default: '.' },
      store: { type: 'string' },
      registry: { type: 'string' },
      variant: { type: 'string', multiple: true },
      platform: { type: 'string', multiple: true },
      python: { type: 'string' },
      tag: { type: 'string', multiple: true },
      source: { type: 'string', default: 'auto' },
      compression: { type: 'string' },
      rebuild: { type: 'string', multiple: true },
      'fast-only': { type: 'boolean', default: false },
      'cache-dir': { type: 'string' },
      'index-url': { type: 'string' },
      builder: { type: 'string' },
      dockerfile: { type: 'string' },
      'dockerfile-target': { type: 'string' },
      'dockerfile-command': { type: 'string' },
      json: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false }
    },
    allowPositionals: true
  })
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`)
  if (values.store && values.registry) throw new UsageError('give --store or --registry, not both')
  if (values['fast-only'] && (values.rebuild ?? []).length > 0)
    throw new UsageError('--rebuild builds deps images, which --fast-only forbids: give one or the other')
  const source = values.source!
  if (!['auto', 'git', 'walk'].includes(source)) throw new UsageError(`--source must be auto, git or walk`)
  const compression = values.compression
  if (compression !== undefined && !['gzip', 'zstd', 'none'].includes(compression))
    throw new UsageError(`--compression must be gzip, zstd or none`)
  return {
    values,
    source: source as 'auto' | 'git' | 'walk',
    // Absent: compression under [tool.fast-build].
    compression: compression as Compression | undefined,
    cacheDir: values['cache-dir'] ? resolve(values['cache-dir']) : undefined
  }
}

type BuildArgs = ReturnType<typeof parseBuildArgs>

/**
 * Where the images go: --registry, --store, or (neither) a layout in the cache directory, one per
 * project (see defaultStoreDir), never inside the project, where a walk of the source would pack it.
 */
function storeSpecOf(a: BuildArgs, projectDir: string): StoreSpec {
  const { values } = a
  if (values.registry) return parseStoreSpec(values.registry, '--registry')
  if (values.store !== undefined) return parseStoreSpec(values.store, '--store')
  return { kind: 'layout', dir: defaultStoreDir(projectDir, a.cacheDir ?? defaultCacheDir(process.env)) }
}

/** The store, with the registry credentials of the environment when it has them. */
function openBuildStore(spec: StoreSpec, io: CliIO) {
  const user = process.env['FAST_BUILD_REGISTRY_USERNAME']
  const password = process.env['FAST_BUILD_REGISTRY_PASSWORD']
  return openStore(spec, {
    ...(user && password
      ? {
          credential: {
            kind: 'basic',
            username: user,
            password,
            source: 'FAST_BUILD_REGISTRY_USERNAME/PASSWORD'
          }
        }
      : {}),
    onRetry: (m, delay) => io.err(`retrying in ${(delay / 1000).toFixed(1)} s: ${m}\n`)
  })
}

/** The result as JSON or a table, then where the images went; the exit code. */
function printResult(result: BuildResult, a: BuildArgs, spec: StoreSpec, io: CliIO): number {
  const { values } = a
  if (values.json) {
    io.out(JSON.stringify(result, null, 2) + '\n')
  } else {
    const rows = result.variants.map((v) => [
      v.variant,
      v.path,
      v.depsRef.slice(v.depsRef.lastIndexOf(':') + 1),
      v.appRef ? `${v.appRef.slice(0, v.appRef.indexOf('@'))}@${v.digest!.slice(0, 19)}` : '-',
      `${v.blobs.uploaded}/${v.blobs.mounted}/${v.blobs.skipped}`,
      // The full path's uploads (the deps image) count too.
      formatBytes(v.bytesUploaded + (v.full?.bytesUploaded ?? 0)),
      v.seconds.toFixed(2)
    ])
    io.out(renderTable(['variant', 'path', 'deps', 'app image', 'up/mnt/skip', 'uploaded', 'seconds'], rows))
    for (const v of result.variants) if (v.error) io.err(`${v.variant}: ${v.error}\n`)
  }
  if (!values.quiet) {
    // Where the images went (absolute: the store's name is), and for a layout how to run one.
    io.err(`images: ${result.store}\n`)
    const tag = result.variants.find((v) => v.tags.length > 0)?.tags[0]
    if (spec.kind === 'layout' && tag) io.err(`run one: ${podmanRunCommand(resolve(spec.dir), tag)}\n`)
  }
  return result.variants.every((v) => v.path === 'fast' || v.path === 'full') ? 0 : 1
}

export async function cmdBuild(args: readonly string[], io: CliIO): Promise<number> {
  const a = parseBuildArgs(args)
  const { values, cacheDir } = a
  // git lists the source files in its own process while the lock is read and planned.
  prefetchSource(resolve(values.project!), a.source)
  const input = planInputOf({
    project: values.project!,
    variants: values.variant ?? [],
    platforms: values.platform ?? [],
    ...(values.python ? { python: values.python } : {}),
    ...(values.builder ? { builder: values.builder } : {}),
    ...(values.dockerfile ? { dockerfile: values.dockerfile } : {}),
    ...(values['dockerfile-target'] ? { dockerfileTarget: values['dockerfile-target'] } : {}),
    ...(values['dockerfile-command'] ? { dockerfileCommand: values['dockerfile-command'] } : {})
  })
  const spec = storeSpecOf(a, input.project.dir)
  const store = await openBuildStore(spec, io)
  const say = values.quiet
    ? undefined
    : (variant: string | null, m: string) => io.err(`${variant ? `${variant}: ` : ''}${m}\n`)
  let planned: BuildPlan | null = null
  try {
    planned = await planBuild(input, {
      cacheDir: cacheDir ?? defaultCacheDir(process.env),
      ...(say ? { onProgress: (m: string) => say(null, m) } : {})
    })
    for (const n of planned.plan.notes) io.err(`note: ${n}\n`)
    const result = await runBuild({
      plan: planned,
      store,
      tags: values.tag ?? [],
      sourceMode: a.source,
      ...(a.compression ? { compression: a.compression } : {}),
      rebuild: (values.rebuild ?? []).includes('all') ? 'all' : (values.rebuild ?? []),
      fullPath: !values['fast-only'],
      ...(cacheDir ? { cacheDir } : {}),
      ...(values['index-url'] ? { indexUrl: values['index-url'] } : {}),
      onProgress: say
    })
    return printResult(result, a, spec, io)
  } finally {
    // The base image's registry connection (the plan stage's) and the store's, whatever happened.
    planned?.base?.store.close?.()
    ;(store as { close?: () => void }).close?.()
  }
}
