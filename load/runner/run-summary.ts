// What a drill measured (summary.json's shape), the api process and pool over it, and the terminal table.
import type { DrillName, PhaseName } from '../shared/scenarios.js'
import { DRILLS } from './drills/index.js'
import { type Bucket, quantileBetween } from './histogram.js'
import type { LedgerCheck } from './ledger.js'
import { MEMORY_TREND, type MemoryTrend, memoryTrend } from './memory-trend.js'
import type { ApiSample } from './metrics-sampler.js'
import type { OverloadSummary } from './overload-figures.js'
import type { NameSummary, PhaseSummary, ThresholdResult, TimelinePoint } from './results.js'
import type { StaleReadCheck } from './stale-reads.js'

/** Everything a run measured: written as `summary.json`, rendered as the report and the terminal table. */
export interface RunSummary {
  readonly scenario: DrillName
  readonly engine: 'node' | 'k6'
  readonly startedAt: string
  readonly environment: {
    readonly database: string
    readonly cpus: number
    readonly node: string
    readonly users: number
  }
  readonly phases: readonly {
    readonly name: PhaseName
    readonly startSeconds: number
    readonly durationSeconds: number
  }[]
  /**
   * setup()'s seeding through the api, before the load: counted apart (k6's `http_reqs` counts it
   * too, in its group `::setup`), judged by no threshold. Its requests/s is 0: it has no phase time.
   */
  readonly setup: PhaseSummary
  readonly perPhase: readonly PhaseSummary[]
  readonly overall: PhaseSummary
  /** Each request name over the load (every phase, setup apart). */
  readonly perName: readonly NameSummary[]
  readonly thresholds: readonly ThresholdResult[]
  readonly restart?: {
    readonly mode: string
    readonly downSeconds: number
    /** Seconds from the start of the load. */
    readonly stoppedAtSeconds: number
    readonly acceptingAtSeconds: number
    /** From the database accepting connections again to the api's first successful answer. */
    readonly firstSuccessAfterAcceptingMs: number | null
  }
  readonly failover?: FailoverSummary
  /** The replicas drill: the standby stopped and started again, in seconds from the start of the load. */
  readonly standby?: {
    readonly name: string
    readonly mode: string
    readonly downSeconds: number
    readonly stoppedAtSeconds: number
    readonly acceptingAtSeconds: number
  }
  readonly ledger?: LedgerCheck
  /** The replicas drill: what the users read back of their own writes. */
  readonly staleReads?: StaleReadCheck
  /** Reads per target, from the api's `/metrics`; absent when the api has no replicas. */
  readonly reads?: ReadsOverview
  /** The overload drill: capacity, each phase's goodput, latency and refusals, the recovery. */
  readonly overload?: OverloadSummary
  readonly pool: {
    readonly peakTotal: number
    readonly peakWaiting: number
    readonly acquireTimeouts: number
    readonly prePingFailures: number
    readonly connectionErrors: number
    /** Connections the api's pool tried to open over the run. */
    readonly connectAttempts: number
    /**
     * Connections it tried to open while the database was down (from the stop, or the kill, until
     * it accepted again, or the promotion): the attempts that failed between the samples around the
     * outage. Every attempt made while no server qualifies fails, and those made once one accepts
     * succeed, so the count does not depend on how far the samples are from either instant.
     */
    readonly connectAttemptsWhileDown: number | null
    readonly checkoutsWaitedForDatabase: number
    /** Writes run again after a lost connection, and writes answered from their stored key. */
    readonly writeReruns: number
    readonly idempotentReplays: number
    /** Checkout waits and connection holds over the run, in milliseconds; `null` when none was seen. */
    readonly acquireMs: Percentiles | null
    readonly holdMs: Percentiles | null
  }
  /** The api process over the run: memory and event-loop lag, from a scrape every second. */
  readonly process: ProcessOverview
  readonly timeline: readonly TimelinePoint[]
  readonly apiSamples: readonly ApiSample[]
  readonly passed: boolean
}

