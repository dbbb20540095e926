// A client for the Python "simple" repository API: the files a project has on an index, with
// their absolute URLs and hashes. Speaks PEP 691 JSON and falls back to PEP 503 HTML, for
// `http(s)://` indexes (PyPI, private indexes, download.pytorch.org) and `file://` trees (a local
// mirror laid out as `<root>/<project>/index.html`). The page parsers are pure; `PackageIndex`
// is the edge that fetches pages, with redirects, retries of transient failures, credentials only
// for the index's own origin, and one fetch per project per run.
import { readFile, stat } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { FastBuildError } from '../errors.js'
import { normalizeName, type NormalizedName } from '../names.js'
import { HttpError, TransientHttpError } from '../net/errors.js'
import { HttpClient, throwIfTransient, type HttpResponse } from '../net/http.js'
import {
  BOUNDS_HINT,
  DEFAULT_RETRY,
  RetriesExhaustedError,
  withRetry,
  type RetryPolicy
} from '../net/retry.js'
import {
  basicAuthorization,
  credentialEnvNames,
  describeIndexCredential,
  redactUrl,
  resolveIndexCredential,
  type BasicCredential,
  type CredentialLookup,
  type IndexCredential
} from '../packaging/index-credentials.js'

/** How a lock (or the user) names an index. */
export interface IndexConfig {
  /** The simple-API base, such as `https://pypi.org/simple`; may carry `user:password@`. */
  readonly url: string
  /** The source's name in the project (Poetry `[[tool.poetry.source]]`, uv `[[tool.uv.index]]`). */
  readonly name?: string | null
  /**
   * The credential to use. Absent: looked up on first use (userinfo in `url`, environment
   * variables for `name`, ~/.netrc). null: none (already looked up, see indexConfigFor), apart
   * from userinfo in `url`.
   */
  readonly credential?: BasicCredential | null
}

/** One file of a project as the index lists it. */
export interface IndexFile {
  readonly filename: string
  /** Absolute, without fragment and without userinfo. */
  readonly url: string
  /** Algorithm → lowercase hex. */
  readonly hashes: Readonly<Record<string, string>>
  readonly requiresPython?: string | null
  /** false, true, or the reason the index gives. */
  readonly yanked?: boolean | string
  readonly size?: number | null
}

/** The Accept header of PEP 691: JSON preferred, HTML accepted. */
export const SIMPLE_ACCEPT =
  'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01'

/** The index could not answer for a project, or does not list a file. */
export class IndexError extends FastBuildError {
  constructor(
    message: string,
    /** The index URL, redacted. */
    readonly index: string,
    readonly project: string | null,
    readonly filename: string | null,
    hint?: string,
    /** A failure that may go away on its own (network, 5xx). */
    readonly temporary = false
  ) {
    super(message, {}, hint)
  }
}

// ---------------------------------------------------------------------------------------------
// Pure part: URLs and page parsing.

/** `https://pypi.org/simple` + `Foo.Bar` → `https://pypi.org/simple/foo-bar/`. */
export function projectPageUrl(indexUrl: string, project: string): string {
  const base = indexUrl.replace(/\/+$/, '')
  return `${base}/${encodeURIComponent(normalizeName(project))}/`
}

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
  equals: '=',
  excl: '!',
  comma: ',',
  period: '.',
  colon: ':',
  semi: ';',
  sol: '/',
  num: '#',
  percnt: '%',
  plus: '+',
  ast: '*',
  lpar: '(',
  rpar: ')',
  tilde: '~'
}

/** HTML character references: `&gt;`, `&#62;`, `&#x3e;`. Unknown names stay as written. */
export function decodeHtmlEntities(s: string): string {
  if (!s.includes('&')) return s
  return s.replace(/&(#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]*);?/g, (whole, ref: string) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10)
      if (!Number.isFinite(code) || code < 0 || code > 0x10ffff) return whole
      try {
        return String.fromCodePoint(code)
      } catch {
        return whole
      }
    }
    return NAMED_ENTITIES[ref.toLowerCase()] ?? whole
  })
}

function lastSegment(url: URL): string {
  const path = url.pathname
  const last = path.slice(path.lastIndexOf('/') + 1)
  try {
    return decodeURIComponent(last)
  } catch {
    return last
  }
}

