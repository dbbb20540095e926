// A deadline for one HTTP request, whatever its size. An idle timeout alone does not bound a
// request: a server that trickles one byte a second is never idle, and one that answers nothing
// costs the whole idle time on every attempt. A fixed total time does not fit either: a 2 GB layer
// legitimately takes minutes. So a request ends (as a TransientHttpError) when
//
//   - nothing moved either way for `timeoutMs` while it waited on the network ("no answer to PUT
//     /v2/…/blobs/uploads/… within 30 s", or "no connection" while still connecting), or
//   - past `timeoutMs`, it moved less than `minBytesPerSecond` on average ("too slow"):
//     time waiting > timeoutMs + bytes moved / minBytesPerSecond.
//
// "Moved" counts bytes on the socket both ways (request body out, answer in), less what is still
// buffered in Node. The clock runs from the moment the request has a socket (time queued for one
// of the agent's connections does not count), and not while the caller is producing a streamed
// body (`idle()` says so), so a slow compressor never trips it.
import type { ClientRequest } from 'node:http'
import type { Socket } from 'node:net'
import { hostOf, redactUrl, TransientHttpError } from './errors.js'
import { seconds } from './retry.js'

/** Below this, past the request timeout, a transfer counts as stuck (a few KB/s: a trickle). */
export const DEFAULT_MIN_BYTES_PER_SECOND = 16 * 1024

export interface DeadlineOptions {
  readonly method: string
  readonly url: string
  readonly timeoutMs: number
  readonly minBytesPerSecond?: number
  /** True while the caller, not the network, is the one to wait for (a streamed body being made). */
  readonly idle?: () => boolean
}

export interface Deadline {
  /** Stop watching (the request finished or failed). */
  stop(): void
}

/**
 * Watch `req` and destroy it with a TransientHttpError when it passes its deadline (see above). The
 * error reaches the request's 'error' listeners, as any network failure does; `onExpire` is told
 * first (for requests whose 'error' is already past).
 */
export function watchDeadline(
  req: ClientRequest,
  o: DeadlineOptions,
  onExpire?: (e: TransientHttpError) => void
): Deadline {
  const minRate = o.minBytesPerSecond ?? DEFAULT_MIN_BYTES_PER_SECOND
  const tick = Math.max(20, Math.min(1000, o.timeoutMs / 8))
  let socket: Socket | null = null
  let base = 0
  let moved = 0
  let waited = 0
  let sinceProgress = 0
  let last = Date.now()
  let stopped = false
  let answered = false
  req.once('response', () => (answered = true))

  const counted = (s: Socket): number => s.bytesRead + Math.max(0, s.bytesWritten - s.writableLength)
  req.on('socket', (s: Socket) => {
    socket = s
    base = counted(s)
  })
  const what = `${o.method} ${pathOf(o.url)}`
  const host = hostOf(o.url) ?? o.url

  const timer = setInterval(() => {
    const now = Date.now()
    const dt = now - last
    last = now
    // Waiting for a free connection of the agent's pool is not the server's fault (the requests
    // ahead each have a deadline of their own); neither is a body the caller is still making.
    if (socket === null || o.idle?.()) {
      sinceProgress = 0
      return
    }
    waited += dt
    const m = counted(socket) - base
    if (m > moved) {
      moved = m
      sinceProgress = 0
    } else sinceProgress += dt
    // Everything sent and no answer yet: whichever rule fires, what was waited for is the answer.
    const awaitingAnswer = !answered && req.writableFinished && socket.writableLength === 0
    let e: TransientHttpError | null = null
    const s = seconds(o.timeoutMs)
    if (sinceProgress >= o.timeoutMs || (awaitingAnswer && waited >= o.timeoutMs)) {
      e = socket.connecting
        ? new TransientHttpError(`${host}: no connection within ${s} s (${what})`, null, 'timeout', host)
        : !answered
          ? new TransientHttpError(`${host}: no answer to ${what} within ${s} s`, null, 'timeout', host)
          : new TransientHttpError(`${host}: the answer to ${what} stopped for ${s} s`, null, 'timeout', host)
    } else if (sinceProgress < o.timeoutMs - 2 * tick && waited > o.timeoutMs + (moved / minRate) * 1000) {
      // Still moving (else the rule above says "stopped" a tick or two later), but at a trickle.
      e = new TransientHttpError(
        `${host}: ${what} too slow (${moved} bytes in ${seconds(waited)} s; the floor past ${s} s is ${Math.round(minRate / 1024)} KiB/s)`,
        null,
        'slow',
        host
      )
    }
    if (e) {
      stop()
      onExpire?.(e)
      req.destroy(e)
    }
  }, tick)
  timer.unref()

  function stop(): void {
    if (stopped) return
    stopped = true
    clearInterval(timer)
  }
  req.once('close', stop)
  return { stop }
}

/** The path and query (redacted) of a URL, for messages that name the host apart. */
function pathOf(url: string): string {
  try {
    const u = new URL(url)
    return redactUrl(`${u.pathname}${u.search}`)
  } catch {
    return redactUrl(url)
  }
}
