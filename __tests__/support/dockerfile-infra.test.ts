// The test infrastructure of the Dockerfile builder, proved against the real tools: buildah on
// storage of its own (driven by environment variables only, as fast-build will run it), the Debian
// python3 base image with pip bootstrapped from the local index, sdists that pip builds with
// setuptools from the same index, and git repositories over smart HTTP that pip clones.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  debianWheel,
  pipBootstrapLines,
  PYTHON_PIP_BASE_REPO,
  PYTHON_PIP_BASE_TAG,
  pushPythonPipBase,
  startBuildah,
  type Buildah
} from './buildah.js'
import { startGitServer, type GitServer } from './git-server.js'
import { startPodman, type Podman } from './podman.js'
import { run, runOk } from './process.js'
import { startPypiServer, type PypiServer } from './pypi-server.js'
import { pushPythonBase } from './python-base.js'
import { startRegistry, type TestRegistry } from './registry.js'
import { buildBackendWheels, buildSdist, pythonPackageFiles, type BuiltSdist } from './sdist.js'
import { skopeoInspect } from './skopeo.js'
import { servedFiles } from './wheel-project.js'

const MINUTE = 60_000

const timings: Record<string, number> = {}
const time = async <T>(label: string, f: () => Promise<T>): Promise<T> => {
  const started = Date.now()
  try {
    return await f()
  } finally {
    timings[label] = (Date.now() - started) / 1000
  }
}

let work: string
let reg: TestRegistry | undefined
let index: PypiServer | undefined
let buildah: Buildah | undefined
let gitServer: GitServer | undefined
let podman: Podman | undefined
let baseRef: string
let pipBaseRef: string
let sdist: BuiltSdist

/** A build context dir with these files; returns its path and its Dockerfile's. */
function context(files: Record<string, string>): { dir: string; file: string } {
  const dir = mkdtempSync(join(work, 'ctx-'))
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return { dir, file: join(dir, 'Dockerfile') }
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'fast-build-dockerfile-infra-'))
  sdist = await buildSdist(join(work, 'dist'), { project: 'fb-sdist', version: '1.2.3', module: 'fbsdist' })
  index = await startPypiServer({ files: servedFiles([debianWheel('pip'), ...buildBackendWheels(), sdist]) })
  reg = await startRegistry()
  buildah = startBuildah()
  gitServer = await startGitServer()
  podman = startPodman()
  baseRef = await time('push python base (skopeo)', () => pushPythonBase(reg!.host, 'base/python'))
  pipBaseRef = await time('pushPythonPipBase (bud + push)', () => pushPythonPipBase(reg!, buildah!, index!))
}, 15 * MINUTE)

afterAll(async () => {
  const steps: (() => unknown)[] = [
    () => podman?.close(),
    () => gitServer?.close(),
    () => index?.close(),
    () => reg?.stop(),
    () => buildah?.close(),
    () => work && rmSync(work, { recursive: true, force: true })
  ]
  for (const step of steps) await Promise.resolve(step()).catch(() => undefined)
  console.log(
    'dockerfile-infra timings (s):\n' +
      Object.entries(timings)
        .map(([k, v]) => `  ${k}: ${v.toFixed(1)}`)
        .join('\n')
  )
}, 5 * MINUTE)

