// The same engine as the action, for a terminal: `fast-build plan | build | diff | sbom`.
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { parseArgs } from 'node:util'
import { loadPlan, UsageError, type CliIO } from './cli-plan.js'
import { ConfigError, describeError, isFastBuildError } from './errors.js'
import { diffPlans, summarizeVariantDiff } from './plan/diff.js'
import { describeBuilder, planToJson, type PlanJson } from './plan/plan.js'
import { formatPlatform, parsePlatform } from './target.js'
import { renderTable } from './util/table.js'
import { VERSION } from './version.js'

const processIO: CliIO = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t)
}

const USAGE = `usage: fast-build <command> [options]

commands:
  plan    compute each variant's packages and canonical hash from the lock
  build   put the source on each variant's deps image (the fast path), without a daemon
  diff    explain what changed between two plans (from \`plan --json\`)
  sbom    print the CycloneDX SBOM of what each variant's image installs, without building

fast-build plan [--project DIR] [--variant NAME]... [--platform P]... [--python X.Y] [--json]
  --project DIR     directory holding pyproject.toml and the lock (default .)
  --variant NAME    only this variant (repeatable; default: all in [tool.fast-build.variants])
  --platform P      linux/amd64 or linux/arm64 (repeatable; default from [tool.fast-build])
  --python X.Y      target interpreter (default from [tool.fast-build] or requires-python)
  --json            print the plan as JSON

fast-build build [--project DIR] [--store oci:DIR | --registry HOST/REPO] [--variant NAME]...
                 [--platform P]... [--tag TEMPLATE]... [--rebuild VARIANT|all]... [--fast-only] [--json]
  --store oci:DIR   an OCI image-layout directory (default: ~/.cache/fast-build/oci/<project-id>)
  --registry H/R    a registry repository, e.g. ghcr.io/acme/app or 127.0.0.1:5000/demo
  --tag TEMPLATE    app image tag, with {variant} {sha} {ref} (repeatable; default {variant}-{sha})
  --rebuild V       rebuild the deps image of variant V (or all) whatever exists (repeatable)
  --fast-only       never build a deps image: report a missing one (exit 1) instead
  --source MODE     which files form the source layer: git-tracked, a directory walk, or auto
  --cache-dir DIR   downloads, installs and built layers (default ~/.cache/fast-build)
  --index-url URL   fetch every registry file from this index (a mirror); hashes stay the lock's
  --builder B       auto (default: wheels where they can), wheels, or dockerfile
  --dockerfile F    the Dockerfile for the Dockerfile builder (default: [tool.fast-build], else generated)
  --dockerfile-target T, --dockerfile-command "buildah bud --network host"
                    its build stage, and the command that builds (default docker buildx build)
  credentials: FAST_BUILD_REGISTRY_USERNAME and FAST_BUILD_REGISTRY_PASSWORD, else the Docker
  config file (docker login); never on the command line

fast-build diff OLD.json NEW.json [--json]

fast-build sbom [--project DIR] [--variant NAME]... [--platform P]... [--python X.Y] [--json]
  --variant NAME    only this variant (repeatable; default: all that plan)
  --platform P      only this platform of the variant (repeatable; default: all it builds)
  --json            the only format (CycloneDX 1.6 JSON); accepted for symmetry with plan
  one variant on one platform prints one document; several print a JSON array of them, in
  variant then platform order. The base image's digest is the pinned one (base-image = "…@sha256:…")
  or, when it is not pinned, left out and said so (sbom asks no registry); times come from
  SOURCE_DATE_EPOCH or the commit time, as the build's, so the same commit prints the same bytes
`

