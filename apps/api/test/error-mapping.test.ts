import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { request, startTestApi, type TestApi } from './support.js'

let t: TestApi | undefined

afterEach(async () => {
  await t?.close()
  t = undefined
})

describe('errors a request can end in', () => {
  it('answers 503 POOL_TIMEOUT with Retry-After when no connection comes free in time', async () => {
    t = await startTestApi('api_pool_timeout', {
      DB_POOL_SIZE: '1',
      DB_POOL_MAX_OVERFLOW: '0',
      DB_POOL_TIMEOUT_SECONDS: '0.2',
      // The acquire timeout alone: the overload policy's answer is the next test's.
      DB_POOL_QUEUE_POLICY: 'fifo',
    })
    const held = await t.api.pool.connect()
    try {
      const { status, body, headers } = await request(t.url, 'GET', '/classrooms')
      expect(status).toBe(503)
      expect(body).toEqual({
        error: 'POOL_TIMEOUT',
        message: 'the service is at its database connection limit; retry shortly',
      })
      expect(headers.get('retry-after')).toBe('1')
    } finally {
      held.release()
    }
    expect((await request(t.url, 'GET', '/classrooms')).status).toBe(200)
    const metrics = (await request(t.url, 'GET', '/metrics')).body as string
    expect(metrics).toContain('db_pool_acquire_timeouts_total 1')
  })

  it('answers 503 POOL_OVERLOADED with Retry-After when the queue stands, long before the acquire timeout, and counts it', async () => {
    t = await startTestApi('api_pool_overloaded', {
      DB_POOL_SIZE: '1',
      DB_POOL_MAX_OVERFLOW: '0',
      DB_POOL_QUEUE_TARGET_MS: '20',
      DB_POOL_QUEUE_INTERVAL_MS: '100',
    })
    const held = await t.api.pool.connect()
    try {
      const { status, body, headers } = await request(t.url, 'GET', '/classrooms')
      expect(status).toBe(503)
      expect(body).toEqual({
        error: 'POOL_OVERLOADED',
        message:
          'the service is receiving more requests than its database can serve in time; retry after the Retry-After pause',
      })
      expect(headers.get('retry-after')).toBe('1')
    } finally {
      held.release()
    }
    expect((await request(t.url, 'GET', '/classrooms')).status).toBe(200)
    const metrics = (await request(t.url, 'GET', '/metrics')).body as string
    expect(metrics).toContain('db_client_connection_refusals_total{reason="overloaded"} 1')
    expect(metrics).toContain('db_pool_overloads_total 1')
    expect(metrics).toMatch(/db_client_connection_queue_delay_seconds_count [1-9]/)
    expect(metrics).toContain('db_client_connection_pool_overloaded 0')
  })

  it("bounds a request's checkouts by API_REQUEST_TIMEOUT_MS, not the pool's acquire timeout", async () => {
    t = await startTestApi('api_request_deadline', {
      DB_POOL_SIZE: '1',
      DB_POOL_MAX_OVERFLOW: '0',
      DB_POOL_QUEUE_POLICY: 'fifo',
      API_REQUEST_TIMEOUT_MS: '300',
    })
    const held = await t.api.pool.connect()
    const started = performance.now()
    try {
      const { status, body } = await request(t.url, 'GET', '/classrooms')
      expect(status).toBe(503)
      expect(body).toMatchObject({ error: 'POOL_TIMEOUT' })
    } finally {
      held.release()
    }
    // Answered by the request's 0.3 s deadline: far inside the pool's 30 s acquire timeout.
    expect(performance.now() - started).toBeLessThan(10_000)
    expect(t.api.pool.stats()).toMatchObject({ acquireTimeouts: 1, waiting: 0 })
    expect((await request(t.url, 'GET', '/classrooms')).status).toBe(200)
  })

  it('answers an unexpected failure with 500 and a request id; SQL and stack only in the logs', async () => {
    t = await startTestApi('api_internal_error')
    // Break the schema under the running api: a real, unplanned database error.
    const admin = new pg.Client({ connectionString: t.databaseUrl })
    await admin.connect()
    await admin.query('alter table classrooms rename to classrooms_moved')
    await admin.end()

    const { status, body, headers } = await request(t.url, 'GET', '/classrooms')
    expect(status).toBe(500)
    expect(body).toEqual({
      error: 'INTERNAL_ERROR',
      message: 'an unexpected error occurred',
      requestId: headers.get('x-request-id'),
    })
    expect(JSON.stringify(body)).not.toMatch(/classrooms|select|at /i)
    const logged = t.logs.find((line) => line.message === 'unexpected error while handling a request')
    expect(logged).toMatchObject({
      level: 'error',
      requestId: body.requestId,
      route: '/classrooms',
      error: expect.stringContaining('relation "classrooms" does not exist'),
      stack: expect.stringContaining('at '),
    })
  })
})
