// Marker environments for the marker tests: our Linux container targets, plus hand-made
// environments for other platforms and interpreters so that every branch of real markers
// (darwin, win32, emscripten, PyPy, pre-release Pythons, a real kernel release) is taken.
import { nameSet, targetEnvironment, type MarkerEnvironment } from '../../src/markers/index.js'
import { DEFAULT_LIBC, parsePlatform, parsePythonVersion } from '../../src/target.js'

export interface NamedEnvironment {
  name: string
  env: MarkerEnvironment
}

export const PYTHONS = ['3.9.7', '3.10.0', '3.11.7', '3.12.3', '3.13.1', '3.14.0']

function other(
  python: string,
  vars: Partial<Omit<MarkerEnvironment, 'extras' | 'dependency_groups'>>
): MarkerEnvironment {
  const [major, minor] = python.split('.')
  return {
    implementation_name: 'cpython',
    implementation_version: python,
    os_name: 'posix',
    platform_machine: 'x86_64',
    platform_release: '',
    platform_system: 'Linux',
    platform_version: '',
    python_full_version: python,
    platform_python_implementation: 'CPython',
    python_version: `${major}.${/^\d+/.exec(minor!)![0]}`,
    sys_platform: 'linux',
    ...vars,
    extras: nameSet(),
    dependency_groups: nameSet()
  }
}

/** Environments without extras: 12 container targets and 9 others. */
export function baseEnvironments(): NamedEnvironment[] {
  const targets = PYTHONS.flatMap((py) =>
    ['linux/amd64', 'linux/arm64'].map((platform) => ({
      name: `cpython-${py}-${platform}`,
      env: targetEnvironment({
        python: parsePythonVersion(py),
        platform: parsePlatform(platform),
        libc: DEFAULT_LIBC
      })
    }))
  )
  return [
    ...targets,
    {
      name: 'cpython-3.8.18-linux-kernel',
      env: other('3.8.18', {
        platform_release: '6.8.0-45-generic',
        platform_version: '#45-Ubuntu SMP PREEMPT_DYNAMIC Fri Aug 30 12:02:04 UTC 2024'
      })
    },
    { name: 'cpython-3.13.0rc1-linux', env: other('3.13.0rc1', { python_version: '3.13' }) },
    { name: 'cpython-3.15.0a1-linux-aarch64', env: other('3.15.0a1', { platform_machine: 'aarch64' }) },
    {
      name: 'pypy-3.10.14-linux',
      env: other('3.10.14', {
        implementation_name: 'pypy',
        implementation_version: '7.3.17',
        platform_python_implementation: 'PyPy'
      })
    },
    {
      name: 'cpython-3.12.3-darwin-arm64',
      env: other('3.12.3', {
        platform_machine: 'arm64',
        platform_release: '23.4.0',
        platform_system: 'Darwin',
        platform_version:
          'Darwin Kernel Version 23.4.0: Fri Mar 15 00:10:42 PDT 2024; root:xnu-10063.101.17~1/RELEASE_ARM64_T6000',
        sys_platform: 'darwin'
      })
    },
    {
      name: 'cpython-3.10.0-darwin-x86_64',
      env: other('3.10.0', {
        platform_release: '21.6.0',
        platform_system: 'Darwin',
        platform_version: 'Darwin Kernel Version 21.6.0',
        sys_platform: 'darwin'
      })
    },
    {
      name: 'cpython-3.11.7-win32-amd64',
      env: other('3.11.7', {
        os_name: 'nt',
        platform_machine: 'AMD64',
        platform_release: '10',
        platform_system: 'Windows',
        platform_version: '10.0.22631',
        sys_platform: 'win32'
      })
    },
    {
      name: 'cpython-3.12.3-win32-arm64',
      env: other('3.12.3', {
        os_name: 'nt',
        platform_machine: 'ARM64',
        platform_release: '11',
        platform_system: 'Windows',
        platform_version: '10.0.26100',
        sys_platform: 'win32'
      })
    },
    {
      name: 'cpython-3.12.7-emscripten',
      env: other('3.12.7', {
        platform_machine: 'wasm32',
        platform_release: '3.1.58',
        platform_system: 'Emscripten',
        platform_version: '#1',
        sys_platform: 'emscripten'
      })
    }
  ]
}

export interface ExtrasChoice {
  name: string
  extras: string[]
  groups: string[]
}

/** Every base environment with every extras choice. */
export function withExtrasChoices(bases: NamedEnvironment[], choices: ExtrasChoice[]): NamedEnvironment[] {
  return bases.flatMap((b) =>
    choices.map((c) => ({
      name: `${b.name} extras=${c.name}`,
      env: { ...b.env, extras: nameSet(c.extras), dependency_groups: nameSet(c.groups) }
    }))
  )
}

/** The environment as the reference script takes it. */
export function referenceEnvironment(e: NamedEnvironment): {
  name: string
  vars: Record<string, string>
  extras: string[]
  groups: string[]
} {
  const { extras, dependency_groups, ...vars } = e.env
  return {
    name: e.name,
    vars: { ...vars },
    extras: [...extras].sort(),
    groups: [...dependency_groups].sort()
  }
}
