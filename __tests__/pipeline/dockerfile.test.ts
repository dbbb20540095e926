import { describe, expect, it } from '@jest/globals'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  buildArgsFor,
  contextFiles,
  DEFAULT_COMMAND,
  defaultDockerfile,
  engineCommands,
  engineOf,
  lockIndexUrl,
  newestPipWheel,
  saysBuildxMissing,
  type DockerfileSettings,
  type EngineRun
} from '../../src/pipeline/dockerfile.js'
import { DockerfileError } from '../../src/pipeline/errors.js'
import type { Platform } from '../../src/target.js'
import type { IndexFile } from '../../src/wheels/index.js'
import { DEFAULT_PACKAGES, uvProject, VARIANTS_CONFIG } from '../support/fixtures.js'
import { planDir } from '../support/project.js'

const AMD64: Platform = { os: 'linux', architecture: 'amd64' }
const ARM64: Platform = { os: 'linux', architecture: 'arm64' }

const settings = (o: Partial<DockerfileSettings> = {}): DockerfileSettings => ({
  path: null,
  text: 'FROM x\n',
  target: null,
  buildArgs: {},
  command: [...DEFAULT_COMMAND],
  ...o
})

const run = (o: Partial<EngineRun> = {}): EngineRun => ({
  settings: settings(),
  file: '/ctx/Dockerfile',
  context: '/ctx',
  variant: 'ml',
  buildArgs: [['FAST_BUILD_VARIANT', 'ml']],
  platforms: [AMD64],
  tag: 'ghcr.io/acme/app:deps-ml-0123456789abcdef',
  insecure: false,
  githubCache: false,
  ...o
})

describe('engineCommands', () => {
  it.each<[string, Partial<EngineRun>, string[][]]>([
    [
      'docker buildx, one platform, no cache',
      {},
      [
        'docker buildx build --file /ctx/Dockerfile --platform linux/amd64 --build-arg FAST_BUILD_VARIANT=ml --tag ghcr.io/acme/app:deps-ml-0123456789abcdef --provenance=false --sbom=false --push /ctx'.split(
          ' '
        )
      ]
    ],
    [
      'docker buildx on GitHub: two platforms, a target, the Actions cache scoped per variant',
      { platforms: [AMD64, ARM64], githubCache: true, settings: settings({ target: 'deps' }) },
      [
        'docker buildx build --file /ctx/Dockerfile --target deps --platform linux/amd64,linux/arm64 --build-arg FAST_BUILD_VARIANT=ml --tag ghcr.io/acme/app:deps-ml-0123456789abcdef --cache-from type=gha,scope=fast-build-ml --cache-to type=gha,mode=max,scope=fast-build-ml --provenance=false --sbom=false --push /ctx'.split(
          ' '
        )
      ]
    ],
    [
      'buildah, one platform, a loopback registry: build, then push',
      {
        settings: settings({ command: ['buildah', 'bud', '--network', 'host'] }),
        tag: '127.0.0.1:5000/app:deps-ml-1',
        insecure: true
      },
      [
        'buildah bud --network host --tls-verify=false --file /ctx/Dockerfile --platform linux/amd64 --build-arg FAST_BUILD_VARIANT=ml --tag 127.0.0.1:5000/app:deps-ml-1 /ctx'.split(
          ' '
        ),
        'buildah push --tls-verify=false 127.0.0.1:5000/app:deps-ml-1 docker://127.0.0.1:5000/app:deps-ml-1'.split(
          ' '
        )
      ]
    ],
    [
      'buildah, two platforms: a manifest list, pushed with --all',
      { settings: settings({ command: ['/usr/bin/buildah', 'bud'] }), platforms: [AMD64, ARM64] },
      [
        '/usr/bin/buildah bud --file /ctx/Dockerfile --platform linux/amd64,linux/arm64 --build-arg FAST_BUILD_VARIANT=ml --manifest ghcr.io/acme/app:deps-ml-0123456789abcdef /ctx'.split(
          ' '
        ),
        '/usr/bin/buildah manifest push --all ghcr.io/acme/app:deps-ml-0123456789abcdef docker://ghcr.io/acme/app:deps-ml-0123456789abcdef'.split(
          ' '
        )
      ]
    ]
  ])('%s', (_, o, expected) => {
    expect(engineCommands(run(o))).toEqual(expected)
  })

  it('the engine is told by the program name', () => {
    expect(engineOf(['docker', 'buildx', 'build'])).toBe('docker')
    expect(engineOf(['/usr/local/bin/buildah', 'bud'])).toBe('buildah')
    expect(engineOf(['podman', 'build'])).toBe('docker')
  })
})

