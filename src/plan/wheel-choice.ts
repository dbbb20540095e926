// Which wheel the wheels builder installs for each package on a target, or why it cannot (a git
// dependency, an sdist-only package, no wheel for the platform, no sha256 in the lock). Pure: the
// planner asks it to choose a builder (auto), the full path to install. Here in plan/, not in
// packaging/ with chooseWheel (one file list, one target): it reads the lock model (sources,
// locked files), and lock/ is above packaging/.
import { sourceLabel, type LockedPackage } from '../lock/model.js'
import { formatPlatform, type Target } from '../target.js'
import { chooseWheel } from '../packaging/tags.js'

export interface Chosen {
  readonly pkg: LockedPackage
  readonly file: LockedPackage['files'][number]
  readonly sha256: string
}

/** Why the wheels builder cannot install a package on a target. */
export interface WheelProblem {
  readonly name: string
  readonly version: string | null
  readonly platform: string
  readonly reason: string
}

/** The wheel of each installed package on one target, or the reasons the variant cannot use wheels. */
export function chooseWheels(
  packages: readonly LockedPackage[],
  target: Target
): {
  chosen: Chosen[]
  problems: WheelProblem[]
} {
  const chosen: Chosen[] = []
  const problems: WheelProblem[] = []
  const platform = formatPlatform(target.platform)
  for (const pkg of packages) {
    const problem = (reason: string) =>
      problems.push({ name: pkg.name, version: pkg.version, platform, reason })
    if (pkg.source.kind === 'git') {
      problem(`git source ${sourceLabel(pkg.source)}: it has to be built`)
      continue
    }
    const wheel = chooseWheel(pkg.files, target)
    if (!wheel) {
      const sdists = pkg.files.filter((f) => f.kind === 'sdist').map((f) => f.name)
      if (sdists.length) problem(`only a source distribution (${sdists.join(', ')})`)
      else if (pkg.files.length === 0) problem(`the lock lists no files for it (${sourceLabel(pkg.source)})`)
      else
        problem(
          `no wheel for ${platform} / python ${target.python.major}.${target.python.minor} among ${pkg.files.length} files`
        )
      continue
    }
    const sha256 = wheel.file.hashes['sha256']
    if (!sha256) {
      problem(`the lock pins no sha256 for ${wheel.file.name}`)
      continue
    }
    chosen.push({ pkg, file: wheel.file, sha256 })
  }
  return { chosen, problems }
}
