// Deps images for fast-path tests, made by umoci (a tool we did not write): a rootfs directory
// becomes an image in an OCI layout; several platforms become an index. skopeo then copies them
// wherever the test needs them (a registry, another layout).
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { runOk } from './process.js'

/**
 * Stands in for a python.org build of `version` (`3.11`) in a base image: the names fast-build
 * reads to find a base image's Python (`/usr/local/bin/python3.11` and its `python3` link, the
 * stdlib landmark `os.py`). The "interpreter" is a shell script: these images run /bin/sh only.
 */
export function stubPython(version: string): Record<string, string> {
  return {
    [`usr/local/bin/python${version}`]: '#!/bin/sh\necho "stand-in python"\n',
    [`usr/local/lib/python${version}/os.py`]: '',
    'usr/local/bin/python3': `->python${version}`
  }
}

/**
 * A rootfs that runs /bin/sh and cat: dash and coreutils' cat with the libraries they need.
 * `extra` adds files (a text starting `->` makes a symlink to the rest).
 */
export function runnableRootfs(dir: string, extra: Record<string, string> = {}): string {
  const files: [string, string][] = [
    ['/bin/dash', 'bin/sh'],
    ['/usr/bin/cat', 'bin/cat'],
    ['/usr/bin/ls', 'bin/ls'],
    ['/lib/x86_64-linux-gnu/libc.so.6', 'lib/x86_64-linux-gnu/libc.so.6'],
    ['/lib/x86_64-linux-gnu/libselinux.so.1', 'lib/x86_64-linux-gnu/libselinux.so.1'],
    ['/lib/x86_64-linux-gnu/libpcre2-8.so.0', 'lib/x86_64-linux-gnu/libpcre2-8.so.0'],
    ['/lib64/ld-linux-x86-64.so.2', 'lib64/ld-linux-x86-64.so.2']
  ]
  for (const [from, to] of files) {
    mkdirSync(join(dir, to, '..'), { recursive: true })
    cpSync(from, join(dir, to), { dereference: true })
  }
  for (const [path, text] of Object.entries(extra)) {
    mkdirSync(join(dir, path, '..'), { recursive: true })
    if (text.startsWith('->')) symlinkSync(text.slice(2), join(dir, path))
    else writeFileSync(join(dir, path), text, { mode: path.includes('/bin/') ? 0o755 : 0o644 })
  }
  return dir
}

/** An image from a rootfs directory in `layout` under `tag` (umoci: init, new, insert, config). */
export async function umociImage(
  layout: string,
  tag: string,
  rootfs: string,
  opts: { arch?: string; env?: string[] } = {}
): Promise<void> {
  await runOk('umoci', ['init', '--layout', layout]).catch(() => undefined) // already a layout
  await runOk('umoci', ['new', '--image', `${layout}:${tag}`])
  await runOk('umoci', ['insert', '--image', `${layout}:${tag}`, rootfs, '/'])
  const config = [
    'config',
    '--image',
    `${layout}:${tag}`,
    '--os',
    'linux',
    '--architecture',
    opts.arch ?? 'amd64'
  ]
  for (const e of opts.env ?? []) config.push('--config.env', e)
  await runOk('umoci', config)
}

/** An index in `layout` under `tag` over images already tagged there, one per platform. */
export function indexOf(layout: string, tag: string, images: { tag: string; arch: string }[]): void {
  const indexPath = join(layout, 'index.json')
  const index = JSON.parse(readFileSync(indexPath, 'utf8')) as {
    manifests: { annotations?: Record<string, string>; [k: string]: unknown }[]
  }
  const manifests = images.map(({ tag: t, arch }) => {
    const d = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === t)
    if (!d) throw new Error(`no image ${t} in ${layout}`)
    const { annotations: _a, ...desc } = d
    return {
      ...desc,
      platform: { architecture: arch, os: 'linux', ...(arch === 'arm64' ? { variant: 'v8' } : {}) }
    }
  })
  const bytes = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests })
  )
  const hex = createHash('sha256').update(bytes).digest('hex')
  writeFileSync(join(layout, 'blobs', 'sha256', hex), bytes)
  index.manifests.push({
    mediaType: 'application/vnd.oci.image.index.v1+json',
    digest: `sha256:${hex}`,
    size: bytes.length,
    annotations: { 'org.opencontainers.image.ref.name': tag }
  })
  writeFileSync(indexPath, JSON.stringify(index))
}