/** An absolute URL without userinfo and fragment; the fragment's `algo=hex`, if any. */
function resolveHref(href: string, base: string): { url: string; hash: [string, string] | null } {
  const u = new URL(href, base)
  let hash: [string, string] | null = null
  const m = /^#([a-zA-Z0-9_]+)=([0-9a-fA-F]+)$/.exec(u.hash)
  if (m) hash = [m[1]!.toLowerCase(), m[2]!.toLowerCase()]
  u.hash = ''
  u.username = ''
  u.password = ''
  return { url: u.href, hash }
}

interface Tag {
  readonly name: string
  readonly attrs: Map<string, string>
  /** Index just past the tag's `>`. */
  readonly end: number
}

/** Read the start tag at `text[at] === '<'`: its name and attributes (values entity-decoded). */
function readStartTag(text: string, at: number): Tag | null {
  let i = at + 1
  const n = text.length
  const nameMatch = /^[a-zA-Z][a-zA-Z0-9-]*/.exec(text.slice(i, i + 32))
  if (!nameMatch) return null
  const name = nameMatch[0].toLowerCase()
  i += nameMatch[0].length
  const attrs = new Map<string, string>()
  while (i < n) {
    while (i < n && /\s/.test(text[i]!)) i++
    if (i >= n) return null
    if (text[i] === '>') return { name, attrs, end: i + 1 }
    if (text[i] === '/') {
      i++
      continue
    }
    let attrName = ''
    while (i < n && !/[\s=>/]/.test(text[i]!)) attrName += text[i++]
    while (i < n && /\s/.test(text[i]!)) i++
    let value = ''
    if (text[i] === '=') {
      i++
      while (i < n && /\s/.test(text[i]!)) i++
      const q = text[i]
      if (q === '"' || q === "'") {
        const close = text.indexOf(q, i + 1)
        if (close === -1) return null
        value = text.slice(i + 1, close)
        i = close + 1
      } else {
        while (i < n && !/[\s>]/.test(text[i]!)) value += text[i++]
      }
    }
    if (attrName !== '' && !attrs.has(attrName.toLowerCase()))
      attrs.set(attrName.toLowerCase(), decodeHtmlEntities(value))
  }
  return null
}

/**
 * PEP 503 (with PEP 592 yanking and PEP 658/714 attributes ignored): every `<a href>` on the page
 * is a file. The file name is the last path segment of the URL, percent-decoded (as pip reads it:
 * `torch-2.7.0%2Bcu126-….whl` is `torch-2.7.0+cu126-….whl`); hrefs resolve against `<base href>`
 * when the page has one, else the page URL; `#sha256=…` fragments are the hashes.
 */
export function parseSimpleHtml(html: string, pageUrl: string): IndexFile[] {
  const text = html.replace(/<!--[\s\S]*?(-->|$)/g, '')
  let base = pageUrl
  const files: IndexFile[] = []
  const starts = /<(?:a|base)[\s>]/gi
  for (let m = starts.exec(text); m !== null; m = starts.exec(text)) {
    const tag = readStartTag(text, m.index)
    if (!tag) continue
    starts.lastIndex = tag.end
    if (tag.name === 'base') {
      const href = tag.attrs.get('href')
      if (href) {
        try {
          base = new URL(href, pageUrl).href
        } catch {
          // An unusable <base> is ignored, as browsers do.
        }
      }
      continue
    }
    const href = tag.attrs.get('href')
    if (href === undefined || href.trim() === '') continue
    const closeRe = /<\/a\s*>/gi
    closeRe.lastIndex = tag.end
    const close = closeRe.exec(text)
    const inner = close === null ? '' : text.slice(tag.end, close.index)
    let resolved: ReturnType<typeof resolveHref>
    try {
      resolved = resolveHref(href.trim(), base)
    } catch {
      continue
    }
    const anchorText = decodeHtmlEntities(inner.replace(/<[^>]*>/g, '')).trim()
    const filename = lastSegment(new URL(resolved.url)) || anchorText
    if (filename === '') continue
    const yanked = tag.attrs.get('data-yanked')
    const requiresPython = tag.attrs.get('data-requires-python')
    files.push({
      filename,
      url: resolved.url,
      hashes: resolved.hash ? { [resolved.hash[0]]: resolved.hash[1] } : {},
      requiresPython: requiresPython === undefined || requiresPython === '' ? null : requiresPython,
      yanked: yanked === undefined ? false : yanked === '' ? true : yanked,
      size: null
    })
  }
  return files
}

