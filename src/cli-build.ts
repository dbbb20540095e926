// `fast-build build`, loaded by the CLI only when asked for (see runCli).
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { runBuild } from './build/build.js'
import { formatBytes } from './build/fast-path.js'
import { prefetchSource } from './build/source.js'
import { loadPlan, UsageError, type CliIO } from './cli.js'
import type { Compression } from './oci/media-types.js'
import { defaultStoreDir, openStore, parseStoreSpec, podmanRunCommand } from './registry/open.js'
import { defaultCacheDir } from './wheels/fetch.js'
import { renderTable } from './util/table.js'

export async function cmdBuild(args: readonly string[], io: CliIO): Promise<number> {
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
      compression: { type: 'string', default: 'gzip' },
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
  const compression = values.compression!
  if (!['gzip', 'zstd', 'none'].includes(compression))
    throw new UsageError(`--compression must be gzip, zstd or none`)

  // git lists the source files in its own process while the lock is read and planned.
  prefetchSource(resolve(values.project!), source as 'auto' | 'git' | 'walk')
  const plan = loadPlan({
    project: values.project!,
    variants: values.variant ?? [],
    platforms: values.platform ?? [],
    ...(values.python ? { python: values.python } : {}),
    ...(values.builder ? { builder: values.builder } : {}),
    ...(values.dockerfile ? { dockerfile: values.dockerfile } : {}),
    ...(values['dockerfile-target'] ? { dockerfileTarget: values['dockerfile-target'] } : {}),
    ...(values['dockerfile-command'] ? { dockerfileCommand: values['dockerfile-command'] } : {})
  })
  for (const n of plan.notes) io.err(`note: ${n}\n`)
  // No store given: a layout in the cache directory, one per project (see defaultStoreDir), never
  // inside the project, where a walk of the source would pack it.
  const cacheDir = values['cache-dir'] ? resolve(values['cache-dir']) : undefined
  const spec = values.registry
    ? parseStoreSpec(values.registry, '--registry')
    : values.store !== undefined
      ? parseStoreSpec(values.store, '--store')
      : ({
          kind: 'layout',
          dir: defaultStoreDir(plan.project.dir, cacheDir ?? defaultCacheDir(process.env))
        } as const)
  const user = process.env['FAST_BUILD_REGISTRY_USERNAME']
  const password = process.env['FAST_BUILD_REGISTRY_PASSWORD']
  const store = await openStore(spec, {
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
  try {
    const result = await runBuild({
      plan,
      store,
      tags: values.tag ?? [],
      sourceMode: source as 'auto' | 'git' | 'walk',
      compression: compression as Compression,
      rebuild: (values.rebuild ?? []).includes('all') ? 'all' : (values.rebuild ?? []),
      fullPath: !values['fast-only'],
      ...(cacheDir ? { cacheDir } : {}),
      ...(values['index-url'] ? { indexUrl: values['index-url'] } : {}),
      onProgress: values.quiet ? undefined : (variant, m) => io.err(`${variant ? `${variant}: ` : ''}${m}\n`)
    })
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
      io.out(
        renderTable(['variant', 'path', 'deps', 'app image', 'up/mnt/skip', 'uploaded', 'seconds'], rows)
      )
      for (const v of result.variants) if (v.error) io.err(`${v.variant}: ${v.error}\n`)
    }
    if (!values.quiet) {
      // Where the images went (absolute: the store's name is), and for a layout how to run one.
      io.err(`images: ${result.store}\n`)
      const tag = result.variants.find((v) => v.tags.length > 0)?.tags[0]
      if (spec.kind === 'layout' && tag) io.err(`run one: ${podmanRunCommand(resolve(spec.dir), tag)}\n`)
    }
    return result.variants.every((v) => v.path === 'fast' || v.path === 'full') ? 0 : 1
  } finally {
    ;(store as { close?: () => void }).close?.()
  }
}
