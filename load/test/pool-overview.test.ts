import { describe, expect, it } from 'vitest'
import { parseApiMetrics } from '../runner/metrics-sampler.js'
import { poolOverview } from '../runner/run-summary.js'

/** A scrape at `seconds` with the pool's connection counters as `/metrics` shows them. */
function sample(seconds: number, attempts: number, failures: number) {
  return parseApiMetrics(
    `db_pool_connect_attempts_total ${attempts}\ndb_pool_connect_failures_total ${failures}\n`,
    seconds * 1000,
  )
}

describe("the api's pool over a run", () => {
  it('counts as made while the database was down the attempts that failed, not the reconnections once it accepts inside the same sample', () => {
    // Stopped at 10.4 s, accepting at 15.4 s; the probe found it at 15.6 s and the pool opened one
    // connection per waiting user (50) before the scrape at 16 s.
    const samples = [
      sample(9, 60, 0),
      sample(10, 60, 0),
      sample(11, 64, 4),
      sample(15, 71, 11),
      sample(16, 122, 11),
    ]
    const pool = poolOverview(samples, { fromMs: 10_400, toMs: 15_400 })
    expect(pool).toMatchObject({ connectAttempts: 62, connectAttemptsWhileDown: 11 })
  })

  it('says nothing of an outage the samples do not frame', () => {
    const samples = [sample(11, 64, 4), sample(15, 71, 11)]
    expect(poolOverview(samples, { fromMs: 10_400, toMs: 15_400 }).connectAttemptsWhileDown).toBeNull()
    expect(poolOverview(samples).connectAttemptsWhileDown).toBeNull()
  })
})
