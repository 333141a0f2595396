import { describe, expect, it } from 'vitest'
import { percentile, summarise, timeline } from '../runner/results.js'
import { classify, RETRY_AFTER_CAP_SECONDS, retryAfterSeconds } from '../shared/scenarios.js'
import { record } from './request-record.js'

describe('classify', () => {
  it.each([
    ['getClassroom', 200, undefined, 'ok'],
    ['enroll', 409, 'CLASSROOM_FULL', 'ok'],
    ['enroll', 503, 'POOL_TIMEOUT', 'pool-limit'],
    ['getStudent', 503, 'DATABASE_UNAVAILABLE', 'unavailable'],
    ['getStudent', 500, 'INTERNAL_ERROR', 'unexpected'],
    // A drop that finds nothing is answered rightly (the ledger counts the loss behind it); a read's 404 is not.
    ['unenroll', 404, 'ENROLLMENT_NOT_FOUND', 'ok'],
    ['getClassroom', 404, 'CLASSROOM_NOT_FOUND', 'unexpected'],
    ['enroll', 404, 'STUDENT_NOT_FOUND', 'unexpected'],
    ['unenroll', 0, undefined, 'unexpected'],
    ['getClassroom', 503, 'POOL_OVERLOADED', 'overloaded'],
  ] as const)('%s %i %s -> %s', (name, status, code, outcome) => {
    expect(classify(name, status, code)).toBe(outcome)
  })

  it('calls a status 0 late only when the caller gave up at its own deadline, else a hang', () => {
    expect(classify('getClassroom', 0, undefined, true)).toBe('late')
    expect(classify('getClassroom', 0, undefined, false)).toBe('unexpected')
    // An answer is an answer, deadline or not.
    expect(classify('getClassroom', 200, undefined, true)).toBe('ok')
  })
})

describe('percentile', () => {
  it("measures latency percentiles with k6's estimator, interpolating between ranks, as the thresholds do", () => {
    const durations = Array.from({ length: 100 }, (_, i) => i + 1)
    expect(percentile(durations, 50)).toBe(50.5)
    expect(percentile(durations, 99)).toBeCloseTo(99.01, 10)
    expect(percentile([], 99)).toBe(0)
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

describe('retryAfterSeconds', () => {
  const now = Date.parse('2026-12-07T12:00:00Z')
  it.each([
    ['2', 2],
    [' 0 ', 0],
    ['Mon, 07 Dec 2026 12:00:03 GMT', 3],
    // A date already past asks for no wait; a far one is capped.
    ['Mon, 07 Dec 2026 11:00:00 GMT', 0],
    ['3600', RETRY_AFTER_CAP_SECONDS],
  ] as const)('%j -> %d s', (header, seconds) => {
    expect(retryAfterSeconds(header, now)).toBe(seconds)
  })

  it('tells nothing for an absent header or one of neither form', () => {
    expect(retryAfterSeconds(undefined, now)).toBeUndefined()
    expect(retryAfterSeconds('soon', now)).toBeUndefined()
    expect(retryAfterSeconds('-1', now)).toBeUndefined()
  })
})
