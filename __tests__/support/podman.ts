// Running images with podman, as a check that an image is complete and runnable. podman runs
// here with runc, cgroupfs and lowered ulimits (no systemd, no cgroup delegation in this
// sandbox); storage and state go to temp dirs so tests share nothing with the machine.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { run, type RunResult } from './process.js'

const CONTAINERS_CONF = `[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]
`

export interface Podman {
  /** `podman run --rm IMAGE ARGS…`; IMAGE as podman takes it (oci:DIR:TAG, docker://HOST/REPO:TAG). */
  run(
    image: string,
    args?: readonly string[],
    opts?: {
      entrypoint?: string
      timeoutMs?: number
      /** 'none' (default) or 'host': the host's network, to reach servers a test runs on 127.0.0.1. */
      network?: 'none' | 'host'
      /** Set in the container (`--env`). */
      env?: Readonly<Record<string, string>>
    }
  ): Promise<RunResult>
  close(): void
}

export function startPodman(): Podman {
  const dir = mkdtempSync(join(tmpdir(), 'fast-build-podman-'))
  mkdirSync(join(dir, 'conf'))
  mkdirSync(join(dir, 'run'), { mode: 0o700 })
  writeFileSync(join(dir, 'conf', 'containers.conf'), CONTAINERS_CONF)
  const env = {
    PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: dir,
    CONTAINERS_CONF: join(dir, 'conf', 'containers.conf'),
    XDG_RUNTIME_DIR: join(dir, 'run'),
    XDG_CONFIG_HOME: join(dir, 'config')
  }
  const global = ['--root', join(dir, 'root'), '--runroot', join(dir, 'runroot'), '--storage-driver', 'vfs']
  return {
    run: (image, args = [], opts = {}) =>
      run(
        'podman',
        [
          ...global,
          'run',
          '--rm',
          '--tls-verify=false',
          `--network=${opts.network ?? 'none'}`,
          ...Object.entries(opts.env ?? {}).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
          ...(opts.entrypoint !== undefined ? ['--entrypoint', opts.entrypoint] : []),
          image,
          ...args
        ],
        { env, timeoutMs: opts.timeoutMs ?? 120_000 }
      ),
    close: () => rmSync(dir, { recursive: true, force: true })
  }
}
