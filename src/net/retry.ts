// One retry rule for every request fast-build makes (registries, token services, package indexes,
// wheel downloads): what is worth another attempt, how long to wait before it, and when to stop.
//
// Worth retrying: dropped connections (the codes below), a request past its deadline (see
// deadline.ts), and the statuses 408, 429 and 5xx except 501/505, which do not go away by asking
// again. Everything else (auth, not found, bad requests) fails at once. Waits grow exponentially
// with jitter (so parallel clients do not retry in step), or follow the server's Retry-After.
// Two limits stop an operation: a number of attempts, and a time budget for the whole operation
// (default 120 s), because attempts alone multiply by the per-request deadline: six attempts at a
// registry that accepts connections and never answers once cost six minutes per variant.
import { ConfigError, FastBuildError } from '../errors.js'
import { hostOf, redactUrl, TransientHttpError } from './errors.js'

// ---------------------------------------------------------------------------------------------
// Bounds, and where they come from.

export const REQUEST_TIMEOUT_ENV = 'FAST_BUILD_REQUEST_TIMEOUT_S'
export const RETRY_BUDGET_ENV = 'FAST_BUILD_RETRY_BUDGET_S'
export const DEFAULT_REQUEST_TIMEOUT_S = 30
export const DEFAULT_RETRY_BUDGET_S = 120

/** What to tell a user who wants other bounds (used in hints). */
export const BOUNDS_HINT = `the bounds are ${REQUEST_TIMEOUT_ENV} (per request, default ${DEFAULT_REQUEST_TIMEOUT_S}) and ${RETRY_BUDGET_ENV} (per operation, default ${DEFAULT_RETRY_BUDGET_S}), or the action inputs request-timeout and retry-budget`

/**
 * Seconds as a user writes them (`30`, `2.5`): a positive number of at most a day. `where` names
 * the variable or input in the error.
 */
export function parseSeconds(text: string, where: string, keyPath = where): number {
  const t = text.trim()
  const n = /^\d+(\.\d+)?$/.test(t) ? Number(t) : NaN
  if (!Number.isFinite(n) || n <= 0 || n > 86_400) {
    throw new ConfigError(
      `${where}: ${JSON.stringify(text)} is not a number of seconds`,
      { keyPath },
      'write a number of seconds greater than 0 (and at most 86400), e.g. 30'
    )
  }
  return n
}

export interface NetLimits {
  /** Each request: no progress for this long, or too slow past it (deadline.ts), ends the attempt. */
  readonly requestTimeoutMs: number
  /** Each operation: no new attempt starts past this much time since the first. */
  readonly retryBudgetMs: number
}

/**
 * The bounds in effect: FAST_BUILD_REQUEST_TIMEOUT_S and FAST_BUILD_RETRY_BUDGET_S when set (the
 * action sets them from its inputs), else 30 s and 120 s. Read when a client or operation starts,
 * so a variable set before the build applies to it.
 */
export function netLimits(env: Readonly<Record<string, string | undefined>> = process.env): NetLimits {
  const read = (name: string, dflt: number): number => {
    const v = env[name]
    return v === undefined || v.trim() === '' ? dflt : parseSeconds(v, name)
  }
  return {
    requestTimeoutMs: read(REQUEST_TIMEOUT_ENV, DEFAULT_REQUEST_TIMEOUT_S) * 1000,
    retryBudgetMs: read(RETRY_BUDGET_ENV, DEFAULT_RETRY_BUDGET_S) * 1000
  }
}

// ---------------------------------------------------------------------------------------------
// What is worth retrying.

/**
 * Error codes of a connection that failed or dropped on the way: the one list for every request
 * (the registry client and the wheel fetcher each had one; this is their union). Not ENOTFOUND: a
 * name that does not resolve is a typo far more often than a DNS hiccup (EAI_AGAIN is the hiccup).
 */
export const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  // The peer (or a proxy, or a load balancer recycling its connections) closed the connection.
  'ECONNRESET',
  // We wrote to a connection the peer had already closed (a kept-alive socket it timed out).
  'EPIPE',
  // The operating system gave up on the connection (no answer to SYN or to retransmissions).
  'ETIMEDOUT',
  // The connection was aborted locally, mid-request (a socket torn down under us).
  'ECONNABORTED',
  // Nothing listens yet: a registry or index restarting, a service behind a load balancer rolling.
  'ECONNREFUSED',
  // No route for now: a network that is coming up, a VPN reconnecting, a flapping link.
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  // The resolver could not answer for now (a temporary DNS failure, unlike ENOTFOUND).
  'EAI_AGAIN',
  // undici's socket error (fetch-based code paths in dependencies): the connection failed.
  'UND_ERR_SOCKET',
  // A response stream ended before its end (a body cut short by a dropped connection).
  'ERR_STREAM_PREMATURE_CLOSE'
])

// Node's own words for a connection that ended mid-request, where it gives no code.
const DROPPED_MESSAGE = /socket hang up|aborted|premature/i

/** 408, 429 and 5xx; not 501 (Not Implemented) or 505 (HTTP Version Not Supported). */
export function isRetryableStatus(status: number): boolean {
  return (
    status === 408 || status === 429 || (status >= 500 && status < 600 && status !== 501 && status !== 505)
  )
}

/**
 * The rule, for a status or anything thrown: true for 408/429/5xx, for TransientHttpError, and for
 * errors of a connection that failed on the way (RETRYABLE_CODES, "socket hang up").
 */
