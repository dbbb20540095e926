// Where registry credentials come from: explicit inputs, or the Docker config file that
// `docker login` / docker/login-action write (auths, credsStore, credHelpers). A credential knows
// its source so errors can say which one was used, never what it is.
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { FastBuildError } from '../errors.js'
import { jsonSyntaxProblem } from '../util/json-syntax.js'

export type Credential =
  | { readonly kind: 'anonymous'; readonly source: string }
  | { readonly kind: 'basic'; readonly username: string; readonly password: string; readonly source: string }
  /** An OAuth2 refresh token (`identitytoken` in config.json, `<token>` from a helper). */
  | { readonly kind: 'identity-token'; readonly token: string; readonly source: string }

export const ANONYMOUS: Credential = { kind: 'anonymous', source: 'no credentials' }

export class CredentialError extends FastBuildError {}

/** What a credential is, for messages: the user and where it came from; never the secret. */
export function describeCredential(c: Credential): string {
  switch (c.kind) {
    case 'anonymous':
      return 'no credentials (anonymous)'
    case 'basic':
      return `user ${JSON.stringify(c.username)} from ${c.source}`
    case 'identity-token':
      return `an identity token from ${c.source}`
  }
}

const DOCKER_HUB_KEY = 'https://index.docker.io/v1/'
const DOCKER_HUB_HOSTS = ['docker.io', 'index.docker.io', 'registry-1.docker.io']

/** `https://ghcr.io/v1/` → `ghcr.io`; Docker Hub's aliases all become `docker.io`. */
export function normalizeRegistryHost(key: string): string {
  const host = key
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/\/.*$/, '')
    .toLowerCase()
  return DOCKER_HUB_HOSTS.includes(host) ? 'docker.io' : host
}

export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env['DOCKER_CONFIG'] ?? join(homedir(), '.docker'), 'config.json')
}

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>
  credsStore?: string
  credHelpers?: Record<string, string>
}

function readDockerConfig(path: string, display: string): DockerConfig | null {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    return null
  }
  const fix = 'fix or remove the Docker config file (docker login rewrites it)'
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    // JSON.parse's message quotes the text around the error, which here is a credential: say
    // where, never what.
    const p = jsonSyntaxProblem(text)
    throw new CredentialError(
      `${display} is not valid JSON${p ? `: ${p.reason}` : ''}`,
      { file: path, ...(p ? { line: p.line, column: p.column } : {}) },
      fix
    )
  }
  return checkDockerConfig(data, path, display, fix)
}

/**
 * The parts of a Docker config we read, checked for their types (a number where a string belongs
 * would otherwise reach Buffer.from, whose message prints the value). Messages name keys only.
 */
function checkDockerConfig(data: unknown, path: string, display: string, fix: string): DockerConfig {
  const fail = (keyPath: string, what: string): never => {
    throw new CredentialError(`${display}: ${keyPath} ${what}`, { file: path, keyPath }, fix)
  }
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
  if (!isObject(data)) return fail('(top level)', 'is not a JSON object')
  const out: DockerConfig = {}
  if (data['auths'] !== undefined && data['auths'] !== null) {
    if (!isObject(data['auths'])) return fail('auths', 'is not an object')
    const auths: NonNullable<DockerConfig['auths']> = {}
    for (const [key, entry] of Object.entries(data['auths'])) {
      const at = `auths[${JSON.stringify(key)}]`
      if (!isObject(entry)) return fail(at, 'is not an object')
      const e: Record<string, string> = {}
      for (const field of ['auth', 'username', 'password', 'identitytoken'] as const) {
        const v = entry[field]
        if (v === undefined || v === null) continue
        if (typeof v !== 'string') return fail(`${at}.${field}`, 'is not a string')
        e[field] = v
      }
      auths[key] = e
    }
    out.auths = auths
  }
  if (data['credsStore'] !== undefined && data['credsStore'] !== null) {
    if (typeof data['credsStore'] !== 'string') return fail('credsStore', 'is not a string')
    if (data['credsStore'] !== '') out.credsStore = data['credsStore']
  }
  if (data['credHelpers'] !== undefined && data['credHelpers'] !== null) {
    if (!isObject(data['credHelpers'])) return fail('credHelpers', 'is not an object')
    const helpers: Record<string, string> = {}
    for (const [key, helper] of Object.entries(data['credHelpers'])) {
      if (typeof helper !== 'string') return fail(`credHelpers[${JSON.stringify(key)}]`, 'is not a string')
      helpers[key] = helper
    }
    out.credHelpers = helpers
  }
  return out
}

