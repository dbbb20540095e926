// The command fast-build prints to run an image of a layout, run by the real podman (with storage of
// its own): podman 4 refuses a layout under a dot-folder by its path, and takes the printed command.
import { describe, expect, it } from '@jest/globals'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { podmanRunCommand, projectId } from '../../src/registry/open.js'
import { tempDir } from '../support/project.js'

describe('podman and layouts', () => {
  // podman and umoci are installed by script/setup, as for every image test.
  it('podman refuses a layout under a dot-folder by its path, and takes the printed command', () => {
    const root = tempDir('fast-build-podman-')
    const store = join(root, '.cache', 'fast-build', 'oci', projectId(join(root, 'app')))
    mkdirSync(join(store, '..'), { recursive: true })
    execFileSync('umoci', ['init', '--layout', store])
    execFileSync('umoci', ['new', '--image', `${store}:base-local`])
    // A podman of its own: storage in the temp directory, a `podman` on PATH that uses it.
    const bin = join(root, 'bin')
    mkdirSync(bin)
    const wrapper = join(bin, 'podman')
    writeFileSync(
      wrapper,
      `#!/bin/sh\nif [ "$1" = run ]; then shift; set -- pull "$@"; fi\n` +
        `[ "$1" = pull ] && [ "$2" = --rm ] && { a=$1; shift 2; set -- "$a" "$@"; }\n` +
        `exec ${execFileSync('sh', ['-c', 'command -v podman'], { encoding: 'utf8' }).trim()} --root ${root}/storage --runroot ${root}/run --storage-driver vfs "$@"\n`,
      { mode: 0o755 }
    )
    const sh = (command: string) =>
      spawnSync('sh', ['-c', command], {
        encoding: 'utf8',
        env: {
          ...process.env,
          PATH: `${bin}:${process.env['PATH']}`,
          HOME: root,
          XDG_RUNTIME_DIR: `${root}/xdg`
        },
        timeout: 120_000
      })
    // `run` stands for `pull` here: it names the image the same way, and needs no runtime.
    const direct = sh(`podman run --rm oci:${store}:base-local`)
    const printed = sh(podmanRunCommand(store, 'base-local'))
    expect(printed.stderr + printed.stdout).not.toMatch(/invalid reference format/)
    expect(printed.status).toBe(0)
    // Podman 4 (Debian 12's) refuses the path itself; later versions may name the image otherwise.
    const major = Number(/(\d+)\./.exec(sh('podman --version').stdout)?.[1] ?? 0)
    if (major === 4) {
      expect(direct.status).not.toBe(0)
      expect(direct.stderr).toMatch(/invalid reference format/)
    }
  })
})
