// Credentials for package indexes (private PyPI mirrors, Artifactory, CodeArtifact, GitLab, …),
// found where the tools people already use put them, and kept out of every message:
//
//   1. an explicit credential in the index configuration
//   2. `user:password@` in the index URL (stripped from the URL before it is used or shown)
//   3. environment variables for a named source (NAME = the source name upper-cased, every
//      character that is not a letter or digit as `_`), the first convention that is set:
//        FAST_BUILD_INDEX_<NAME>_USERNAME / _PASSWORD   (ours)
//        POETRY_HTTP_BASIC_<NAME>_USERNAME / _PASSWORD  (Poetry)
//        UV_INDEX_<NAME>_USERNAME / _PASSWORD           (uv)
//   4. ~/.netrc (or the file `NETRC` names): `machine <host> login … password …`, else `default`
//
// A URL that names a user but no password (`https://__token__@host/simple`) takes its password
// from the first of 3–4 that has an entry for that user. Parsing is pure; `resolveIndexCredential`
// is the one function that reads the environment and the netrc file.
import { readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'

export interface BasicCredential {
  readonly username: string
  readonly password: string
}

/** A credential and where it came from (for messages: the source and user, never the password). */
export interface IndexCredential extends BasicCredential {
  readonly source: string
}

/** What a credential is, for messages. */
export function describeIndexCredential(c: IndexCredential): string {
  return `user ${JSON.stringify(c.username)} from ${c.source}`
}

/**
 * A URL as it may appear in a message or a log: no userinfo, no query (signed download URLs
 * carry tokens there), no fragment. Text that does not parse as a URL still loses `…@` and `?…`.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    const hadQuery = u.search !== ''
    u.username = ''
    u.password = ''
    u.search = ''
    u.hash = ''
    return `${u.href}${hadQuery ? '?…' : ''}`
  } catch {
    const noUser = url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1')
    const q = noUser.search(/[?#]/)
    return q === -1 ? noUser : `${noUser.slice(0, q)}${noUser[q] === '?' ? '?…' : ''}`
  }
}

/**
 * The URL without its userinfo, and the userinfo (percent-decoded) when there is one: written in
 * the URL, or, for a URL a lock reader took it out of, kept aside (see keepUserinfo).
 */
export function splitUserinfo(url: string): {
  readonly url: string
  readonly username: string | null
  readonly password: string | null
} {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return { url, username: null, password: null }
  }
  if (u.username === '' && u.password === '') {
    const k = kept.size > 0 ? kept.get(keptKey(u)) : undefined
    return k ? { url, username: k.username, password: k.password } : { url, username: null, password: null }
  }
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s)
    } catch {
      return s
    }
  }
  const username = decode(u.username)
  const password = u.password === '' && !/^[^/]*\/\/[^/@]*:[^/@]*@/.test(url) ? null : decode(u.password)
  u.username = ''
  u.password = ''
  return { url: u.href, username, password }
}

// --- userinfo kept out of the lock model ----------------------------------------------------------
//
// A lock may write a credential into a URL (`https://user:pass@host/simple` as an index or file
// URL, `https://x-access-token:…@github.com/…` as a git source). The lock model keeps URLs
// without it, so nothing that prints, hashes, labels or writes a URL can show it, and rotating a
// password does not change a hash. The credential is kept here, by the URL without it, for the
// one place that needs it: the request (splitUserinfo, and so resolveIndexCredential and the
// fetch code, find it again from the model's URL).

const kept = new Map<string, { readonly username: string; readonly password: string | null }>()

/** The kept-credential key of a parsed URL: no userinfo, no trailing slash. */
function keptKey(u: URL): string {
  const c = new URL(u.href)
  c.username = ''
  c.password = ''
  return c.href.replace(/\/+$/, '')
}

function isHttp(protocol: string): boolean {
  return /^(?:git\+)?https?:$/.test(protocol)
}

/**
 * `url` as it may be shown, hashed or written anywhere: without userinfo. An http(s) URL loses any
 * userinfo (a token may be the user name: `https://<token>@github.com/…`); another scheme loses a
 * password but keeps its user (`ssh://git@github.com/…` names an account, not a secret). Text
 * that is no URL loses `user:password@` after its scheme. Cheap for URLs without `@`.
 */
