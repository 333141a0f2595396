// pg-pool's error contract (packages/pg-pool/test/error-handling.js), on db-core's pool.
import { findClosedPort } from '@classroom/test-kit'
import { describe, expect, inject, it } from 'vitest'
import { DatabaseUnavailableError } from '../../src/index.js'
import { configFor, openPool } from '../support.js'

describe('errors, as pg-pool reports them', () => {
  it('release called twice throws each time, by promise and by callback', async () => {
    const pool = openPool(configFor(inject('databaseUrl')))
    try {
      const client = await pool.connect()
      client.release()
      expect(() => client.release()).toThrow(
        'Release called on client which has already been released to the pool.',
      )
      expect(() => client.release()).toThrow()
      await new Promise<void>((resolve) =>
        pool.connect((_error, _client, done) => {
          done()
          expect(() => done()).toThrow()
          resolve()
        }),
      )
    } finally {
      await pool.end()
    }
  })

  it("an error on an idle client removes it from the pool and reaches the pool's error event", async () => {
    const pool = openPool(configFor(inject('databaseUrl'), { DB_POOL_SIZE: '1', DB_POOL_MAX_OVERFLOW: '0' }))
    try {
      const client = await pool.connect()
      client.release()
      const poolError = new Promise<Error>((resolve) => pool.once('error', resolve))
      client.emit('error', new Error('expected'))
      expect((await poolError).message).toBe('expected')
      expect(pool.totalCount).toBe(0)
      await expect(pool.query('select 1 as one')).resolves.toMatchObject({ rows: [{ one: 1 }] })
    } finally {
      await pool.end()
    }
  })

  it('keeps working after many statement errors on a pool of one', async () => {
    const pool = openPool(configFor(inject('databaseUrl'), { DB_POOL_SIZE: '1', DB_POOL_MAX_OVERFLOW: '0' }))
    try {
      const errors = await Promise.all(
        Array.from({ length: 20 }, () => pool.query('invalid sql').catch((error: unknown) => error)),
      )
      expect(errors.every((error) => (error as { code?: string }).code === '42601')).toBe(true)
      await expect(pool.query('select $1::text as name', ['ok'])).resolves.toMatchObject({
        rows: [{ name: 'ok' }],
      })
    } finally {
      await pool.end()
    }
  })

  it("a connection failure keeps the driver's code reachable: causeCode, and the original error as cause", async () => {
    const port = await findClosedPort()
    const pool = openPool(
      configFor(`postgres://app:x@127.0.0.1:${port}/app`, { DB_POOL_UNAVAILABLE_WAIT_MS: '0' }),
    )
    try {
      const error = await pool.query('select 1').catch((caught: unknown) => caught)
      expect(error).toBeInstanceOf(DatabaseUnavailableError)
      expect(error).toMatchObject({ code: 'DATABASE_UNAVAILABLE', causeCode: 'ECONNREFUSED' })
      expect((error as Error).cause).toMatchObject({ code: 'ECONNREFUSED' })
    } finally {
      await pool.end()
    }
  })
})