describe('buildah with isolated storage', () => {
  it('takes its storage, driver and configs from the environment alone', async () => {
    const b = buildah!
    // A plain `buildah info`, with nothing but the environment: the temp storage and vfs.
    const info = JSON.parse((await runOk('buildah', ['info'], { env: b.env, timeoutMs: 60_000 })).stdout) as {
      store: { GraphRoot: string; RunRoot: string; GraphDriverName: string }
    }
    expect(info.store).toMatchObject({ GraphRoot: b.graphRoot, RunRoot: b.runRoot, GraphDriverName: 'vfs' })
    expect(b.graphRoot.startsWith(b.dir + '/')).toBe(true)
    // The global flags say the same, for tools that take flags rather than an environment.
    const viaArgs = JSON.parse((await b.runOk(['info'], { globalArgs: true })).stdout) as typeof info
    expect(viaArgs.store).toMatchObject({ GraphRoot: b.graphRoot, GraphDriverName: 'vfs' })
    expect(b.env).toMatchObject({ BUILDAH_ISOLATION: 'chroot', STORAGE_DRIVER: 'vfs' })
    expect(b.env['TMPDIR']!.startsWith(b.dir)).toBe(true)
  })

  it(
    'runs a plain `buildah bud` FROM the registry base whose RUN reaches 127.0.0.1, and a plain push',
    async () => {
      const b = buildah!
      const ref = `${reg!.host}/fb/probe:1`
      const { dir, file } = context({
        Dockerfile: [
          'ARG BASE',
          'FROM ${BASE}',
          'ARG INDEX',
          `RUN python3 -c 'import sys, urllib.request; open("/probe.html", "wb").write(urllib.request.urlopen(sys.argv[1], timeout=30).read())' "$INDEX/fb-sdist/"`,
          ''
        ].join('\n')
      })
      const before = index!.requests.length
      // Exactly the command lines fast-build will run, with buildah.env and no storage flags.
      const bud = await time('plain buildah bud (FROM base, one RUN, commit)', () =>
        run(
          'buildah',
          [
            'bud',
            '--file',
            file,
            '--tag',
            ref,
            '--build-arg',
            `BASE=${baseRef}`,
            '--build-arg',
            `INDEX=${index!.simpleUrl}`,
            '--network',
            'host',
            dir
          ],
          { env: b.env, timeoutMs: 5 * MINUTE }
        )
      )
      expect({ code: bud.code, err: bud.code === 0 ? '' : bud.stderr }).toEqual({ code: 0, err: '' })
      const seen = index!.requests.slice(before).map((r) => `${r.method} ${r.path} ${r.outcome}`)
      expect(seen).toContain('GET /simple/fb-sdist/ 200')
      const push = await time('plain buildah push', () =>
        run('buildah', ['push', '--tls-verify=false', ref, `docker://${ref}`], {
          env: b.env,
          timeoutMs: 3 * MINUTE
        })
      )
      expect({ code: push.code, err: push.code === 0 ? '' : push.stderr }).toEqual({ code: 0, err: '' })

      const manifest = JSON.parse((await skopeoInspect(`docker://${ref}`, { raw: true })).stdout) as {
        layers: { digest: string }[]
      }
      const base = JSON.parse((await skopeoInspect(`docker://${baseRef}`, { raw: true })).stdout) as {
        layers: { digest: string }[]
      }
      // The base's layer, then the RUN's.
      expect(manifest.layers).toHaveLength(base.layers.length + 1)
      expect(manifest.layers[0]!.digest).toBe(base.layers[0]!.digest)
      // Nothing of it in the machine's own storage: the image is in the temp storage only.
      const images = (await b.runOk(['images', '--format', '{{.Name}}:{{.Tag}}'])).stdout
      expect(images).toContain(ref)
    },
    10 * MINUTE
  )

  it(
    'a timeout ends the build and what its RUN started',
    async () => {
      const marker = `fb-timeout-${process.pid}-${Date.now()}`
      const { dir, file } = context({ Dockerfile: `FROM ${baseRef}\nRUN sleep 600 && echo ${marker}\n` })
      const started = Date.now()
      const r = await buildah!.run(['bud', '--file', file, '--tag', 'localhost/fb/slow:1', dir], {
        timeoutMs: 8_000
      })
      expect(r.code).not.toBe(0)
      expect(r.stderr).toContain('[killed after 8000 ms]')
      expect(Date.now() - started).toBeLessThan(30_000)
      // No `sleep 600` of that RUN left running.
      const left = await run('pgrep', ['-f', `sleep 600 && echo ${marker}`])
      expect(left.stdout.trim()).toBe('')
    },
    2 * MINUTE
  )

  it(
    'close() removes the storage, read-only layer files included',
    async () => {
      const b = startBuildah()
      try {
        const { dir, file } = context({
          Dockerfile: `FROM ${baseRef}\nRUN mkdir -p /ro/sub && echo x > /ro/sub/f && chmod 0444 /ro/sub/f && chmod 0555 /ro/sub /ro\n`
        })
        await b.bud({ file, context: dir, tag: 'localhost/fb/ro:1', timeoutMs: 5 * MINUTE })
        // A working container left behind too.
        await b.runOk(['from', '--name', 'leftover', 'localhost/fb/ro:1'])
        expect(existsSync(join(b.graphRoot, 'vfs'))).toBe(true)
      } finally {
        await b.close()
      }
      expect(existsSync(b.dir)).toBe(false)
      expect(readFileSync('/proc/self/mounts', 'utf8')).not.toContain(b.dir)
      await b.close() // idempotent
    },
    10 * MINUTE
  )
})

