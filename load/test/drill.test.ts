import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LoadOptions, runLoad } from '../runner/run-load.js'
import type { RunSummary } from '../runner/run-summary.js'

// The short drills CI runs: the full pipeline (embedded PostgreSQL, the built api as a process,
// 50 users, a real restart, the ledger check, the report) in about half a minute.
const CLI = fileURLToPath(new URL('../dist/runner/cli.js', import.meta.url))
let resultsDir: string

beforeAll(async () => {
  resultsDir = await mkdtemp(path.join(tmpdir(), 'load-results-'))
})

afterAll(async () => {
  await rm(resultsDir, { recursive: true, force: true })
})

/** A short drill on the embedded database, with the built-in engine, into this file's results dir. */
function drill(options: Pick<LoadOptions, 'scenario' | 'phases' | 'mode'> & Partial<LoadOptions>) {
  return runLoad({
    engine: 'node',
    durationSeconds: 0,
    downSeconds: 0,
    resultsDir,
    databaseUrl: undefined,
    restartCommand: undefined,
    ...options,
  })
}

/**
 * What a failed drill shows beside its assertion: failures by code per phase, the ledger's examples
 * and the api's logged errors: a breached threshold alone does not say which answer broke it.
 */
async function diagnosis(summary: RunSummary | undefined, runDir: string): Promise<string> {
  const apiErrors = (await readFile(path.join(runDir, 'api.log'), 'utf8').catch(() => ''))
    .split('\n')
    .filter((line) => line.includes('"level":"error"'))
    .slice(0, 5)
  const failures = summary?.perPhase.map((p) => ({ phase: p.phase, failedByCode: p.failedByCode }))
  return JSON.stringify({ failures, ledger: summary?.ledger?.examples, apiErrors }, null, 1)
}