export type HelperRunner = (
  helper: string,
  serverUrl: string
) => Promise<{ Username: string; Secret: string } | null>

/** Runs `docker-credential-<helper> get` with the server URL on stdin. */
export const runCredentialHelper: HelperRunner = (helper, serverUrl) =>
  new Promise((resolve, reject) => {
    const child = execFile(
      `docker-credential-${helper}`,
      ['get'],
      { timeout: 15_000 },
      (err, stdout, stderr) => {
        if (err) {
          if (/not found|no credentials/i.test(`${stdout}${stderr}`)) return resolve(null)
          const reason =
            (err as NodeJS.ErrnoException).code === 'ENOENT'
              ? 'it is not installed'
              : (stderr || err.message).trim().split('\n')[0]
          return reject(
            new CredentialError(
              `credential helper docker-credential-${helper} failed for ${serverUrl}: ${reason}`,
              {},
              'install the helper or log in again'
            )
          )
        }
        try {
          const o = JSON.parse(stdout) as { Username?: string; Secret?: string }
          resolve(o.Secret ? { Username: o.Username ?? '', Secret: o.Secret } : null)
        } catch {
          reject(
            new CredentialError(
              `credential helper docker-credential-${helper} printed something that is not JSON`
            )
          )
        }
      }
    )
    child.stdin?.end(serverUrl)
  })

/**
 * The credential for a registry host from the Docker config: credHelpers[host], then credsStore,
 * then auths[host]. Anonymous when none applies.
 */
export async function credentialFromDockerConfig(
  host: string,
  opts: { path?: string; runHelper?: HelperRunner } = {}
): Promise<Credential> {
  const path = opts.path ?? dockerConfigPath()
  const display = path.replace(homedir(), '~')
  const config = readDockerConfig(path, display)
  if (!config) return ANONYMOUS
  const want = normalizeRegistryHost(host)
  const serverUrl = want === 'docker.io' ? DOCKER_HUB_KEY : host
  const runHelper = opts.runHelper ?? runCredentialHelper

  const fromHelper = async (helper: string, where: string): Promise<Credential | null> => {
    const got = await runHelper(helper, serverUrl)
    if (!got) return null
    const source = `docker-credential-${helper} (${where} in ${display})`
    return got.Username === '<token>'
      ? { kind: 'identity-token', token: got.Secret, source }
      : { kind: 'basic', username: got.Username, password: got.Secret, source }
  }

  for (const [key, helper] of Object.entries(config.credHelpers ?? {})) {
    if (normalizeRegistryHost(key) === want) {
      const c = await fromHelper(helper, `credHelpers[${JSON.stringify(key)}]`)
      if (c) return c
    }
  }
  if (config.credsStore) {
    const c = await fromHelper(config.credsStore, 'credsStore')
    if (c) return c
  }
  for (const [key, entry] of Object.entries(config.auths ?? {})) {
    if (normalizeRegistryHost(key) !== want) continue
    const source = `${display} (auths[${JSON.stringify(key)}])`
    if (entry.identitytoken) return { kind: 'identity-token', token: entry.identitytoken, source }
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8')
      const colon = decoded.indexOf(':')
      if (colon < 0)
        throw new CredentialError(
          `${source}: the auth value is not base64 of user:password`,
          { file: path },
          `run docker login ${host} again`
        )
      return { kind: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1), source }
    }
    if (entry.username && entry.password)
      return { kind: 'basic', username: entry.username, password: entry.password, source }
  }
  return ANONYMOUS
}
