// A real CNCF distribution registry (Debian's `docker-registry`, 2.8) for integration tests, on
// 127.0.0.1 with filesystem storage in a temp dir, and no auth, htpasswd (basic) auth or token auth
// (with the token issuer of token-issuer.ts). A start takes ~50 ms; token auth adds ~0.2 s (openssl
// makes the issuer's RSA key and certificate).
//
//   const reg = await startRegistry({ auth: 'basic' })
//   try { ... reg.url, reg.host, reg.credentials ... } finally { await reg.stop() }
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, ManagedProcess, runOk, sleep } from './process.js'
import { startTokenIssuer, type TokenIssuer, type TokenIssuerOptions } from './token-issuer.js'

export const REGISTRY_BIN = '/usr/bin/docker-registry'

export type RegistryAuth = 'none' | 'basic' | 'token'

export interface Credentials {
  username: string
  password: string
}

export interface StartRegistryOptions {
  auth?: RegistryAuth
  /** Use this storage root (kept on stop); default: a fresh temp dir, removed on stop. */
  storageDir?: string
  /** Token auth: use this issuer (not closed on stop) instead of starting one. */
  tokenIssuer?: TokenIssuer
  /** Token auth: options for the issuer started for this registry. */
  issuerOptions?: TokenIssuerOptions
  /** Token auth: the realm the registry advertises (default the issuer's), e.g. a fault proxy's. */
  realm?: string
  /** `http.relativeurls`: answer with relative `Location` headers (default false: absolute). */
  relativeUrls?: boolean
  /** How long to wait for `/v2/` to answer (default 15 s). */
  readyTimeoutMs?: number
}

export interface TestRegistry {
  /** 127.0.0.1:PORT, as image references want it. */
  host: string
  /** http://127.0.0.1:PORT */
  url: string
  storageDir: string
  /** The registry process's id. */
  pid: number
  auth: RegistryAuth
  /** The user for basic and token auth; null without auth. */
  credentials: Credentials | null
  /** The token issuer (token auth only). */
  tokenIssuer: TokenIssuer | null
  /** The registry's own output so far (stdout and stderr), for failure messages. */
  logs(): string
  /** Kill the registry, wait for it, close an issuer it started, remove its temp dirs. Idempotent. */
  stop(): Promise<void>
}

const q = (s: string): string => JSON.stringify(s) // a YAML double-quoted scalar

function configYaml(o: { port: number; storageDir: string; relativeUrls: boolean; auth: string[] }): string {
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  formatter: text',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${q(o.storageDir)}`,
    '  delete:',
    '    enabled: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    '    readonly:',
    '      enabled: false',
    '  redirect:',
    '    disable: true',
    'http:',
    `  addr: ${q(`127.0.0.1:${o.port}`)}`,
    // A fixed secret keeps the "generated random secret" warning out of the logs.
    `  secret: ${q(randomBytes(16).toString('hex'))}`,
    `  relativeurls: ${o.relativeUrls}`,
    '  headers:',
    '    X-Content-Type-Options: [nosniff]',
    'health:',
    '  storagedriver:',
    '    enabled: false',
    ...o.auth,
    ''
  ].join('\n')
}

/** Poll `/v2/` until it answers (any HTTP status) or the process dies or the deadline passes. */
async function waitReady(url: string, proc: ManagedProcess, timeoutMs: number): Promise<'ready' | 'exited'> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (proc.exit()) return 'exited'
    try {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1_000) })
      await res.arrayBuffer()
      return 'ready'
    } catch {
      // not listening yet
    }
    await sleep(25)
  }
  throw new Error(`registry at ${url} did not answer /v2/ within ${timeoutMs} ms\n${proc.logs()}`)
}

/** Start a registry on 127.0.0.1 on a free port; retries on a port race, at most three times. */
export async function startRegistry(opts: StartRegistryOptions = {}): Promise<TestRegistry> {
  const auth = opts.auth ?? 'none'
  const work = mkdtempSync(join(tmpdir(), 'fast-build-registry-'))
  const storageDir = opts.storageDir ?? join(work, 'storage')
  mkdirSync(storageDir, { recursive: true })
  let issuer: TokenIssuer | null = null
  let ownIssuer = false
  const cleanup = async (): Promise<void> => {
    if (ownIssuer) await issuer?.close()
    rmSync(work, { recursive: true, force: true })
  }

  try {
    let credentials: Credentials | null = null
    let authYaml: string[] = []
    if (auth === 'basic') {
      credentials = { username: 'fast-build', password: randomBytes(12).toString('hex') }
      // bcrypt is what distribution's htpasswd reader accepts; cost 5 keeps each request cheap.
      const line = await runOk('htpasswd', ['-nbB', '-C', '5', credentials.username, credentials.password], {
        timeoutMs: 15_000
      })
      const htpasswd = join(work, 'htpasswd')
      writeFileSync(htpasswd, line.stdout.trim() + '\n')
      authYaml = ['auth:', '  htpasswd:', `    realm: ${q('fast-build-test')}`, `    path: ${q(htpasswd)}`]
    } else if (auth === 'token') {
      if (opts.tokenIssuer) {
        issuer = opts.tokenIssuer
      } else {
        issuer = await startTokenIssuer(opts.issuerOptions)
        ownIssuer = true
      }
      credentials = { username: issuer.username, password: issuer.password }
      authYaml = [
        'auth:',
        '  token:',
        `    realm: ${q(opts.realm ?? issuer.realm)}`,
        `    service: ${q(issuer.service)}`,
        `    issuer: ${q(issuer.issuer)}`,
        `    rootcertbundle: ${q(issuer.rootCertBundle)}`
      ]
    }

    const configPath = join(work, 'config.yml')
    for (let attempt = 1; ; attempt++) {
      const port = await freePort()
      writeFileSync(
        configPath,
        configYaml({ port, storageDir, relativeUrls: opts.relativeUrls ?? false, auth: authYaml })
      )
      const proc = new ManagedProcess(REGISTRY_BIN, ['serve', configPath], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, TMPDIR: work }
      })
      const url = `http://127.0.0.1:${port}`
      let state: 'ready' | 'exited'
      try {
        state = await waitReady(url, proc, opts.readyTimeoutMs ?? 15_000)
      } catch (err) {
        await proc.stop()
        throw err
      }
      if (state === 'exited') {
        const logs = proc.logs()
        if (/address already in use/i.test(logs) && attempt < 3) continue
        throw new Error(`docker-registry exited at start (${JSON.stringify(proc.exit())}):\n${logs}`)
      }

      const theIssuer = issuer
      let stopping: Promise<void> | null = null
      return {
        host: `127.0.0.1:${port}`,
        url,
        storageDir,
        pid: proc.child.pid ?? 0,
        auth,
        credentials,
        tokenIssuer: theIssuer,
        logs: () => proc.logs(),
        stop: () =>
          (stopping ??= (async () => {
            try {
              await proc.stop()
            } finally {
              await cleanup()
            }
          })())
      }
    }
  } catch (err) {
    await cleanup()
    throw err
  }
}

/** `Authorization: Basic …` for a registry's credentials. */
export function basicAuthHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`
}