/** Where the api sent its reads, from its `db_reads_total{target}` and `db_read_primary_fallbacks_total{reason}`. */
export interface ReadsOverview {
  /** Reads per target in each phase (between the scrapes nearest its start and its end). */
  readonly byPhase: readonly {
    readonly phase: PhaseName
    readonly byTarget: Readonly<Record<string, number>>
  }[]
  /** Reads per target over the load. */
  readonly total: Readonly<Record<string, number>>
  /** Reads over the load that wanted a replica and went to the primary, by reason. */
  readonly primaryFallbacks: Readonly<Record<string, number>>
}

/**
 * Reads per target over each phase and the load, from the api's once-a-second scrapes: `undefined`
 * when no scrape showed a read routed (an api without replicas).
 *
 * ```ts
 * readsOverview(samples, summary.phases)?.total // { primary: 120, replica1: 4100, replica2: 3900 }
 * ```
 */
export function readsOverview(
  samples: readonly ApiSample[],
  phases: RunSummary['phases'],
): ReadsOverview | undefined {
  const last = samples.at(-1)
  if (!last || Object.keys(last.readsByTarget).length === 0) return undefined
  // The last scrape at or before a moment (the first when none was): counters grow between scrapes.
  const at = (ms: number) => samples.findLast((s) => s.at <= ms) ?? samples[0]!
  const between = (from: Readonly<Record<string, number>>, to: Readonly<Record<string, number>>) =>
    Object.fromEntries(Object.entries(to).map(([key, value]) => [key, value - (from[key] ?? 0)]))
  return {
    byPhase: phases.map((phase) => ({
      phase: phase.name,
      byTarget: between(
        at(phase.startSeconds * 1000).readsByTarget,
        at((phase.startSeconds + phase.durationSeconds) * 1000).readsByTarget,
      ),
    })),
    total: between(samples[0]!.readsByTarget, last.readsByTarget),
    primaryFallbacks: between(samples[0]!.primaryFallbacks, last.primaryFallbacks),
  }
}

/** p50, p95 and p99 of a latency, in milliseconds. */
export interface Percentiles {
  readonly p50: number
  readonly p95: number
  readonly p99: number
}

/** The percentiles of a histogram's observations between two scrapes, in milliseconds. */
function percentilesBetween(before: readonly Bucket[], after: readonly Bucket[]): Percentiles | null {
  const at = (q: number) => quantileBetween(before, after, q)
  const [p50, p95, p99] = [at(0.5), at(0.95), at(0.99)]
  if (p50 === null || p95 === null || p99 === null) return null
  return { p50: p50 * 1000, p95: p95 * 1000, p99: p99 * 1000 }
}

/** The api process's memory and event loop over a run; `null` where no scrape told. */
export interface ProcessOverview {
  readonly rssStartMb: number | null
  readonly rssEndMb: number | null
  readonly rssPeakMb: number | null
  readonly heapPeakMb: number | null
  /** The worst second's event-loop delay, 99th percentile, in milliseconds. */
  readonly loopLagP99MaxMs: number | null
  /**
   * RSS and heap after GC once the first minutes are past: a soak that holds memory flat reads
   * about 0; a leak reads its rate. Its slopes are `null` over too short a span.
   */
  readonly trend: MemoryTrend
}

const MB = 1024 * 1024

/**
 * Memory and event-loop lag of the api over the samples, with the trends after the settle as
 * least-squares slopes (so one GC swing at the end does not read as a leak).
 *
 * ```ts
 * processOverview(samples).trend.rssMbPer10Min
 * ```
 */
export function processOverview(samples: readonly ApiSample[]): ProcessOverview {
  const rss = samples.map((s) => s.rssBytes / MB).filter(Number.isFinite)
  const heap = samples.map((s) => s.heapUsedBytes / MB).filter(Number.isFinite)
  const lag = samples.map((s) => s.loopLagP99Seconds * 1000).filter(Number.isFinite)
  return {
    rssStartMb: rss[0] ?? null,
    rssEndMb: rss.at(-1) ?? null,
    rssPeakMb: rss.length ? Math.max(...rss) : null,
    heapPeakMb: heap.length ? Math.max(...heap) : null,
    loopLagP99MaxMs: lag.length ? Math.max(...lag) : null,
    trend: memoryTrend(samples),
  }
}

