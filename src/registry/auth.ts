// Registry authentication by challenge: a request answered 401 tells how to authenticate
// (`Basic realm=…`, or `Bearer realm=…,service=…,scope=…` as GHCR, Docker Hub and ECR do).
// Bearer tokens are fetched from the realm for the scopes an operation needs and kept per scope.
import { FastBuildError } from '../errors.js'
import { describeCredential, type Credential } from './credentials.js'
import { redactUrl } from '../net/errors.js'
import { throwIfTransient, type HttpClient, type HttpResponse } from '../net/http.js'

export interface Challenge {
  readonly scheme: string
  readonly params: Readonly<Record<string, string>>
}

/** Parse a WWW-Authenticate header (one challenge; quoted values may contain commas). */
export function parseChallenge(header: string): Challenge | null {
  const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(header)
  if (!m) return null
  const params: Record<string, string> = {}
  const re = /([A-Za-z_][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?/g
  for (const p of m[2]!.matchAll(re))
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!
  return { scheme: m[1]!.toLowerCase(), params }
}

/** Authentication refused: says which credential was used and what was asked for. */
export class RegistryAuthError extends FastBuildError {}

export type Access = 'pull' | 'push'

export function scopeFor(repository: string, access: Access): string {
  return `repository:${repository}:${access === 'push' ? 'pull,push' : 'pull'}`
}

/**
 * Holds what a registry asked for and the tokens obtained; `authorize` gives the Authorization
 * header for a set of scopes, fetching a token when needed.
 */
export class RegistryAuth {
  private challenge: Challenge | null = null
  private readonly tokens = new Map<string, { value: string; expires: number }>()

  constructor(
    private readonly http: HttpClient,
    readonly host: string,
    readonly credential: Credential,
    private readonly hints: { readonly fix: string }
  ) {}

  get known(): boolean {
    return this.challenge !== null
  }

  /** `basic`, `bearer`, or null before the registry has asked. */
  get scheme(): string | null {
    return this.challenge?.scheme ?? null
  }

  /** What to do when this credential is refused. */
  get fix(): string {
    return this.hints.fix
  }

  /** Remember the challenge of a 401 answer. */
  learn(res: HttpResponse): void {
    const header = res.headers['www-authenticate']
    const c = header ? parseChallenge(header) : null
    if (!c) {
      throw new RegistryAuthError(
        `${this.host} answered 401 without an authentication challenge (${redactUrl(res.url)})`,
        {},
        'check that this is an OCI/Docker registry'
      )
    }
    this.challenge = c
  }

  /** Drop cached tokens (after a 401 with a token: it expired or lacks a scope). */
  forget(): void {
    this.tokens.clear()
  }

  async header(scopes: readonly string[]): Promise<string | null> {
    const c = this.challenge
    if (!c) return null
    if (c.scheme === 'basic') {
      if (this.credential.kind !== 'basic') {
        throw new RegistryAuthError(
          `${this.host} requires a user name and password (Basic auth), and ${describeCredential(this.credential)} was found`,
          {},
          this.hints.fix
        )
      }
      return `Basic ${Buffer.from(`${this.credential.username}:${this.credential.password}`).toString('base64')}`
    }
    if (c.scheme !== 'bearer') {
      throw new RegistryAuthError(
        `${this.host} asks for ${c.scheme} authentication, which fast-build does not speak`,
        {},
        'use a registry with Basic or Bearer token auth'
      )
    }
    const key = [...scopes].sort().join(' ')
    // A token for more (pull,push) also serves less (pull).
    for (const [k, t] of this.tokens) {
      if (t.expires > Date.now() && (k === key || covers(k, scopes))) return `Bearer ${t.value}`
    }
    const token = await this.fetchToken(c, scopes)
    this.tokens.set(key, token)
    return `Bearer ${token.value}`
  }

  private async fetchToken(
    c: Challenge,
    scopes: readonly string[]
  ): Promise<{ value: string; expires: number }> {
    const realm = c.params['realm']
    if (!realm) throw new RegistryAuthError(`${this.host}: Bearer challenge without a realm`)
    const service = c.params['service']
    const cred = this.credential
    let res: HttpResponse
    if (cred.kind === 'identity-token') {
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: cred.token,
        client_id: 'fast-build'
      })
      if (service) form.set('service', service)
      if (scopes.length) form.set('scope', scopes.join(' '))
      res = await this.http.request({
        method: 'POST',
        url: realm,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: Buffer.from(form.toString())
      })
    } else {
      const url = new URL(realm)
      if (service) url.searchParams.set('service', service)
      for (const s of scopes) url.searchParams.append('scope', s)
      const headers: Record<string, string> = {}
      if (cred.kind === 'basic') {
        url.searchParams.set('account', cred.username)
        headers['authorization'] =
          `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`
      }
      res = await this.http.request({ method: 'GET', url: url.toString(), headers })
    }
    // A token service that is down, slow or silent is retried (with the operation that needed
    // the token) under the same rule and budget as the registry itself; its host is in the message.
    throwIfTransient(res, () => ` from the token service${errorText(res)}`)
    if (res.status !== 200) {
      throw new RegistryAuthError(
        `${this.host}: the token service refused ${describeCredential(cred)} for ${scopes.join(' ') || 'no scope'} (${res.status}${errorText(res)})`,
        {},
        this.hints.fix
      )
    }
    let body: { token?: string; access_token?: string; expires_in?: number }
    try {
      body = JSON.parse(res.body.toString('utf8')) as typeof body
    } catch {
      throw new RegistryAuthError(`${this.host}: the token service answered something that is not JSON`)
    }
    const value = body.token ?? body.access_token
    if (!value) throw new RegistryAuthError(`${this.host}: the token service answered without a token`)
    // Renew a little early; 60 s is the spec's default lifetime.
    const seconds = Math.max(10, (body.expires_in ?? 60) - 5)
    return { value, expires: Date.now() + seconds * 1000 }
  }
}

function covers(have: string, want: readonly string[]): boolean {
  const granted = new Map<string, Set<string>>()
  for (const s of have.split(' ')) {
    const [type, name, actions] = s.split(':')
    if (type && name && actions) granted.set(`${type}:${name}`, new Set(actions.split(',')))
  }
  return want.every((s) => {
    const [type, name, actions] = s.split(':')
    const g = granted.get(`${type}:${name}`)
    return g !== undefined && (actions ?? '').split(',').every((a) => g.has(a))
  })
}

/** The error text a registry or token service put in its body (distribution's JSON errors). */
export function errorText(res: HttpResponse): string {
  const text = res.body.toString('utf8').slice(0, 2000)
  try {
    const o = JSON.parse(text) as {
      errors?: { code?: string; message?: string }[]
      details?: string
      error?: string
    }
    const parts = (o.errors ?? []).map((e) => [e.code, e.message].filter(Boolean).join(' ')).filter(Boolean)
    if (parts.length) return `: ${parts.join('; ')}`
    if (o.details) return `: ${o.details}`
    if (o.error) return `: ${o.error}`
  } catch {
    // not JSON
  }
  const line = text.trim().split('\n')[0]
  return line ? `: ${line.slice(0, 200)}` : ''
}
