// How each k6 metric type aggregates its samples, and the one percentile estimator every figure uses.
export type MetricType = 'counter' | 'gauge' | 'rate' | 'trend'

/** What a metric's samples aggregate to; `stat` answers a threshold's aggregation method. */
export interface Sink {
  /** How many samples it got. */
  readonly samples: number
  add(value: number): void
  /** The value of `count`, `rate`, `value`, `avg`, `min`, `max`, `med` or `p(N)`; undefined when not this sink's. */
  stat(name: string, testDurationMs: number): number | undefined
  /** k6's summary `values` for this sink. */
  values(trendStats: readonly string[], testDurationMs: number): Record<string, number>
}

/** The aggregation methods each type accepts in a threshold, as k6 accepts them. */
export const STATS_BY_TYPE: Record<MetricType, readonly string[]> = {
  counter: ['count', 'rate'],
  gauge: ['value'],
  rate: ['rate'],
  trend: ['avg', 'min', 'max', 'med', 'p(N)'],
}

class CounterSink implements Sink {
  samples = 0
  private count = 0
  add(value: number): void {
    this.samples++
    this.count += value
  }
  stat(name: string, testDurationMs: number): number | undefined {
    if (name === 'count') return this.count
    if (name === 'rate') return testDurationMs > 0 ? this.count / (testDurationMs / 1000) : 0
    return undefined
  }
  values(_: readonly string[], testDurationMs: number) {
    return { count: this.count, rate: this.stat('rate', testDurationMs)! }
  }
}

class GaugeSink implements Sink {
  samples = 0
  private last = 0
  private min = Number.POSITIVE_INFINITY
  private max = Number.NEGATIVE_INFINITY
  add(value: number): void {
    this.samples++
    this.last = value
    this.min = Math.min(this.min, value)
    this.max = Math.max(this.max, value)
  }
  stat(name: string): number | undefined {
    return name === 'value' ? this.last : undefined
  }
  values() {
    const seen = this.max !== Number.NEGATIVE_INFINITY
    return { value: this.last, min: seen ? this.min : 0, max: seen ? this.max : 0 }
  }
}

class RateSink implements Sink {
  samples = 0
  private passes = 0
  private total = 0
  add(value: number): void {
    this.samples++
    this.total++
    if (value !== 0) this.passes++
  }
  stat(name: string): number | undefined {
    return name === 'rate' ? (this.total === 0 ? 0 : this.passes / this.total) : undefined
  }
  values() {
    return { rate: this.stat('rate')!, passes: this.passes, fails: this.total - this.passes }
  }
}

class TrendSink implements Sink {
  samples = 0
  private readonly observed: number[] = []
  private sorted = true
  private sum = 0
  add(value: number): void {
    this.samples++
    if (this.observed.length > 0 && value < this.observed[this.observed.length - 1]!) this.sorted = false
    this.observed.push(value)
    this.sum += value
  }
  stat(name: string): number | undefined {
    const n = this.observed.length
    if (name === 'count') return undefined
    if (name === 'avg') return n === 0 ? 0 : this.sum / n
    const percent = name === 'min' ? 0 : name === 'max' ? 100 : name === 'med' ? 50 : percentOf(name)
    return percent === undefined ? undefined : this.percentile(percent / 100)
  }
  values(trendStats: readonly string[]) {
    return Object.fromEntries(trendStats.map((name) => [name, this.stat(name) ?? 0]))
  }
  private percentile(fraction: number): number {
    if (!this.sorted) {
      this.observed.sort((a, b) => a - b)
      this.sorted = true
    }
    return percentile(this.observed, fraction * 100)
  }
}

/**
 * k6's percentile of sorted values: linear interpolation between the closest ranks (0 for none).
 * The one estimator of every figure here: thresholds, the summaries, the runner's table and report.
 *
 * ```ts
 * percentile([10, 20, 30, 40], 50) // 25
 * ```
 */
export function percentile(sorted: readonly number[], percent: number): number {
  const n = sorted.length
  if (n === 0) return 0
  const index = (percent / 100) * (n - 1)
  const lower = Math.floor(index)
  const below = sorted[lower]!
  return lower + 1 < n ? below + (sorted[lower + 1]! - below) * (index - lower) : below
}

/** `p(95)` → 95, `p(99.9)` → 99.9; undefined for anything else. */
export function percentOf(name: string): number | undefined {
  const match = /^p\((\d+(?:\.\d+)?)\)$/.exec(name)
  return match && Number(match[1]) <= 100 ? Number(match[1]) : undefined
}

/** A new, empty sink for a metric of `type`. */
export function newSink(type: MetricType): Sink {
  switch (type) {
    case 'counter':
      return new CounterSink()
    case 'gauge':
      return new GaugeSink()
    case 'rate':
      return new RateSink()
    case 'trend':
      return new TrendSink()
  }
}