describe('pip in the python base image', () => {
  it('pipBootstrapLines takes only a pip wheel URL', () => {
    const lines = pipBootstrapLines('http://127.0.0.1:1/files/pip-23.0.1-py3-none-any.whl', { sha256: 'ab' })
    expect(lines).toContain('/tmp/pip-23.0.1-py3-none-any.whl/pip install')
    expect(lines).toContain('EXTERNALLY-MANAGED')
    expect(() => pipBootstrapLines('http://127.0.0.1:1/files/setuptools-66.1.1-py3-none-any.whl')).toThrow(
      /pip wheel/
    )
  })

  it(
    'pushPythonPipBase gives an image where `python3 -m pip` works',
    async () => {
      expect(pipBaseRef).toBe(`${reg!.host}/${PYTHON_PIP_BASE_REPO}:${PYTHON_PIP_BASE_TAG}`)
      const pip = debianWheel('pip')
      expect(index!.fileRequests().map((r) => r.path)).toContain(`/files/${pip.filename}`)
      const r = await time('podman run python-pip base', () =>
        podman!.run(`docker://${pipBaseRef}`, [
          'sh',
          '-c',
          'python3 -m pip --version && ls /usr/lib/python3.11/EXTERNALLY-MANAGED 2>&1 || true'
        ])
      )
      expect({ code: r.code, err: r.code === 0 ? '' : r.stderr }).toEqual({ code: 0, err: '' })
      expect(r.stdout).toContain(`pip ${pip.version} from /usr/local/lib/python3.11/dist-packages/pip`)
      expect(r.stdout).toMatch(/EXTERNALLY-MANAGED.*No such file/)
    },
    5 * MINUTE
  )
})