describe('buildArgsFor', () => {
  it("the user's args, then fast-build's (which win); the requirements file when one platform", () => {
    const args = buildArgsFor({
      settings: settings({ buildArgs: { ZED: '1', APT: 'libpq5', FAST_BUILD_VARIANT: 'mine' } }),
      variant: 'ml',
      base: 'python@sha256:00',
      platforms: [AMD64]
    })
    expect(args).toEqual([
      ['APT', 'libpq5'],
      ['ZED', '1'],
      ['FAST_BUILD_VARIANT', 'ml'],
      ['FAST_BUILD_BASE', 'python@sha256:00'],
      ['FAST_BUILD_REQUIREMENTS', 'requirements-linux-amd64.txt']
    ])
    expect(
      buildArgsFor({ settings: settings(), variant: 'ml', base: 'b', platforms: [AMD64, ARM64] }).map(
        ([k]) => k
      )
    ).toEqual(['FAST_BUILD_VARIANT', 'FAST_BUILD_BASE'])
  })

  it("the base image's interpreter, when found, as FAST_BUILD_PYTHON (the user's cannot override it)", () => {
    expect(
      buildArgsFor({
        settings: settings({ buildArgs: { FAST_BUILD_PYTHON: 'python2' } }),
        variant: 'ml',
        base: 'b',
        platforms: [AMD64],
        python: '/usr/bin/python3'
      })
    ).toEqual([
      ['FAST_BUILD_VARIANT', 'ml'],
      ['FAST_BUILD_BASE', 'b'],
      ['FAST_BUILD_PYTHON', '/usr/bin/python3'],
      ['FAST_BUILD_REQUIREMENTS', 'requirements-linux-amd64.txt']
    ])
  })

  it("the base image's interpreter is no part of a variant's hash", () => {
    // It reaches the build only as a build arg, never through the settings the planner hashes.
    const dir = uvProject({ config: VARIANTS_CONFIG, packages: SDIST_ONLY })
    const dev = planDir(dir).variants.find((v) => v.name === 'dev')!
    expect(dev.builder.kind === 'dockerfile' && dev.builder.settings.text).toBe(defaultDockerfile())
  })
})

describe('newestPipWheel', () => {
  const sha = (c: string) => c.repeat(64)
  const f = (filename: string, o: Partial<IndexFile> = {}): IndexFile => ({
    filename,
    url: `https://files.example/${filename}`,
    hashes: { sha256: sha('a') },
    ...o
  })
  it('the newest final, unyanked, hashed wheel whose Requires-Python admits the target', () => {
    const files = [
      f('pip-24.0-py3-none-any.whl', { requiresPython: '>=3.7' }),
      f('pip-24.0.tar.gz'),
      f('pip-25.1-py3-none-any.whl', { requiresPython: '>=3.9' }),
      f('pip-25.2-py3-none-any.whl', { requiresPython: '>=3.9', yanked: 'broken' }),
      f('pip-25.3b1-py3-none-any.whl'),
      f('pip-25.1.1-py3-none-any.whl', { requiresPython: '>=3.9', hashes: {} }),
      f('pip-9.0.3-py2.py3-none-any.whl')
    ]
    expect(newestPipWheel(files, '3.12.0')?.filename).toBe('pip-25.1-py3-none-any.whl')
    expect(newestPipWheel(files, '3.8.10')?.filename).toBe('pip-24.0-py3-none-any.whl')
    expect(newestPipWheel([f('pip-24.0.tar.gz')], '3.12.0')).toBeNull()
  })
})

