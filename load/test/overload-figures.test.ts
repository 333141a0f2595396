import { describe, expect, it } from 'vitest'
import type { ApiSample } from '../runner/metrics-sampler.js'
import { OVERLOAD_TARGETS, overloadFigures, overloadVerdicts } from '../runner/overload-figures.js'
import type { RequestRecord } from '../runner/results.js'
import { arrivalRates, overloadPlan, overloadScenario, parseOverloadStages } from '../shared/overload.js'
import { record as answered } from './request-record.js'

const record = (over: Partial<RequestRecord>) => answered({ phase: 'before', ...over })

// Capacity 10/s; before 0.5x (5/s) for 2 s, 2x (20/s) for 2 s, after 0.5x for 2 s.
const plan = overloadPlan({
  capacity: 10,
  beforeSeconds: 2,
  overload: [{ multiple: 2, seconds: 2 }],
  afterSeconds: 2,
  deadlineMs: 1000,
})

describe('overloadPlan', () => {
  it('names the phases before, each multiple, after, with their rates, one arrival-rate scenario stepping between them', () => {
    expect(plan.phases.map((p) => [p.name, p.startSeconds, p.durationSeconds])).toEqual([
      ['before', 0, 2],
      ['2x', 2, 2],
      ['after', 4, 2],
    ])
    expect(arrivalRates(plan.arrival!)).toEqual([5, 20, 5])
    expect(overloadScenario(plan)).toMatchObject({
      executor: 'ramping-arrival-rate',
      startRate: 5,
      stages: [
        { duration: '2s', target: 5 },
        { duration: '0s', target: 20 },
        { duration: '2s', target: 20 },
        { duration: '0s', target: 5 },
        { duration: '2s', target: 5 },
      ],
      maxVUs: 100,
    })
  })

  it('refuses a capacity that is not a positive rate', () => {
    expect(() => overloadPlan({ capacity: 0 })).toThrow(
      'the overload drill needs a capacity > 0 requests/s, not 0',
    )
    expect(() => overloadPlan({ capacity: Number.NaN })).toThrow('needs a capacity > 0')
  })
})

describe('parseOverloadStages', () => {
  it('reads multiples and seconds', () => {
    expect(parseOverloadStages('1.2x10, 2x20,5x10')).toEqual([
      { multiple: 1.2, seconds: 10 },
      { multiple: 2, seconds: 20 },
      { multiple: 5, seconds: 10 },
    ])
  })

  it.each([
    ['2x', 'overload stage "2x" is MULTIPLExSECONDS'],
    ['2x0', 'overload stage "2x0" is MULTIPLExSECONDS'],
    ['0x10', 'overload stage "0x10" is MULTIPLExSECONDS'],
    ['double', 'overload stage "double" is MULTIPLExSECONDS'],
    ['2x10,2x5', 'overload stage 2x is given twice'],
  ])('refuses %j', (text, message) => {
    expect(() => parseOverloadStages(text)).toThrow(message)
  })
})

