import type { Outcome, PhaseName, RequestName } from '../shared/scenarios.js'

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
