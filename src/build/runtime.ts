// Run-time groups (`runtime-groups = ["exp"]`): packages that stay out of the deps image and its
// hash, and are installed by pip when the container starts. The app image gets one small layer
// for them, between the deps layers and the source layer, holding
//
//   /opt/fast-build/runtime-requirements.txt   pinned and hashed, for this variant and platform
//   /opt/fast-build/entrypoint                 a POSIX sh shim: pip install (once), then exec "$@"
//
// and the image's Entrypoint becomes the shim followed by the entrypoint it had. Everything here
// is pure: the plan's run-time closure in, texts and layer entries out. Pushing the layer is the
// push code's business (fast-path.ts); the hash never sees any of this (plan/hash.ts).
import { RuntimeGroupError } from './errors.js'
import { PYPI_SIMPLE, type LockedFile, type LockedPackage } from '../lock/model.js'
import type { LayerEntry } from '../oci/entry.js'
import { digestHex, sha256 } from '../oci/digest.js'
import type { InstallLayout, PlatformPlan } from '../plan/plan.js'
import type { ClosureEntry } from '../plan/closure.js'
import { filesForTarget, unavailableReason } from '../plan/hash.js'
import { formatPlatform, type Platform, type Target } from '../target.js'
import { splitUserinfo } from '../wheels/index-credentials.js'
import { wheelSupports } from '../wheels/tags.js'

/** Where the layer's files go in the image. */
export const RUNTIME_DIR = '/opt/fast-build'
export const REQUIREMENTS_PATH = `${RUNTIME_DIR}/runtime-requirements.txt`
export const SHIM_PATH = `${RUNTIME_DIR}/entrypoint`
/**
 * The layer's one file time (1980-01-01, as deps layers): it depends on the lock only, so the same
 * run-time packages give the same layer on every commit, uploaded once.
 */
export const RUNTIME_MTIME = 315532800
/** Image label: how many packages the shim installs (on this platform). */
export const RUNTIME_LABEL = 'dev.fast-build.runtime-packages'
/** Overrides the index the shim installs from (a mirror), as FAST_BUILD_INDEX_URL does for builds. */
export const INDEX_ENV = 'FAST_BUILD_INDEX_URL'

/** One line (with its hashes) of the requirements file. */
export interface RuntimeRequirement {
  readonly name: string
  readonly version: string | null
  /** What pip reads before the hashes: `name==version`, or `name @ url` for a direct URL. */
  readonly requirement: string
  /** Sorted, distinct sha256 hex digests of the files pip may install it from. */
  readonly hashes: readonly string[]
  /** The index it comes from (no credentials; PyPI when the lock names none), or null for a direct URL. */
  readonly index: string | null
}

export interface RuntimeIndexes {
  /** pip's --index-url when FAST_BUILD_INDEX_URL is not set. */
  readonly index: string
  /** Further indexes the lock names (--extra-index-url), in first-use order. */
  readonly extra: readonly string[]
}