/** The failover drill's setup and moments. */
export interface FailoverSummary {
  readonly mode: string
  /** Synchronous replication; `null` on an external database the runner cannot tell. */
  readonly synchronous: boolean | null
  readonly via: 'hosts' | 'proxy' | 'external'
  readonly promoteAfterSeconds: number
  /** Seconds from the start of the load. */
  readonly killedAtSeconds: number
  readonly promotedAtSeconds: number
  /** From the kill, and from the promotion, to the first write sent after it that succeeded. */
  readonly firstWriteAfterKillMs: number | null
  readonly firstWriteAfterPromotionMs: number | null
}

/**
 * The pool's peaks and counters over the samples; with an outage (milliseconds from the start),
 * the connection attempts that failed from the last sample before it to the first after it. Not
 * every attempt in that span: samples a second apart, the pool's reconnections once the server
 * accepts again (one per waiting user, to a server that answers) would count as made while it was down.
 */
export function poolOverview(
  samples: readonly ApiSample[],
  outage?: { readonly fromMs: number; readonly toMs: number },
): RunSummary['pool'] {
  const finite = (values: number[]) => values.filter(Number.isFinite)
  const first = samples[0]
  const last = samples.at(-1)
  const before = outage && samples.filter((s) => s.at <= outage.fromMs).at(-1)
  const after = outage && samples.find((s) => s.at >= outage.toMs)
  return {
    peakTotal: Math.max(0, ...finite(samples.map((s) => s.total))),
    peakWaiting: Math.max(0, ...finite(samples.map((s) => s.waiting))),
    acquireTimeouts: last?.acquireTimeouts ?? 0,
    prePingFailures: last?.prePingFailures ?? 0,
    connectionErrors: last?.connectionErrors ?? 0,
    connectAttempts: (last?.connectAttempts ?? 0) - (first?.connectAttempts ?? 0),
    connectAttemptsWhileDown: before && after ? after.connectFailures - before.connectFailures : null,
    checkoutsWaitedForDatabase: last?.checkoutsWaitedForDatabase ?? 0,
    writeReruns: last?.writeReruns ?? 0,
    idempotentReplays: last?.idempotentReplays ?? 0,
    acquireMs: first && last ? percentilesBetween(first.acquireBuckets, last.acquireBuckets) : null,
    holdMs: first && last ? percentilesBetween(first.holdBuckets, last.holdBuckets) : null,
  }
}

/** The columns of a phase or request-name table: what the terminal and the report show alike. */
export function tableRows(first: string, rows: readonly (readonly [string, PhaseSummary])[]): string[][] {
  return [
    [first, 'requests', 'req/s', 'p50', 'p95', 'p99', 'max', 'failed', 'pool-limit', '5xx'],
    ...rows.map(([label, r]) => [
      label,
      String(r.requests),
      r.phase === 'setup' ? '-' : r.requestsPerSecond.toFixed(0),
      ms(r.latencyMs.p50),
      ms(r.latencyMs.p95),
      ms(r.latencyMs.p99),
      ms(r.latencyMs.max),
      String(r.failed),
      String(r.poolLimitErrors),
      String(r.serverErrors),
    ]),
  ]
}

/** A header and rows as aligned text: the first column left, the others right. */
export function fixedWidth(table: readonly (readonly string[])[]): string[] {
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)))
  const lines = table.map((row) =>
    row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '),
  )
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '))
  return lines
}

const ms = (value: number) => `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`

