import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { testApiToken } from '@classroom/test-kit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { outputOf } from '../runner/child-output.js'
import type { SummaryData } from '../runner/k6-runtime/summary.js'
import { type Stack, startStack } from '../runner/stack.js'

// The script a load engineer writes (load/examples/classroom-journey.js: a ramping scenario and an
// arrival-rate one, groups, a SharedArray, http.batch, tagged thresholds), run as they run it:
// `pnpm load run ./load/examples/…` from the repository root, against the built api on PostgreSQL.
const REPO = fileURLToPath(new URL('../..', import.meta.url))
let stack: Stack
let dir: string
let status: number | null
let stdout: string
let summary: SummaryData

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'own-script-'))
  stack = await startStack({
    databaseUrl: undefined,
    restartCommand: undefined,
    apiLogPath: path.join(dir, 'api.log'),
  })
  const child = spawn(
    'pnpm',
    [
      '--silent',
      'load',
      'run',
      './load/examples/classroom-journey.js',
      '-e',
      `BASE_URL=${stack.apiUrl}`,
      '-e',
      `SUMMARY_JSON=${dir}/journey.json`,
      '-e',
      `API_TOKEN=${testApiToken()}`,
    ],
    { cwd: REPO },
  )
  const output = await outputOf(child)
  status = output.status
  stdout = output.stdout
  summary = JSON.parse(await readFile(path.join(dir, 'journey.json'), 'utf8')) as SummaryData
}, 120_000)

afterAll(async () => {
  await stack?.stop()
  await rm(dir, { recursive: true, force: true })
})

describe('pnpm load run ./load/examples/classroom-journey.js', () => {
  it('runs both scenarios from the repository root and passes its thresholds (exit 0)', () => {
    expect(status, stdout).toBe(0)
    const enroll = summary.metrics['http_req_duration{scenario:enroll}']!
    expect(enroll.thresholds).toEqual({ 'p(99)<2000': { ok: true }, 'max<5000': { ok: true } })
    // 10 per second for 3 s, less what was dropped.
    const dropped = summary.metrics.dropped_iterations?.values.count ?? 0
    expect(
      summary.metrics['http_req_failed{scenario:enroll}']!.values.passes! +
        summary.metrics['http_req_failed{scenario:enroll}']!.values.fails! +
        dropped,
    ).toBe(30)
  })

  it('its summary agrees with its thresholds: each verdict is the expression applied to the value shown', () => {
    const ops: Record<string, (a: number, b: number) => boolean> = {
      '<': (a, b) => a < b,
      '==': (a, b) => a === b,
    }
    let judged = 0
    for (const [key, metric] of Object.entries(summary.metrics))
      for (const [expression, { ok }] of Object.entries(metric.thresholds ?? {})) {
        const [, stat, op, value] = /^(\w+(?:\([\d.]+\))?)(<|==)(\d+(?:\.\d+)?)$/.exec(expression)!
        expect(ops[op!]!(metric.values[stat!]!, Number(value)), `${key}: ${expression}`).toBe(ok)
        judged++
      }
    expect(judged).toBe(6)
    // k6's text summary shows the same values beside the same verdicts.
    const p99 = summary.metrics['http_req_duration{scenario:enroll}']!.values['p(99)']!
    expect(stdout).toContain(
      `✓ 'p(99)<2000' p(99)=${p99 >= 1000 ? `${(p99 / 1000).toFixed(2)}s` : `${p99.toFixed(2)}ms`}`,
    )
  })

  it("nests its groups' checks and counts its batches under the group tag", () => {
    const browse = summary.root_group.groups.find((g) => g.name === 'browse')!
    expect(browse.checks.map((c) => c.name)).toEqual(['the classroom', 'the student'])
    expect(browse.groups[0]).toMatchObject({ name: 'list', checks: [expect.objectContaining({ fails: 0 })] })
    expect(summary.metrics['checks{group:::browse}']!.values.rate).toBe(1)
  })
})
