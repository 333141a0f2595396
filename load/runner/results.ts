import {
  k6ThresholdExpression,
  k6ThresholdKey,
  type MetricName,
  type Outcome,
  type PhaseName,
  type RequestName,
  type ScenarioPlan,
  type Threshold,
} from '../shared/scenarios.js'

/** One answered (or failed) request. `status` 0 is a network error or a hang. */
export interface RequestRecord {
  /** Milliseconds from the start of the load to the request's start. */
  readonly at: number
  readonly phase: PhaseName
  readonly name: RequestName
  readonly status: number
  readonly errorCode: string | undefined
  readonly outcome: Outcome
  readonly durationMs: number
}

export interface LatencySummary {
  readonly p50: number
  readonly p95: number
  readonly p99: number
  readonly max: number
}

export interface PhaseSummary {
  readonly phase: PhaseName | 'all'
  readonly requests: number
  readonly requestsPerSecond: number
  readonly latencyMs: LatencySummary
  /** Requests outside the expected statuses, network errors included. */
  readonly failed: number
  readonly failedByCode: Record<string, number>
  readonly poolLimitErrors: number
  readonly serverErrors: number
  readonly unexpected: number
}

export interface ThresholdResult {
  /** In k6's words, e.g. `http_req_failed{phase:before}: rate==0`. */
  readonly threshold: string
  readonly actual: number
  readonly passed: boolean
}

/** The label an error is counted under: the api's error code, else the status, else NETWORK. */
export function failureLabel(record: Pick<RequestRecord, 'status' | 'errorCode'>): string {
  if (record.errorCode) return record.errorCode
  return record.status === 0 ? 'NETWORK_ERROR' : `HTTP_${record.status}`
}

export function summarise(
  records: readonly RequestRecord[],
  phase: PhaseName | 'all',
  seconds: number,
): PhaseSummary {
  const durations = records.map((r) => r.durationMs).sort((a, b) => a - b)
  const failedByCode: Record<string, number> = {}
  let failed = 0
  let poolLimitErrors = 0
  let serverErrors = 0
  let unexpected = 0
  for (const record of records) {
    if (record.outcome !== 'ok') {
      failed++
      const label = failureLabel(record)
      failedByCode[label] = (failedByCode[label] ?? 0) + 1
    }
    if (record.outcome === 'pool-limit') poolLimitErrors++
    if (record.outcome === 'unexpected') unexpected++
    if (record.status >= 500 || record.status === 0) serverErrors++
  }
  return {
    phase,
    requests: records.length,
    requestsPerSecond: seconds > 0 ? records.length / seconds : 0,
    latencyMs: {
      p50: percentile(durations, 50),
      p95: percentile(durations, 95),
      p99: percentile(durations, 99),
      max: durations.at(-1) ?? 0,
    },
    failed,
    failedByCode,
    poolLimitErrors,
    serverErrors,
    unexpected,
  }
}

/** Nearest-rank percentile of sorted values (0 for none). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!
}

/** Evaluates the plan's thresholds on the records, as k6 would on its metrics. */
export function evaluateThresholds(plan: ScenarioPlan, records: readonly RequestRecord[]): ThresholdResult[] {
  return plan.thresholds.map((threshold) => {
    const scoped = threshold.phase ? records.filter((r) => r.phase === threshold.phase) : records
    const actual = measure(threshold, scoped)
    const passed = threshold.op === '<' ? actual < threshold.value : actual === threshold.value
    return { threshold: `${k6ThresholdKey(threshold)}: ${k6ThresholdExpression(threshold)}`, actual, passed }
  })
}

const COUNTED: Record<
  Exclude<MetricName, 'http_req_duration' | 'http_req_failed'>,
  (r: RequestRecord) => boolean
> = {
  pool_limit_errors: (r) => r.outcome === 'pool-limit',
  unexpected_responses: (r) => r.outcome === 'unexpected',
  server_errors: (r) => r.status >= 500 || r.status === 0,
}

function measure(threshold: Threshold, records: readonly RequestRecord[]): number {
  if (threshold.metric === 'http_req_duration') {
    const durations = records.map((r) => r.durationMs).sort((a, b) => a - b)
    if (threshold.stat === 'max') return durations.at(-1) ?? 0
    const p = /^p\((\d+)\)$/.exec(threshold.stat)
    if (!p) throw new Error(`a duration threshold needs max or p(N), not ${threshold.stat}`)
    return percentile(durations, Number(p[1]))
  }
  if (threshold.metric === 'http_req_failed') {
    if (threshold.stat !== 'rate')
      throw new Error(`http_req_failed thresholds are rates, not ${threshold.stat}`)
    return records.length === 0 ? 0 : records.filter((r) => r.outcome !== 'ok').length / records.length
  }
  const count = records.filter(COUNTED[threshold.metric]).length
  if (threshold.stat === 'count') return count
  if (threshold.stat === 'rate') return records.length === 0 ? 0 : count / records.length
  throw new Error(`${threshold.metric} thresholds are counts or rates, not ${threshold.stat}`)
}

/** One second of the run, for the report's charts. */
export interface TimelinePoint {
  readonly second: number
  readonly requests: number
  readonly errorsByCode: Record<string, number>
  readonly p50Ms: number
  readonly p99Ms: number
}

export function timeline(records: readonly RequestRecord[], totalSeconds: number): TimelinePoint[] {
  const buckets = Array.from({ length: Math.max(1, Math.ceil(totalSeconds)) }, () => [] as RequestRecord[])
  for (const record of records) {
    const second = Math.min(buckets.length - 1, Math.floor(record.at / 1000))
    buckets[second]!.push(record)
  }
  return buckets.map((bucket, second) => {
    const durations = bucket.map((r) => r.durationMs).sort((a, b) => a - b)
    const errorsByCode: Record<string, number> = {}
    for (const record of bucket) {
      if (record.outcome === 'ok') continue
      const label = failureLabel(record)
      errorsByCode[label] = (errorsByCode[label] ?? 0) + 1
    }
    return {
      second,
      requests: bucket.length,
      errorsByCode,
      p50Ms: percentile(durations, 50),
      p99Ms: percentile(durations, 99),
    }
  })
}