describe('saysBuildxMissing', () => {
  it.each<[string, boolean]>([
    ['docker: unknown command: docker buildx', true],
    ["docker: 'buildx' is not a docker command.", true],
    ['unknown flag: --platform', true],
    ['ERROR: failed to solve: process "/bin/sh -c pip install" did not complete successfully', false]
  ])('%s → %s', (line, expected) => {
    expect(saysBuildxMissing(['#1 building', line])).toBe(expected)
  })
})

/** DEFAULT_PACKAGES with pytest published as an sdist only. */
const SDIST_ONLY = DEFAULT_PACKAGES.map((p) => (p.name === 'pytest' ? { ...p, wheels: [] } : p))

describe('the planner picks the builder', () => {
  it('auto: the Dockerfile builder only for the variant with an sdist-only package, saying why', () => {
    const plan = planDir(uvProject({ config: VARIANTS_CONFIG, packages: SDIST_ONLY }))
    const by = Object.fromEntries(plan.variants.map((v) => [v.name, v.builder]))
    expect(by['base']).toEqual({ kind: 'wheels' })
    expect(by['ml']).toEqual({ kind: 'wheels' })
    expect(by['dev']).toMatchObject({
      kind: 'dockerfile',
      reason:
        'the wheels builder cannot install pytest 8.3.3: only a source distribution (pytest-8.3.3.tar.gz)'
    })
  })

  it('builder = "wheels" keeps the wheels builder (which will refuse), "dockerfile" takes it for all', () => {
    const wheels = planDir(uvProject({ config: VARIANTS_CONFIG, packages: SDIST_ONLY }), {
      builder: 'wheels'
    })
    expect(wheels.variants.every((v) => v.builder.kind === 'wheels')).toBe(true)
    const all = planDir(uvProject({ config: VARIANTS_CONFIG }), { builder: 'dockerfile' })
    expect(all.variants.map((v) => v.builder.kind)).toEqual(['dockerfile', 'dockerfile', 'dockerfile'])
  })

  it("a Dockerfile-built variant's hash covers the Dockerfile, its target and build args; the others' do not", () => {
    const dir = uvProject({ config: VARIANTS_CONFIG, packages: SDIST_ONLY })
    const hashes = (o: Parameters<typeof planDir>[1] = {}) =>
      Object.fromEntries(planDir(dir, o).variants.map((v) => [v.name, v.hash]))
    const generated = hashes()
    const own = hashes({ dockerfile: { path: 'Dockerfile', text: 'FROM python\nRUN pip install -r x\n' } })
    const own2 = hashes({
      dockerfile: { path: 'Dockerfile', text: 'FROM python\nRUN apt-get install libpq5\n' }
    })
    const target = hashes({
      dockerfile: { path: 'Dockerfile', text: 'FROM python\nRUN pip install -r x\n' },
      dockerfileTarget: 'deps'
    })
    expect(own['dev']).not.toBe(generated['dev'])
    expect(own2['dev']).not.toBe(own['dev'])
    expect(target['dev']).not.toBe(own['dev'])
    for (const h of [own, own2, target]) {
      expect(h['base']).toBe(generated['base'])
      expect(h['ml']).toBe(generated['ml'])
    }
    // The engine is not part of it: docker and buildah build the same Dockerfile.
    expect(hashes({ dockerfileCommand: ['buildah', 'bud'] })).toEqual(generated)
  })
})