describe('sdists', () => {
  it('buildSdist writes the same PEP 517 sdist on every run', async () => {
    expect(sdist).toMatchObject({
      project: 'fb-sdist',
      version: '1.2.3',
      module: 'fbsdist',
      filename: 'fb_sdist-1.2.3.tar.gz'
    })
    const bytes = readFileSync(sdist.path)
    expect(sdist.size).toBe(bytes.length)
    expect(sdist.sha256).toBe(createHash('sha256').update(bytes).digest('hex'))
    const list = (await runOk('tar', ['-tzf', sdist.path])).stdout.trim().split('\n').sort()
    expect(list).toEqual([
      'fb_sdist-1.2.3/',
      'fb_sdist-1.2.3/PKG-INFO',
      'fb_sdist-1.2.3/fbsdist.py',
      'fb_sdist-1.2.3/pyproject.toml',
      'fb_sdist-1.2.3/setup.cfg'
    ])
    const pyproject = (await runOk('tar', ['-xzOf', sdist.path, 'fb_sdist-1.2.3/pyproject.toml'])).stdout
    expect(pyproject).toContain('requires = ["setuptools>=61"]')
    expect(pyproject).toContain('build-backend = "setuptools.build_meta"')
    const again = await buildSdist(join(work, 'dist-again'), {
      project: 'fb-sdist',
      version: '1.2.3',
      module: 'fbsdist'
    })
    expect(again.sha256).toBe(sdist.sha256)
    expect(index!.sha256(sdist.filename)).toBe(sdist.sha256)
  })

  it(
    'pip builds and installs the sdist with --require-hashes, setuptools coming from the same index',
    async () => {
      const ref = `${reg!.host}/fb/sdist:1`
      const { dir, file } = context({
        'requirements.txt': `fb-sdist==1.2.3 --hash=sha256:${sdist.sha256}\n`,
        Dockerfile: [
          'ARG BASE',
          'FROM ${BASE}',
          'ARG INDEX',
          'COPY requirements.txt /tmp/requirements.txt',
          'RUN python3 -m pip install --no-cache-dir --no-deps --require-hashes --index-url "$INDEX" \\',
          '      -r /tmp/requirements.txt \\',
          '    && python3 -c "import fbsdist; print(\'built\', fbsdist.VERSION)"',
          ''
        ].join('\n')
      })
      const before = index!.requests.length
      const bud = await time('bud: pip install sdist (build isolation)', () =>
        buildah!.bud({
          file,
          context: dir,
          tag: ref,
          buildArgs: { BASE: pipBaseRef, INDEX: index!.simpleUrl },
          timeoutMs: 5 * MINUTE
        })
      )
      expect(bud.stdout).toContain('built 1.2.3')
      const files = index!.requests
        .slice(before)
        .filter((r) => r.path.startsWith('/files/'))
        .map((r) => r.path)
      // The sdist, and the build backend pip's isolated build environment fetched from the index.
      expect(files).toEqual(
        expect.arrayContaining([
          `/files/${sdist.filename}`,
          ...buildBackendWheels().map((w) => `/files/${w.filename}`)
        ])
      )
      await buildah!.push(ref)
      const r = await podman!.run(`docker://${ref}`, [
        'python3',
        '-c',
        'import fbsdist; print(fbsdist.VERSION, fbsdist.__file__)'
      ])
      expect(r.stdout.trim()).toBe('1.2.3 /usr/local/lib/python3.11/dist-packages/fbsdist.py')
    },
    10 * MINUTE
  )
})

