// The one retry rule (src/net/retry.ts), pure: what is retried, the waits, the two limits (attempts
// and the time budget) with a fake clock, the message an operation that gives up ends with, and
// the bounds read from the environment and the action's inputs.
import { describe, expect, it } from '@jest/globals'
import { runInNewContext } from 'node:vm'
import { ConfigError } from '../../src/errors.js'
import { netEnvironment, parseInputs } from '../../src/inputs.js'
import {
  backoffDelay,
  isRetryable,
  isRetryableStatus,
  netLimits,
  parseRetryAfter,
  RetriesExhaustedError,
  withRetry,
  type RetryClock
} from '../../src/net/retry.js'
import { TransientHttpError } from '../../src/net/errors.js'

const errno = (code: string, message = code) => Object.assign(new Error(message), { code })

describe('isRetryable', () => {
  it.each([
    [408, true],
    [429, true],
    [500, true],
    [502, true],
    [503, true],
    [504, true],
    [599, true],
    [501, false],
    [505, false],
    [400, false],
    [401, false],
    [403, false],
    [404, false],
    [200, false]
  ])('status %d: %s', (status, want) => {
    expect(isRetryable(status)).toBe(want)
    expect(isRetryableStatus(status)).toBe(want)
  })

  it.each([
    ['ECONNRESET', true],
    ['EPIPE', true],
    ['ETIMEDOUT', true],
    ['ECONNREFUSED', true],
    ['EHOSTUNREACH', true],
    ['EAI_AGAIN', true],
    ['UND_ERR_SOCKET', true],
    ['ERR_STREAM_PREMATURE_CLOSE', true],
    ['ENOTFOUND', false], // a wrong name does not start resolving by asking again
    ['EACCES', false]
  ])('error code %s: %s', (code, want) => {
    expect(isRetryable(errno(code))).toBe(want)
  })

  it('dropped-connection messages, our transient errors; not our other errors or non-errors', () => {
    expect(isRetryable(new Error('socket hang up'))).toBe(true)
    expect(isRetryable(new Error('response aborted'))).toBe(true)
    expect(isRetryable(new TransientHttpError('x'))).toBe(true)
    expect(isRetryable(new ConfigError('aborted by the config'))).toBe(false)
    expect(isRetryable(new Error('401 unauthorized'))).toBe(false)
    expect(isRetryable('ECONNRESET')).toBe(false)
    // Node's errors may come from another realm (a VM context, as under jest): not instanceof Error.
    expect(
      isRetryable(runInNewContext('Object.assign(new Error("socket hang up"), { code: "ECONNRESET" })'))
    ).toBe(true)
  })
})

describe('waits', () => {
  const policy = { attempts: 6, baseDelayMs: 100, maxDelayMs: 1000 }

  it('backoff doubles, with jitter between half and all of it, capped', () => {
    expect(backoffDelay(1, policy, null, () => 0)).toBe(50)
    expect(backoffDelay(1, policy, null, () => 1)).toBe(100)
    expect(backoffDelay(3, policy, null, () => 1)).toBe(400)
    expect(backoffDelay(10, policy, null, () => 1)).toBe(1000)
    for (let i = 0; i < 50; i++) {
      const d = backoffDelay(2, policy)
      expect(d).toBeGreaterThanOrEqual(100)
      expect(d).toBeLessThanOrEqual(200)
    }
  })

  it('Retry-After wins over the backoff, capped by maxDelayMs', () => {
    expect(backoffDelay(1, policy, 700)).toBe(700)
    expect(backoffDelay(1, policy, 0)).toBe(0)
    expect(backoffDelay(1, policy, 60_000)).toBe(1000)
  })

  it('Retry-After: seconds or an HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3000)
    expect(
      parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))
    ).toBe(10_000)
    expect(parseRetryAfter('soon')).toBeNull()
  })
})

/** A clock whose sleeps take no real time, and whose operations take `opMs` each. */
function fakeClock(opMs: number): RetryClock & { tick(): void; t: number } {
  const c = {
    t: 0,
    now: () => c.t,
    sleep: async (ms: number) => {
      c.t += ms
    },
    tick: () => {
      c.t += opMs
    }
  }
  return c
}

