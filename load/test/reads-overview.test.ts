import { describe, expect, it } from 'vitest'
import { parseApiMetrics } from '../runner/metrics-sampler.js'
import { readsOverview } from '../runner/run-summary.js'

// Scrapes as the api exposes its routing (prom-client's text): reads per target, fallbacks by reason.
function scrape(seconds: number, primary: number, replica1: number, replica2: number, behind: number) {
  return parseApiMetrics(
    [
      '# HELP db_reads_total Reads sent to each target: the primary or a replica by name.',
      '# TYPE db_reads_total counter',
      `db_reads_total{target="primary"} ${primary}`,
      `db_reads_total{target="replica1"} ${replica1}`,
      `db_reads_total{target="replica2"} ${replica2}`,
      `db_read_primary_fallbacks_total{reason="forced"} 0`,
      `db_read_primary_fallbacks_total{reason="behind_position"} ${behind}`,
      'db_pool_connections 12',
      'db_pool_connections{replica="replica1"} 3',
    ].join('\n'),
    seconds * 1000,
  )
}

const phases = [
  { name: 'before', startSeconds: 0, durationSeconds: 2 },
  { name: 'window', startSeconds: 2, durationSeconds: 2 },
] as const

describe('reads per target over a run', () => {
  it('parses each target and reason from /metrics, and the unlabelled primary pool apart from a replica’s', () => {
    const sample = scrape(1, 5, 7, 9, 4)
    expect(sample.readsByTarget).toEqual({ primary: 5, replica1: 7, replica2: 9 })
    expect(sample.primaryFallbacks).toEqual({ forced: 0, behind_position: 4 })
    expect(sample.total).toBe(12)
  })

  it('counts each phase between the scrapes nearest its start and end, and the run from its first scrape', () => {
    // Setup's reads (10 on the primary) happened before the first scrape: not the load's.
    const samples = [
      scrape(0, 10, 0, 0, 10),
      scrape(1, 20, 5, 5, 20),
      scrape(2, 30, 10, 10, 30),
      scrape(3, 50, 20, 10, 50),
      scrape(4, 60, 30, 10, 60),
    ]
    expect(readsOverview(samples, phases)).toEqual({
      byPhase: [
        { phase: 'before', byTarget: { primary: 20, replica1: 10, replica2: 10 } },
        { phase: 'window', byTarget: { primary: 30, replica1: 20, replica2: 0 } },
      ],
      total: { primary: 50, replica1: 30, replica2: 10 },
      primaryFallbacks: { forced: 0, behind_position: 50 },
    })
  })

  it('is absent when the api routes no read (no replicas)', () => {
    expect(readsOverview([parseApiMetrics('db_pool_connections 3', 0)], phases)).toBeUndefined()
    expect(readsOverview([], phases)).toBeUndefined()
  })
})
