import { describe, expect, it } from '@jest/globals'
import { limit } from '../../src/util/limit.js'

const tick = () => new Promise((r) => setImmediate(r))

describe('limit', () => {
  it('runs at most n at once, in the order given, and passes results and errors through', async () => {
    const run = limit(2)
    let active = 0
    let most = 0
    const order: number[] = []
    const task = (i: number) => async () => {
      active++
      most = Math.max(most, active)
      order.push(i)
      await tick()
      await tick()
      active--
      if (i === 3) throw new Error('three')
      return i * 10
    }
    const results = await Promise.allSettled([0, 1, 2, 3, 4, 5].map((i) => run(task(i))))
    expect(most).toBe(2)
    expect(order).toEqual([0, 1, 2, 3, 4, 5])
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
      0,
      10,
      20,
      'three',
      40,
      50
    ])
  })
})
