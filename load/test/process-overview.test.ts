import { describe, expect, it } from 'vitest'
import { MEMORY_TREND, memoryThresholds, memoryTrend } from '../runner/memory-trend.js'
import type { ApiSample } from '../runner/metrics-sampler.js'
import { parseApiMetrics } from '../runner/metrics-sampler.js'
import { drillExitCode } from '../runner/run-load.js'
import { processOverview } from '../runner/run-summary.js'

const MB = 1024 * 1024

/** A scrape at `seconds` with the given process figures (the pool's are not looked at here). */
function sample(seconds: number, rssMb: number, heapMb = 40, lagMs = 2, heapAfterGcMb = 30): ApiSample {
  return {
    ...parseApiMetrics('', seconds * 1000),
    rssBytes: rssMb * MB,
    heapUsedBytes: heapMb * MB,
    heapAfterGcBytes: heapAfterGcMb * MB,
    loopLagP99Seconds: lagMs / 1000,
  }
}

/** One scrape a second for `seconds`, each made by `at`. */
const run = (seconds: number, at: (s: number) => ApiSample) =>
  Array.from({ length: seconds + 1 }, (_, s) => at(s))

describe('the api process over a run', () => {
  it('reads a steady leak as its rate in MB per 10 minutes, whatever the noise around it', () => {
    // 0.01 MB a second is 6 MB per 10 minutes; ±3 MB of GC swing must not hide it.
    const overview = processOverview(run(900, (s) => sample(s, 150 + 0.01 * s + (s % 2 === 0 ? 3 : -3))))
    expect(overview.trend.rssMbPer10Min).toBeCloseTo(6, 1)
    expect(overview.rssPeakMb).toBeCloseTo(162, 0)
  })

  it('reads memory that holds flat as a trend of about zero, and names the worst second of lag', () => {
    const overview = processOverview(
      run(421, (s) => sample(s, 150 + (s % 3), 40 + (s % 5), s === 60 ? 85 : 2)),
    )
    expect(Math.abs(overview.trend.rssMbPer10Min!)).toBeLessThan(0.5)
    expect(overview).toMatchObject({ rssStartMb: 150, heapPeakMb: 44, loopLagP99MaxMs: 85 })
  })

  it("leaves the first two minutes out of the trend: the young generation's growth to its size is warm-up, not a leak", () => {
    // 125 → 310 MB over the first minute, then flat: the whole run's slope would read as a leak.
    const samples = run(900, (s) => sample(s, s < 60 ? 125 + (185 * s) / 60 : 310 + (s % 7)))
    expect(memoryTrend(samples, 0).rssMbPer10Min).toBeGreaterThan(20)
    expect(processOverview(samples).trend).toMatchObject({
      fromSeconds: MEMORY_TREND.settleSeconds,
      spanSeconds: 780,
    })
    expect(Math.abs(processOverview(samples).trend.rssMbPer10Min!)).toBeLessThan(0.5)
  })

  it('reads the live heap after GC on its own: a leak under a flat RSS, the heap after GC at its first and last scrape', () => {
    const samples = run(900, (s) => sample(s, 220, 40 + (s % 60), 2, 30 + s / 300))
    expect(processOverview(samples).trend).toMatchObject({ heapAfterGcFirstMb: 30.4, heapAfterGcLastMb: 33 })
    expect(processOverview(samples).trend.heapAfterGcMbPer10Min).toBeCloseTo(2, 1)
  })

  it('gives no trend over a run too short to mean one (a 20 s climb is warm-up, not a leak), and says how long it was', () => {
    const samples = run(20, (s) => sample(s, 150 + 2 * s))
    expect(processOverview(samples)).toMatchObject({
      rssEndMb: 190,
      trend: { rssMbPer10Min: null, heapAfterGcMbPer10Min: null, spanSeconds: 0 },
    })
    expect(processOverview(run(400, (s) => sample(s, 150))).trend).toMatchObject({
      rssMbPer10Min: null,
      spanSeconds: 280,
    })
  })

  it('says nothing rather than something wrong when no scrape told (an api that never answered /metrics)', () => {
    expect(processOverview([parseApiMetrics('', 0), parseApiMetrics('', 1000)])).toEqual({
      rssStartMb: null,
      rssEndMb: null,
      rssPeakMb: null,
      heapPeakMb: null,
      loopLagP99MaxMs: null,
      trend: {
        fromSeconds: 120,
        spanSeconds: 0,
        rssMbPer10Min: null,
        heapAfterGcFirstMb: null,
        heapAfterGcLastMb: null,
        heapAfterGcMbPer10Min: null,
      },
    })
  })

  it("reads prom-client's process series and the api's heap after GC, digits in their names included", () => {
    const text = [
      '# HELP process_resident_memory_bytes Resident memory size in bytes.',
      'process_resident_memory_bytes 157286400',
      'nodejs_heap_size_used_bytes 41943040',
      'nodejs_heap_size_total_bytes 62914560',
      'nodejs_heap_used_after_gc_bytes 31457280',
      'nodejs_heap_major_gcs_total 3',
      'nodejs_eventloop_lag_p99_seconds 0.012',
    ].join('\n')
    expect(parseApiMetrics(text, 5000)).toMatchObject({
      at: 5000,
      rssBytes: 157286400,
      heapUsedBytes: 41943040,
      heapTotalBytes: 62914560,
      heapAfterGcBytes: 31457280,
      loopLagP99Seconds: 0.012,
    })
  })
  it('reads no heap after GC before the api has seen a major GC (its gauge says 0 then)', () => {
    const text = 'nodejs_heap_used_after_gc_bytes 0\nnodejs_heap_major_gcs_total 0\n'
    expect(parseApiMetrics(text, 0).heapAfterGcBytes).toBeNaN()
    expect(parseApiMetrics('nodejs_heap_used_after_gc_bytes 0\n', 0).heapAfterGcBytes).toBeNaN()
  })
})

