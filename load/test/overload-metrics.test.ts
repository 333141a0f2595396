import { describe, expect, it } from 'vitest'
import { parseApiMetrics } from '../runner/metrics-sampler.js'

// The pool's overload series as the api exports them (Prometheus text), and an older api without them.
describe("the overload drill's series in /metrics", () => {
  it('reads the queue delay histogram, the overload gauge and the refusals by reason, summed over other labels', () => {
    const sample = parseApiMetrics(
      [
        '# TYPE db_client_connection_pool_overloaded gauge',
        'db_client_connection_pool_overloaded 1',
        'db_client_connection_queue_delay_seconds_bucket{le="0.005"} 40',
        'db_client_connection_queue_delay_seconds_bucket{le="+Inf"} 50',
        'db_client_connection_refusals_total{reason="overloaded"} 12',
        'db_client_connection_refusals_total{pool="primary",reason="expected-wait"} 3',
        'db_client_connection_refusals_total{pool="replica1",reason="expected-wait"} 2',
        'db_client_connection_refusals_total{reason="timeout"} 0',
      ].join('\n'),
      1000,
    )
    expect(sample.overloaded).toBe(1)
    expect(sample.queueDelayBuckets).toEqual([
      [0.005, 40],
      [Number.POSITIVE_INFINITY, 50],
    ])
    expect(sample.refusalsByReason).toEqual({ overloaded: 12, 'expected-wait': 5, timeout: 0 })
  })

  it('tolerates an api without them: no buckets, no refusals, the gauge unknown', () => {
    const sample = parseApiMetrics('db_pool_connections 2', 0)
    expect(sample.queueDelayBuckets).toEqual([])
    expect(sample.refusalsByReason).toEqual({})
    expect(sample.overloaded).toBeNaN()
  })
})