export function isRetryable(x: unknown): boolean {
  if (typeof x === 'number') return isRetryableStatus(x)
  if (x instanceof TransientHttpError) return true
  // Not `instanceof Error`: errors of Node's own modules may come from another realm (a VM
  // context, as under jest), where that test fails.
  if (x instanceof FastBuildError || typeof x !== 'object' || x === null) return false
  const { code, message } = x as { code?: unknown; message?: unknown }
  return (
    (typeof code === 'string' && RETRYABLE_CODES.has(code)) ||
    (typeof message === 'string' && DROPPED_MESSAGE.test(message))
  )
}

/**
 * A network error of `method url` as a TransientHttpError when the rule says it is worth retrying,
 * else null (the caller decides: ENOTFOUND, for one, means a wrong host name).
 */
export function transientFromNetworkError(
  e: unknown,
  method: string,
  url: string
): TransientHttpError | null {
  if (e instanceof TransientHttpError) return e
  if (!isRetryable(e)) return null
  const err = e as NodeJS.ErrnoException
  return new TransientHttpError(
    `${method} ${redactUrl(url)}: connection dropped (${err.code ?? err.message})`,
    null,
    'dropped',
    hostOf(url),
    { what: `${method} ${redactUrl(url)}` }
  )
}

/** A retryable status as a TransientHttpError (`detail` is the server's error text, if any). */
export function transientFromStatus(
  method: string,
  url: string,
  status: number,
  retryAfter: string | undefined,
  detail = ''
): TransientHttpError {
  return new TransientHttpError(
    `${method} ${redactUrl(url)}: ${status}${detail}`,
    parseRetryAfter(retryAfter),
    'status',
    hostOf(url),
    { what: `${method} ${redactUrl(url)}`, status }
  )
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | null {
  if (!value) return null
  const seconds = Number(value.trim())
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const date = Date.parse(value)
  return Number.isNaN(date) ? null : Math.max(0, date - now)
}

// ---------------------------------------------------------------------------------------------
// The loop.

export interface RetryPolicy {
  readonly attempts: number
  readonly baseDelayMs: number
  readonly maxDelayMs: number
  /** No attempt starts past this long after the first; default netLimits().retryBudgetMs. */
  readonly budgetMs?: number
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseDelayMs: 250, maxDelayMs: 20_000 }

/**
 * The wait before attempt `attempt + 1`: the server's Retry-After when it gave one, else
 * exponential backoff with jitter (half to all of base·2^(attempt-1)); at most maxDelayMs.
 */
export function backoffDelay(
  attempt: number,
  policy: RetryPolicy,
  retryAfterMs: number | null = null,
  random: () => number = Math.random
): number {
  const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1))
  return Math.min(policy.maxDelayMs, retryAfterMs ?? backoff * (0.5 + random() / 2))
}

/** An operation failed on every attempt it was allowed: the last failure, and how long it tried. */
export class RetriesExhaustedError extends FastBuildError {
  readonly temporary = true

  constructor(
    readonly last: TransientHttpError,
    readonly attempts: number,
    readonly elapsedMs: number,
    readonly budgetMs: number
  ) {
    super(
      `${last.message} (${attempts} attempt${attempts === 1 ? '' : 's'} in ${seconds(elapsedMs)} s; budget ${seconds(budgetMs)} s)`,
      {},
      giveUpHint(last)
    )
  }
}

function giveUpHint(last: TransientHttpError): string {
  const who = last.host ?? 'the server'
  const what =
    last.kind === 'timeout'
      ? `${who} accepts connections but does not answer in time: check it (and any proxy or firewall in between)`
      : last.kind === 'slow'
        ? `${who} answers too slowly: check it and the network to it`
        : last.kind === 'dropped'
          ? `connections to ${who} keep failing: check that it is up and reachable`
          : `${who} keeps failing`
  return `${what}, then run again; ${BOUNDS_HINT}`
}

/** `12`, `2.5`: seconds for messages (one decimal below 10 s). */
export function seconds(ms: number): string {
  const s = ms / 1000
  return s < 10 ? String(Math.round(s * 10) / 10) : String(Math.round(s))
}

export interface RetryClock {
  now(): number
  sleep(ms: number): Promise<void>
}

const REAL_CLOCK: RetryClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms))
}

/**
 * Run `op`, retrying TransientHttpError after backoffDelay, while attempts are left and the next
 * attempt would start within the budget; then RetriesExhaustedError (the last failure, the
 * attempts, the time spent). Other errors pass through at once. `onRetry` is told of each wait.
 * One attempt is bounded by the requests' own deadlines, so an operation ends by budget + one
 * attempt at worst.
 */
export async function withRetry<T>(
  op: (attempt: number) => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY,
  onRetry?: (e: TransientHttpError, delayMs: number, attempt: number) => void,
  clock: RetryClock = REAL_CLOCK
): Promise<T> {
  const budget = policy.budgetMs ?? netLimits().retryBudgetMs
  const started = clock.now()
  for (let attempt = 1; ; attempt++) {
    try {
      return await op(attempt)
    } catch (e) {
      if (!(e instanceof TransientHttpError)) throw e
      const elapsed = clock.now() - started
      const delay = backoffDelay(attempt, policy, e.retryAfterMs)
      if (attempt >= policy.attempts || elapsed + delay >= budget)
        throw new RetriesExhaustedError(e, attempt, elapsed, budget)
      onRetry?.(e, delay, attempt)
      await clock.sleep(delay)
    }
  }
}
