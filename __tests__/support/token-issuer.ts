// A Bearer token server as Docker Hub, GHCR and CNCF distribution speak it, for a real registry
// started with `auth.token` (see registry.ts). It signs RS256 JWTs that distribution 2.8 accepts:
// the header carries `x5c` (the signing certificate, base64 DER), which the registry verifies
// against its `rootcertbundle`; the claims carry iss, sub, aud (= service), exp, nbf, iat, jti and
// `access` ([{ type, name, actions }]), and the registry checks iss, aud, exp/nbf (±60 s leeway),
// the signature, and that `access` covers every action the request needs.
//
//   GET  /token?service=S&scope=repository:NAME:pull,push&scope=...&account=U   (Basic auth)
//   POST /token   grant_type=password|refresh_token, form-encoded (distribution's OAuth2 flavour)
//
// Every request is recorded (never the password) so tests can assert which scopes a client asked for.
import { createPrivateKey, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo, Socket } from 'node:net'
import { runOk } from './process.js'

export interface AccessEntry {
  type: string
  name: string
  actions: string[]
}

export interface TokenClaims {
  iss: string
  sub: string
  aud: string
  exp: number
  nbf: number
  iat: number
  jti: string
  access: AccessEntry[]
}

/** One request the issuer answered, as tests see it. The password is never kept. */
export interface TokenRequest {
  method: string
  path: string
  /** `service` as the client sent it (query or form), null when absent. */
  service: string | null
  /** Every `scope` value in order, as sent (a POST's space-separated scope is split). */
  scopes: string[]
  /** `account` from the query (GET) or `username` from the form (POST). */
  account: string | null
  /** Whether an `Authorization` header (GET) or a password/refresh token (POST) came with it. */
  authPresent: boolean
  /** The user the credentials named (even when they were wrong); null when anonymous. */
  username: string | null
  grantType: string | null
  status: number
  /** What the issued token grants; empty when no token was issued. */
  granted: AccessEntry[]
}

export interface TokenIssuerOptions {
  username?: string
  password?: string
  /** The registry's `auth.token.service`; becomes the token's `aud`. */
  service?: string
  /** The registry's `auth.token.issuer`; becomes the token's `iss`. */
  issuer?: string
  /** Grant pull (only pull) to requests without credentials. Default false: they get 401. */
  anonymousPull?: boolean
  /** Token lifetime in seconds (default 300). distribution allows 60 s of clock leeway past `exp`. */
  expiresIn?: number
  /**
   * Narrow what an authenticated user gets (default: exactly what was asked). Called once per
   * requested scope; return the actions to grant (a subset of `actions`), or [] to grant nothing.
   */
  authorize?: (username: string | null, scope: AccessEntry) => string[]
}

export interface TokenIssuer {
  /** http://127.0.0.1:PORT */
  url: string
  /** The realm a registry should advertise: `${url}/token`. */
  realm: string
  service: string
  issuer: string
  username: string
  password: string
  /** PEM file with the signing certificate, for the registry's `auth.token.rootcertbundle`. */
  rootCertBundle: string
  /** Every request answered so far, oldest first. */
  readonly requests: TokenRequest[]
  /** Change whether anonymous clients may pull. */
  setAnonymousPull(allow: boolean): void
  /** Sign an arbitrary token (e.g. expired, wrong audience) with the issuer's key. */
  mint(claims: Partial<TokenClaims>): string
  /** Decode (without verifying) a token's header and claims. */
  decode(token: string): { header: Record<string, unknown>; claims: TokenClaims }
  close(): Promise<void>
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url')

interface SigningMaterial {
  dir: string
  key: KeyObject
  certDerBase64: string
  certPath: string
}

async function makeSigningMaterial(): Promise<SigningMaterial> {
  const dir = mkdtempSync(join(tmpdir(), 'fast-build-token-'))
  try {
    const keyPath = join(dir, 'key.pem')
    const certPath = join(dir, 'cert.pem')
    await runOk(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-sha256',
        '-days',
        '2',
        '-subj',
        '/CN=fast-build test token issuer',
        '-keyout',
        keyPath,
        '-out',
        certPath
      ],
      { timeoutMs: 30_000 }
    )
    const key = createPrivateKey(readFileSync(keyPath))
    const cert = new X509Certificate(readFileSync(certPath))
    return { dir, key, certDerBase64: cert.raw.toString('base64'), certPath }
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
}

/** `repository:library/foo:pull,push` → entry; the name may itself contain ':' (e.g. repository(plugin)). */
export function parseScope(scope: string): AccessEntry | null {
  const first = scope.indexOf(':')
  const last = scope.lastIndexOf(':')
  if (first <= 0 || last === first) return null
  const actions = scope
    .slice(last + 1)
    .split(',')
    .filter((a) => a !== '')
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions }
}

