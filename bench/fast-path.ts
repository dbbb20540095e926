// The fast path on a generated source tree (~2,000 files, ~20 MB) with the deps image already in
// a loopback registry: the whole `fast-build build` against (a) the raw limit, `tar | gzip -1` of
// the same tree plus one blob upload with curl, and (b) `buildah bud` of FROM deps + COPY . /app,
// then `buildah push`. Each of our runs changes one file, so every run uploads a new layer.
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { runnableRootfs, umociImage } from '../__tests__/support/deps-images.js'
import { startRegistry } from '../__tests__/support/registry.js'
import { loadPlan } from '../src/cli-plan.js'
import { check, ms, ratio } from './lib.js'

const CLI = resolve('dist', 'cli.cjs')
const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'b',
  GIT_AUTHOR_EMAIL: 'b@e',
  GIT_COMMITTER_NAME: 'b',
  GIT_COMMITTER_EMAIL: 'b@e'
}

/** A Python project with `files` modules of about 10 kB each (deterministic text). */
function generateProject(dir: string, files: number): number {
  mkdirSync(dir, { recursive: true })
  writeFileSync(
    join(dir, 'pyproject.toml'),
    '[project]\nname = "bigapp"\nversion = "0.1.0"\nrequires-python = ">=3.12"\ndependencies = []\n\n[tool.fast-build]\npython = "3.12"\n' +
      // Pinned, as a team keeping its deps images would: the fast path then asks no base registry.
      `base-image = "python:3.12-slim@sha256:${'5e'.repeat(32)}"\n`
  )
  writeFileSync(
    join(dir, 'uv.lock'),
    'version = 1\nrevision = 3\nrequires-python = ">=3.12"\n\n[[package]]\nname = "bigapp"\nversion = "0.1.0"\nsource = { editable = "." }\n'
  )
  let seed = 12345
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31)
  const words = [
    'alpha',
    'beta',
    'gamma',
    'delta',
    'value',
    'result',
    'config',
    'handler',
    'request',
    'payload',
    'index',
    'total'
  ]
  let bytes = 0
  for (let i = 0; i < files; i++) {
    const d = join(dir, 'src', 'bigapp', `pkg${i % 40}`, `mod${i % 7}`)
    mkdirSync(d, { recursive: true })
    const lines: string[] = []
    const target = 6000 + (rand() % 8000)
    let size = 0
    while (size < target) {
      const w = words[rand() % words.length]
      const line = `def ${w}_${rand() % 1000}(x, y):\n    return x + y * ${rand() % 100}  # ${words[rand() % words.length]} ${rand() % 99999}\n`
      lines.push(line)
      size += line.length
    }
    writeFileSync(join(d, `f${i}.py`), lines.join(''))
    bytes += size
  }
  execFileSync('git', ['init', '-q', '-b', 'main', dir])
  execFileSync('git', ['-C', dir, 'add', '-A'])
  execFileSync('git', ['-C', dir, 'commit', '-q', '-m', 'generated'], { env: GIT_ENV })
  return bytes
}