export async function runCli(argv: readonly string[], io: CliIO = processIO): Promise<number> {
  const [command, ...rest] = argv
  try {
    switch (command) {
      case 'plan':
        return cmdPlan(rest, io)
      case 'diff':
        return cmdDiff(rest, io)
      case 'sbom':
        return await cmdSbom(rest, io)
      case 'build':
        // The build machinery (registry, layers, wheels) is loaded only for `build`, so `plan`
        // starts without it.
        return await (await import('./cli-build.js')).cmdBuild(rest, io)
      case '--version':
      case 'version':
        io.out(`fast-build ${VERSION}\n`)
        return 0
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        io.out(USAGE)
        return command === undefined ? 2 : 0
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`)
    }
  } catch (e) {
    // node:util parseArgs throws errors with ERR_PARSE_ARGS_* codes for unknown or bad flags.
    const code = (e as { code?: unknown } | null)?.code
    if (e instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
      io.err(`fast-build: ${(e as Error).message}\n\n${USAGE}`)
      return 2
    }
    if (isFastBuildError(e)) {
      io.err(`error: ${describeError(e)}\n`)
      return 1
    }
    // Not ours: still no stack trace for the user, but enough to report it.
    io.err(
      `internal error: ${describeError(e)}\n(this is a bug in fast-build; please report it with the command you ran)\n`
    )
    if (process.env['FAST_BUILD_DEBUG'] && e instanceof Error) io.err(`${e.stack}\n`)
    return 1
  }
}

/** The flags `plan` and `sbom` share: which project, variants, platforms and python. */
function parsePlanArgs(args: readonly string[]) {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      project: { type: 'string', default: '.' },
      variant: { type: 'string', multiple: true },
      platform: { type: 'string', multiple: true },
      python: { type: 'string' },
      json: { type: 'boolean', default: false }
    },
    allowPositionals: true
  })
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`)
  return values
}

function cmdPlan(args: readonly string[], io: CliIO): number {
  const values = parsePlanArgs(args)
  const plan = loadPlan({
    project: values.project!,
    variants: values.variant ?? [],
    platforms: values.platform ?? [],
    ...(values.python ? { python: values.python } : {})
  })
  for (const n of plan.notes) io.err(`note: ${n}\n`)
  if (values.json) {
    io.out(JSON.stringify(planToJson(plan), null, 2) + '\n')
  } else if (plan.variants.length > 0) {
    const rows = plan.variants.flatMap((v) =>
      v.platforms.map((p) => [
        v.name,
        formatPlatform(p.platform),
        v.shortHash,
        String(p.closure.installed.length),
        p.closure.local.map((e) => e.package.name).join(',') || '-',
        p.runtime.length ? String(p.runtime.length) : '-',
        describeBuilder(v.builder)
      ])
    )
    io.out(renderTable(['variant', 'platform', 'hash', 'packages', 'local', 'runtime', 'builder'], rows))
  }
  // The variants that planned are printed first; each one that did not says why, and the run fails.
  for (const f of plan.failed) io.err(`error: ${describeError(f.error)}\n`)
  return plan.failed.length > 0 ? 1 : 0
}

function readPlanJson(path: string): PlanJson {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw new ConfigError(
      `cannot read plan (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
      { file: path },
      'write one with `fast-build plan --json > FILE`'
    )
  }
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (e) {
    throw new ConfigError(
      `not JSON: ${(e as Error).message}`,
      { file: path },
      'write one with `fast-build plan --json > FILE`'
    )
  }
  if (typeof data !== 'object' || data === null || !Array.isArray((data as PlanJson).variants)) {
    throw new ConfigError(
      'not a fast-build plan (no "variants" list)',
      { file: path },
      'write one with `fast-build plan --json > FILE`'
    )
  }
  return data as PlanJson
}

function cmdDiff(args: readonly string[], io: CliIO): number {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: { json: { type: 'boolean', default: false } },
    allowPositionals: true
  })
  if (positionals.length !== 2) throw new UsageError('diff needs two plan files: OLD.json NEW.json')
  const diffs = diffPlans(readPlanJson(positionals[0]!), readPlanJson(positionals[1]!))
  if (values.json) {
    io.out(JSON.stringify(diffs, null, 2) + '\n')
    return 0
  }
  for (const d of diffs) {
    const hashes =
      d.oldHash && d.newHash && d.oldHash !== d.newHash
        ? ` (${d.oldHash.slice(0, 16)} → ${d.newHash.slice(0, 16)})`
        : ''
    io.out(`${d.variant}: ${d.status}${hashes}\n`)
    for (const line of summarizeVariantDiff(d)) io.out(`  ${line}\n`)
  }
  return 0
}

async function cmdSbom(args: readonly string[], io: CliIO): Promise<number> {
  // --json is accepted and changes nothing: JSON is the one format.
  const values = parsePlanArgs(args)
  // Every configured platform is planned, so that --platform picks among them (and names them
  // when it names none); an unknown --variant is refused by planProject with the list.
  const plan = loadPlan({
    project: values.project!,
    variants: values.variant ?? [],
    ...(values.python ? { python: values.python } : {})
  })
  for (const n of plan.notes) io.err(`note: ${n}\n`)
  const wanted = (values.platform ?? []).map((p) => formatPlatform(parsePlatform(p, '--platform')))
  const built = [...new Set(plan.variants.flatMap((v) => v.platforms.map((p) => formatPlatform(p.platform))))]
  for (const w of wanted) {
    if (!built.includes(w)) {
      throw new ConfigError(
        `platform ${w} is not built by ${plan.variants.length === 1 ? `variant ${plan.variants[0]!.name}` : 'these variants'}`,
        { file: plan.project.file, keyPath: 'tool.fast-build.platforms' },
        `platforms are: ${built.join(', ')} (add ${w} to platforms under [tool.fast-build] to build it)`
      )
    }
  }
  const [{ cycloneDxSbom, sbomBytes }, { buildEpoch, gitInfo }] = await Promise.all([
    import('./sbom/cyclonedx.js'),
    import('./pipeline/git.js')
  ])
  // The build's time, as `build` stamps images: SOURCE_DATE_EPOCH, else the commit's.
  const created = new Date(buildEpoch(await gitInfo(plan.project.dir)) * 1000).toISOString()
  const name = plan.project.name ?? basename(plan.project.dir)
  const docs = plan.variants.flatMap((v) =>
    v.platforms
      .filter((p) => wanted.length === 0 || wanted.includes(formatPlatform(p.platform)))
      .map((p) => cycloneDxSbom({ variant: v, platform: p, created, name }))
  )
  // One document prints as the bytes `build` attaches (sbomBytes), so the two can be compared.
  const [only] = docs
  io.out(only && docs.length === 1 ? sbomBytes(only).toString('utf8') : JSON.stringify(docs, null, 2) + '\n')
  // As `plan`: the variants that planned are printed; each one that did not says why, and the run fails.
  for (const f of plan.failed) io.err(`error: ${describeError(f.error)}\n`)
  return plan.failed.length > 0 ? 1 : 0
}

export { isFastBuildError }
