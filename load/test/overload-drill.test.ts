import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runLoad } from '../runner/run-load.js'
import type { RunSummary } from '../runner/run-summary.js'

// A short overload drill end to end: the embedded PostgreSQL behind the latency proxy, the api on a
// pool of 2, the capacity probed, then callers arriving at 0.5x, 2x, 5x and 0.5x. What is checked
// is the summary's shape and the ledger; goodput and latency are the drill's verdicts, reported
// (they depend on the api's overload policy and on the machine), never asserted here.
const CLI = fileURLToPath(new URL('../dist/runner/cli.js', import.meta.url))
let resultsDir: string

beforeAll(async () => {
  resultsDir = await mkdtemp(path.join(tmpdir(), 'load-overload-'))
})

afterAll(async () => {
  await rm(resultsDir, { recursive: true, force: true })
})

describe('the overload drill', () => {
  it('probes the capacity, offers its multiples phase by phase, judges each, loses no acknowledged write, and draws goodput and queue delay', async () => {
    const { summary, runDir, exitCode, passed } = await runLoad({
      scenario: 'overload',
      engine: 'node',
      durationSeconds: 0,
      phases: { before: 2, window: 0, after: 2 },
      mode: 'fast',
      downSeconds: 0,
      overload: {
        probeSeconds: 2,
        latencyMs: 20,
        stages: [
          { multiple: 2, seconds: 3 },
          { multiple: 5, seconds: 2 },
        ],
        maxVus: 60,
      },
      resultsDir,
      databaseUrl: undefined,
      restartCommand: undefined,
    })
    const o = summary!.overload!
    expect(o).toMatchObject({
      capacitySource: 'probe',
      probe: { users: 8, seconds: 2 },
      deadlineMs: 1000,
      latencyMs: 20,
      maxVus: 60,
      pool: { DB_POOL_SIZE: '2', DB_POOL_MAX_OVERFLOW: '0', API_REQUEST_TIMEOUT_MS: '1000' },
    })
    expect(o.capacity).toBe(o.probe!.served / 2)
    expect(o.capacity).toBeGreaterThan(0)
    expect(o.phases.map((p) => [p.phase, p.multiple])).toEqual([
      ['before', 0.5],
      ['2x', 2],
      ['5x', 5],
      ['after', 0.5],
    ])
    for (const p of o.phases) {
      expect(p.offeredPerSecond).toBe(Math.max(1, Math.round(p.multiple * o.capacity)))
      expect(p.arrivals).toBeGreaterThan(0)
      // Every arrival is accounted for: good, refused, late or unexpected.
      const refused = Object.values(p.refusedByCode).reduce((sum, n) => sum + n, 0)
      expect(p.good + refused + p.late + p.unexpected).toBe(p.arrivals)
    }
    expect(o.goodputTimeline).toHaveLength(9)
    expect(o.recoveryMs).not.toBeNull()
    expect(['db_client_connection_queue_delay_seconds', 'db_pool_acquire_seconds']).toContain(
      o.queueDelay.source,
    )
    expect(o.queueDelay.points.length).toBeGreaterThan(0)
    // The drill's verdicts stand beside the script's threshold, one set per overload phase.
    expect(summary!.thresholds.map((t) => t.threshold)).toEqual([
      'unexpected_responses: count==0',
      'arrivals{phase:before}: dropped share<=0.01',
      'answered{phase:before}: rate==1',
      'arrivals{phase:2x}: dropped share<=0.01',
      'goodput{phase:2x}: capacity share>=0.9',
      'answers{phase:2x}: p(99)<=100',
      'time_to_refusal{phase:2x}: p(50)<=100',
      'arrivals{phase:5x}: dropped share<=0.01',
      'goodput{phase:5x}: capacity share>=0.9',
      'answers{phase:5x}: p(99)<=100',
      'time_to_refusal{phase:5x}: p(50)<=100',
      'arrivals{phase:after}: dropped share<=0.01',
      'recovery{phase:after}: ms<=1000',
    ])
    expect(exitCode).toBe(passed ? 0 : 99)
    // Acknowledged students created under overload are all stored.
    expect(summary!.ledger).toMatchObject({ lostWrites: 0, phantomWrites: 0, passed: true })
    expect(summary!.ledger!.createdStudents).toBeGreaterThan(0)
    const written = JSON.parse(await readFile(path.join(runDir, 'summary.json'), 'utf8')) as RunSummary
    expect(written.overload?.phases).toHaveLength(4)
    const report = await readFile(path.join(runDir, 'report.html'), 'utf8')
    expect(report).toContain('Goodput: callers answered within their deadline')
    expect(report).toContain('Queue delay between scrapes')
    expect(report).toContain('>5x</text>')
    expect(report).toContain('overload: capacity')
  })

  it('takes --capacity instead of probing, and prints the phases table and its verdicts', () => {
    const run = spawnSync(
      process.execPath,
      [
        CLI,
        'overload',
        '--capacity',
        '20',
        '--before',
        '1',
        '--overload',
        '3x2',
        '--after',
        '1',
        '--max-vus',
        '30',
        '--results-dir',
        resultsDir,
      ],
      { encoding: 'utf8', timeout: 120_000 },
    )
    expect([0, 99], run.stderr).toContain(run.status)
    expect(run.stdout).toContain('overload: capacity 20.0 requests/s (given (--capacity))')
    expect(run.stdout).toMatch(/\n3x {2,}60 \(3x\)/)
    expect(run.stdout).toContain('goodput{phase:3x}: capacity share>=0.9')
    expect(run.stdout).not.toContain('probe')
  })
})
