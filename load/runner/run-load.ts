// A drill end to end: the stack, the script on the engine, the fault, the ledger, the summary and report written.
import { mkdir, writeFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import type { ShutdownMode } from '@classroom/local-postgres'
import {
  failoverPlan,
  planSeconds,
  replicasPlan,
  restartPlan,
  type ScenarioPlan,
  type SeedData,
  steadyPlan,
  USERS,
  WARMUP_SECONDS,
} from '../shared/scenarios.js'
import { fromExchange } from './exchange-records.js'
import { runK6Engine, type ScriptSettings, scriptEnv, scriptOf } from './k6-engine.js'
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
import {
  type FailoverSummary,
  poolOverview,
  processOverview,
  type RunSummary,
  readsOverview,
} from './run-summary.js'
import { type FailoverTimes, type ReplicationOptions, type RestartTimes, startStack } from './stack.js'
import { StaleReadLedger } from './stale-reads.js'

export interface LoadOptions {
  readonly scenario: 'steady' | 'restart' | 'failover' | 'replicas'
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
 * Starts the database and the api, plays the scenario, restarts the database when the plan says,
 * checks the write ledger against the table, and writes `summary.json` and `report.html`.
 *
 * ```ts
 * const { passed, runDir } = await runLoad({ scenario: 'restart', engine: 'node', ... })
 * ```
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const phases = {
    beforeSeconds: options.phases.before,
    windowSeconds: options.phases.window,
    afterSeconds: options.phases.after,
  }
  const readYourWrites = options.readYourWrites ?? true
  const plan: ScenarioPlan =
    options.scenario === 'steady'
      ? steadyPlan(options.durationSeconds, USERS, options.warmupSeconds ?? WARMUP_SECONDS)
      : options.scenario === 'restart'
        ? restartPlan({ ...phases, downSeconds: options.downSeconds })
        : options.scenario === 'replicas'
          ? replicasPlan({ ...phases, readYourWrites })
          : failoverPlan(phases)
  const failover = options.scenario === 'failover'
  const replicas = options.scenario === 'replicas'
  const replication = options.replication ?? { synchronous: true, via: 'hosts' }
  const promoteAfterSeconds = options.promoteAfterSeconds ?? 1
  const startedAtIso = new Date().toISOString()
  const runDir = path.join(options.resultsDir, `${plan.name}-${startedAtIso.replace(/[:.]/g, '-')}`)
  await mkdir(runDir, { recursive: true })
  const stack = await startStack({
    databaseUrl: options.databaseUrl,
    restartCommand: options.restartCommand,
    failoverCommand: options.failoverCommand,
    ...(failover && !options.databaseUrl && { replication }),
    ...(replicas && { readReplicas: { readYourWrites } }),
    apiLogPath: path.join(runDir, 'api.log'),
  })
  let sampler: ReturnType<typeof startSampler> | undefined
  let restart: Promise<RestartTimes> | undefined
  let failedOver: Promise<FailoverTimes> | undefined
  let standbyRestart: Promise<RestartTimes> | undefined
  let progressTimer: NodeJS.Timeout | undefined
  let loadStartedAt = 0
  const scheduleFault = (startedAt: number) => {
    loadStartedAt = startedAt
    sampler = startSampler(stack.apiUrl, startedAt)
    if (plan.faultAtSeconds === undefined) return
    const struck = new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, startedAt + plan.faultAtSeconds! * 1000 - performance.now())),
    )
    if (failover) failedOver = struck.then(() => stack.failOver(options.mode, promoteAfterSeconds))
    else if (replicas)
      standbyRestart = struck.then(() => stack.restartStandby(options.mode, options.downSeconds))
    else restart = struck.then(() => stack.restartDatabase(options.mode, options.downSeconds))
    // Surfaced when awaited below; never an unhandled rejection meanwhile.
    for (const fault of [restart, failedOver, standbyRestart]) fault?.catch(() => undefined)
  }
  const settings: ScriptSettings = {
    baseUrl: stack.apiUrl,
    summaryPath: path.join(runDir, 'k6-summary.json'),
    downSeconds: options.downSeconds,
    readYourWrites,
  }
  try {
    if (options.engine === 'k6') {
      const exitCode = await runK6Engine({ env: settings, plan, runDir, onLoadStart: scheduleFault })
      const samples = sampler?.stop() ?? []
      const restartTimes = restart ? await restart : undefined
      const failoverTimes = failedOver ? await failedOver : undefined
      const standbyTimes = standbyRestart ? await standbyRestart : undefined
      await writeFile(
        path.join(runDir, 'runner.json'),
        `${JSON.stringify(
          {
            restart: restartTimes && relative(restartTimes, loadStartedAt),
            standby: standbyTimes && relative(standbyTimes, loadStartedAt),
            failover: failoverTimes && {
              killedAtSeconds: (failoverTimes.killedAt - loadStartedAt) / 1000,
              promotedAtSeconds: (failoverTimes.promotedAt - loadStartedAt) / 1000,
            },
            pool: poolOverview(samples),
            apiSamples: samples,
          },
          null,
          2,
        )}\n`,
      )
      return { runDir, passed: exitCode === 0, exitCode, summary: undefined }
    }

    // The built-in engine runs the same script; the runner reads each exchange from the main thread.
    const records: RequestRecord[] = []
    const setupRecords: RequestRecord[] = []
    const writes: LedgerEntry[] = []
    const staleReads = replicas ? new StaleReadLedger() : undefined
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
        staleReads?.record(exchange, seen.record.phase)
      },
    })
    clearInterval(progressTimer)
    if (run.exitCode !== EXIT_CODES.ok && run.exitCode !== EXIT_CODES.thresholdsFailed)
      throw new Error(`the ${plan.name} script stopped early (k6 exit code ${run.exitCode})`)
    const samples = sampler?.stop() ?? []
    const restartTimes = restart ? await restart : undefined
    const failoverTimes = failedOver ? await failedOver : undefined
    const standbyTimes = standbyRestart ? await standbyRestart : undefined
    const staleCheck = staleReads?.check({ readYourWrites })
    // Asynchronous replication may lose what the old primary acknowledged last: measured, not a failure.
    const lossExpected = failover && !options.databaseUrl && !replication.synchronous
    const ledger = await checkLedger(stack.databaseUrl, run.setupData as SeedData, writes, { lossExpected })
    const totalSeconds = planSeconds(plan)
    const processFigures = processOverview(samples)
    // The script's thresholds, then the drill's own on the api's memory (a soak's: none on a short run).
    const memoryJudged = memoryThresholds(processFigures.trend)
    const thresholds: ThresholdResult[] = [
      ...run.thresholds.map(({ threshold, actual, ok }) => ({
        threshold: `${threshold.key}: ${threshold.expression}`,
        actual,
        passed: ok,
      })),
      ...memoryJudged,
    ]
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
      ...(restartTimes && {
        restart: {
          mode: options.mode,
          downSeconds: options.downSeconds,
          ...relative(restartTimes, loadStartedAt),
          firstSuccessAfterAcceptingMs: firstSuccessAfter(records, restartTimes.acceptingAt - loadStartedAt),
        },
      }),
      ...(failoverTimes && {
        failover: failoverFigures(records, failoverTimes, loadStartedAt, {
          mode: options.mode,
          promoteAfterSeconds,
          ...(options.databaseUrl ? { synchronous: null, via: 'external' } : replication),
        }),
      }),
      ...(standbyTimes && {
        // The second URL of DATABASE_READ_URLS: db-core names replicas by their order.
        standby: {
          name: 'replica2',
          mode: options.mode,
          downSeconds: options.downSeconds,
          ...relative(standbyTimes, loadStartedAt),
        },
      }),
      ledger,
      ...(staleCheck && { staleReads: staleCheck }),
      ...(replicas && { reads: readsOverview(samples, plan.phases) }),
      pool: poolOverview(
        samples,
        restartTimes
          ? { fromMs: restartTimes.stoppedAt - loadStartedAt, toMs: restartTimes.acceptingAt - loadStartedAt }
          : failoverTimes && {
              fromMs: failoverTimes.killedAt - loadStartedAt,
              toMs: failoverTimes.promotedAt - loadStartedAt,
            },
      ),
      process: processFigures,
      timeline: timeline(records, totalSeconds),
      apiSamples: samples,
      passed: thresholds.every((t) => t.passed) && ledger.passed && (staleCheck?.passed ?? true),
    }
    await writeFile(path.join(runDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`)
    await writeFile(path.join(runDir, 'report.html'), renderReport(summary))
    const exitCode = drillExitCode(run.exitCode, memoryJudged, ledger.passed && (staleCheck?.passed ?? true))
    return { runDir, passed: summary.passed, exitCode, summary }
  } finally {
    clearInterval(progressTimer)
    sampler?.stop()
    for (const fault of [restart, failedOver, standbyRestart]) await fault?.catch(() => undefined)
    await stack.stop()
  }
}

/**
 * k6's code when its script stopped on a threshold; 99 too when the drill's own (memory)
 * thresholds failed; else 1 when a ledger failed, 0 when all passed.
 *
 * ```ts
 * drillExitCode(0, memoryThresholds(trend), ledger.passed) // 99 on a soak whose RSS grew
 * ```
 */
export function drillExitCode(
  scriptExitCode: number,
  drillThresholds: readonly ThresholdResult[],
  ledgersPassed: boolean,
): number {
  if (scriptExitCode !== EXIT_CODES.ok) return scriptExitCode
  if (!drillThresholds.every((t) => t.passed)) return EXIT_CODES.thresholdsFailed
  return ledgersPassed ? EXIT_CODES.ok : 1
}

function relative(times: RestartTimes, startedAt: number) {
  return {
    stoppedAtSeconds: (times.stoppedAt - startedAt) / 1000,
    acceptingAtSeconds: (times.acceptingAt - startedAt) / 1000,
  }
}

const WRITES = new Set(['enroll', 'unenroll', 'createStudent'])

/** The failover's moments, and how long writes took to succeed again after each. */
function failoverFigures(
  records: readonly RequestRecord[],
  times: FailoverTimes,
  startedAt: number,
  setup: Omit<
    FailoverSummary,
    'killedAtSeconds' | 'promotedAtSeconds' | 'firstWriteAfterKillMs' | 'firstWriteAfterPromotionMs'
  >,
): FailoverSummary {
  const killedAtMs = times.killedAt - startedAt
  const promotedAtMs = times.promotedAt - startedAt
  const writes = records.filter((r) => WRITES.has(r.name))
  return {
    ...setup,
    killedAtSeconds: killedAtMs / 1000,
    promotedAtSeconds: promotedAtMs / 1000,
    firstWriteAfterKillMs: firstSuccessAfter(writes, killedAtMs),
    firstWriteAfterPromotionMs: firstSuccessAfter(writes, promotedAtMs),
  }
}

/**
 * Milliseconds from `fromMs` (load time) to the first answer as expected of a request sent after it:
 * the moment service is seen to work again.
 */
function firstSuccessAfter(records: readonly RequestRecord[], fromMs: number): number | null {
  let first: number | null = null
  for (const r of records) {
    if (r.outcome !== 'ok' || r.at < fromMs) continue
    const answeredAt = r.at + r.durationMs
    if (first === null || answeredAt < first) first = answeredAt
  }
  return first === null ? null : first - fromMs
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
