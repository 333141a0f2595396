// The drills' request records summed up: per phase, per request name, per second.
import type { Outcome, PhaseName, RequestName } from '../shared/scenarios.js'
import { percentile } from './k6-runtime/metric-sinks.js'

export { percentile }

/** One answered (or failed) request. `status` 0 is a network error or a hang. */
export interface RequestRecord {
  /** Milliseconds from the start of the load to the request's start (setup's requests: 0). */
  readonly at: number
  /** The phase it started in; `setup` for the seeding setup() does before the load. */
  readonly phase: PhaseName | 'setup'
  /** The request of the mix; `seed` for setup()'s. */
  readonly name: RequestName | 'seed'
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
  readonly phase: PhaseName | 'all' | 'setup'
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
  phase: PhaseSummary['phase'],
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

/** Each request name of the mix over the load (setup apart): its count, failures by code, percentiles. */
export function perName(records: readonly RequestRecord[], seconds: number): NameSummary[] {
  const names = [...new Set(records.map((r) => r.name))].sort()
  return names.map((name) => ({
    name,
    ...summarise(
      records.filter((r) => r.name === name),
      'all',
      seconds,
    ),
  }))
}

/** One request name's figures over the load. */
export type NameSummary = PhaseSummary & { readonly name: RequestRecord['name'] }

/** One second of the run, for the report's charts. */
export interface TimelinePoint {
  readonly second: number
  readonly requests: number
  readonly errorsByCode: Record<string, number>
  readonly p50Ms: number
  readonly p95Ms: number
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
      p95Ms: percentile(durations, 95),
      p99Ms: percentile(durations, 99),
    }
  })
}
