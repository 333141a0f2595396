import { createTestDatabase } from '@classroom/local-postgres'
import { recordingLogger } from '@classroom/test-kit'
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import { InstrumentedPool, PoolTimeoutError } from '../src/index.js'
import { configFor } from './support.js'

let url: string

beforeAll(async () => {
  url = await createTestDatabase(inject('databaseUrl'), 'db_core_pool_metrics')
})

/** A reader a test collects from when it likes, as an exporter would on its interval. */
class CollectingReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

interface Point {
  readonly attributes: Record<string, unknown>
  readonly value: number | { count: number; sum?: number }
}

/** Every metric the pool reported, by name, with its data points. */
async function collect(reader: CollectingReader): Promise<Map<string, { unit: string; points: Point[] }>> {
  const { resourceMetrics } = await reader.collect()
  const byName = new Map<string, { unit: string; points: Point[] }>()
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      byName.set(metric.descriptor.name, {
        unit: metric.descriptor.unit,
        points: metric.dataPoints as unknown as Point[],
      })
    }
  }
  return byName
}

const value = (metrics: Awaited<ReturnType<typeof collect>>, name: string, state?: string) =>
  metrics
    .get(name)
    ?.points.find((p) => state === undefined || p.attributes['db.client.connection.state'] === state)?.value

function meteredPool(overrides: Record<string, string> = {}) {
  const reader = new CollectingReader()
  const meterProvider = new MeterProvider({ readers: [reader] })
  const held: number[] = []
  const created: number[] = []
  const pool = new InstrumentedPool({
    ...configFor(url, { DB_POOL_SIZE: '2', DB_POOL_MAX_OVERFLOW: '2', ...overrides }),
    logger: recordingLogger().logger,
    name: 'metrics-test',
    meterProvider,
    onRelease: (ms) => held.push(ms),
    onConnectionCreated: (ms) => created.push(ms),
  })
  return { pool, reader, held, created }
}

describe("OpenTelemetry's database client connection metrics", () => {
  it('reports connections by state, the limits and the waiters under the semantic-convention names', async () => {
    const { pool, reader } = meteredPool()
    try {
      await Promise.all(Array.from({ length: 3 }, () => pool.query('select pg_sleep(0.05)')))
      const client = await pool.connect()
      const metrics = await collect(reader)
      expect(value(metrics, 'db.client.connection.count', 'used')).toBe(1)
      expect(value(metrics, 'db.client.connection.count', 'idle')).toBe(2)
      expect(value(metrics, 'db.client.connection.idle.min')).toBe(2)
      expect(value(metrics, 'db.client.connection.idle.max')).toBe(4)
      expect(value(metrics, 'db.client.connection.max')).toBe(4)
      expect(value(metrics, 'db.client.connection.pending_requests')).toBe(0)
      expect(metrics.get('db.client.connection.count')?.unit).toBe('{connection}')
      for (const { points } of metrics.values()) {
        for (const point of points)
          expect(point.attributes['db.client.connection.pool.name']).toBe('metrics-test')
      }
      client.release()
    } finally {
      await pool.end()
    }
  })

  it("times every checkout's wait, its hold and every new connection, in seconds, and calls the hooks", async () => {
    const { pool, reader, held, created } = meteredPool()
    try {
      await Promise.all(Array.from({ length: 4 }, () => pool.query('select pg_sleep(0.1)')))
      const metrics = await collect(reader)
      const use = value(metrics, 'db.client.connection.use_time') as { count: number; sum: number }
      const wait = value(metrics, 'db.client.connection.wait_time') as { count: number; sum: number }
      const create = value(metrics, 'db.client.connection.create_time') as { count: number; sum: number }
      expect(metrics.get('db.client.connection.use_time')?.unit).toBe('s')
      expect(use.count).toBe(4)
      // Each held its connection through a 0.1 s sleep.
      expect(use.sum).toBeGreaterThanOrEqual(0.4)
      expect(wait.count).toBe(4)
      expect(create.count).toBe(4)
      expect(create.sum).toBeGreaterThan(0)
      expect(held).toHaveLength(4)
      expect(Math.min(...held)).toBeGreaterThanOrEqual(100)
      expect(created).toHaveLength(4)
    } finally {
      await pool.end()
    }
  })

  it('counts a checkout that found the pool full past the acquire timeout', async () => {
    const { pool, reader } = meteredPool({
      DB_POOL_SIZE: '1',
      DB_POOL_MAX_OVERFLOW: '0',
      DB_POOL_TIMEOUT_SECONDS: '0.2',
    })
    try {
      const client = await pool.connect()
      await expect(pool.query('select 1')).rejects.toBeInstanceOf(PoolTimeoutError)
      client.release()
      const metrics = await collect(reader)
      expect(value(metrics, 'db.client.connection.timeouts')).toBe(1)
      expect(metrics.get('db.client.connection.timeouts')?.unit).toBe('{timeout}')
    } finally {
      await pool.end()
    }
  })

  it('stops reporting its gauges once ended', async () => {
    const { pool, reader } = meteredPool()
    await pool.query('select 1')
    await pool.end()
    const metrics = await collect(reader)
    expect(metrics.get('db.client.connection.count')?.points ?? []).toEqual([])
  })
})