describe('withRetry: attempts and the budget', () => {
  it('a silent server: attempts of 30 s each stop at the 120 s budget, and the message says so', async () => {
    const clock = fakeClock(30_000)
    let n = 0
    const e = await withRetry(
      async () => {
        n++
        clock.tick()
        throw new TransientHttpError(
          '127.0.0.1:5000: no answer to PUT /v2/app/blobs/uploads/… within 30 s',
          null,
          'timeout',
          '127.0.0.1:5000'
        )
      },
      { attempts: 6, baseDelayMs: 250, maxDelayMs: 20_000, budgetMs: 120_000 },
      undefined,
      clock
    ).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(RetriesExhaustedError)
    const r = e as RetriesExhaustedError
    expect(n).toBe(4) // started at 0, ~30, ~61, ~91 s; a fifth would start past 120 s
    expect(r.temporary).toBe(true)
    expect(r.message).toMatch(
      /^127\.0\.0\.1:5000: no answer to PUT \/v2\/app\/blobs\/uploads\/… within 30 s \(4 attempts in 12\d s; budget 120 s\)$/
    )
    expect(r.hint).toMatch(/127\.0\.0\.1:5000 accepts connections but does not answer in time/)
    expect(r.hint).toMatch(
      /FAST_BUILD_REQUEST_TIMEOUT_S.*FAST_BUILD_RETRY_BUDGET_S.*request-timeout and retry-budget/
    )
  })

  it('attempts run out first when failures are quick', async () => {
    const clock = fakeClock(10)
    let n = 0
    const e = (await withRetry(
      async () => {
        n++
        clock.tick()
        throw new TransientHttpError('PUT http://h/v2/x/manifests/t: 500', null, 'status', 'h')
      },
      { attempts: 3, baseDelayMs: 10, maxDelayMs: 50, budgetMs: 120_000 },
      undefined,
      clock
    ).catch((x: unknown) => x)) as RetriesExhaustedError
    expect(n).toBe(3)
    expect(e.message).toMatch(
      /^PUT http:\/\/h\/v2\/x\/manifests\/t: 500 \(3 attempts in 0(\.\d)? s; budget 120 s\)$/
    )
    expect(e.hint).toMatch(/^h keeps failing, then run again/)
  })

  it('a Retry-After past the budget ends the operation instead of waiting', async () => {
    const clock = fakeClock(0)
    const delays: number[] = []
    const e = await withRetry(
      async () => {
        throw new TransientHttpError('429', 90_000, 'status')
      },
      { attempts: 10, baseDelayMs: 10, maxDelayMs: 100_000, budgetMs: 60_000 },
      (_e, d) => delays.push(d),
      clock
    ).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(RetriesExhaustedError)
    expect(delays).toEqual([])
    expect(clock.t).toBe(0)
  })

  it('other errors pass at once; success after retries returns', async () => {
    const clock = fakeClock(1)
    let n = 0
    await expect(
      withRetry(
        async () => {
          n++
          throw new Error('401')
        },
        { attempts: 5, baseDelayMs: 1, maxDelayMs: 1 },
        undefined,
        clock
      )
    ).rejects.toThrow('401')
    expect(n).toBe(1)
    n = 0
    const retried: number[] = []
    expect(
      await withRetry(
        async () => {
          if (++n < 3) throw new TransientHttpError('503', n === 1 ? 5 : null)
          return 'ok'
        },
        { attempts: 5, baseDelayMs: 1, maxDelayMs: 10 },
        (_e, _d, attempt) => retried.push(attempt),
        clock
      )
    ).toBe('ok')
    expect(retried).toEqual([1, 2])
  })

  it('an exhausted operation is not retried again by an operation around it', async () => {
    const clock = fakeClock(1)
    let inner = 0
    const e = await withRetry(
      () =>
        withRetry(
          async () => {
            inner++
            throw new TransientHttpError('503')
          },
          { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
          undefined,
          clock
        ),
      { attempts: 5, baseDelayMs: 1, maxDelayMs: 1 },
      undefined,
      clock
    ).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(RetriesExhaustedError)
    expect(inner).toBe(2)
  })
})

describe('the bounds: environment and inputs', () => {
  it('defaults 30 s per request and 120 s per operation; the variables change them', () => {
    expect(netLimits({})).toEqual({ requestTimeoutMs: 30_000, retryBudgetMs: 120_000 })
    expect(netLimits({ FAST_BUILD_REQUEST_TIMEOUT_S: '2.5', FAST_BUILD_RETRY_BUDGET_S: ' 600 ' })).toEqual({
      requestTimeoutMs: 2500,
      retryBudgetMs: 600_000
    })
    expect(netLimits({ FAST_BUILD_REQUEST_TIMEOUT_S: '' })).toMatchObject({ requestTimeoutMs: 30_000 })
  })

  it('a bad value names the variable', () => {
    for (const v of ['0', '-1', 'soon', '1e3', '100000']) {
      const e = (() => {
        try {
          netLimits({ FAST_BUILD_RETRY_BUDGET_S: v })
        } catch (x) {
          return x
        }
      })() as ConfigError
      expect(e).toBeInstanceOf(ConfigError)
      expect(e.message).toBe(`FAST_BUILD_RETRY_BUDGET_S: ${JSON.stringify(v)} is not a number of seconds`)
    }
  })

  it('the inputs request-timeout and retry-budget become those variables', () => {
    const get = (inputs: Record<string, string>) => (name: string) => inputs[name] ?? ''
    const none = parseInputs(get({}))
    expect(none.requestTimeout).toBeUndefined()
    expect(netEnvironment(none)).toEqual({})
    const given = parseInputs(get({ 'request-timeout': '10', 'retry-budget': '300' }))
    expect(given).toMatchObject({ requestTimeout: 10, retryBudget: 300 })
    expect(netEnvironment(given)).toEqual({
      FAST_BUILD_REQUEST_TIMEOUT_S: '10',
      FAST_BUILD_RETRY_BUDGET_S: '300'
    })
    expect(netLimits(netEnvironment(given))).toEqual({ requestTimeoutMs: 10_000, retryBudgetMs: 300_000 })
    const bad = (() => {
      try {
        parseInputs(get({ 'retry-budget': 'two minutes' }))
      } catch (x) {
        return x
      }
    })() as ConfigError
    expect(bad).toBeInstanceOf(ConfigError)
    expect(bad.describe()).toBe(
      'with.retry-budget: input retry-budget: "two minutes" is not a number of seconds\n' +
        '  fix: write a number of seconds greater than 0 (and at most 86400), e.g. 30'
    )
  })
})
