import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { scriptEnv, scriptOf } from '../runner/k6-engine.js'
import { runScript } from '../runner/k6-runtime/run-script.js'
import type { SummaryData } from '../runner/k6-runtime/summary.js'
import { type Stack, startStack } from '../runner/stack.js'
import { restartPlan, type SeedData, steadyPlan } from '../shared/scenarios.js'

// The load scripts themselves, a few seconds with 2 VUs against the built api on an embedded
// PostgreSQL: setup(), the default function, checks, custom metrics, thresholds and handleSummary.
let stack: Stack
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'k6-scripts-'))
  stack = await startStack({
    databaseUrl: undefined,
    restartCommand: undefined,
    apiLogPath: path.join(dir, 'api.log'),
  })
})

afterAll(async () => {
  await stack?.stop()
  await rm(dir, { recursive: true, force: true })
})

/** The seed's rows and the VUs' enrollments, as the database holds them. */
async function written(seed: SeedData): Promise<{ students: number; enrollments: number }> {
  const client = new pg.Client({ connectionString: stack.databaseUrl })
  await client.connect()
  try {
    const students = await client.query<{ n: string }>(
      'select count(*) as n from students where email like $1',
      [`load.${seed.runId}.%`],
    )
    const enrollments = await client.query<{ n: string }>(
      'select count(*) as n from enrollments where classroom_id = any($1::int[])',
      [seed.classroomIds],
    )
    return { students: Number(students.rows[0]!.n), enrollments: Number(enrollments.rows[0]!.n) }
  } finally {
    await client.end()
  }
}

describe('scriptEnv', () => {
  it('tells the steady script to skip its warm-up when the plan has none, and says nothing when it has one', () => {
    const env = (warmupSeconds: number) =>
      scriptEnv(steadyPlan(5, 50, warmupSeconds), {
        baseUrl: 'http://127.0.0.1:1',
        summaryPath: 's.json',
        downSeconds: 0,
      })
    expect(env(0).WARMUP).toBe('0')
    expect(env(3).WARMUP).not.toBe('0')
  })
})

describe('the k6 scripts on the built-in engine', () => {
  it.each([
    [
      'steady',
      steadyPlan(3, 2, 1),
      ['warmup', 'steady'],
      ['server_errors{phase:steady}', 'pool_limit_errors{phase:steady}'],
      2,
    ],
    [
      'restart drill',
      restartPlan({ users: 2, beforeSeconds: 1, windowSeconds: 2, afterSeconds: 1 }),
      ['before', 'window', 'after'],
      ['unexpected_responses{phase:window}'],
      2,
    ],
  ] as const)(
    '%s: 2 VUs reach the api, checks are counted, custom metrics and thresholds reach handleSummary, which writes its file',
    async (_name, plan, phases, customMetrics, vus) => {
      const summaryPath = path.join(dir, `${plan.name}-summary.json`)
      const phasesSeen = new Set<string>()
      const run = await runScript({
        script: scriptOf(plan),
        env: { ...scriptEnv(plan, { baseUrl: stack.apiUrl, summaryPath, downSeconds: 0 }), VUS: '2' },
        onExchange: ({ call }) => {
          if (call.tags.phase) phasesSeen.add(call.tags.phase)
        },
        stdout: () => undefined,
      })
      expect(run.exitCode).toBe(0)
      expect([...phasesSeen]).toEqual(phases)

      const seed = run.setupData as SeedData
      const rows = await written(seed)
      expect(rows.students).toBe(300)
      expect(rows.enrollments).toBeGreaterThan(0)

      const summary = JSON.parse(await readFile(summaryPath, 'utf8')) as SummaryData
      const requests = summary.metrics.http_reqs!.values.count!
      const [check] = summary.root_group.checks
      expect(check).toMatchObject({ name: 'answered as expected', fails: 0 })
      // One check per load request; setup's seed requests (320) are not checked.
      expect(check!.passes).toBe(requests - 320)
      expect(summary.metrics.checks!.values).toMatchObject({ rate: 1, passes: check!.passes })
      expect(summary.metrics.iterations!.values.count).toBe(check!.passes)
      expect(summary.metrics.vus_max!.values.value).toBe(vus)
      // The scripts' own counters (none counted here), with the thresholds they carry judged.
      for (const key of customMetrics)
        expect(summary.metrics[key]).toEqual({
          type: 'counter',
          contains: 'default',
          values: { count: 0, rate: 0 },
          thresholds: { 'count==0': { ok: true } },
        })
      expect(run.thresholds.map((t) => t.ok)).toEqual(plan.thresholds.map(() => true))
      expect(summary.state.testRunDurationMs).toBeGreaterThanOrEqual(
        Math.max(...plan.phases.map((p) => p.startSeconds + p.durationSeconds)) * 1000,
      )
    },
  )
})
