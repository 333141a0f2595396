// A drill end to end: the stack, the script on the engine, the fault, the ledger, the summary and report written.
import { mkdir, writeFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import type { ShutdownMode } from '@classroom/local-postgres'
import { type DrillName, planSeconds, type ScenarioPlan, type SeedData } from '../shared/scenarios.js'
import type { FaultTimes, ScriptSettings } from './drills/drill.js'
import { DRILLS } from './drills/index.js'
import type { OverloadOptions } from './drills/overload.js'
import { fromExchange } from './exchange-records.js'
import { runK6Engine, scriptEnv, scriptOf } from './k6-engine.js'
import { EXIT_CODES } from './k6-runtime/errors.js'
import { runScript } from './k6-runtime/run-script.js'
import { checkLedger, type LedgerEntry } from './ledger.js'
import { memoryThresholds } from './memory-trend.js'
import { type ApiSample, startSampler } from './metrics-sampler.js'
import { renderReport } from './report-html.js'
import {
  percentile,
  perName,
  type RequestRecord,
  summarise,
  type ThresholdResult,
  timeline,
} from './results.js'
import { poolOverview, processOverview, type RunSummary } from './run-summary.js'
import { type ReplicationOptions, startStack } from './stack.js'

export interface LoadOptions {
  readonly scenario: DrillName
  readonly engine: 'node' | 'k6'
  /** steady: seconds of judged load. */
  readonly durationSeconds: number
  /** steady: seconds of warm-up before it (users ramping up; shown, not judged). */
  readonly warmupSeconds?: number
  /** restart: the three phases, in seconds. */
  readonly phases: { readonly before: number; readonly window: number; readonly after: number }
  /** restart: how PostgreSQL is stopped; failover: how the primary is killed; replicas: how the standby is stopped. */
  readonly mode: ShutdownMode
  /** restart: seconds the database stays down; replicas: seconds the standby stays down. */
  readonly downSeconds: number
  /** replicas: whether the api reads its users' writes back by log position (`DB_READ_YOUR_WRITES`). */
  readonly readYourWrites?: boolean
  /** failover: how the standby replicates, and how the api reaches the servers. */
  readonly replication?: ReplicationOptions
  /** failover: seconds from the kill to the promotion. */
  readonly promoteAfterSeconds?: number
  /** overload: the capacity (or its probe), the callers, the statements' cost and the targets. */
  readonly overload?: OverloadOptions
  /** Where `<scenario>-<time>/` is created. */
  readonly resultsDir: string
  readonly databaseUrl: string | undefined
  readonly restartCommand: string | undefined
  readonly failoverCommand?: string | undefined
  /** Receives a progress line about once a second. */
  readonly onProgress?: (line: string) => void
}

export interface LoadResult {
  readonly runDir: string
  readonly passed: boolean
  /**
   * k6's: 99 when a threshold was breached; 1 when only a ledger check failed (the write ledger, or
   * the stale-read ledger: a stale read with read-your-writes on, none seen with it off); 0 when all passed.
   */
  readonly exitCode: number
  /** The full measurements (built-in engine); k6 writes its own summary into `runDir`. */
  readonly summary: RunSummary | undefined
}

/**
 * Starts the database and the api as the drill's record says, does its preparation (the overload
 * drill's probe), plays its script, strikes its fault when the plan says, checks the write ledger
 * against the table, and writes `summary.json` and `report.html` with the drill's section.
 *
 * ```ts
 * const { passed, runDir } = await runLoad({ scenario: 'restart', engine: 'node', ... })
 * ```
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const drill = DRILLS[options.scenario]
  const startedAtIso = new Date().toISOString()
  const runDir = path.join(options.resultsDir, `${drill.name}-${startedAtIso.replace(/[:.]/g, '-')}`)
  await mkdir(runDir, { recursive: true })
  const stack = await startStack({
    databaseUrl: options.databaseUrl,
    restartCommand: options.restartCommand,
    failoverCommand: options.failoverCommand,
    ...drill.environment?.(options),
    apiLogPath: path.join(runDir, 'api.log'),
  })
  let sampler: ReturnType<typeof startSampler> | undefined
  let fault: Promise<FaultTimes> | undefined
  let progressTimer: NodeJS.Timeout | undefined
  let loadStartedAt = 0
  try {
    const prepared = await drill.prepare?.(stack, options, runDir)
    const plan = drill.plan(options, prepared)
    const scheduleFault = (startedAt: number) => {
      loadStartedAt = startedAt
      sampler = startSampler(stack.apiUrl, startedAt)
      if (plan.faultAtSeconds === undefined || !drill.fault) return
      const strike = drill.fault.bind(drill)
      fault = new Promise((resolve) =>
        setTimeout(resolve, Math.max(0, startedAt + plan.faultAtSeconds! * 1000 - performance.now())),
      ).then(() => strike(stack, options))
      // Surfaced when awaited below; never an unhandled rejection meanwhile.
      fault.catch(() => undefined)
    }
    const settings: ScriptSettings = {
      baseUrl: stack.apiUrl,
      summaryPath: path.join(runDir, 'k6-summary.json'),
      downSeconds: options.downSeconds,
      readYourWrites: options.readYourWrites ?? true,
    }
    const sectionOf = async (records: readonly RequestRecord[], samples: readonly ApiSample[]) =>
      drill.section?.({
        options,
        plan,
        records,
        samples,
        fault: fault ? await fault : undefined,
        loadStartedAt,
        prepared,
      }) ?? { fields: {} }

    if (options.engine === 'k6') {
      const exitCode = await runK6Engine({ env: settings, plan, runDir, onLoadStart: scheduleFault })
      const samples = sampler?.stop() ?? []
      const section = await sectionOf([], samples)
      await writeFile(
        path.join(runDir, 'runner.json'),
        `${JSON.stringify({ ...section.fields, pool: poolOverview(samples, section.outage), apiSamples: samples }, null, 2)}\n`,
      )
      return { runDir, passed: exitCode === 0, exitCode, summary: undefined }
    }

    // The built-in engine runs the same script; the runner reads each exchange from the main thread.
    const records: RequestRecord[] = []
    const setupRecords: RequestRecord[] = []
    const writes: LedgerEntry[] = []
    const watcher = drill.watch?.(options)
    // The progress line reads only the records of the last second: a long soak stays linear.
    let seen = 0
    let failed = 0
    const run = await runScript({
      script: scriptOf(plan),
      env: scriptEnv(plan, settings),
      onStart: (startedAt) => {
        scheduleFault(startedAt)
        progressTimer = setInterval(() => {
          const now = performance.now() - startedAt
          const recent = records.slice(seen)
          seen = records.length
          for (const r of recent) if (r.outcome !== 'ok') failed++
          options.onProgress?.(progressLine(plan, now, recent, failed, sampler?.latest()))
        }, 1000)
      },
      onExchange: (exchange) => {
        const seen = fromExchange(exchange, plan, loadStartedAt)
        if (!seen) return
        if (seen.record.phase === 'setup') return void setupRecords.push(seen.record)
        records.push(seen.record)
        if (seen.write) writes.push(seen.write)
        watcher?.record(exchange, seen.record.phase)
      },
    })
    clearInterval(progressTimer)
    if (run.exitCode !== EXIT_CODES.ok && run.exitCode !== EXIT_CODES.thresholdsFailed)
      throw new Error(`the ${plan.name} script stopped early (k6 exit code ${run.exitCode})`)
    const samples = sampler?.stop() ?? []
    const section = await sectionOf(records, samples)
    const watched = watcher?.finish()
    const ledger = await checkLedger(stack.databaseUrl, run.setupData as SeedData, writes, {
      lossExpected: drill.lossExpected?.(options) ?? false,
    })
    const totalSeconds = planSeconds(plan)
    const processFigures = processOverview(samples)
    const scriptThresholds: ThresholdResult[] = run.thresholds.map(({ threshold, actual, ok }) => ({
      threshold: `${threshold.key}: ${threshold.expression}`,
      actual,
      passed: ok,
    }))
    // The drill's own verdicts, then the api's memory trend's (judged once a run is long enough: a soak).
    const verdicts = [...(section.verdicts ?? []), ...memoryThresholds(processFigures.trend)]
    const thresholds = [...scriptThresholds, ...verdicts]
    const ledgersPassed = ledger.passed && (watched?.passed ?? true)
    const summary: RunSummary = {
      scenario: plan.name,
      engine: 'node',
      startedAt: startedAtIso,
      environment: {
        database: stack.databaseDescription,
        cpus: availableParallelism(),
        node: process.version,
        users: plan.users,
      },
      phases: plan.phases,
      setup: summarise(setupRecords, 'setup', 0),
      perPhase: plan.phases.map((phase) =>
        summarise(
          records.filter((r) => r.phase === phase.name),
          phase.name,
          phase.durationSeconds,
        ),
      ),
      overall: summarise(records, 'all', totalSeconds),
      perName: perName(records, totalSeconds),
      thresholds,
      ...section.fields,
      ledger,
      ...watched?.fields,
      pool: poolOverview(samples, section.outage),
      process: processFigures,
      timeline: timeline(records, totalSeconds),
      apiSamples: samples,
      passed: thresholds.every((t) => t.passed) && ledgersPassed,
    }
    await writeFile(path.join(runDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`)
    await writeFile(path.join(runDir, 'report.html'), renderReport(summary))
    const exitCode = drillExitCode(run.exitCode, verdicts, ledgersPassed)
    return { runDir, passed: summary.passed, exitCode, summary }
  } finally {
    clearInterval(progressTimer)
    sampler?.stop()
    await fault?.catch(() => undefined)
    await stack.stop()
  }
}

/**
 * k6's code when its script stopped on a threshold; 99 too when one of the runner's own verdicts
 * (a drill's, the memory trend's) failed; else 1 when a ledger failed, 0 when all passed.
 *
 * ```ts
 * drillExitCode(0, memoryThresholds(trend), ledger.passed) // 99 on a soak whose RSS grew
 * ```
 */
export function drillExitCode(
  scriptExitCode: number,
  verdicts: readonly ThresholdResult[],
  ledgersPassed: boolean,
): number {
  if (scriptExitCode !== EXIT_CODES.ok) return scriptExitCode
  if (!verdicts.every((t) => t.passed)) return EXIT_CODES.thresholdsFailed
  return ledgersPassed ? EXIT_CODES.ok : 1
}

function progressLine(
  plan: ScenarioPlan,
  elapsedMs: number,
  lastSecond: readonly RequestRecord[],
  failed: number,
  pool: ApiSample | undefined,
): string {
  const total = planSeconds(plan)
  const phase = lastSecond.at(-1)?.phase ?? plan.phases[0]!.name
  const p99 = percentile(
    lastSecond.map((r) => r.durationMs).sort((a, b) => a - b),
    99,
  )
  const poolText = pool ? `pool ${pool.total} open / ${pool.waiting} waiting` : 'pool ?'
  return `[${plan.name}] ${Math.floor(elapsedMs / 1000)}/${total} s  ${phase}  ${lastSecond.length} req/s  p99 ${Math.round(p99)} ms  ${failed} failed  ${poolText}`
}
