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