describe('overloadFigures and overloadVerdicts', () => {
  const served = (phase: RequestRecord['phase'], at: number, n: number, durationMs = 20) =>
    Array.from({ length: n }, (_, i) => record({ phase, at: at + i, durationMs }))
  const refused = (phase: RequestRecord['phase'], at: number, n: number, durationMs: number) =>
    Array.from({ length: n }, (_, i) =>
      record({
        phase,
        at: at + i,
        status: 503,
        errorCode: 'POOL_OVERLOADED',
        outcome: 'overloaded',
        durationMs,
      }),
    )

  it('counts goodput against capacity, drops against the plan, refusals by code and their median wait', () => {
    const records = [
      ...served('before', 0, 10),
      // 2x: 19 good in 2 s (0.95 of capacity), 18 refused fast, 2 late, 1 answered past the deadline.
      ...served('2x', 2000, 19),
      ...refused('2x', 2100, 18, 4),
      record({ phase: '2x', at: 2200, status: 0, outcome: 'late', durationMs: 1000 }),
      record({ phase: '2x', at: 2300, status: 0, outcome: 'late', durationMs: 1000 }),
      record({ phase: '2x', at: 2400, durationMs: 1200 }),
      ...served('after', 4000, 10),
    ]
    const figures = overloadFigures(records, plan.phases, plan.arrival!, [])
    const [before, overloaded, after] = figures.phases
    expect(before).toMatchObject({ arrivals: 10, dropped: 0, good: 10, goodputRatio: 0.5, late: 0 })
    expect(overloaded).toMatchObject({
      phase: '2x',
      multiple: 2,
      offeredPerSecond: 20,
      arrivals: 40,
      dropped: 0,
      good: 19,
      goodputRatio: 0.95,
      refusedByCode: { POOL_OVERLOADED: 18 },
      late: 3,
      unexpected: 0,
      refusalMedianMs: 4,
    })
    expect(overloaded!.answerMs).toEqual({ p50: 20, p99: 20 })
    expect(after).toMatchObject({ good: 10 })
    expect(figures.recoveryMs).toBe(0)
    expect(figures.goodputTimeline[2]).toEqual({ second: 2, good: 19, refused: 18, late: 3 })
    // Every target met: the share, the answers' p99, the refusals' median, the recovery.
    expect(overloadVerdicts(figures, OVERLOAD_TARGETS).filter((v) => !v.passed)).toEqual([])
  })

  it('fails the verdicts a collapse misses: goodput, p99, time to refusal, recovery, and a before phase with a caller unserved', () => {
    const records = [
      ...served('before', 0, 9),
      record({ phase: 'before', at: 900, status: 0, outcome: 'late', durationMs: 1000 }),
      ...served('2x', 2000, 2, 990),
      ...refused('2x', 2100, 30, 1000).map((r) => ({
        ...r,
        errorCode: 'POOL_TIMEOUT',
        outcome: 'pool-limit' as const,
      })),
      // After the load fell: a caller still unserved 1.5 s later.
      ...served('after', 4000, 5),
      record({ phase: 'after', at: 5500, status: 0, outcome: 'late', durationMs: 1000 }),
    ]
    const figures = overloadFigures(records, plan.phases, plan.arrival!, [])
    expect(figures.recoveryMs).toBe(1500)
    const failed = overloadVerdicts(figures, OVERLOAD_TARGETS)
      .filter((v) => !v.passed)
      .map((v) => v.threshold)
    expect(failed).toEqual([
      'answered{phase:before}: rate==1',
      // 32 of the 2x phase's 40 arrivals were sent, 6 of the after phase's 10.
      'arrivals{phase:2x}: dropped share<=0.01',
      'goodput{phase:2x}: capacity share>=0.9',
      'answers{phase:2x}: p(99)<=100',
      'time_to_refusal{phase:2x}: p(50)<=100',
      'arrivals{phase:after}: dropped share<=0.01',
      'recovery{phase:after}: ms<=1000',
    ])
    // The same figures pass targets that ask less.
    const lenient = { minGoodput: 0.1, maxP99Ms: 1000, maxRefusalMs: 1000, maxRecoveryMs: 2000 }
    expect(
      overloadVerdicts(figures, lenient)
        .filter((v) => !v.passed)
        .map((v) => v.threshold),
    ).toEqual([
      'answered{phase:before}: rate==1',
      'arrivals{phase:2x}: dropped share<=0.01',
      'arrivals{phase:after}: dropped share<=0.01',
    ])
  })

  it("reads the queue delay from the pool's queue-delay histogram, or else from the checkout wait", () => {
    const sample = (at: number, count: number, own: boolean): ApiSample =>
      ({
        at,
        acquireBuckets: [
          [0.01, count],
          [Number.POSITIVE_INFINITY, count],
        ],
        queueDelayBuckets: own
          ? [
              [0.1, count],
              [Number.POSITIVE_INFINITY, count],
            ]
          : [],
      }) as unknown as ApiSample
    const older = overloadFigures([], plan.phases, plan.arrival!, [
      sample(0, 0, false),
      sample(1000, 10, false),
    ])
    expect(older.queueDelay.source).toBe('db_pool_acquire_seconds')
    expect(older.queueDelay.points).toEqual([{ at: 1000, p50Ms: 5, p99Ms: 9.9 }])
    const newer = overloadFigures([], plan.phases, plan.arrival!, [
      sample(0, 0, true),
      sample(1000, 10, true),
    ])
    expect(newer.queueDelay.source).toBe('db_client_connection_queue_delay_seconds')
    expect(newer.queueDelay.points[0]!.p50Ms).toBeCloseTo(50)
  })
})