describe('contextFiles', () => {
  it('pins with every hash pip may meet, the index, markers evaluated; git at its commit apart', () => {
    const dir = uvProject({ config: VARIANTS_CONFIG, packages: SDIST_ONLY })
    const lockPath = join(dir, 'uv.lock')
    const plan = planDir(dir)
    const dev = plan.variants.find((v) => v.name === 'dev')!
    const files = contextFiles('dev', dev.platforms, lockPath)
    expect(files.map((f) => f.name)).toEqual([
      'requirements-linux-amd64.txt',
      'requirements-vcs-linux-amd64.txt'
    ])
    const lines = files[0]!.text.split('\n').filter((l) => l && !l.startsWith('#'))
    expect(lines[0]).toBe('--index-url https://pypi.org/simple')
    // Where a pip wheel would come from: the same index.
    expect(lockIndexUrl(dev.platforms)).toBe('https://pypi.org/simple')
    expect(lines).toContain('pytest==8.3.3 \\')
    expect(lines.filter((l) => l.includes('--hash=sha256:')).length).toBeGreaterThanOrEqual(5)
    expect(files[1]!.text.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual([])
  })

  it('a git dependency goes to the vcs file at its locked commit; a local archive is refused', () => {
    const config = `
[tool.fast-build]
python = "3.12"
[tool.fast-build.variants]
exp = { groups = ["main", "exp"] }
`
    const dir = uvProject({ config })
    const lockPath = join(dir, 'uv.lock')
    const commit = 'a'.repeat(40)
    const original = readFileSync(lockPath, 'utf8')
    // rich's entry, with another source and no files (as uv writes git and path entries).
    const withRich = (source: string) =>
      original.replace(
        /name = "rich"\nversion = "13\.9\.4"\nsource = \{[^}]*\}\nsdist = [^\n]*\nwheels = \[\n[^\]]*\]\n/,
        `name = "rich"\nversion = "13.9.4"\nsource = ${source}\n`
      )
    writeFileSync(lockPath, withRich(`{ git = "https://github.com/Textualize/rich?rev=v13#${commit}" }`))
    let plan = planDir(dir)
    const exp = plan.variants[0]!
    expect(exp.builder).toMatchObject({
      kind: 'dockerfile',
      reason: expect.stringMatching(/^the wheels builder cannot install rich 13\.9\.4: git source/)
    })
    const [hashed, vcs] = contextFiles('exp', exp.platforms, lockPath)
    expect(hashed!.text).not.toContain('rich')
    expect(vcs!.text.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual([
      '--index-url https://pypi.org/simple',
      `rich @ git+https://github.com/Textualize/rich@${commit}`
    ])

    writeFileSync(lockPath, withRich('{ path = "dist/rich-13.9.4-py3-none-any.whl" }'))
    plan = planDir(dir)
    expect(() => contextFiles('exp', plan.variants[0]!.platforms, lockPath)).toThrow(
      /exp: rich 13\.9\.4 from the local archive dist\/rich-13\.9\.4-py3-none-any\.whl: a local archive is not in the build context/
    )
  })
})

describe('defaultDockerfile', () => {
  it('the base image, then pip installs the pins with their hashes and the git ones without', () => {
    const text = defaultDockerfile({ interpreter: '/usr/local/bin/python3.12' })
    expect(text).toMatch(/^ARG FAST_BUILD_BASE\nFROM \$\{FAST_BUILD_BASE\}$/m)
    expect(text).toMatch(
      /"\$FAST_BUILD_PYTHON" -m pip install --no-deps .* --require-hashes -r "\/tmp\/fast-build\/requirements-\$slug\.txt"/
    )
    expect(text).toContain('requirements-vcs-$slug.txt')
    expect(text).not.toMatch(/COPY \. /)
  })

  it('installs with the interpreter of the build arg, bootstrapping pip from a wheel in the context', () => {
    const text = defaultDockerfile()
    expect(text).toMatch(/^ARG FAST_BUILD_PYTHON=python3$/m)
    expect(text).toMatch(/^COPY pip\/ \/tmp\/fast-build\/pip\/$/m)
    expect(text).toContain('if ! "$FAST_BUILD_PYTHON" -m pip --version >/dev/null 2>&1; then')
    expect(text).toContain('"$FAST_BUILD_PYTHON" "$whl/pip" install --no-deps')
    // The text is hashed: nothing of the install layout (or the base image) goes into it.
    expect(defaultDockerfile({ interpreter: '/usr/bin/python3.11' })).toBe(text)
    expect(text).not.toMatch(/\/usr\/(local\/)?bin\/python/)
  })

  it('DockerfileError is a fast-build error', () => {
    expect(new DockerfileError('x', {}, 'y')).toBeInstanceOf(Error)
  })
})