export function withoutUserinfo(url: string): string {
  if (!url.includes('@')) return url
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1')
  }
  if (u.username === '' && u.password === '') return url
  if (!isHttp(u.protocol) && u.password === '') return url
  if (isHttp(u.protocol)) u.username = ''
  u.password = ''
  return u.href
}

/**
 * For lock readers: `url` without userinfo (as withoutUserinfo), the userinfo kept aside for
 * requests to exactly that URL (splitUserinfo returns it). Later locks replace earlier entries.
 */
export function keepUserinfo(url: string): string {
  const stripped = withoutUserinfo(url)
  if (stripped === url) return url
  const split = splitUserinfo(url)
  if (split.username !== null) {
    try {
      kept.set(keptKey(new URL(split.url)), { username: split.username, password: split.password })
    } catch {
      // Not a URL after all: nothing to request with it.
    }
  }
  return stripped
}

/** `my-repo.eu` → `MY_REPO_EU`: how every tool spells a source name in environment variables. */
export function envSourceName(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9]/g, '_')
}

/** The environment variable prefixes we read, in order of precedence. */
export const ENV_CONVENTIONS = ['FAST_BUILD_INDEX_', 'POETRY_HTTP_BASIC_', 'UV_INDEX_'] as const

/** The variables that would give a credential for a named source, for hints. */
export function credentialEnvNames(sourceName: string): string[] {
  const n = envSourceName(sourceName)
  return ENV_CONVENTIONS.map((p) => `${p}${n}_USERNAME/_PASSWORD`)
}

/**
 * The credential for a named source from environment variables: the first convention (see
 * ENV_CONVENTIONS) with a username or a password set. A missing half is the empty string (tokens
 * are often given as a password alone).
 */
export function credentialFromEnv(
  sourceName: string,
  env: Readonly<Record<string, string | undefined>>
): IndexCredential | null {
  const n = envSourceName(sourceName)
  if (n === '') return null
  for (const prefix of ENV_CONVENTIONS) {
    const user = env[`${prefix}${n}_USERNAME`]
    const pass = env[`${prefix}${n}_PASSWORD`]
    if (user || pass) {
      return { username: user ?? '', password: pass ?? '', source: `${prefix}${n}_USERNAME/_PASSWORD` }
    }
  }
  return null
}

export interface NetrcEntry {
  /** Host name; null for the `default` entry. */
  readonly machine: string | null
  readonly login: string | null
  readonly password: string | null
}

/**
 * Parse a netrc file as curl and Python's netrc do: whitespace-separated tokens (double quotes
 * group, backslash escapes inside quotes), `#` comments, `machine`/`default` start an entry,
 * `login`/`password`/`account` set its fields, `macdef` bodies run to the next blank line.
 */
export function parseNetrc(text: string): NetrcEntry[] {
  const tokens = tokenizeNetrc(text)
  const entries: NetrcEntry[] = []
  let current: { machine: string | null; login: string | null; password: string | null } | null = null
  const flush = () => {
    if (current) entries.push({ ...current })
    current = null
  }
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!
    if (t.kind === 'macdef') {
      flush()
      continue
    }
    switch (t.value) {
      case 'machine':
        flush()
        current = { machine: (tokens[++i]?.value ?? '').toLowerCase(), login: null, password: null }
        break
      case 'default':
        flush()
        current = { machine: null, login: null, password: null }
        break
      case 'login':
        if (current) current.login = tokens[++i]?.value ?? null
        else i++
        break
      case 'password':
        if (current) current.password = tokens[++i]?.value ?? null
        else i++
        break
      case 'account':
        i++
        break
      default:
        break
    }
  }
  flush()
  return entries
}

function tokenizeNetrc(text: string): { kind: 'word' | 'macdef'; value: string }[] {
  const out: { kind: 'word' | 'macdef'; value: string }[] = []
  let i = 0
  const n = text.length
  while (i < n) {
    const c = text[i]!
    if (/\s/.test(c)) {
      i++
      continue
    }
    if (c === '#') {
      while (i < n && text[i] !== '\n') i++
      continue
    }
    let value = ''
    if (c === '"') {
      i++
      while (i < n && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < n) i++
        value += text[i]
        i++
      }
      i++
    } else {
      while (i < n && !/\s/.test(text[i]!)) {
        if (text[i] === '\\' && i + 1 < n) i++
        value += text[i]
        i++
      }
    }
    if (value === 'macdef') {
      // The macro's name, then its body up to an empty line.
      const end = text.indexOf('\n\n', i)
      i = end === -1 ? n : end + 2
      out.push({ kind: 'macdef', value })
      continue
    }
    out.push({ kind: 'word', value })
  }
  return out
}

