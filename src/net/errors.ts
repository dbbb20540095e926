// The errors of an HTTP request, for every caller (registry, token services, package indexes,
// wheel downloads): which request failed (`what`: method and URL, with userinfo and query taken
// out, so no secret reaches a message), at which host, and with which status when there was an
// answer. Callers turn them into their own errors (RegistryError, IndexError, FetchError) that say
// what to do; the fields let them decide without parsing messages.
import { FastBuildError } from '../errors.js'

// URLs in messages: no userinfo, no query (upload session state, signed-URL tokens), no fragment.
// One rule for every message of the tool, kept with the credentials it keeps out.
export { redactUrl } from '../packaging/index-credentials.js'

export interface HttpRequestInfo {
  /** `GET https://host/path?…`: the request, redacted (see redactUrl). */
  readonly what?: string | null
  /** `host[:port]`. */
  readonly host?: string | null
  /** The status of the answer; null when there was none (or it is not the point). */
  readonly status?: number | null
}

/** A request failed, and asking again will not help (a 404, a host that does not resolve, a redirect loop). */
export class HttpError extends FastBuildError {
  readonly what: string | null
  readonly host: string | null
  readonly status: number | null
  /** Whether running again later may succeed; true only for TransientHttpError. */
  readonly temporary: boolean = false

  constructor(message: string, info: HttpRequestInfo = {}, hint?: string) {
    super(message, {}, hint)
    this.what = info.what ?? null
    this.host = info.host ?? null
    this.status = info.status ?? null
  }
}

/** The host name does not resolve: a typo, or no DNS for it from here. Not retried. */
export class UnknownHostError extends HttpError {}

/** What went wrong with an attempt, for the message a user finally sees. */
export type TransientKind = 'timeout' | 'slow' | 'dropped' | 'status' | 'other'

/**
 * A failure worth another attempt (src/net/retry.ts decides which): a dropped connection, a
 * request past its deadline (src/net/deadline.ts), a 408/429/5xx.
 */
export class TransientHttpError extends HttpError {
  override readonly temporary = true

  constructor(
    message: string,
    /** The wait the server asked for (Retry-After), in milliseconds. */
    readonly retryAfterMs: number | null = null,
    readonly kind: TransientKind = 'other',
    /** `host[:port]` that failed, when known. */
    host: string | null = null,
    info: Omit<HttpRequestInfo, 'host'> = {}
  ) {
    super(message, { ...info, host })
  }
}

/** `host[:port]` of a URL, or null when it is not one. */
export function hostOf(url: string): string | null {
  try {
    return new URL(url).host
  } catch {
    return null
  }
}
