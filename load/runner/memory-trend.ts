// The api's memory once warmed up: the RSS and live-heap trends after the first minutes, and the soak's verdict on them.
import type { ApiSample } from './metrics-sampler.js'
import type { ThresholdResult } from './results.js'

const MB = 1024 * 1024
const TEN_MINUTES_MS = 600_000

/** What the trends leave out, when one is given, and what they must not exceed once judged. */
export const MEMORY_TREND = {
  /**
   * Seconds from the start of the load left out of the trends: the heap's young generation and the
   * pool grow to their working size in the first minute, which is warm-up, not a leak.
   */
  settleSeconds: 120,
  /** The shortest span of scrapes after the settle whose trend is given: a few GC cycles. */
  minSpanSeconds: 300,
  /** The shortest span that is judged (a soak): shorter, a trend is shown, never a verdict. */
  judgedSpanSeconds: 600,
  /** The most the RSS may grow, in MB per 10 minutes, after the settle. */
  rssMbPer10Min: 5,
  /** The most the heap after GC (the live data) may grow, in MB per 10 minutes, after the settle. */
  heapAfterGcMbPer10Min: 2,
} as const

/** The api's memory after the settle; every trend `null` when its scrapes span too little. */
export interface MemoryTrend {
  /** Seconds from the start of the load where the trends begin. */
  readonly fromSeconds: number
  /** Seconds between the first and the last scrape after it that told the RSS. */
  readonly spanSeconds: number
  /** Least-squares slope of the RSS, in MB per 10 minutes. */
  readonly rssMbPer10Min: number | null
  /** The heap after the latest major GC at the first and the last scrape after the settle, in MB. */
  readonly heapAfterGcFirstMb: number | null
  readonly heapAfterGcLastMb: number | null
  /** Least-squares slope of the heap after GC, in MB per 10 minutes. */
  readonly heapAfterGcMbPer10Min: number | null
}

/**
 * The RSS and heap-after-GC trends of the scrapes after `settleSeconds`.
 *
 * ```ts
 * memoryTrend(summary.apiSamples).rssMbPer10Min // 0.8
 * ```
 */
export function memoryTrend(
  samples: readonly ApiSample[],
  settleSeconds: number = MEMORY_TREND.settleSeconds,
): MemoryTrend {
  const after = samples.filter((s) => s.at >= settleSeconds * 1000)
  const points = (read: (s: ApiSample) => number) =>
    after.filter((s) => Number.isFinite(read(s))).map((s) => [s.at, read(s) / MB] as const)
  const rss = points((s) => s.rssBytes)
  const heap = points((s) => s.heapAfterGcBytes)
  const span = (series: readonly (readonly [number, number])[]) =>
    series.length >= 2 ? (series.at(-1)![0] - series[0]![0]) / 1000 : 0
  const slope = (series: readonly (readonly [number, number])[]) =>
    span(series) >= MEMORY_TREND.minSpanSeconds ? leastSquaresSlope(series) * TEN_MINUTES_MS : null
  return {
    fromSeconds: settleSeconds,
    spanSeconds: span(rss),
    rssMbPer10Min: slope(rss),
    heapAfterGcFirstMb: heap[0]?.[1] ?? null,
    heapAfterGcLastMb: heap.at(-1)?.[1] ?? null,
    heapAfterGcMbPer10Min: slope(heap),
  }
}

/**
 * The soak's thresholds on a trend: none while its scrapes span less than
 * {@link MEMORY_TREND.judgedSpanSeconds}; a trend that could not be read (no scrape told) fails.
 *
 * ```ts
 * memoryThresholds(memoryTrend(samples)) // [{ threshold: 'api rss after 120 s: MB per 10 min<=5', actual: 0.8, passed: true }, …]
 * ```
 */
export function memoryThresholds(trend: MemoryTrend): ThresholdResult[] {
  if (trend.spanSeconds < MEMORY_TREND.judgedSpanSeconds) return []
  const judge = (what: string, actual: number | null, limit: number): ThresholdResult => ({
    threshold: `api ${what} after ${trend.fromSeconds} s: MB per 10 min<=${limit}`,
    actual: actual ?? Number.NaN,
    passed: actual !== null && actual <= limit,
  })
  return [
    judge('rss', trend.rssMbPer10Min, MEMORY_TREND.rssMbPer10Min),
    judge('heap after GC', trend.heapAfterGcMbPer10Min, MEMORY_TREND.heapAfterGcMbPer10Min),
  ]
}

/** The slope of y over x that fits the points best, in y per unit of x. */
function leastSquaresSlope(points: readonly (readonly [number, number])[]): number {
  const n = points.length
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / n
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / n
  let covariance = 0
  let variance = 0
  for (const [x, y] of points) {
    covariance += (x - meanX) * (y - meanY)
    variance += (x - meanX) ** 2
  }
  return variance === 0 ? 0 : covariance / variance
}