describe('load drills', () => {
  it('restart drill (fast shutdown): zero failures before, during and after the restart, no lost write', async () => {
    const { passed, summary, runDir } = await drill({
      scenario: 'restart',
      phases: { before: 5, window: 8, after: 7 },
      mode: 'fast',
    })
    expect(summary).toBeDefined()
    const failedThresholds = summary!.thresholds.filter((t) => !t.passed)
    expect(failedThresholds, await diagnosis(summary, runDir)).toEqual([])
    expect(summary!.ledger).toMatchObject({
      lostWrites: 0,
      phantomWrites: 0,
      capacityBreaches: 0,
      passed: true,
    })
    expect(summary!.ledger!.writes).toBeGreaterThan(100)
    const [before, window, after] = summary!.perPhase
    expect(before).toMatchObject({ phase: 'before', failed: 0 })
    expect(after).toMatchObject({ phase: 'after', failed: 0 })
    // A restart is ridden through: requests wait for the database, reads and writes in flight run again.
    expect(window).toMatchObject({ phase: 'window', failed: 0 })
    expect(summary!.restart).toMatchObject({ mode: 'fast', firstSuccessAfterAcceptingMs: expect.any(Number) })
    expect(summary!.restart!.acceptingAtSeconds).toBeGreaterThan(summary!.restart!.stoppedAtSeconds)
    expect(summary!.pool.peakTotal).toBeLessThanOrEqual(60)
    expect(summary!.pool.connectAttempts).toBeGreaterThan(0)
    expect(passed).toBe(true)

    const written = JSON.parse(await readFile(path.join(runDir, 'summary.json'), 'utf8')) as {
      passed: boolean
    }
    expect(written.passed).toBe(true)
    const report = await readFile(path.join(runDir, 'report.html'), 'utf8')
    expect(report).toContain('<svg')
    expect(report).toContain('>restart</text>')
    // The api process, sampled every second: memory, and the event loop; 20 s is too short for a trend.
    expect(summary!.process.rssPeakMb).toBeGreaterThan(20)
    expect(summary!.process.trend.rssMbPer10Min).toBeNull()
    expect(report).toContain('not enough data')
    expect(summary!.process.loopLagP99MaxMs).toBeGreaterThan(0)
    expect(report).toContain('The api process: memory')
    // Checkout waits and connection holds over the run, from the api's histograms.
    expect(summary!.pool.holdMs?.p99).toBeGreaterThan(0)
    expect(summary!.pool.acquireMs?.p50).toBeGreaterThanOrEqual(0)
    expect(report).toContain('connection hold')
    expect(report).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/)
  })

  it.each([
    ['synchronous', 'the multi-host URL', { synchronous: true, via: 'hosts' }],
    ['asynchronous', 'one re-pointed address', { synchronous: false, via: 'proxy' }],
  ] as const)(
    'failover drill (%s standby, api on %s): no failure before or after, no 500 and no hang, writes back soon after the promotion, the ledger counted',
    async (_replication, _via, replication) => {
      const { passed, summary, runDir } = await drill({
        scenario: 'failover',
        // The 50 requests in flight at the kill wait ~2 s for the promotion: they must stay under 1 %
        // of the window's requests (p(99)<2000). 50 VU threads warm up for some seconds, so the
        // window starts 8 s in and lasts 10 s, enough requests even on a busy machine.
        phases: { before: 8, window: 10, after: 4 },
        mode: 'immediate',
        promoteAfterSeconds: 1,
        replication,
      })
      const why = await diagnosis(summary, runDir)
      expect(
        summary!.thresholds.filter((t) => !t.passed),
        why,
      ).toEqual([])
      const [before, window, after] = summary!.perPhase
      expect(before, why).toMatchObject({ phase: 'before', failed: 0 })
      expect(after, why).toMatchObject({ phase: 'after', failed: 0 })
      // The plan's promise for the window: requests that outlast the pool's wait for a writable server
      // may answer a fast 503 DATABASE_UNAVAILABLE, never anything else, and few of them.
      expect(window, why).toMatchObject({ phase: 'window', unexpected: 0 })
      expect(
        Object.keys(window!.failedByCode).filter((code) => code !== 'DATABASE_UNAVAILABLE'),
        why,
      ).toEqual([])
      expect(window!.failed, why).toBeLessThan(window!.requests * 0.01)
      const failover = summary!.failover!
      expect(failover).toMatchObject({ mode: 'immediate', promoteAfterSeconds: 1, ...replication })
      expect(failover.promotedAtSeconds - failover.killedAtSeconds).toBeGreaterThanOrEqual(1)
      // Writes work again on the promoted node, with nothing restarted.
      expect(failover.firstWriteAfterPromotionMs).not.toBeNull()
      expect(failover.firstWriteAfterKillMs).toBeGreaterThan(failover.firstWriteAfterPromotionMs!)
      const ledger = summary!.ledger!
      expect(ledger.writes).toBeGreaterThan(100)
      expect(ledger.capacityBreaches).toBe(0)
      expect(ledger.lossExpected).toBe(!replication.synchronous)
      // Synchronous: nothing acknowledged is lost. Asynchronous: counted, whatever it is.
      if (replication.synchronous) expect(ledger).toMatchObject({ lostWrites: 0, phantomWrites: 0 })
      expect(passed).toBe(true)
      const report = await readFile(path.join(runDir, 'report.html'), 'utf8')
      expect(report).toContain('>primary killed</text>')
      expect(report).toContain('>promoted</text>')
    },
  )

  it.each([
    ['on', true],
    ['off', false],
  ] as const)(
    'replicas drill, read-your-writes %s: no failed request while a standby stops and starts, reads on both standbys, the stale reads the ledger must see',
    async (_mode, readYourWrites) => {
      const { passed, summary, runDir } = await drill({
        scenario: 'replicas',
        phases: { before: 5, window: 8, after: 5 },
        mode: 'fast',
        downSeconds: 3,
        readYourWrites,
      })
      const why = await diagnosis(summary, runDir)
      expect(
        summary!.thresholds.filter((t) => !t.passed),
        why,
      ).toEqual([])
      for (const phase of summary!.perPhase) expect(phase, why).toMatchObject({ failed: 0 })
      const standby = summary!.standby!
      expect(standby).toMatchObject({ name: 'replica2', mode: 'fast', downSeconds: 3 })
      expect(standby.acceptingAtSeconds - standby.stoppedAtSeconds).toBeGreaterThanOrEqual(3)
      // Reads reached both standbys (and, with positions, the primary when neither had replayed them).
      const reads = summary!.reads!
      expect(reads.total.replica1).toBeGreaterThan(0)
      expect(reads.total.replica2).toBeGreaterThan(0)
      const stale = summary!.staleReads!
      expect(stale).toMatchObject({ readYourWrites, notReadBack: 0, passed: true })
      expect(stale.readBacks).toBeGreaterThan(100)
      if (readYourWrites) {
        expect(stale).toMatchObject({ staleReads: 0, withoutPosition: 0 })
        expect(reads.primaryFallbacks.behind_position).toBeGreaterThan(0)
      } else expect(stale.staleReads).toBeGreaterThan(0)
      // The script counts its stale reads itself (k6's stale_reads): the runner's ledger agrees.
      const k6 = JSON.parse(await readFile(path.join(runDir, 'k6-summary.json'), 'utf8')) as {
        metrics: Record<string, { values: { count?: number } }>
      }
      expect(k6.metrics.stale_reads!.values.count).toBe(stale.staleReads)
      expect(summary!.ledger).toMatchObject({ lostWrites: 0, phantomWrites: 0, passed: true })
      expect(passed).toBe(true)
      const report = await readFile(path.join(runDir, 'report.html'), 'utf8')
      expect(report).toContain('>replica2 stopped</text>')
      expect(report).toContain('stale-read ledger')
    },
  )

  it("exits 99 (k6's code for a breached threshold) and names the broken threshold when the pool is starved", () => {
    const run = spawnSync(
      process.execPath,
      [CLI, 'steady', '--warmup', '1', '--duration', '4', '--results-dir', resultsDir],
      {
        encoding: 'utf8',
        env: {
          ...process.env,
          DB_POOL_SIZE: '1',
          DB_POOL_MAX_OVERFLOW: '0',
          DB_POOL_TIMEOUT_SECONDS: '0.05',
        },
        timeout: 90_000,
      },
    )
    expect(run.status, `${run.stderr}\n${run.stdout.slice(-2000)}`).toBe(99)
    expect(run.stdout).toContain('✗ pool_limit_errors{phase:steady}: count==0')
    expect(run.stdout).toMatch(/\nFAILED\n/)
  })
})