/** What the run-time layer holds for one platform of one variant. */
export interface RuntimeFiles {
  readonly variant: string
  readonly platform: Platform
  readonly requirements: readonly RuntimeRequirement[]
  readonly requirementsText: string
  readonly shimText: string
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** A URL fit to be written into an image: credentials never are. */
function withoutCredentials(url: string): string {
  return splitUserinfo(url).url
}

function refuse(pkg: LockedPackage, lockPath: string, what: string, why: string): never {
  throw new RuntimeGroupError(
    `run-time package ${pkg.name}${pkg.version ? ` ${pkg.version}` : ''} ${what}: ${why}`,
    { file: lockPath, line: pkg.line },
    `move ${pkg.name} out of the runtime group (tool.fast-build.runtime-groups) into a variant's groups, so it is built into the deps image`
  )
}

/** sha256 digests of `files`; refuses when one has none (pip's --require-hashes needs them all). */
function sha256s(pkg: LockedPackage, files: readonly LockedFile[], lockPath: string): string[] {
  const out = new Set<string>()
  for (const f of files) {
    const h = f.hashes['sha256']
    if (!h)
      refuse(
        pkg,
        lockPath,
        `file ${f.name}`,
        'the lock records no sha256 for it, which pip --require-hashes needs'
      )
    out.add(h.toLowerCase())
  }
  return [...out].sort(compare)
}

/**
 * The files pip may choose from on the target: every compatible wheel and the sdists. pip ranks
 * the candidates itself; listing all of them (not only the wheel we would pick) keeps a different
 * but valid choice from failing the hash check.
 */
function installableFiles(pkg: LockedPackage, target: Target): LockedFile[] {
  return pkg.files.filter((f) => f.kind === 'sdist' || (f.kind === 'wheel' && wheelSupports(f.name, target)))
}

/**
 * The requirements for a platform's run-time packages, sorted by name. Markers are already
 * evaluated (the closure is per target), so none are written. Local source trees ship with the
 * source layer and are left out; what pip cannot fetch and check by hash is refused.
 */
export function runtimeRequirements(
  entries: readonly ClosureEntry[],
  target: Target,
  lockPath: string
): RuntimeRequirement[] {
  const out: RuntimeRequirement[] = []
  for (const { package: pkg } of entries) {
    const s = pkg.source
    switch (s.kind) {
      case 'directory':
        continue
      case 'registry': {
        if (pkg.version === null) refuse(pkg, lockPath, 'from an index', 'the lock records no version')
        const reason = unavailableReason(pkg, target)
        if (reason) refuse(pkg, lockPath, `on ${formatPlatform(target.platform)}`, reason)
        const files = installableFiles(pkg, target)
        if (files.length === 0) refuse(pkg, lockPath, 'from an index', 'the lock lists no files for it')
        out.push({
          name: pkg.name,
          version: pkg.version,
          requirement: `${pkg.name}==${pkg.version}`,
          hashes: sha256s(pkg, files, lockPath),
          // A lock that does not name the index (pylock may omit it) means PyPI, as for pip.
          index: s.url === '' ? PYPI_SIMPLE : withoutCredentials(s.url)
        })
        continue
      }
      case 'url': {
        const [file] = filesForTarget(pkg.files, target)
        if (!file) refuse(pkg, lockPath, `from ${s.url}`, 'the lock records no archive with a hash for it')
        const url = withoutCredentials(file.url ?? s.url)
        out.push({
          name: pkg.name,
          version: pkg.version,
          requirement: `${pkg.name} @ ${url}${s.subdirectory ? `#subdirectory=${s.subdirectory}` : ''}`,
          hashes: sha256s(pkg, [file], lockPath),
          index: null
        })
        continue
      }
      case 'git':
        return refuse(
          pkg,
          lockPath,
          `from git ${s.url}`,
          'pip cannot check a git checkout against a hash, and the container installs with --require-hashes'
        )
      case 'file':
        return refuse(
          pkg,
          lockPath,
          `from the local archive ${s.path}`,
          'the file is not in the image, so the container cannot install it'
        )
    }
  }
  return out.sort((a, b) => compare(a.name, b.name) || compare(a.version ?? '', b.version ?? ''))
}

/** The index to install from: the lock's own (first used), else PyPI; the others as extra indexes. */
export function runtimeIndexes(requirements: readonly RuntimeRequirement[]): RuntimeIndexes {
  const seen: string[] = []
  for (const r of requirements) if (r.index && !seen.includes(r.index)) seen.push(r.index)
  const [index = PYPI_SIMPLE, ...extra] = seen
  return { index, extra }
}

/** The pip requirements file: a header, then `name==version \` and one `--hash` line per file. */
export function requirementsText(
  variant: string,
  platform: Platform,
  requirements: readonly RuntimeRequirement[]
): string {
  const lines = [
    `# Generated by fast-build for variant ${variant}, platform ${formatPlatform(platform)}.`,
    `# The run-time group packages: ${SHIM_PATH} installs them with pip when the container starts.`,
    "# They are not in the image's hash: the deps image does not change when they do.",
    ''
  ]
  for (const r of requirements) {
    lines.push(`${r.requirement}${r.hashes.length ? ' \\' : ''}`)
    r.hashes.forEach((h, i) => lines.push(`    --hash=sha256:${h}${i < r.hashes.length - 1 ? ' \\' : ''}`))
  }
  return lines.join('\n') + '\n'
}

/** `text` as one single-quoted sh word. */
export function shQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`
}

/** `a==1, b==2, c==3 and 4 more` */
function summary(requirements: readonly RuntimeRequirement[]): string {
  const shown = requirements.slice(0, 3).map((r) => (r.version ? `${r.name}==${r.version}` : r.name))
  const more = requirements.length - shown.length
  return shown.join(', ') + (more > 0 ? ` and ${more} more` : '')
}

/**
 * The entrypoint shim. Without packages it only runs the command. With packages it installs them
 * once per container (a marker keyed by the requirements' sha256, under $TMPDIR or /tmp so a
 * read-only root with a writable site-packages still works), then runs the command with exec, so
 * signals reach it directly.
 */
export function shimText(args: {
  readonly variant: string
  readonly platform: Platform
  readonly requirements: readonly RuntimeRequirement[]
  /** sha256 hex of the requirements file's bytes. */
  readonly requirementsSha256: string
  readonly install: InstallLayout
}): string {
  const { requirements: reqs, install } = args
  const head = [
    '#!/bin/sh',
    `# Generated by fast-build for variant ${args.variant}, platform ${formatPlatform(args.platform)}.`
  ]
  if (reqs.length === 0) {
    return [
      ...head,
      '# No run-time group packages on this platform: it only runs the command.',
      'exec "$@"',
      ''
    ].join('\n')
  }
  head.push(
    `# Installs the run-time group packages of ${REQUIREMENTS_PATH}`,
    '# with pip when the container starts (once per container), then runs the command. They are',
    "# not in the image's hash.",
    `# ${INDEX_ENV} replaces the index they come from (a mirror; credentials in the URL or in`,
    '# ~/.netrc, never in the image).'
  )
  const { index, extra } = runtimeIndexes(reqs)
  const n = `${reqs.length} run-time package${reqs.length === 1 ? '' : 's'}`
  const py = shQuote(install.interpreter)
  const site = shQuote(install.sitePackages)
  const defaults = [`--index-url ${shQuote(index)}`, ...extra.map((u) => `--extra-index-url ${shQuote(u)}`)]
  const say = (text: string) => `echo ${shQuote(`fast-build: ${text}`)} >&2`
  // Inside double quotes only these four are special.
  const dq = (text: string) => text.replace(/["$`\\]/g, '\\$&')
  return [
    ...head,
    'set -u',
    `req=${shQuote(REQUIREMENTS_PATH)}`,
    `marker="\${TMPDIR:-/tmp}/fast-build-runtime-${args.requirementsSha256.slice(0, 16)}"`,
    // Running as root is what containers do; pip's warning about it would be noise on every start
    // (an environment setting, which pips older than the option ignore, unlike the flag).
    'fast_build_pip() {',
    `  PIP_ROOT_USER_ACTION=ignore ${py} -m pip install --no-deps --require-hashes --no-input --disable-pip-version-check --quiet \\`,
    `    --target ${site} "$@" -r "$req"`,
    '}',
    'if [ ! -e "$marker" ]; then',
    `  if [ -n "\${${INDEX_ENV}:-}" ]; then`,
    // A URL with credentials in it is not echoed.
    `    case "$${INDEX_ENV}" in *@*) from=${INDEX_ENV} ;; *) from="$${INDEX_ENV}" ;; esac`,
    `    echo "${dq(`fast-build: installing ${n} (${summary(reqs)}) into ${install.sitePackages} from `)}$from" >&2`,
    `    fast_build_pip --index-url "$${INDEX_ENV}"`,
    '  else',
    `    ${say(`installing ${n} (${summary(reqs)}) into ${install.sitePackages} from ${index}`)}`,
    `    fast_build_pip ${defaults.join(' ')}`,
    '  fi',
    '  status=$?',
    '  if [ "$status" -ne 0 ]; then',
    // Told apart only after a failure: the check costs a second Python start on every container.
    `    if ! ${py} -m pip --version >/dev/null 2>&1; then`,
    `      ${say(`the run-time group needs pip in the image, but ${install.interpreter} -m pip does not run: add pip to the project's dependencies (the deps image then has it), use a base image with pip, or move the run-time packages into a variant's groups`)}`,
    '    else',
    `      ${say(`installing the run-time packages of ${REQUIREMENTS_PATH} failed (pip says why above): check that the index serves the files the lock pins (${INDEX_ENV} sets another index) and that the container's user can write ${install.sitePackages}`)}`,
    '    fi',
    '    exit "$status"',
    '  fi',
    '  : >"$marker" 2>/dev/null || true',
    'fi',
    'exec "$@"',
    ''
  ].join('\n')
}

/** The requirements and shim of one platform of a variant. */
export function runtimeFiles(args: {
  readonly variant: string
  readonly platform: PlatformPlan
  readonly install: InstallLayout
  readonly lockPath: string
}): RuntimeFiles {
  const { platform: p } = args
  const requirements = runtimeRequirements(p.runtime, p.target, args.lockPath)
  const text = requirementsText(args.variant, p.platform, requirements)
  return {
    variant: args.variant,
    platform: p.platform,
    requirements,
    requirementsText: text,
    shimText: shimText({
      variant: args.variant,
      platform: p.platform,
      requirements,
      requirementsSha256: digestHex(sha256(text)),
      install: args.install
    })
  }
}

/** Whether the variant's app images get the run-time layer (any platform has run-time packages). */
export function hasRuntime(platforms: readonly Pick<PlatformPlan, 'runtime'>[]): boolean {
  return platforms.some((p) => p.runtime.length > 0)
}

/** The layer's entries: the directories, the requirements (0644) and the shim (0755). */
export function runtimeEntries(files: RuntimeFiles): LayerEntry[] {
  const file = (path: string, text: string, executable: boolean): LayerEntry => {
    const bytes = Buffer.from(text, 'utf8')
    return { type: 'file', path: path.slice(1), executable, size: bytes.length, content: () => bytes }
  }
  return [
    { type: 'dir', path: 'opt' },
    { type: 'dir', path: RUNTIME_DIR.slice(1) },
    file(SHIM_PATH, files.shimText, true),
    file(REQUIREMENTS_PATH, files.requirementsText, false)
  ]
}

/**
 * The image Entrypoint with the shim in front (once): `podman run image cmd args` then runs the
 * shim, which installs and execs the original entrypoint with the command.
 */
export function wrapEntrypoint(entrypoint: readonly string[] | null | undefined): string[] {
  const inner = entrypoint ?? []
  return inner[0] === SHIM_PATH ? [...inner] : [SHIM_PATH, ...inner]
}
