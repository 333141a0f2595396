import { describe, expect, it } from 'vitest'
import { type Bucket, parseBuckets, quantileBetween } from '../runner/histogram.js'

const INF = Number.POSITIVE_INFINITY

describe('percentiles from Prometheus histograms', () => {
  it('reads the buckets of one histogram out of a whole exposition, +Inf included, in order', () => {
    const text = [
      '# HELP db_client_connection_use_time_seconds Hold time.',
      'db_client_connection_use_time_seconds_bucket{le="0.01"} 3',
      'db_client_connection_use_time_seconds_bucket{le="+Inf"} 10',
      'db_client_connection_use_time_seconds_bucket{le="0.1"} 9',
      'db_pool_acquire_seconds_bucket{le="0.01"} 99',
      'db_client_connection_use_time_seconds_sum 0.9',
    ].join('\n')
    expect(parseBuckets(text, 'db_client_connection_use_time_seconds')).toEqual([
      [0.01, 3],
      [0.1, 9],
      [INF, 10],
    ])
  })

  it('sums a histogram exported with more labels than le (one series per pool) into one', () => {
    const text = [
      'db_client_connection_queue_delay_seconds_bucket{pool="primary",le="0.01"} 3',
      'db_client_connection_queue_delay_seconds_bucket{le="0.01",pool="replica1"} 2',
      'db_client_connection_queue_delay_seconds_bucket{pool="primary",le="+Inf"} 4',
      'db_client_connection_queue_delay_seconds_bucket{le="+Inf",pool="replica1"} 6',
    ].join('\n')
    expect(parseBuckets(text, 'db_client_connection_queue_delay_seconds')).toEqual([
      [0.01, 5],
      [INF, 10],
    ])
  })

  it('interpolates inside the bucket holding the rank, over what was observed between two scrapes', () => {
    const before: Bucket[] = [
      [0.01, 100],
      [0.1, 100],
      [1, 100],
      [INF, 100],
    ]
    // Since then: 50 under 10 ms, 40 between 10 and 100 ms, 10 between 100 ms and 1 s.
    const after: Bucket[] = [
      [0.01, 150],
      [0.1, 190],
      [1, 200],
      [INF, 200],
    ]
    expect(quantileBetween(before, after, 0.5)).toBeCloseTo(0.01)
    expect(quantileBetween(before, after, 0.7)).toBeCloseTo(0.01 + 0.09 * (20 / 40))
    expect(quantileBetween(before, after, 0.99)).toBeCloseTo(0.1 + 0.9 * (9 / 10))
  })

  it('answers the lower bound of +Inf for ranks past the last finite bucket, and null for no observation', () => {
    const after: Bucket[] = [
      [0.5, 1],
      [INF, 4],
    ]
    expect(quantileBetween([], after, 0.9)).toBe(0.5)
    expect(quantileBetween(after, after, 0.5)).toBeNull()
  })
})
