import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { inspectScript } from '../runner/k6-runtime/run-script.js'
import { FAULT_OFFSET_SECONDS, phaseAt, REQUEST_MIX, restartPlan, USERS } from '../shared/scenarios.js'

// The scripts' init code, run in a VU of the built-in engine as k6 runs it: what options it exports.
const script = (name: string) => fileURLToPath(new URL(`../k6/${name}`, import.meta.url))

describe('k6 scripts: exported options', () => {
  it('steady: 50 constant VUs for the duration, with every steady threshold', async () => {
    const { options, metrics } = await inspectScript(script('steady.ts'), {})
    expect(metrics.map((m) => m.name)).toEqual(['pool_limit_errors', 'unexpected_responses', 'server_errors'])
    expect(options.scenarios).toEqual({
      steady: { executor: 'constant-vus', vus: 50, duration: '60s', gracefulStop: '5s' },
    })
    expect(options.thresholds).toEqual({
      server_errors: ['count==0'],
      pool_limit_errors: ['count==0'],
      http_req_failed: ['rate<0.001'],
      http_req_duration: ['p(95)<250', 'p(99)<500'],
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
