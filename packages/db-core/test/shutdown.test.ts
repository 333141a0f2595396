import { performance } from 'node:perf_hooks'
import { createTestDatabase } from '@classroom/local-postgres'
import { recordingLogger } from '@classroom/test-kit'
import pg from 'pg'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import { configFor, openPool, sleep } from './support.js'

let url: string

beforeAll(async () => {
  url = await createTestDatabase(inject('databaseUrl'), 'db_core_shutdown')
})

async function backendAlive(pid: number): Promise<boolean> {
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  try {
    return (await admin.query('select 1 from pg_stat_activity where pid = $1', [pid])).rows.length > 0
  } finally {
    await admin.end()
  }
}

describe('endWithin: a shutdown no checkout can hold open', () => {
  it('resolves true at once when every connection is back', async () => {
    const pool = openPool(configFor(url))
    await pool.query('select 1')
    const startedAt = performance.now()
    await expect(pool.endWithin(5000)).resolves.toBe(true)
    expect(performance.now() - startedAt).toBeLessThan(1000)
    expect(pool.totalCount).toBe(0)
  })

  it('destroys a leaked checkout when the time is up, names the code that took it, and resolves false', async () => {
    const { logger, lines } = recordingLogger()
    const pool = openPool(configFor(url), logger)
    const leaked = await pool.connect()
    const pid = (leaked as unknown as { processID: number }).processID
    const startedAt = performance.now()
    await expect(pool.endWithin(300)).resolves.toBe(false)
    const elapsedMs = performance.now() - startedAt
    expect(elapsedMs).toBeGreaterThanOrEqual(290)
    expect(elapsedMs).toBeLessThan(2000)
    const warning = lines.find((line) => line.message === 'a connection still held at shutdown was destroyed')
    expect(String(warning?.acquiredAt)).toContain('shutdown.test.ts')
    expect(warning?.heldMs).toBeGreaterThanOrEqual(290)
    expect(pool.stats().connectionsDestroyedAtShutdown).toBe(1)
    expect(pool.totalCount).toBe(0)
    await expect.poll(() => backendAlive(pid)).toBe(false)
  })

  it('is not held open by a checkout queued behind a leaked one either', async () => {
    const pool = openPool(configFor(url, { DB_POOL_SIZE: '1', DB_POOL_MAX_OVERFLOW: '0' }))
    await pool.connect()
    const queued = pool.query('select 1').catch((error: unknown) => error)
    const startedAt = performance.now()
    await expect(pool.endWithin(300)).resolves.toBe(false)
    expect(performance.now() - startedAt).toBeLessThan(2000)
    expect(pool.totalCount).toBe(0)
    // Served by nobody, or served and cut: either way an answer, not a hang.
    await queued
  })

  it("cuts a pool.query() still running at the deadline: its caller gets an error, and pg-pool's own release after it is no second release", async () => {
    const pool = openPool(configFor(url, { DB_POOL_SIZE: '2', DB_POOL_MAX_OVERFLOW: '0' }))
    await pool.connect()
    const running = pool.query('select pg_sleep(30)').catch((error: unknown) => error)
    await sleep(100)
    await expect(pool.endWithin(200)).resolves.toBe(false)
    expect(await running).toBeInstanceOf(Error)
    // A second release would have thrown from pg's callback, an uncaught exception failing this run.
    await sleep(100)
    expect(pool.stats().connectionsDestroyedAtShutdown).toBe(2)
  })

  it('ends a query still running at the deadline: its caller gets an error, not a hang', async () => {
    const pool = openPool(configFor(url))
    const client = await pool.connect()
    const running = client.query('select pg_sleep(30)').catch((error: unknown) => error)
    await expect(pool.endWithin(200)).resolves.toBe(false)
    expect(await running).toBeInstanceOf(Error)
  })
})