/** A page that is not what it should be; the caller adds which index and project. */
export class PageFormatError extends Error {}

/** PEP 691 JSON (api-version 1.x): `files[]` with `filename`, `url` (may be relative), `hashes`, … */
export function parseSimpleJson(json: string, pageUrl: string): IndexFile[] {
  let doc: unknown
  try {
    doc = JSON.parse(json)
  } catch (e) {
    throw new PageFormatError(`not valid JSON (${(e as Error).message})`)
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new PageFormatError('not a JSON object')
  const o = doc as Record<string, unknown>
  const meta = o['meta']
  const version =
    typeof meta === 'object' && meta !== null ? (meta as Record<string, unknown>)['api-version'] : undefined
  if (typeof version !== 'string') throw new PageFormatError('no meta.api-version')
  if (version.split('.')[0] !== '1')
    throw new PageFormatError(`api-version ${version} is not supported (only 1.x)`)
  const list = o['files']
  if (!Array.isArray(list)) throw new PageFormatError('no files list')
  const files: IndexFile[] = []
  list.forEach((f: unknown, i) => {
    if (typeof f !== 'object' || f === null) throw new PageFormatError(`files[${i}] is not an object`)
    const e = f as Record<string, unknown>
    const filename = e['filename']
    const href = e['url']
    if (typeof filename !== 'string' || filename === '')
      throw new PageFormatError(`files[${i}].filename is missing`)
    if (typeof href !== 'string' || href === '') throw new PageFormatError(`files[${i}].url is missing`)
    let resolved: ReturnType<typeof resolveHref>
    try {
      resolved = resolveHref(href, pageUrl)
    } catch {
      throw new PageFormatError(`files[${i}].url is not a URL: ${JSON.stringify(redactUrl(href))}`)
    }
    const hashes: Record<string, string> = {}
    const h = e['hashes']
    if (typeof h === 'object' && h !== null) {
      for (const [k, v] of Object.entries(h as Record<string, unknown>))
        if (typeof v === 'string') hashes[k.toLowerCase()] = v.toLowerCase()
    }
    const rp = e['requires-python']
    const y = e['yanked']
    const size = e['size']
    files.push({
      filename,
      url: resolved.url,
      hashes,
      requiresPython: typeof rp === 'string' && rp !== '' ? rp : null,
      yanked: typeof y === 'string' ? (y === '' ? true : y) : y === true,
      size: typeof size === 'number' ? size : null
    })
  })
  return files
}

/** Choose the parser by Content-Type (PEP 691), or by the first character when there is none (file://). */
export function parseSimplePage(body: string, contentType: string | null, pageUrl: string): IndexFile[] {
  const ct = (contentType ?? '').toLowerCase()
  const json = ct.includes('json') || (ct === '' && body.trimStart().startsWith('{'))
  return json ? parseSimpleJson(body, pageUrl) : parseSimpleHtml(body, pageUrl)
}

// ---------------------------------------------------------------------------------------------
// The edge: fetching pages.

export interface PackageIndexOptions {
  readonly retry?: RetryPolicy
  /** Where credentials are looked up (environment, netrc); see index-credentials.ts. */
  readonly credentials?: CredentialLookup
  /** Redirects followed per page (default 10). */
  readonly maxRedirects?: number
  /** Cap on one page's size (default 64 MiB; PyPI's largest pages are a few MB). */
  readonly maxPage?: number
  readonly onRetry?: (e: TransientHttpError, delayMs: number, attempt: number) => void
}

let sharedClient: HttpClient | null = null
function defaultHttp(): HttpClient {
  // Its requests' deadline is read from the environment per request (FAST_BUILD_REQUEST_TIMEOUT_S).
  sharedClient ??= new HttpClient()
  return sharedClient
}

export class PackageIndex {
  /** The index URL without userinfo (safe to show). */
  readonly url: string
  readonly name: string | null
  private readonly pages = new Map<NormalizedName, Promise<IndexFile[]>>()
  private resolved: { url: string; credential: IndexCredential | null } | null = null

  constructor(
    private readonly config: IndexConfig,
    private readonly http: HttpClient = defaultHttp(),
    private readonly options: PackageIndexOptions = {}
  ) {
    this.url = redactUrl(config.url).replace(/\?…$/, '')
    this.name = config.name ?? null
  }

  /** The index URL without userinfo and the credential for it (looked up once, on first use). */
  private get access(): { url: string; credential: IndexCredential | null } {
    this.resolved ??= resolveIndexCredential(this.config, this.options.credentials)
    return this.resolved
  }

  /** The credential in use, described (user and source, never the secret); null when anonymous. */
  describeCredential(): string | null {
    const c = this.access.credential
    return c ? describeIndexCredential(c) : null
  }

  /**
   * `Authorization` for a request to `url`: the index's credential when `url` has the index's
   * origin (scheme, host, port), so credentials never travel to another host (a CDN, a redirect).
   */
  authorizationFor(url: string): string | null {
    const c = this.access.credential
    if (!c) return null
    try {
      return new URL(url).origin === new URL(this.access.url).origin ? basicAuthorization(c) : null
    } catch {
      return null
    }
  }

  /** Every file the index lists for `project` (fetched once per PackageIndex). */
  files(project: NormalizedName | string): Promise<IndexFile[]> {
    const name = normalizeName(project)
    let page = this.pages.get(name)
    if (!page) {
      page = this.fetchProject(name)
      this.pages.set(name, page)
      page.catch(() => this.pages.delete(name))
    }
    return page
  }

  /** The file named `filename` (exactly; else ignoring case), or null when the index does not list it. */
  async find(project: NormalizedName | string, filename: string): Promise<IndexFile | null> {
    const files = await this.files(project)
    return (
      files.find((f) => f.filename === filename) ??
      files.find((f) => f.filename.toLowerCase() === filename.toLowerCase()) ??
      null
    )
  }

  /** Like `find`, but a file that is not listed is an IndexError naming the index, project and file. */
  async get(project: NormalizedName | string, filename: string): Promise<IndexFile> {
    const found = await this.find(project, filename)
    if (found) return found
    const files = await this.files(project)
    const name = normalizeName(project)
    const listed =
      files.length === 0
        ? 'it lists no files for the project'
        : `it lists ${files.length} file${files.length === 1 ? '' : 's'} for the project, not this one`
    throw new IndexError(
      `${filename} (${name}) is not on the index ${this.url}: ${listed}`,
      this.url,
      name,
      filename,
      'the lock pins a file this index does not serve (removed, or locked against another index): ' +
        're-lock, or point the package source (or the mirror) at an index that has the file'
    )
  }

  private async fetchProject(project: NormalizedName): Promise<IndexFile[]> {
    const pageUrl = projectPageUrl(this.access.url, project)
    if (pageUrl.startsWith('file:')) return this.readFileProject(project, pageUrl)
    if (!/^https?:/i.test(pageUrl)) {
      throw new IndexError(
        `the index URL ${this.url} is neither http(s):// nor file://`,
        this.url,
        project,
        null,
        'use the index URL as pip would (https://host/simple or file:///path/to/simple)'
      )
    }
    const res = await this.getPage(project, pageUrl)
    try {
      return parseSimplePage(res.body.toString('utf8'), res.headers['content-type'] ?? null, res.url)
    } catch (e) {
      throw this.badPage(project, res.url, e)
    }
  }

  private async readFileProject(project: NormalizedName, pageUrl: string): Promise<IndexFile[]> {
    let path: string
    try {
      path = fileURLToPath(pageUrl)
    } catch (e) {
      throw new IndexError(
        `the index URL ${this.url} is not a local path: ${(e as Error).message}`,
        this.url,
        project,
        null,
        'write file:// index URLs as file:///absolute/path/to/simple'
      )
    }
    // pip reads `<dir>/index.html` for a directory URL.
    let file = path
    let url = pageUrl
    try {
      if ((await stat(path)).isDirectory()) {
        file = `${path.replace(/\/+$/, '')}/index.html`
        url = new URL('index.html', pageUrl).href
      }
    } catch {
      throw this.notFound(project, pageUrl, 'no such directory')
    }
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code === 'ENOENT') throw this.notFound(project, pageUrl, `no ${file}`)
      throw new IndexError(
        `cannot read the index page for ${project} at ${file}: ${(e as Error).message}`,
        this.url,
        project,
        null,
        'check the permissions of the local index'
      )
    }
    try {
      return parseSimplePage(text, null, url)
    } catch (e) {
      throw this.badPage(project, url, e)
    }
  }

  /** GET a page with PEP 691 negotiation, following redirects, retrying transient failures. */
  private async getPage(project: NormalizedName, pageUrl: string): Promise<HttpResponse> {
    let res: HttpResponse
    try {
      res = await withRetry(
        async () => {
          const r = await this.http.request({
            method: 'GET',
            url: pageUrl,
            headers: { accept: SIMPLE_ACCEPT },
            maxRedirects: this.options.maxRedirects ?? 10,
            // Asked again at each redirect: the credential goes to the index's origin only.
            authorize: (u) => this.authorizationFor(u),
            maxBody: this.options.maxPage ?? 64 * 1024 * 1024
          })
          throwIfTransient(r)
          return r
        },
        this.options.retry ?? DEFAULT_RETRY,
        this.options.onRetry
      )
    } catch (e) {
      const transient = e instanceof RetriesExhaustedError || e instanceof TransientHttpError
      // A redirect loop, or a redirect to something that is not http(s), says what to check itself.
      const own = e instanceof HttpError && e.status !== null ? e.hint : undefined
      throw new IndexError(
        `cannot get project ${project} from the index ${this.url}: ${(e as Error).message}`,
        this.url,
        project,
        null,
        transient
          ? `the index did not answer (network, or the index is down): run again later, or use a mirror index that is reachable; ${BOUNDS_HINT}`
          : (own ?? 'check the index URL (the package source in the lock or pyproject.toml) and the network'),
        transient
      )
    }
    if (res.status === 200) return res
    if (res.status === 404 || res.status === 410) {
      throw this.notFound(project, res.url, `GET ${redactUrl(res.url)} answered ${res.status}`)
    }
    if (res.status === 401 || res.status === 403) throw this.denied(project, res.url, res.status)
    throw new IndexError(
      `the index ${this.url} answered ${res.status} for project ${project} (GET ${redactUrl(res.url)})`,
      this.url,
      project,
      null,
      'check the index URL; the server does not speak the simple repository API (PEP 503/691) there'
    )
  }

  private notFound(project: NormalizedName, pageUrl: string, detail: string): IndexError {
    return new IndexError(
      `project ${project} is not on the index ${this.url} (${detail.replace(pageUrl, redactUrl(pageUrl))})`,
      this.url,
      project,
      null,
      'check that the package source in the lock points at the index that serves it (and re-lock), ' +
        'or add the project to the mirror'
    )
  }

  private denied(project: NormalizedName, pageUrl: string, status: number): IndexError {
    const c = this.access.credential
    const names = this.name ? credentialEnvNames(this.name).join(', ') : null
    const hint = c
      ? `the index rejected ${describeIndexCredential(c)}: check the username and password (or token) and their access to the index`
      : `give credentials for the index: ${names ? `set ${names}, ` : ''}put user:password@ in the index URL, or add "machine ${hostOf(pageUrl)} login … password …" to ~/.netrc`
    return new IndexError(
      `the index ${this.url} refused access to project ${project} (${status} ${status === 401 ? 'Unauthorized' : 'Forbidden'})`,
      this.url,
      project,
      null,
      hint
    )
  }

  private badPage(project: NormalizedName, pageUrl: string, e: unknown): IndexError {
    return new IndexError(
      `the index ${this.url} served a page for project ${project} that is not a simple-API page (${redactUrl(pageUrl)}): ${(e as Error).message}`,
      this.url,
      project,
      null,
      'check the index URL: it must be the simple API root (…/simple), not the project web site'
    )
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname
  } catch {
    return 'HOST'
  }
}