describe('git server', () => {
  const gitEnv = () => ({
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: work,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0'
  })

  it('serves clones over smart HTTP (any commit, partial clone) and commit tarballs', async () => {
    const g = gitServer!
    const first = await g.createRepo('fb-host', pythonPackageFiles({ project: 'fb-host', version: '1.0.0' }))
    expect(first.url).toBe(`${g.url}/fb-host.git`)
    expect(first.commit).toMatch(/^[0-9a-f]{40}$/)
    const second = await g.addCommit('fb-host', { 'fb_host.py': 'VERSION = "2.0.0"\n' })
    expect(second.commit).not.toBe(first.commit)

    const before = g.requests.length
    const clone = join(work, 'clone-fb-host')
    // As pip clones: partial, then a checkout of the pinned (older) commit.
    await runOk('git', ['clone', '--quiet', '--filter=blob:none', first.url, clone], {
      env: gitEnv(),
      timeoutMs: 60_000
    })
    await runOk('git', ['checkout', '--quiet', first.commit], {
      cwd: clone,
      env: gitEnv(),
      timeoutMs: 60_000
    })
    expect(readFileSync(join(clone, 'fb_host.py'), 'utf8')).toBe('VERSION = "1.0.0"\n')
    const seen = g.requests.slice(before)
    expect(seen.map((r) => `${r.method} ${r.path.split('?')[0]} ${r.status}`)).toEqual(
      expect.arrayContaining(['GET /fb-host.git/info/refs 200', 'POST /fb-host.git/git-upload-pack 200'])
    )
    expect(seen.every((r) => r.status === 200)).toBe(true)

    // A fetch of a commit by sha (not a ref tip).
    const bare = join(work, 'fetch-by-sha')
    await runOk('git', ['init', '--quiet', bare], { env: gitEnv() })
    await runOk('git', ['fetch', '--quiet', first.url, first.commit], { cwd: bare, env: gitEnv() })

    const tgz = Buffer.from(await (await fetch(g.archiveUrl('fb-host', first.commit))).arrayBuffer())
    const tarPath = join(work, 'fb-host.tar.gz')
    writeFileSync(tarPath, tgz)
    const listing = (await runOk('tar', ['-tzf', tarPath])).stdout
    expect(listing).toContain(`fb-host-${first.commit}/pyproject.toml`)
    expect((await runOk('tar', ['-xzOf', tarPath, `fb-host-${first.commit}/fb_host.py`])).stdout).toBe(
      'VERSION = "1.0.0"\n'
    )
    expect((await fetch(g.archiveUrl('fb-host', 'f'.repeat(40)))).status).toBe(404)
    expect((await fetch(`${g.url}/nope.git/info/refs?service=git-upload-pack`)).status).toBe(404)
  })

  it(
    'pip installs `name @ git+http://…@<commit>` in a buildah build (git from Debian by apt)',
    async () => {
      const g = gitServer!
      const first = await g.createRepo('fb-git', pythonPackageFiles({ project: 'fb-git', version: '1.0.0' }))
      await g.addCommit('fb-git', { 'fb_git.py': 'VERSION = "2.0.0"\n' })
      const ref = `${reg!.host}/fb/git:1`
      const { dir, file } = context({
        Dockerfile: [
          'ARG BASE',
          'FROM ${BASE}',
          'ARG INDEX',
          'ARG REQ',
          // The base image has no git. apt reaches the Debian mirror here (host network).
          'RUN echo "apt-start $(date +%s%N)" && apt-get update -qq \\',
          '    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends git >/dev/null \\',
          '    && rm -rf /var/lib/apt/lists/* && echo "apt-end $(date +%s%N)" && git --version',
          'RUN python3 -m pip install --no-cache-dir --no-deps --index-url "$INDEX" "$REQ" \\',
          '    && python3 -c "import fb_git; print(\'installed\', fb_git.VERSION)"',
          ''
        ].join('\n')
      })
      const bud = await time('bud: apt-get install git + pip install git+http', () =>
        buildah!.bud({
          file,
          context: dir,
          tag: ref,
          buildArgs: {
            BASE: pipBaseRef,
            INDEX: index!.simpleUrl,
            REQ: `fb-git @ git+${first.url}@${first.commit}`
          },
          timeoutMs: 8 * MINUTE
        })
      )
      const start = /apt-start (\d+)/.exec(bud.stdout)
      const end = /apt-end (\d+)/.exec(bud.stdout)
      if (start && end)
        timings['  of which apt-get update + install git'] = (Number(end[1]) - Number(start[1])) / 1e9
      expect(bud.stdout).toMatch(/git version \d/)
      // The pinned commit, not the branch tip.
      expect(bud.stdout).toContain('installed 1.0.0')
      expect(g.requests.some((r) => r.path.startsWith('/fb-git.git/git-upload-pack'))).toBe(true)
    },
    10 * MINUTE
  )

  it(
    'pip installs `name @ http://…/archive/<commit>.tar.gz` without git',
    async () => {
      const g = gitServer!
      const repo = await g.createRepo('fb-tar', pythonPackageFiles({ project: 'fb-tar', version: '3.0.0' }))
      const { dir, file } = context({
        Dockerfile: [
          'ARG BASE',
          'FROM ${BASE}',
          'ARG INDEX',
          'ARG REQ',
          'RUN ! command -v git && python3 -m pip install --no-cache-dir --no-deps --index-url "$INDEX" "$REQ" \\',
          '    && python3 -c "import fb_tar; print(\'installed\', fb_tar.VERSION)"',
          ''
        ].join('\n')
      })
      const bud = await time('bud: pip install archive tarball', () =>
        buildah!.bud({
          file,
          context: dir,
          tag: `${reg!.host}/fb/tar:1`,
          buildArgs: {
            BASE: pipBaseRef,
            INDEX: index!.simpleUrl,
            REQ: `fb-tar @ ${g.archiveUrl('fb-tar', repo.commit)}`
          },
          timeoutMs: 5 * MINUTE
        })
      )
      expect(bud.stdout).toContain('installed 3.0.0')
    },
    10 * MINUTE
  )
})
