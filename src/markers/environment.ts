// The values PEP 508 markers are evaluated against, for a container target or any platform.
import { normalizeName, type NormalizedName } from '../names.js'
import { machineOf, pythonFull, pythonMinor, type Target } from '../target.js'

export interface MarkerEnvironment {
  readonly implementation_name: string
  readonly implementation_version: string
  readonly os_name: string
  readonly platform_machine: string
  readonly platform_release: string
  readonly platform_system: string
  readonly platform_version: string
  readonly python_full_version: string
  readonly platform_python_implementation: string
  readonly python_version: string
  readonly sys_platform: string
  /**
   * The active extras, normalized: `extra == "x"` holds iff x is in it (several extras can be
   * active at once, as in uv and Poetry locks, including uv's synthetic `extra-N-pkg-name` and
   * `group-N-pkg-name` conflict names), and `"x" in extras` (PEP 751) tests the same set.
   */
  readonly extras: ReadonlySet<NormalizedName>
  /** The active dependency groups (PEP 735), normalized, for `"x" in dependency_groups`. */
  readonly dependency_groups: ReadonlySet<NormalizedName>
}

/** Normalizes names (PEP 503/685/735) into a set. */
export function nameSet(names: Iterable<string> = []): ReadonlySet<NormalizedName> {
  const set = new Set<NormalizedName>()
  for (const n of names) set.add(normalizeName(n))
  return set
}

export interface EnvironmentOptions {
  extras?: Iterable<string>
  groups?: Iterable<string>
}

/**
 * The environment of a Linux CPython container target. `platform_release` and
 * `platform_version` describe the kernel the image will run on, which is unknown when the image
 * is built: they are '' (what `platform.release()` returns when it cannot tell).
 */
export function targetEnvironment(target: Target, opts: EnvironmentOptions = {}): MarkerEnvironment {
  const full = pythonFull(target.python)
  return Object.freeze({
    implementation_name: 'cpython',
    implementation_version: full,
    os_name: 'posix',
    platform_machine: machineOf(target.platform),
    platform_release: '',
    platform_system: 'Linux',
    platform_version: '',
    python_full_version: full,
    platform_python_implementation: 'CPython',
    python_version: pythonMinor(target.python),
    sys_platform: 'linux',
    extras: nameSet(opts.extras),
    dependency_groups: nameSet(opts.groups)
  })
}

/** The same environment with other active extras (a cheap copy). */
export function withExtras(env: MarkerEnvironment, extras: Iterable<string>): MarkerEnvironment {
  return Object.freeze({ ...env, extras: nameSet(extras) })
}

/** The same environment with other active dependency groups (a cheap copy). */
export function withGroups(env: MarkerEnvironment, groups: Iterable<string>): MarkerEnvironment {
  return Object.freeze({ ...env, dependency_groups: nameSet(groups) })
}