/** The run as a fixed-width table and verdict lines, for the terminal. */
export function formatSummaryTable(summary: RunSummary): string {
  const rows = [summary.setup, ...summary.perPhase, ...(summary.perPhase.length > 1 ? [summary.overall] : [])]
  const lines = fixedWidth(
    tableRows(
      'phase',
      rows.map((r) => [r.phase, r]),
    ),
  )
  lines.push(
    "  setup: setup()'s seeding before the load, judged by no threshold (k6's http_reqs counts it, group ::setup);",
    "  the phases are what the thresholds judge: the same requests, the same percentiles (k6's estimator)",
  )
  for (const r of rows) {
    const codes = Object.entries(r.failedByCode)
    if (codes.length > 0)
      lines.push(`  ${r.phase} failures: ${codes.map(([code, n]) => `${code} ${n}`).join(', ')}`)
  }
  lines.push(
    '',
    ...fixedWidth(
      tableRows(
        'request',
        summary.perName.map((r) => [r.name, r]),
      ),
    ),
  )
  for (const r of summary.perName) {
    const codes = Object.entries(r.failedByCode)
    if (codes.length > 0)
      lines.push(`  ${r.name} failures: ${codes.map(([code, n]) => `${code} ${n}`).join(', ')}`)
  }
  lines.push('', 'thresholds:')
  for (const t of summary.thresholds)
    lines.push(`  ${t.passed ? '✓' : '✗'} ${t.threshold}  (actual ${round(t.actual)})`)
  lines.push(...(DRILLS[summary.scenario].lines?.(summary) ?? []))
  const p = summary.pool
  lines.push(
    `pool: peak ${p.peakTotal} connections, peak ${p.peakWaiting} waiting, ${p.acquireTimeouts} acquire timeouts, ` +
      `${p.prePingFailures} pre-ping failures, ${p.connectionErrors} connection errors; ` +
      `${p.connectAttempts} connection attempts${p.connectAttemptsWhileDown === null ? '' : ` (${p.connectAttemptsWhileDown} while the database was down)`}, ` +
      `${p.checkoutsWaitedForDatabase} checkouts waited for the database; ` +
      `writes: ${p.writeReruns} run again, ${p.idempotentReplays} answered from their stored key`,
    `pool times: checkout wait ${percentileText(p.acquireMs)}, connection hold ${percentileText(p.holdMs)} (p50 / p95 / p99)`,
  )
  const proc = summary.process
  if (proc.rssPeakMb !== null) {
    lines.push(
      `api process: RSS ${mb(proc.rssStartMb)} → ${mb(proc.rssEndMb)} MB (peak ${mb(proc.rssPeakMb)}), ` +
        `heap peak ${mb(proc.heapPeakMb)} MB, event-loop lag p99 at worst ${proc.loopLagP99MaxMs?.toFixed(1) ?? '?'} ms`,
      `  after ${proc.trend.fromSeconds} s: ${trendText(proc.trend)}`,
    )
  }
  if (summary.ledger) {
    const l = summary.ledger
    lines.push(
      `write ledger: ${l.writes} writes (${l.createdStudents} of them students created), ${l.lostWrites} lost, ${l.phantomWrites} phantom${l.lossExpected ? ' (asynchronous standby: counted, not a failure)' : ''}, ${l.capacityBreaches} capacity breaches; ` +
        `${l.ambiguousWrites} answered with an error mid-write, ${l.ambiguousApplied} of them applied  ${l.passed ? '✓' : '✗'}`,
    )
    for (const example of l.examples) lines.push(`  ${example}`)
  }
  lines.push('', summary.passed ? 'PASSED' : 'FAILED')
  return lines.join('\n')
}

const mb = (value: number | null) => (value === null ? '?' : value.toFixed(0))

/** The trends after the settle, or why there are none yet. */
function trendText(trend: MemoryTrend): string {
  if (trend.rssMbPer10Min === null)
    return `not enough data for a trend: ${trend.spanSeconds.toFixed(0)} s of scrapes, a trend needs ${MEMORY_TREND.minSpanSeconds} s`
  const slope = (value: number | null) =>
    value === null ? 'no trend' : `${value >= 0 ? '+' : ''}${value.toFixed(1)} MB per 10 min`
  return (
    `RSS trend ${slope(trend.rssMbPer10Min)}, heap after GC ${mb(trend.heapAfterGcFirstMb)} → ${mb(trend.heapAfterGcLastMb)} MB ` +
    `(trend ${slope(trend.heapAfterGcMbPer10Min)}) over ${trend.spanSeconds.toFixed(0)} s` +
    (trend.spanSeconds < MEMORY_TREND.judgedSpanSeconds
      ? `, not judged (a soak's ${MEMORY_TREND.judgedSpanSeconds} s)`
      : '')
  )
}

function percentileText(value: Percentiles | null): string {
  return value === null ? 'not seen' : `${ms(value.p50)} / ${ms(value.p95)} / ${ms(value.p99)}`
}

function round(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(4)
}
