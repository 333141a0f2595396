import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { K6ScriptError } from '../runner/k6-runtime/errors.js'
import { readOptions } from '../runner/k6-runtime/options.js'
import { inspectScript } from '../runner/k6-runtime/run-script.js'
import { iterationStartMs, vuSteps } from '../runner/k6-runtime/schedules.js'
import { FAULT_OFFSET_SECONDS, phaseAt, REQUEST_MIX, restartPlan, USERS } from '../shared/scenarios.js'

// The scripts' init code, run in a VU of the built-in engine as k6 runs it: what options it exports.
const script = (name: string) => fileURLToPath(new URL(`../k6/${name}`, import.meta.url))

describe('k6 scripts: exported options', () => {
  it('steady: a warm-up stage ramping 1 → 50 VUs, then 50 VUs for the duration, judged on the steady phase only', async () => {
    const { options, metrics } = await inspectScript(script('steady.ts'), {})
    expect(metrics.map((m) => m.name)).toEqual([
      'pool_limit_errors',
      'overload_refusals',
      'unexpected_responses',
      'server_errors',
    ])
    expect(options.scenarios).toEqual({
      steady: {
        executor: 'ramping-vus',
        startVUs: 1,
        stages: [
          { duration: '5s', target: 50 },
          { duration: '60s', target: 50 },
        ],
        gracefulRampDown: '5s',
        gracefulStop: '5s',
      },
    })
    expect(options.thresholds).toEqual({
      'server_errors{phase:steady}': ['count==0'],
      'pool_limit_errors{phase:steady}': ['count==0'],
      'http_req_failed{phase:steady}': ['rate<0.001'],
      'http_req_duration{phase:steady}': ['p(95)<250', 'p(99)<500'],
    })
    // WARMUP=0: no warm-up stage, 50 constant VUs from the first second.
    const cold = await inspectScript(script('steady.ts'), { WARMUP: '0', DURATION: '5' })
    expect(cold.options.scenarios).toEqual({
      steady: { executor: 'constant-vus', vus: 50, duration: '5s', gracefulStop: '5s' },
    })
  })

  it('restart drill: the same 50 VUs through the three phases, with per-phase thresholds', async () => {
    const { options } = await inspectScript(script('restart-drill.ts'), {})
    expect(options.scenarios).toEqual({
      restart: { executor: 'constant-vus', vus: 50, duration: '60s', gracefulStop: '5s' },
    })
    expect(options.thresholds).toEqual({
      'http_req_failed{phase:before}': ['rate==0'],
      'http_req_failed{phase:after}': ['rate==0'],
      'http_req_failed{phase:window}': ['rate==0'],
      'unexpected_responses{phase:window}': ['count==0'],
      'http_req_duration{phase:window}': ['p(99)<2000', 'max<10000'],
    })
    expect(restartPlan().faultAtSeconds).toBe(20 + FAULT_OFFSET_SECONDS)
  })

  it('reads __ENV as `-e` gives it: phase lengths, and fewer VUs for a smoke run', async () => {
    const { options } = await inspectScript(script('failover-drill.ts'), {
      BEFORE: '3',
      WINDOW: '4',
      VUS: '2',
    })
    expect(options.scenarios).toEqual({
      failover: { executor: 'constant-vus', vus: 2, duration: '27s', gracefulStop: '5s' },
    })
  })

  it('replicas drill: zero failures in every phase, and stale_reads judged only with READ_YOUR_WRITES on', async () => {
    const on = await inspectScript(script('replicas-drill.ts'), { BEFORE: '3', WINDOW: '4', AFTER: '2' })
    expect(on.metrics.map((m) => m.name)).toContain('stale_reads')
    expect(on.options.thresholds).toEqual({
      'http_req_failed{phase:before}': ['rate==0'],
      'http_req_failed{phase:after}': ['rate==0'],
      'http_req_failed{phase:window}': ['rate==0'],
      'unexpected_responses{phase:window}': ['count==0'],
      'http_req_duration{phase:window}': ['p(99)<2000', 'max<10000'],
      stale_reads: ['count==0'],
    })
    const off = await inspectScript(script('replicas-drill.ts'), { READ_YOUR_WRITES: 'off' })
    expect(off.options.thresholds).not.toHaveProperty('stale_reads')
    expect(off.options.scenarios).toEqual({
      replicas: { executor: 'constant-vus', vus: USERS, duration: '60s', gracefulStop: '5s' },
    })
  })

  it('tags each moment of a drill with its phase; past the end, the last', () => {
    const plan = restartPlan({ beforeSeconds: 5, windowSeconds: 8, afterSeconds: 7 })
    expect([0, 4999, 5000, 12_999, 13_000, 19_999, 25_000].map((ms) => phaseAt(plan, ms))).toEqual([
      'before',
      'before',
      'window',
      'window',
      'after',
      'after',
      'after',
    ])
  })

  it('the mix covers reads, listing, enrollments and drops, weighted to 100', () => {
    expect(USERS).toBe(50)
    expect(REQUEST_MIX.reduce((sum, r) => sum + r.weight, 0)).toBe(100)
    expect(REQUEST_MIX.map((r) => r.name).sort()).toEqual([
      'createStudent',
      'enroll',
      'getClassroom',
      'getStudent',
      'getStudentClassrooms',
      'listClassrooms',
      'unenroll',
    ])
  })
})