/** Merge entries for the same resource (clients may ask for one repository in several scopes). */
function mergeAccess(entries: AccessEntry[]): AccessEntry[] {
  const out: AccessEntry[] = []
  for (const e of entries) {
    const same = out.find((o) => o.type === e.type && o.name === e.name)
    if (same) {
      for (const a of e.actions) if (!same.actions.includes(a)) same.actions.push(a)
    } else {
      out.push({ type: e.type, name: e.name, actions: [...new Set(e.actions)] })
    }
  }
  return out.filter((e) => e.actions.length > 0)
}

function parseBasic(header: string | undefined): { username: string; password: string } | null {
  if (!header) return null
  const m = /^Basic\s+(\S+)\s*$/i.exec(header)
  if (!m?.[1]) return null
  const text = Buffer.from(m[1], 'base64').toString('utf8')
  const colon = text.indexOf(':')
  if (colon < 0) return null
  return { username: text.slice(0, colon), password: text.slice(colon + 1) }
}

const MAX_FORM_BYTES = 64 * 1024

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > MAX_FORM_BYTES) {
        reject(new Error('form body too large'))
        req.destroy()
        return
      }
      chunks.push(c)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {}
): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...headers
  })
  res.end(text)
}

/** Start a token issuer on 127.0.0.1 with a fresh RSA key and self-signed certificate. */
export async function startTokenIssuer(opts: TokenIssuerOptions = {}): Promise<TokenIssuer> {
  const username = opts.username ?? 'fast-build'
  const password = opts.password ?? randomBytes(12).toString('hex')
  const service = opts.service ?? 'fast-build-test-registry'
  const issuerName = opts.issuer ?? 'fast-build-test-issuer'
  const expiresIn = opts.expiresIn ?? 300
  let anonymousPull = opts.anonymousPull ?? false
  const material = await makeSigningMaterial()
  const requests: TokenRequest[] = []
  const refreshTokens = new Map<string, string>()

  const mint = (claims: Partial<TokenClaims>): string => {
    const now = Math.floor(Date.now() / 1000)
    const full: TokenClaims = {
      iss: issuerName,
      sub: '',
      aud: service,
      exp: now + expiresIn,
      nbf: now,
      iat: now,
      jti: randomBytes(16).toString('hex'),
      access: [],
      ...claims
    }
    const header = { typ: 'JWT', alg: 'RS256', x5c: [material.certDerBase64] }
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(full))}`
    const signature = sign('sha256', Buffer.from(signingInput), material.key)
    return `${signingInput}.${b64url(signature)}`
  }

  const decode = (token: string): { header: Record<string, unknown>; claims: TokenClaims } => {
    const [h, c] = token.split('.')
    if (h === undefined || c === undefined) throw new Error('not a JWT')
    return {
      header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>,
      claims: JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as TokenClaims
    }
  }

  /** What `who` (null: anonymous) gets for the requested scopes. */
  const grant = (who: string | null, scopes: string[]): AccessEntry[] => {
    const asked = mergeAccess(scopes.map(parseScope).filter((s): s is AccessEntry => s !== null))
    return mergeAccess(
      asked.map((scope) => {
        let actions = scope.actions
        if (who === null) actions = scope.type === 'repository' ? actions.filter((a) => a === 'pull') : []
        if (opts.authorize) {
          const allowed = opts.authorize(who, scope)
          actions = actions.filter((a) => allowed.includes(a))
        }
        return { ...scope, actions }
      })
    )
  }

  const tokenResponse = (token: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    token,
    access_token: token,
    expires_in: expiresIn,
    issued_at: new Date().toISOString(),
    ...extra
  })

  const unauthorized = (res: ServerResponse, message: string): void =>
    sendJson(
      res,
      401,
      { errors: [{ code: 'UNAUTHORIZED', message }], details: message },
      { 'WWW-Authenticate': `Basic realm="${service}"` }
    )

  const handleGet = (req: IncomingMessage, res: ServerResponse, url: URL, rec: TokenRequest): void => {
    rec.service = url.searchParams.get('service')
    rec.scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ').filter((x) => x !== ''))
    rec.account = url.searchParams.get('account')
    const auth = req.headers.authorization
    rec.authPresent = auth !== undefined
    if (rec.service !== null && rec.service !== service) {
      rec.status = 400
      sendJson(res, 400, {
        errors: [{ code: 'DENIED', message: `unknown service ${JSON.stringify(rec.service)}` }]
      })
      return
    }
    let who: string | null = null
    if (auth !== undefined) {
      const creds = parseBasic(auth)
      rec.username = creds?.username ?? null
      if (!creds || creds.username !== username || creds.password !== password) {
        rec.status = 401
        unauthorized(res, 'incorrect username or password')
        return
      }
      who = creds.username
    } else if (!anonymousPull) {
      rec.status = 401
      unauthorized(res, 'authentication required')
      return
    }
    rec.granted = grant(who, rec.scopes)
    rec.status = 200
    sendJson(res, 200, tokenResponse(mint({ sub: who ?? '', access: rec.granted })))
  }

  const handlePost = async (req: IncomingMessage, res: ServerResponse, rec: TokenRequest): Promise<void> => {
    const form = new URLSearchParams(await readBody(req))
    rec.grantType = form.get('grant_type')
    rec.service = form.get('service')
    rec.scopes = form.getAll('scope').flatMap((s) => s.split(' ').filter((x) => x !== ''))
    rec.account = form.get('username')
    rec.username = form.get('username')
    const oauthError = (status: number, error: string, description: string): void => {
      rec.status = status
      sendJson(res, status, { error, error_description: description, details: description })
    }
    if (rec.service !== null && rec.service !== service) {
      oauthError(400, 'invalid_request', `unknown service ${JSON.stringify(rec.service)}`)
      return
    }
    if (form.get('client_id') === null) {
      // distribution's docs make client_id required; real clients (containerd, go-containerregistry) send one.
      oauthError(400, 'invalid_request', 'missing client_id')
      return
    }
    let who: string
    if (rec.grantType === 'password') {
      rec.authPresent = form.get('password') !== null
      if (rec.username !== username || form.get('password') !== password) {
        oauthError(401, 'invalid_grant', 'incorrect username or password')
        return
      }
      who = username
    } else if (rec.grantType === 'refresh_token') {
      const rt = form.get('refresh_token')
      rec.authPresent = rt !== null
      const owner = rt === null ? undefined : refreshTokens.get(rt)
      if (owner === undefined) {
        oauthError(401, 'invalid_grant', 'unknown refresh token')
        return
      }
      who = owner
      rec.username = owner
    } else {
      oauthError(400, 'unsupported_grant_type', `unsupported grant_type ${JSON.stringify(rec.grantType)}`)
      return
    }
    rec.granted = grant(who, rec.scopes)
    const token = mint({ sub: who, access: rec.granted })
    const extra: Record<string, unknown> = {
      scope: rec.granted.map((a) => `${a.type}:${a.name}:${a.actions.join(',')}`).join(' ')
    }
    if (form.get('access_type') === 'offline') {
      const rt = randomBytes(24).toString('hex')
      refreshTokens.set(rt, who)
      extra.refresh_token = rt
    }
    rec.status = 200
    const body = tokenResponse(token, extra)
    delete body.token // the OAuth2 flavour answers with access_token only
    sendJson(res, 200, body)
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const rec: TokenRequest = {
      method: req.method ?? '',
      path: url.pathname,
      service: null,
      scopes: [],
      account: null,
      authPresent: false,
      username: null,
      grantType: null,
      status: 0,
      granted: []
    }
    requests.push(rec)
    const fail = (err: unknown): void => {
      rec.status = 500
      if (!res.headersSent) sendJson(res, 500, { error: 'server_error', details: String(err) })
      else res.destroy()
    }
    try {
      if (url.pathname !== '/token') {
        rec.status = 404
        sendJson(res, 404, { errors: [{ code: 'NOT_FOUND', message: 'no such endpoint' }] })
      } else if (req.method === 'GET' || req.method === 'HEAD') {
        handleGet(req, res, url, rec)
      } else if (req.method === 'POST') {
        handlePost(req, res, rec).catch(fail)
      } else {
        rec.status = 405
        sendJson(
          res,
          405,
          { errors: [{ code: 'UNSUPPORTED', message: 'method not allowed' }] },
          { Allow: 'GET, POST' }
        )
      }
    } catch (err) {
      fail(err)
    }
  })
  server.requestTimeout = 30_000
  server.headersTimeout = 30_000
  const sockets = new Set<Socket>()
  server.on('connection', (s) => {
    sockets.add(s)
    s.once('close', () => sockets.delete(s))
  })

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject)
        resolve()
      })
    })
  } catch (err) {
    rmSync(material.dir, { recursive: true, force: true })
    throw err
  }
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  let closing: Promise<void> | null = null
  return {
    url,
    realm: `${url}/token`,
    service,
    issuer: issuerName,
    username,
    password,
    rootCertBundle: material.certPath,
    requests,
    setAnonymousPull: (allow) => {
      anonymousPull = allow
    },
    mint,
    decode,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const s of sockets) s.destroy()
      }).finally(() => rmSync(material.dir, { recursive: true, force: true })))
  }
}
