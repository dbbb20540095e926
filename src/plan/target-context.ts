// Everything about one target that many variants ask again and again: the marker environment,
// marker results that do not depend on extras, and the files each package installs from. A plan
// builds one per platform and shares it across variants, which is what keeps planning dozens of
// variants of a 350-package lock within a few milliseconds each.
import type { LockedFile, LockedPackage } from '../lock/model.js'
import {
  evaluateMarker,
  markerVariables,
  sharedMarker,
  targetEnvironment,
  type Marker,
  type MarkerEnvironment
} from '../markers/index.js'
import type { NormalizedName } from '../names.js'
import type { Target } from '../target.js'
import { chooseWheel } from '../packaging/tags.js'

const EMPTY: ReadonlySet<NormalizedName> = new Set()

/** Whether a marker's value can change with the active extras or groups. */
const readsSets = new WeakMap<Marker, boolean>()
function dependsOnSelection(shared: Marker): boolean {
  let v = readsSets.get(shared)
  if (v === undefined) {
    const vars = markerVariables(shared)
    v = vars.has('extra') || vars.has('extras') || vars.has('dependency_groups')
    readsSets.set(shared, v)
  }
  return v
}

export class TargetContext {
  readonly env: MarkerEnvironment
  private readonly fixed = new Map<Marker, boolean>()
  private readonly envs = new WeakMap<ReadonlySet<NormalizedName>, MarkerEnvironment>()
  private readonly files = new Map<LockedPackage, LockedFile[]>()

  constructor(readonly target: Target) {
    this.env = targetEnvironment(target)
  }

  /** The marker's value for this target with `extras` active (names already normalized). */
  evaluate(
    m: Marker,
    extras: ReadonlySet<NormalizedName> = EMPTY,
    groups: ReadonlySet<NormalizedName> = EMPTY
  ): boolean {
    // Results are kept by the shared marker (one per marker text), not by the located copy each
    // edge holds; evaluating the copy is what puts the lock's file and key path on an error.
    const shared = sharedMarker(m)
    if (!dependsOnSelection(shared)) {
      let v = this.fixed.get(shared)
      if (v === undefined) {
        v = evaluateMarker(m, this.env)
        this.fixed.set(shared, v)
      }
      return v
    }
    return evaluateMarker(
      m,
      groups.size === 0 ? this.envWith(extras) : { ...this.env, extras, dependency_groups: groups }
    )
  }

  private envWith(extras: ReadonlySet<NormalizedName>): MarkerEnvironment {
    let env = this.envs.get(extras)
    if (!env) {
      env = { ...this.env, extras }
      this.envs.set(extras, env)
    }
    return env
  }

  /**
   * The files a package installs from here: the wheel an installer would pick, or, when no wheel
   * fits, the sdists (empty when neither exists).
   */
  installFiles(pkg: LockedPackage): LockedFile[] {
    let f = this.files.get(pkg)
    if (!f) {
      const wheel = chooseWheel(pkg.files, this.target)
      f = wheel ? [wheel.file] : pkg.files.filter((x) => x.kind === 'sdist')
      this.files.set(pkg, f)
    }
    return f
  }
}