/** The netrc entry for `host` (the first `machine` that names it, else `default`), optionally for one login. */
export function netrcCredential(
  entries: readonly NetrcEntry[],
  host: string,
  login: string | null = null
): BasicCredential | null {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '')
  const fits = (e: NetrcEntry) => e.password !== null && (login === null || e.login === login)
  const match =
    entries.find((e) => e.machine === h && fits(e)) ?? entries.find((e) => e.machine === null && fits(e))
  if (!match) return null
  return { username: match.login ?? '', password: match.password ?? '' }
}

export function netrcPath(env: Readonly<Record<string, string | undefined>>, home = homedir()): string {
  return env['NETRC'] || join(home, '.netrc')
}

export interface CredentialLookup {
  /** Environment to read (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Home directory for `~/.netrc` (default the user's). */
  readonly home?: string
  /** Reads the netrc file; null when it does not exist (default: the file system). */
  readonly readNetrc?: (path: string) => string | null
}

export interface ResolvedIndex {
  /** The index URL without userinfo. */
  readonly url: string
  readonly credential: IndexCredential | null
}

function readNetrcFile(path: string): string | null {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    // Missing or unreadable: no credentials from it (as pip and uv behave).
    return null
  }
}

/**
 * The index URL without userinfo, and the credential for it (see the order at the top of this
 * file). The edge of this module: reads the environment and the netrc file.
 */
export function resolveIndexCredential(
  config: {
    readonly url: string
    readonly name?: string | null
    readonly credential?: BasicCredential | null
  },
  lookup: CredentialLookup = {}
): ResolvedIndex {
  const split = splitUserinfo(config.url)
  const url = split.url
  if (config.credential) {
    const source =
      'source' in config.credential ? String(config.credential.source) : 'the index configuration'
    return {
      url,
      credential: { username: config.credential.username, password: config.credential.password, source }
    }
  }
  if (split.username !== null && split.password !== null) {
    return {
      url,
      credential: { username: split.username, password: split.password, source: 'the index URL' }
    }
  }
  // `credential: null` means "already looked up: none" (see indexConfigFor).
  if (config.credential === null) {
    return {
      url,
      credential:
        split.username !== null ? { username: split.username, password: '', source: 'the index URL' } : null
    }
  }
  const env = lookup.env ?? process.env
  let host: string | null = null
  try {
    const u = new URL(url)
    if (u.protocol === 'http:' || u.protocol === 'https:') host = u.hostname
  } catch {
    host = null
  }
  const fromEnv = config.name ? credentialFromEnv(config.name, env) : null
  const wantUser = split.username
  if (fromEnv && (wantUser === null || fromEnv.username === wantUser)) return { url, credential: fromEnv }
  if (host !== null) {
    const path = netrcPath(env, lookup.home)
    const text = (lookup.readNetrc ?? readNetrcFile)(path)
    if (text !== null) {
      const c = netrcCredential(parseNetrc(text), host, wantUser)
      if (c) return { url, credential: { ...c, source: path.replace(lookup.home ?? homedir(), '~') } }
    }
  }
  if (wantUser !== null) {
    return { url, credential: { username: wantUser, password: '', source: 'the index URL' } }
  }
  return { url, credential: null }
}

/**
 * An index configuration with its credential looked up now (in `env` and the netrc file), for a
 * lock's registry source or a mirror: the URL loses its userinfo, `credential` is the one found
 * (with its source, for messages) or null, which tells PackageIndex not to look again.
 */
export function indexConfigFor(
  url: string,
  name: string | null,
  env: Readonly<Record<string, string | undefined>> = process.env,
  lookup: Omit<CredentialLookup, 'env'> = {}
): { readonly url: string; readonly name: string | null; readonly credential: IndexCredential | null } {
  const resolved = resolveIndexCredential({ url, name }, { ...lookup, env })
  return { url: resolved.url, name, credential: resolved.credential }
}

/** `Authorization` header value for a basic credential. */
export function basicAuthorization(c: BasicCredential): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`
}
