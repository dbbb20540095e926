// No secret shows through the action either: the bundled action (dist/index.js, as GitHub runs it)
// with a registry password, a GitHub token, a Docker config auth and index credentials in the
// lock's URLs, once building against a real registry and once failing against a registry that
// is not there. Its log, outputs and job summary, and the labels and SBOMs of the images it
// pushed, are searched for each secret and its base64 forms.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  commitAll,
  gitInit,
  runAction,
  startActionFixture,
  type ActionFixture,
  type ActionRun
} from './support/action-run.js'
import { tempDir } from './support/project.js'
import { skopeoInspect } from './support/skopeo.js'
import { RegistryClient } from '../src/registry/client.js'

const REGISTRY = { user: 'reguser', pass: 'reg-PASSW0RD-a1' }
const DOCKER = { user: 'dockuser', pass: 'dock-PASSW0RD-a2' }
const INDEX = { user: 'ci', pass: 'idx-PASSW0RD-a3' }
const GITHUB_TOKEN = 'ghp_T0KENsecretA4abcdef'

const FORBIDDEN = [
  ...[REGISTRY, DOCKER, INDEX].flatMap(({ user, pass }) => [
    pass,
    Buffer.from(pass).toString('base64'),
    Buffer.from(`${user}:${pass}`).toString('base64'),
    `${user}:${pass}`
  ]),
  GITHUB_TOKEN,
  Buffer.from(GITHUB_TOKEN).toString('base64'),
  Buffer.from(`x-access-token:${GITHUB_TOKEN}`).toString('base64')
]

function expectNoSecret(where: string, text: string): void {
  for (const s of FORBIDDEN) {
    if (text.includes(s))
      throw new Error(`${where} holds a secret (${s.slice(0, 4)}…):\n${text.slice(0, 2000)}`)
  }
}

function expectRunClean(r: ActionRun): void {
  // `::add-mask::<secret>` is how the action tells the runner what to mask: the runner never shows
  // it, and hides the value everywhere else. Nothing else may carry a secret.
  expectNoSecret(
    'the log',
    r.stdout
      .split('\n')
      .filter((l) => !l.startsWith('::add-mask::'))
      .join('\n')
  )
  expectNoSecret('the outputs', JSON.stringify(r.outputs))
  expectNoSecret('the job summary', r.summary)
}

let fixture: ActionFixture
let dir: string
let sha: string
let dockerConfig: string

beforeAll(async () => {
  fixture = await startActionFixture()
  dir = tempDir()
  gitInit(dir)
  fixture.writeProject(dir)
  // The lock names its index with credentials in the URL, as a private index's lock may.
  const lock = join(dir, 'uv.lock')
  const origin = new URL(fixture.index.simpleUrl).origin
  const withUser = origin.replace('http://', `http://${INDEX.user}:${INDEX.pass}@`)
  writeFileSync(lock, readFileSync(lock, 'utf8').split(origin).join(withUser))
  sha = commitAll(dir, 'app with a private index')
  dockerConfig = tempDir()
  mkdirSync(dockerConfig, { recursive: true })
  writeFileSync(
    join(dockerConfig, 'config.json'),
    JSON.stringify({
      auths: { 'ghcr.io': { auth: Buffer.from(`${DOCKER.user}:${DOCKER.pass}`).toString('base64') } }
    })
  )
}, 300_000)

afterAll(async () => {
  await fixture?.close()
})

const secrets = {
  'registry-username': REGISTRY.user,
  'registry-password': REGISTRY.pass,
  'github-token': GITHUB_TOKEN
}

describe('the action with every kind of credential set', () => {
  it('builds, and neither its log, outputs, summary nor the images hold a secret', async () => {
    const r = await runAction({
      dir,
      sha,
      runner: tempDir(),
      inputs: { ...secrets, cache: 'false', annotate: 'none' },
      env: { DOCKER_CONFIG: dockerConfig }
    })
    expect(r.code).toBe(0)
    expectRunClean(r)
    const images = JSON.parse(r.outputs['images']!) as Record<string, string>
    expect(Object.keys(images).sort()).toEqual(['base', 'ml'])
    for (const ref of Object.values(images)) {
      const name = ref.replace(/@sha256:.*$/, '')
      const config = await skopeoInspect(`docker://${name}`, { config: true })
      expect(config.code).toBe(0)
      expectNoSecret(`the config of ${name}`, config.stdout)
      // The SBOM names every file's URL: without its credentials.
      const digest = ref.slice(ref.indexOf('@sha256:') + 8)
      const sbom = await skopeoInspect(`docker://${name.replace(/:[^:/]+$/, '')}:sha256-${digest}.sbom`, {
        raw: true
      })
      expect(sbom.code).toBe(0)
      expectNoSecret(`the SBOM manifest of ${name}`, sbom.stdout)
      const repo = name.replace(/:[^:/]+$/, '')
      const host = repo.slice(0, repo.indexOf('/'))
      const client = new RegistryClient({ host, repository: repo.slice(host.length + 1) }, {})
      try {
        const doc = await client.getBlob(JSON.parse(sbom.stdout).layers[0].digest)
        expect(doc.toString('utf8')).toContain(new URL(fixture.index.simpleUrl).host)
        expectNoSecret(`the SBOM of ${name}`, doc.toString('utf8'))
      } finally {
        client.close()
      }
    }
  }, 300_000)

  it('fails against a registry that is not there, and the failure holds no secret either', async () => {
    const r = await runAction({
      dir,
      sha,
      runner: tempDir(),
      inputs: {
        ...secrets,
        image: '127.0.0.1:9/acme/app',
        cache: 'false',
        annotate: 'none',
        'retry-budget': '2'
      },
      env: { DOCKER_CONFIG: dockerConfig }
    })
    expect(r.code).not.toBe(0)
    expect(r.stdout).toMatch(/127\.0\.0\.1:9/)
    expectRunClean(r)
  }, 300_000)
})