describe("the soak's thresholds on the memory trend", () => {
  const soak = (rss: (s: number) => number, heapAfterGc: (s: number) => number) =>
    memoryTrend(run(1800, (s) => sample(s, rss(s), 40, 2, heapAfterGc(s))))

  it('judges nothing while the scrapes after the settle span less than 10 minutes: a shorter run shows a trend, never a verdict', () => {
    const trend = memoryTrend(run(700, (s) => sample(s, 150 + s)))
    expect(trend.rssMbPer10Min).toBeGreaterThan(500)
    expect(memoryThresholds(trend)).toEqual([])
  })

  it('passes a soak whose RSS and live heap hold flat, naming each threshold with its actual trend', () => {
    const judged = memoryThresholds(
      soak(
        (s) => 220 + (s % 11),
        (s) => 35 + (s % 3),
      ),
    )
    expect(judged.map((t) => t.threshold)).toEqual([
      'api rss after 120 s: MB per 10 min<=5',
      'api heap after GC after 120 s: MB per 10 min<=2',
    ])
    expect(judged.every((t) => t.passed)).toBe(true)
    expect(Math.abs(judged[0]!.actual)).toBeLessThan(0.5)
  })

  it('fails a soak whose RSS grows past 5 MB per 10 minutes, and one whose live heap grows past 2, each on its own threshold', () => {
    const rssLeak = memoryThresholds(
      soak(
        (s) => 220 + s / 100,
        () => 35,
      ),
    )
    expect(rssLeak.map((t) => t.passed)).toEqual([false, true])
    expect(rssLeak[0]!.actual).toBeCloseTo(6, 1)
    const heapLeak = memoryThresholds(
      soak(
        () => 220,
        (s) => 35 + s / 200,
      ),
    )
    expect(heapLeak.map((t) => t.passed)).toEqual([true, false])
    expect(heapLeak[1]!.actual).toBeCloseTo(3, 1)
  })

  it('fails the heap threshold when no scrape told the heap after GC (an api without the series): not judged as flat', () => {
    const trend = memoryTrend(run(1800, (s) => ({ ...sample(s, 220), heapAfterGcBytes: Number.NaN })))
    const [rss, heap] = memoryThresholds(trend)
    expect(rss!.passed).toBe(true)
    expect(heap).toMatchObject({ passed: false, actual: Number.NaN })
  })
})

describe("a drill's exit code with its memory thresholds", () => {
  const judged = (passed: boolean) => [
    { threshold: 'api rss after 120 s: MB per 10 min<=5', actual: 1, passed },
  ]

  it('is 99 when a memory threshold failed, as when a script threshold did, whatever the ledgers say', () => {
    expect(drillExitCode(0, judged(false), true)).toBe(99)
    expect(drillExitCode(0, judged(false), false)).toBe(99)
    expect(drillExitCode(99, judged(true), true)).toBe(99)
  })

  it('is 1 when only a ledger failed, and 0 when everything passed or nothing was judged on memory', () => {
    expect(drillExitCode(0, judged(true), false)).toBe(1)
    expect(drillExitCode(0, judged(true), true)).toBe(0)
    expect(drillExitCode(0, [], true)).toBe(0)
  })
})
