// skopeo as the reference client in integration tests: isolated from the user's auth file and
// trust policy, plain HTTP to 127.0.0.1 (`--tls-verify=false`), bounded by a timeout.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Credentials } from './registry.js'
import { run, type RunResult } from './process.js'

export interface SkopeoOptions {
  creds?: Credentials | null
  timeoutMs?: number
  /** `--retry-times` (copy only); skopeo waits 1 s, 2 s, 4 s… between whole-copy attempts. */
  retryTimes?: number
  /** `--all` (copy only): an index with every platform's image, not just this host's. */
  all?: boolean
  debug?: boolean
}

function credsArg(flag: string, c: Credentials | null | undefined): string[] {
  return c ? [flag, `${c.username}:${c.password}`] : []
}

async function skopeo(args: string[], timeoutMs: number): Promise<RunResult> {
  const home = mkdtempSync(join(tmpdir(), 'fast-build-skopeo-'))
  try {
    const authFile = join(home, 'auth.json')
    writeFileSync(authFile, '{"auths":{}}')
    return await run('skopeo', ['--insecure-policy', '--tmpdir', home, ...args], {
      timeoutMs,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home,
        XDG_RUNTIME_DIR: home,
        XDG_CONFIG_HOME: join(home, '.config'),
        REGISTRY_AUTH_FILE: authFile
      }
    })
  } finally {
    rmSync(home, { recursive: true, force: true })
  }
}

/** `skopeo copy SRC DEST`, with the TLS and credential flags for whichever side is docker://. */
export function skopeoCopy(src: string, dest: string, opts: SkopeoOptions = {}): Promise<RunResult> {
  const args = ['copy', '--quiet']
  if (opts.debug) args.unshift('--debug')
  if (opts.retryTimes !== undefined) args.push('--retry-times', String(opts.retryTimes))
  if (opts.all) args.push('--all')
  if (dest.startsWith('docker://'))
    args.push('--dest-tls-verify=false', ...credsArg('--dest-creds', opts.creds))
  if (src.startsWith('docker://')) args.push('--src-tls-verify=false', ...credsArg('--src-creds', opts.creds))
  args.push(src, dest)
  return skopeo(args, opts.timeoutMs ?? 60_000)
}

/** `skopeo inspect [--raw] [--config] docker://…` */
export function skopeoInspect(
  ref: string,
  opts: SkopeoOptions & { raw?: boolean; config?: boolean } = {}
): Promise<RunResult> {
  const args = ['inspect', '--tls-verify=false', ...credsArg('--creds', opts.creds)]
  if (opts.raw) args.push('--raw')
  if (opts.config) args.push('--config')
  args.push(ref)
  return skopeo(args, opts.timeoutMs ?? 30_000)
}
