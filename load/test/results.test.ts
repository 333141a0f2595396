import { describe, expect, it } from 'vitest'
import { percentile, type RequestRecord, summarise, timeline } from '../runner/results.js'
import { classify } from '../shared/scenarios.js'

const record = (over: Partial<RequestRecord>): RequestRecord => ({
  at: 0,
  phase: 'steady',
  name: 'getClassroom',
  status: 200,
  errorCode: undefined,
  outcome: 'ok',
  durationMs: 5,
  ...over,
})

describe('classify', () => {
  it.each([
    [200, undefined, 'ok'],
    [409, 'CLASSROOM_FULL', 'ok'],
    [503, 'POOL_TIMEOUT', 'pool-limit'],
    [503, 'DATABASE_UNAVAILABLE', 'unavailable'],
    [500, 'INTERNAL_ERROR', 'unexpected'],
    [404, 'ENROLLMENT_NOT_FOUND', 'unexpected'],
    [0, undefined, 'unexpected'],
  ] as const)('%i %s -> %s', (status, code, outcome) => {
    expect(classify(status, code)).toBe(outcome)
  })
})

describe('percentile', () => {
  it('measures latency percentiles by nearest rank', () => {
    const durations = Array.from({ length: 100 }, (_, i) => i + 1)
    expect(percentile(durations, 50)).toBe(50)
    expect(percentile(durations, 99)).toBe(99)
  })
})

describe('summaries', () => {
  it('counts failures by code and buckets the timeline by second', () => {
    const records = [
      record({ at: 100 }),
      record({ at: 1200, status: 503, errorCode: 'DATABASE_UNAVAILABLE', outcome: 'unavailable' }),
      record({ at: 1300, status: 0, outcome: 'unexpected' }),
    ]
    const summary = summarise(records, 'all', 2)
    expect(summary).toMatchObject({
      requests: 3,
      requestsPerSecond: 1.5,
      failed: 2,
      serverErrors: 2,
      unexpected: 1,
    })
    expect(summary.failedByCode).toEqual({ DATABASE_UNAVAILABLE: 1, NETWORK_ERROR: 1 })
    expect(timeline(records, 2).map((p) => [p.requests, p.errorsByCode])).toEqual([
      [1, {}],
      [2, { DATABASE_UNAVAILABLE: 1, NETWORK_ERROR: 1 }],
    ])
  })
})
