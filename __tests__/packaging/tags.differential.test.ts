// supportedTags against Python's packaging 26.2, asked about each target (see
// __tests__/support/packaging_tags.py for how packaging is pointed at a target instead of this
// machine). One Python run for the whole file.
import { describe, expect, it } from '@jest/globals'
import type { Architecture, Libc, Target } from '../../src/target.js'
import { platformTags, supportedTags } from '../../src/packaging/tags.js'
import { askPackaging, referenceTarget } from '../support/packaging-tags.js'

function target(python: string, architecture: Architecture, libc: string): Target {
  const [major, minor] = python.split('.').map(Number) as [number, number]
  const [family, version] = libc.split(' ') as [Libc['family'], string]
  const [lmajor, lminor] = version.split('.').map(Number) as [number, number]
  return {
    python: { major, minor, patch: undefined },
    platform: { os: 'linux', architecture },
    libc: { family, major: lmajor, minor: lminor }
  }
}

const PYTHONS = ['3.7', '3.8', '3.9', '3.11', '3.12', '3.13', '3.14']
const SYSTEMS: Array<[Architecture, string]> = [
  ['arm64', 'glibc 2.36'],
  ['amd64', 'glibc 2.36'],
  ['amd64', 'glibc 2.28'],
  ['arm64', 'glibc 2.28'],
  ['amd64', 'glibc 2.17'],
  ['arm64', 'glibc 2.17'],
  ['amd64', 'glibc 2.12'],
  ['amd64', 'glibc 2.5'],
  // Older than the oldest manylinux for the architecture: only linux_<arch> is left.
  ['arm64', 'glibc 2.16'],
  ['amd64', 'glibc 2.4'],
  ['amd64', 'musl 1.2'],
  ['arm64', 'musl 1.2'],
  ['amd64', 'musl 1.1'],
  // packaging's rule for a future glibc 3: every 3.N, then 2.50 downwards.
  ['amd64', 'glibc 3.1']
]

const TARGETS: Target[] = PYTHONS.flatMap((py) => SYSTEMS.map(([arch, libc]) => target(py, arch, libc)))
const reference = askPackaging({ targets: TARGETS.map(referenceTarget) })

const label = (t: Target): string =>
  `python ${t.python.major}.${t.python.minor} linux/${t.platform.architecture} ${t.libc.family} ${t.libc.major}.${t.libc.minor}`

describe('supportedTags equals packaging.tags for the target', () => {
  it('runs packaging 26.x', () => {
    expect(reference.packaging).toMatch(/^26\./)
    expect(reference.tags).toHaveLength(TARGETS.length)
  })

  it.each(TARGETS.map((t, i) => [label(t), t, i] as const))('%s', (_label, t, i) => {
    expect(supportedTags(t)).toEqual(reference.tags[i])
  })

  it("equals this machine's own sys_tags() (packaging unpatched)", () => {
    const host = reference.host
    const arch = ({ x86_64: 'amd64', aarch64: 'arm64' } as Record<string, Architecture | undefined>)[
      host.platform.replace(/^linux-/, '')
    ]
    // Only meaningful where this host is a target we model: a release CPython on Linux.
    if (
      host.implementation !== 'cpython' ||
      host.system !== 'Linux' ||
      !arch ||
      host.libc === null ||
      host.debug ||
      host.free_threaded ||
      host.manylinux_override
    ) {
      console.warn(`host ${JSON.stringify({ ...host, sys_tags: undefined })} is not a modelled target`)
      return
    }
    const [family, major, minor] = host.libc
    const t: Target = {
      python: { major: host.python[0], minor: host.python[1], patch: undefined },
      platform: { os: 'linux', architecture: arch },
      libc: { family, major, minor }
    }
    expect(supportedTags(t)).toEqual(host.sys_tags)
  })
})

describe('platformTags, spelled out', () => {
  it('aarch64 glibc 2.28 stops at 2.17 with only the manylinux2014 alias', () => {
    expect(platformTags(target('3.12', 'arm64', 'glibc 2.28'))).toEqual([
      ...[28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17].map((n) => `manylinux_2_${n}_aarch64`),
      'manylinux2014_aarch64',
      'linux_aarch64'
    ])
  })

  it('x86_64 glibc 2.17 reaches 2.5 with the three legacy aliases right after their versions', () => {
    const p = platformTags(target('3.12', 'amd64', 'glibc 2.17'))
    expect(p.slice(0, 2)).toEqual(['manylinux_2_17_x86_64', 'manylinux2014_x86_64'])
    expect(p.slice(p.indexOf('manylinux_2_12_x86_64'), p.indexOf('manylinux_2_12_x86_64') + 2)).toEqual([
      'manylinux_2_12_x86_64',
      'manylinux2010_x86_64'
    ])
    expect(p.slice(-3)).toEqual(['manylinux_2_5_x86_64', 'manylinux1_x86_64', 'linux_x86_64'])
  })

  it('musl 1.2 lists musllinux 1.2, 1.1, 1.0 and no manylinux', () => {
    expect(platformTags(target('3.12', 'arm64', 'musl 1.2'))).toEqual([
      'musllinux_1_2_aarch64',
      'musllinux_1_1_aarch64',
      'musllinux_1_0_aarch64',
      'linux_aarch64'
    ])
  })
})