describe('readOptions: the executors as k6 documents them', () => {
  it("fills k6's defaults: ramping-vus from 1 VU with a 30 s gracefulRampDown; maxVUs = preAllocatedVUs", () => {
    const [ramp, open] = readOptions({
      scenarios: {
        ramp: { executor: 'ramping-vus', stages: [{ duration: '10s', target: 5 }] },
        open: {
          executor: 'constant-arrival-rate',
          rate: 30,
          timeUnit: '1m',
          duration: '1m',
          preAllocatedVUs: 3,
        },
      },
    }).scenarios
    expect(ramp).toMatchObject({ startVUs: 1, maxVUs: 5, gracefulRampDownMs: 30_000, maxDurationMs: 10_000 })
    // 30 per minute, as a rate per millisecond.
    expect(open).toMatchObject({
      preAllocatedVUs: 3,
      maxVUs: 3,
      startRate: 30 / 60_000,
      maxDurationMs: 60_000,
    })
  })

  it('reads the stages shorthand as one ramping-vus scenario starting at options.vus', () => {
    const [scenario] = readOptions({ vus: 2, stages: [{ duration: '5s', target: 8 }] }).scenarios
    expect(scenario).toMatchObject({ name: 'default', executor: 'ramping-vus', startVUs: 2, maxVUs: 8 })
  })

  it.each([
    [
      { scenarios: { a: { executor: 'externally-controlled' } } },
      'uses the "externally-controlled" executor, which does not run here',
    ],
    [
      { scenarios: { a: { executor: 'constant-vus', duration: '1s', rate: 5 } } },
      'constant-vus takes no option "rate"',
    ],
    [
      { scenarios: { a: { executor: 'constant-arrival-rate', rate: 5, duration: '1s' } } },
      'preAllocatedVUs is required',
    ],
    [
      { scenarios: { a: { executor: 'ramping-arrival-rate', preAllocatedVUs: 1, stages: [] } } },
      'stages is a non-empty array',
    ],
    [
      { scenarios: { a: { executor: 'ramping-vus', stages: [{ duration: '1s', target: -1 }] } } },
      'stages[0].target is a whole number ≥ 0',
    ],
    [
      {
        scenarios: {
          a: { executor: 'constant-arrival-rate', rate: 5, duration: '1s', preAllocatedVUs: 4, maxVUs: 2 },
        },
      },
      'maxVUs is a whole number ≥ 4',
    ],
    [
      { scenarios: { a: { executor: 'shared-iterations', vus: 5, iterations: 2 } } },
      '2 shared iterations cannot keep 5 VUs busy',
    ],
    [{ noConnectionReuse: true }, 'options.noConnectionReuse does not run here'],
    [
      { scenarios: { a: { executor: 'constant-vus', duration: '1s', env: { A: '1' } } } },
      "a scenario's env does not run here; use -e",
    ],
    [
      { scenarios: { a: { executor: 'constant-arrival-rate', duration: '1s', preAllocatedVUs: 1 } } },
      'scenario "a": rate is required',
    ],
  ])('refuses %j at load time: %s', (raw, message) => {
    expect(() => readOptions(raw)).toThrow(K6ScriptError)
    expect(() => readOptions(raw)).toThrow(message)
  })
})

describe("the executors' timetables", () => {
  it('ramping-vus: a VU joins when the line reaches its number, leaves when the line falls below it', () => {
    expect(
      vuSteps(0, [
        { durationMs: 1000, target: 2 },
        { durationMs: 0, target: 1 },
      ]),
    ).toEqual([
      { atMs: 0, count: 0 },
      { atMs: 500, count: 1 },
      { atMs: 1000, count: 2 },
      { atMs: 1000, count: 1 },
    ])
  })

  it("arrival rates: iteration i starts when the rate's integral reaches i", () => {
    const perMs = 1 / 1000
    // 10/s constant: 0, 100, … 900 ms, then none.
    const constant = [{ durationMs: 1000, target: 10 * perMs }]
    expect([0, 1, 9, 10].map((i) => iterationStartMs(10 * perMs, constant, i))).toEqual([
      0,
      100,
      900,
      Number.POSITIVE_INFINITY,
    ])
    // 0 → 20/s over 1 s: 10 iterations, the i-th at sqrt(i / 10) s.
    const ramp = [{ durationMs: 1000, target: 20 * perMs }]
    expect(iterationStartMs(0, ramp, 5)).toBeCloseTo(Math.sqrt(0.5) * 1000, 6)
    expect(iterationStartMs(0, ramp, 10)).toBe(Number.POSITIVE_INFINITY)
  })
})
