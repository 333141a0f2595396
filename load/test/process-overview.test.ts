import { describe, expect, it } from 'vitest'
import type { ApiSample } from '../runner/metrics-sampler.js'
import { parseApiMetrics } from '../runner/metrics-sampler.js'
import { processOverview } from '../runner/run-summary.js'

const MB = 1024 * 1024

/** A scrape at `seconds` with the given process figures (the pool's are not looked at here). */
function sample(seconds: number, rssMb: number, heapMb = 40, lagMs = 2): ApiSample {
  return {
    ...parseApiMetrics('', seconds * 1000),
    rssBytes: rssMb * MB,
    heapUsedBytes: heapMb * MB,
    loopLagP99Seconds: lagMs / 1000,
  }
}

describe('the api process over a run', () => {
  it('reads a steady leak as its rate in MB per 10 minutes, whatever the noise around it', () => {
    // 0.01 MB a second is 6 MB per 10 minutes; ±3 MB of GC swing must not hide it.
    const samples = Array.from({ length: 601 }, (_, s) => sample(s, 150 + 0.01 * s + (s % 2 === 0 ? 3 : -3)))
    const overview = processOverview(samples)
    expect(overview.rssSlopeMbPer10Min).toBeCloseTo(6, 1)
    expect(overview.rssPeakMb).toBeCloseTo(159, 0)
  })

  it('reads memory that holds flat as a trend of about zero, and names the worst second of lag', () => {
    const samples = Array.from({ length: 301 }, (_, s) =>
      sample(s, 150 + (s % 3), 40 + (s % 5), s === 60 ? 85 : 2),
    )
    const overview = processOverview(samples)
    expect(Math.abs(overview.rssSlopeMbPer10Min!)).toBeLessThan(0.5)
    expect(overview).toMatchObject({ rssStartMb: 150, heapPeakMb: 44, loopLagP99MaxMs: 85 })
  })

  it('gives no trend over a run too short to mean one (a 20 s climb is warm-up, not a leak), and says how long it was', () => {
    const samples = Array.from({ length: 21 }, (_, s) => sample(s, 150 + 2 * s))
    expect(processOverview(samples)).toMatchObject({
      rssSlopeMbPer10Min: null,
      rssSpanSeconds: 20,
      rssEndMb: 190,
    })
  })

  it('says nothing rather than something wrong when no scrape told (an api that never answered /metrics)', () => {
    expect(processOverview([parseApiMetrics('', 0), parseApiMetrics('', 1000)])).toEqual({
      rssStartMb: null,
      rssEndMb: null,
      rssPeakMb: null,
      rssSlopeMbPer10Min: null,
      rssSpanSeconds: 0,
      heapPeakMb: null,
      loopLagP99MaxMs: null,
    })
  })

  it("reads prom-client's process series, digits in their names included", () => {
    const text = [
      '# HELP process_resident_memory_bytes Resident memory size in bytes.',
      'process_resident_memory_bytes 157286400',
      'nodejs_heap_size_used_bytes 41943040',
      'nodejs_eventloop_lag_p99_seconds 0.012',
    ].join('\n')
    expect(parseApiMetrics(text, 5000)).toMatchObject({
      at: 5000,
      rssBytes: 157286400,
      heapUsedBytes: 41943040,
      loopLagP99Seconds: 0.012,
    })
  })
})
