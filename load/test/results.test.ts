import { describe, expect, it } from 'vitest'
import { evaluateThresholds, percentile, type RequestRecord, summarise, timeline } from '../runner/results.js'
import { classify, restartPlan, steadyPlan } from '../shared/scenarios.js'

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

describe('evaluateThresholds', () => {
  it('passes a clean steady run and fails one with a single pool-limit error', () => {
    const clean = Array.from({ length: 2000 }, () => record({}))
    expect(evaluateThresholds(steadyPlan(60), clean).every((t) => t.passed)).toBe(true)
    const withTimeout = [...clean, record({ status: 503, errorCode: 'POOL_TIMEOUT', outcome: 'pool-limit' })]
    const failed = evaluateThresholds(steadyPlan(60), withTimeout).filter((t) => !t.passed)
    expect(failed.map((t) => t.threshold)).toEqual(['server_errors: count==0', 'pool_limit_errors: count==0'])
  })

  it('judges each restart phase on its own requests', () => {
    const records = [
      record({ phase: 'before' }),
      record({ phase: 'window', status: 503, errorCode: 'DATABASE_UNAVAILABLE', outcome: 'unavailable' }),
      record({ phase: 'after' }),
    ]
    // A restart is ridden through: a 503 in its window fails it; a database kept down may answer fast 503s.
    expect(
      evaluateThresholds(restartPlan(), records)
        .filter((t) => !t.passed)
        .map((t) => t.threshold),
    ).toEqual(['http_req_failed{phase:window}: rate==0'])
    expect(evaluateThresholds(restartPlan({ downSeconds: 5 }), records).every((t) => t.passed)).toBe(true)
    const broken = [
      ...records,
      record({ phase: 'window', status: 500, errorCode: 'INTERNAL_ERROR', outcome: 'unexpected' }),
    ]
    expect(
      evaluateThresholds(restartPlan({ downSeconds: 5 }), broken)
        .filter((t) => !t.passed)
        .map((t) => t.threshold),
    ).toEqual(['unexpected_responses{phase:window}: count==0'])
    const failedAfter = [...records, record({ phase: 'after', status: 0, outcome: 'unexpected' })]
    expect(evaluateThresholds(restartPlan(), failedAfter).find((t) => !t.passed)?.threshold).toBe(
      'http_req_failed{phase:after}: rate==0',
    )
  })

  it('measures latency percentiles by nearest rank', () => {
    const durations = Array.from({ length: 100 }, (_, i) => i + 1)
    expect(percentile(durations, 50)).toBe(50)
    expect(percentile(durations, 99)).toBe(99)
    const slow = durations.map((d) => record({ durationMs: d * 10 }))
    const p99 = evaluateThresholds(steadyPlan(60), slow).find(
      (t) => t.threshold === 'http_req_duration: p(99)<500',
    )
    expect(p99).toMatchObject({ actual: 990, passed: false })
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