function time(f: () => void): number {
  const start = performance.now()
  f()
  return (performance.now() - start) / 1000
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

function sh(script: string, env: NodeJS.ProcessEnv = process.env): void {
  const r = spawnSync('bash', ['-c', script], { env, encoding: 'utf8', timeout: 300_000 })
  if (r.status !== 0) throw new Error(`bench step failed: ${script}\n${r.stderr}`)
}

export async function benchFastPath(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'fast-build-bench-fast-'))
  const reg = await startRegistry()
  try {
    const project = join(work, 'bigapp')
    const bytes = generateProject(project, 2000)
    const plan = loadPlan({ project })
    const depsTag = `deps-default-${plan.variants[0]!.shortHash}`
    const layout = join(work, 'deps-layout')
    await umociImage(layout, 'deps', runnableRootfs(join(work, 'rootfs')))
    sh(
      `skopeo --insecure-policy copy --quiet --dest-tls-verify=false oci:${layout}:deps docker://${reg.host}/bench:${depsTag}`
    )
    console.log(
      `\nfast path — 2,000 files, ${(bytes / 1e6).toFixed(1)} MB of source, deps image in a loopback registry`
    )

    const runs = 5
    // Ours: each run changes one file (a new source layer to upload) and builds.
    const ours: number[] = []
    for (let i = 0; i <= runs; i++) {
      writeFileSync(join(project, 'src', 'bigapp', 'changing.py'), `RUN = ${i}\n`)
      execFileSync('git', ['-C', project, 'add', '-A'])
      execFileSync('git', ['-C', project, 'commit', '-q', '-m', `run ${i}`], { env: GIT_ENV })
      const t = time(() =>
        sh(`node ${CLI} build --project ${project} --registry ${reg.host}/bench --quiet --json > /dev/null`)
      )
      if (i > 0) ours.push(t) // the first run warms the page cache, as the others do
    }

    // (a) The raw limit: tar | gzip -1 of the same tree, its digest, one monolithic upload.
    const tgz = join(work, 'raw.tgz')
    const raw: number[] = []
    for (let i = 0; i <= runs; i++) {
      const t = time(() =>
        sh(
          `set -e; tar -C ${project} --exclude=.git -cf - . | gzip -1 > ${tgz}; d=$(sha256sum ${tgz} | cut -d' ' -f1); ` +
            `loc=$(curl -sSf -X POST -D - -o /dev/null http://${reg.host}/v2/raw/blobs/uploads/ | tr -d '\\r' | sed -n 's/^[Ll]ocation: //p'); ` +
            `case "$loc" in http*) ;; *) loc="http://${reg.host}$loc";; esac; ` +
            `curl -sSf -X PUT -H 'Content-Type: application/octet-stream' --data-binary @${tgz} "$loc&digest=sha256:$d" -o /dev/null`
        )
      )
      if (i > 0) raw.push(t)
    }

    // (b) buildah: FROM the deps image, COPY . /app, push (vfs storage, chroot isolation).
    const bRoot = join(work, 'buildah')
    const common = `--root ${bRoot}/root --runroot ${bRoot}/run --storage-driver vfs`
    writeFileSync(join(project, 'Containerfile'), `FROM ${reg.host}/bench:${depsTag}\nCOPY . /app\n`)
    writeFileSync(join(project, '.dockerignore'), '.git\nContainerfile\n')
    const buildah: number[] = []
    const bRuns = 3
    for (let i = 0; i <= bRuns; i++) {
      writeFileSync(join(project, 'src', 'bigapp', 'changing.py'), `BUILDAH = ${i}\n`)
      const t = time(() =>
        sh(
          `set -e; buildah ${common} bud --quiet --isolation chroot --tls-verify=false -f ${join(project, 'Containerfile')} -t localhost/bench:b${i} ${project} > /dev/null; ` +
            `buildah ${common} push --quiet --tls-verify=false localhost/bench:b${i} docker://${reg.host}/bench:buildah-${i} > /dev/null`,
          { ...process.env, BUILDAH_ISOLATION: 'chroot' }
        )
      )
      if (i > 0) buildah.push(t) // the first run pulls the deps image into buildah's storage
    }
    rmSync(join(project, 'Containerfile'))
    rmSync(join(project, '.dockerignore'))

    const o = median(ours)
    const r = median(raw)
    const b = median(buildah)
    console.log(`  fast-build build (whole process):      median ${ms(o)} over ${ours.length} runs`)
    console.log(`  raw limit (tar | gzip -1 + curl PUT):  median ${ms(r)} over ${raw.length} runs`)
    console.log(`  buildah bud + buildah push:             median ${ms(b)} over ${buildah.length} runs`)
    console.log(`  ratios: fast-build / raw = ${(o / r).toFixed(2)}; buildah / fast-build = ${ratio(b, o)}`)
    check('fast path vs raw limit (tar|gzip -1 + curl)', '≤ 1.5×', `${(o / r).toFixed(2)}×`, o / r <= 1.5)
    check('fast path vs buildah bud + push', '≥ 5×', ratio(b, o), b / o >= 5)
  } finally {
    await reg.stop()
    rmSync(work, { recursive: true, force: true })
  }
}
