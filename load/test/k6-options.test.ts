import { describe, expect, it } from 'vitest'
import { FAULT_OFFSET_SECONDS, REQUEST_MIX, USERS } from '../shared/scenarios.js'

describe('k6 scripts: exported options', () => {
  it('steady: 50 constant VUs for the duration, with every steady threshold', async () => {
    const { options } = await import('../k6/steady.ts')
    expect(options.scenarios).toEqual({
      steady: {
        executor: 'constant-vus',
        vus: 50,
        duration: '60s',
        startTime: '0s',
        gracefulStop: '5s',
        tags: { phase: 'steady' },
      },
    })
    expect(options.thresholds).toEqual({
      server_errors: ['count==0'],
      pool_limit_errors: ['count==0'],
      http_req_failed: ['rate<0.001'],
      http_req_duration: ['p(95)<250', 'p(99)<500'],
    })
  })

  it('restart drill: three 50-VU phases back to back, tagged, with per-phase thresholds', async () => {
    const { options, plan } = await import('../k6/restart-drill.ts')
    const scenarios = options.scenarios as Record<
      string,
      { vus: number; duration: string; startTime: string; tags: object }
    >
    expect(Object.keys(scenarios)).toEqual(['before', 'window', 'after'])
    expect(Object.values(scenarios).map((s) => [s.vus, s.startTime, s.duration])).toEqual([
      [50, '0s', '20s'],
      [50, '20s', '20s'],
      [50, '40s', '20s'],
    ])
    expect(scenarios.window?.tags).toEqual({ phase: 'window' })
    expect(options.thresholds).toEqual({
      'http_req_failed{phase:before}': ['rate==0'],
      'http_req_failed{phase:after}': ['rate==0'],
      'http_req_failed{phase:window}': ['rate==0'],
      'unexpected_responses{phase:window}': ['count==0'],
      'http_req_duration{phase:window}': ['p(99)<2000', 'max<10000'],
    })
    expect(plan.faultAtSeconds).toBe(20 + FAULT_OFFSET_SECONDS)
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
