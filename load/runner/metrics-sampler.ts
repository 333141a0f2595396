import { performance } from 'node:perf_hooks'
import { TEST_API_AUTH } from '@classroom/test-kit'
import { type Bucket, parseBuckets } from './histogram.js'

/** The api as `/metrics` showed it at one moment: its pool, its writes' recovery, its process. */
export interface ApiSample {
  /** Milliseconds from the start of the load. */
  readonly at: number
  readonly total: number
  readonly idle: number
  readonly active: number
  readonly waiting: number
  readonly acquireTimeouts: number
  readonly prePingFailures: number
  readonly connectionErrors: number
  readonly connectAttempts: number
  /** Connection attempts that failed: refused, dropped, timed out, or the wrong kind of server. */
  readonly connectFailures: number
  readonly checkoutsWaitedForDatabase: number
  readonly writeReruns: number
  readonly idempotentReplays: number
  /** The api process's resident memory and used V8 heap, in bytes. */
  readonly rssBytes: number
  readonly heapUsedBytes: number
  /** The V8 heap committed (young and old generations' pages), in bytes: what the heap adds to the RSS. */
  readonly heapTotalBytes: number
  /** The heap outside the young generation just after the latest major GC, in bytes: the live data. */
  readonly heapAfterGcBytes: number
  /** The event loop's delay, 99th percentile since the previous scrape, in seconds. */
  readonly loopLagP99Seconds: number
  /** The cumulative buckets of checkout waits and of connection holds, in seconds. */
  readonly acquireBuckets: readonly Bucket[]
  readonly holdBuckets: readonly Bucket[]
  /** Reads sent to each target so far (`db_reads_total{target}`): empty without replicas. */
  readonly readsByTarget: Readonly<Record<string, number>>
  /** Reads that wanted a replica and went to the primary, by reason (`db_read_primary_fallbacks_total{reason}`). */
  readonly primaryFallbacks: Readonly<Record<string, number>>
  /** The time waiters spent queued, served or refused (`db.client.connection.queue_delay`): empty on an api without it. */
  readonly queueDelayBuckets: readonly Bucket[]
  /** Whether the pool was in overload (`db.client.connection.pool.overloaded`, 0 or 1); NaN on an api without it. */
  readonly overloaded: number
  /** Checkouts the pool refused so far, by reason (`db.client.connection.refusals{reason}`). */
  readonly refusalsByReason: Readonly<Record<string, number>>
}

const SERIES: Record<string, keyof Omit<ApiSample, 'at'>> = {
  db_pool_connections: 'total',
  db_pool_connections_idle: 'idle',
  db_pool_connections_active: 'active',
  db_pool_connections_pending: 'waiting',
  db_pool_acquire_timeouts_total: 'acquireTimeouts',
  db_pool_pre_ping_failures_total: 'prePingFailures',
  db_pool_connection_errors_total: 'connectionErrors',
  db_pool_connect_attempts_total: 'connectAttempts',
  db_pool_connect_failures_total: 'connectFailures',
  db_pool_checkouts_waited_for_database_total: 'checkoutsWaitedForDatabase',
  db_write_reruns_total: 'writeReruns',
  http_idempotent_replays_total: 'idempotentReplays',
  // prom-client's default metrics; the loop-lag percentiles start afresh at every scrape.
  process_resident_memory_bytes: 'rssBytes',
  nodejs_heap_size_used_bytes: 'heapUsedBytes',
  nodejs_heap_size_total_bytes: 'heapTotalBytes',
  nodejs_heap_used_after_gc_bytes: 'heapAfterGcBytes',
  nodejs_eventloop_lag_p99_seconds: 'loopLagP99Seconds',
  db_client_connection_pool_overloaded: 'overloaded',
}

/** Reads the pool, write-recovery and process series out of a Prometheus text exposition. */
export function parseApiMetrics(text: string, at: number): ApiSample {
  const sample: Record<string, number> = { at }
  for (const line of text.split('\n')) {
    const match = /^([a-z_][a-z0-9_]*) (\S+)$/.exec(line)
    const field = match ? SERIES[match[1]!] : undefined
    if (field) sample[field] = Number(match![2])
  }
  for (const field of Object.values(SERIES)) sample[field] ??= Number.NaN
  // The api's gauge reads 0 until its first major GC: nothing measured yet, not an empty heap.
  if (!(Number(/^nodejs_heap_major_gcs_total (\S+)$/m.exec(text)?.[1]) > 0))
    sample.heapAfterGcBytes = Number.NaN
  return {
    ...(sample as unknown as Omit<
      ApiSample,
      | 'acquireBuckets'
      | 'holdBuckets'
      | 'readsByTarget'
      | 'primaryFallbacks'
      | 'queueDelayBuckets'
      | 'refusalsByReason'
    >),
    acquireBuckets: parseBuckets(text, 'db_pool_acquire_seconds'),
    holdBuckets: parseBuckets(text, 'db_client_connection_use_time_seconds'),
    readsByTarget: byLabel(text, 'db_reads_total', 'target'),
    primaryFallbacks: byLabel(text, 'db_read_primary_fallbacks_total', 'reason'),
    queueDelayBuckets: parseBuckets(text, 'db_client_connection_queue_delay_seconds'),
    refusalsByReason: byLabel(text, 'db_client_connection_refusals_total', 'reason'),
  }
}

/**
 * A series' value for each value of one of its labels, summed over its other labels:
 * `name{label="x"} 3` → `{ x: 3 }`.
 */
function byLabel(text: string, name: string, label: string): Record<string, number> {
  const values: Record<string, number> = {}
  const series = new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm')
  const labelled = new RegExp(`(?:^|,)${label}="([^"]*)"`)
  for (const [, labels, value] of text.matchAll(series)) {
    const key = labelled.exec(labels!)?.[1]
    if (key !== undefined) values[key] = (values[key] ?? 0) + Number(value)
  }
  return values
}

/**
 * Scrapes `/metrics` every `intervalMs` until stopped; a failed scrape is skipped, not fatal.
 *
 * ```ts
 * const sampler = startSampler(apiUrl, startedAt)
 * const samples = sampler.stop()
 * ```
 */
export function startSampler(
  baseUrl: string,
  startedAt: number,
  intervalMs = 1000,
): { stop(): ApiSample[]; latest(): ApiSample | undefined } {
  const samples: ApiSample[] = []
  const scrape = async () => {
    const at = performance.now() - startedAt
    try {
      const response = await fetch(`${baseUrl}/metrics`, {
        signal: AbortSignal.timeout(intervalMs),
        headers: { authorization: `Bearer ${process.env.METRICS_TOKEN ?? TEST_API_AUTH.METRICS_TOKEN}` },
      })
      if (response.ok) samples.push(parseApiMetrics(await response.text(), at))
    } catch {
      // The api is busy or restarting; the next scrape will tell.
    }
  }
  void scrape()
  const timer = setInterval(scrape, intervalMs)
  return {
    stop() {
      clearInterval(timer)
      return samples
    },
    latest: () => samples.at(-1),
  }
}
