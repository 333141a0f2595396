import { findClosedPort, recordingLogger } from '@classroom/test-kit'
import { sql } from 'kysely'
import pg from 'pg'
import { afterEach, describe, expect, inject, it } from 'vitest'
import {
  DatabaseAuthError,
  DatabaseUnavailableError,
  type InstrumentedPool,
  PoolTimeoutError,
} from '../src/index.js'
import { configFor, openDb, openPool, sleep, startSilentServer } from './support.js'

const url = inject('databaseUrl')
const pools: InstrumentedPool[] = []

function pool(overrides: Record<string, string> = {}, logger = recordingLogger().logger): InstrumentedPool {
  const created = openPool(configFor(url, overrides), logger)
  pools.push(created)
  return created
}

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => (p.ending ? undefined : p.end())))
})

/** Holds a connection for `ms` inside the database, so it stays checked out that long. */
const hold = (p: InstrumentedPool, ms: number) => p.query('select pg_sleep($1)', [ms / 1000])

describe('InstrumentedPool under load', () => {
  it('serves 50 concurrent callers holding a connection ~50 ms each with default settings, never above 60', async () => {
    const p = pool()
    let peakTotal = 0
    const sampler = setInterval(() => {
      peakTotal = Math.max(peakTotal, p.totalCount)
    }, 5)
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => hold(p, 50)))
    clearInterval(sampler)
    const rejected = results.filter((r) => r.status === 'rejected')
    expect(rejected).toEqual([])
    expect(peakTotal).toBeGreaterThan(20) // the burst really went into overflow
    expect(peakTotal).toBeLessThanOrEqual(60)
    const stats = p.stats()
    expect(stats).toMatchObject({
      acquireTimeouts: 0,
      acquisitions: 50,
      max: 60,
      size: 20,
      active: 0,
      waiting: 0,
    })
    expect(stats.connectionsCreated).toBe(peakTotal)
  })

  it('queues callers past size + overflow and serves them all within the timeout', async () => {
    const p = pool({ DB_POOL_SIZE: '2', DB_POOL_MAX_OVERFLOW: '1' })
    const results = await Promise.allSettled(Array.from({ length: 9 }, () => hold(p, 30)))
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true)
    expect(p.stats()).toMatchObject({ connectionsCreated: 3, acquisitions: 9, acquireTimeouts: 0 })
  })

  it('times out extra callers with PoolTimeoutError once size + overflow are taken, then serves normally', async () => {
    // FIFO: the acquire timeout alone (the adaptive policy's refusals are test/overload.test.ts's).
    const p = pool({
      DB_POOL_SIZE: '2',
      DB_POOL_MAX_OVERFLOW: '0',
      DB_POOL_TIMEOUT_SECONDS: '0.3',
      DB_POOL_QUEUE_POLICY: 'fifo',
    })
    const startedAt = performance.now()
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => hold(p, 1000)))
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []))
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2)
    expect(failures).toHaveLength(3)
    for (const failure of failures) {
      expect(failure).toBeInstanceOf(PoolTimeoutError)
      const timeout = failure as PoolTimeoutError
      expect(timeout.code).toBe('POOL_TIMEOUT')
      expect(timeout.message).toMatch(/^pool limit of size 2 overflow 0 reached, no connection within 0\.3 s/)
      // about the timeout: not before it, and well before the holders let go (1 s)
      expect(timeout.details.waitedMs).toBeGreaterThanOrEqual(295)
      expect(timeout.details.waitedMs).toBeLessThan(900)
    }
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(1000)
    expect(p.stats()).toMatchObject({ acquireTimeouts: 3, waiting: 0, active: 0 })
    await expect(p.query('select 1 as one')).resolves.toMatchObject({ rows: [{ one: 1 }] })
  })

  it('takes a checkout that timed out in the queue out of it at once: the next release serves the next caller', async () => {
    const p = pool({
      DB_POOL_SIZE: '1',
      DB_POOL_MAX_OVERFLOW: '0',
      DB_POOL_TIMEOUT_SECONDS: '0.3',
      DB_POOL_QUEUE_POLICY: 'fifo',
    })
    const held = await p.connect()
    await expect(p.connect()).rejects.toBeInstanceOf(PoolTimeoutError)
    // Still held: the timed-out request no longer waits in the queue for it.
    expect(p.stats()).toMatchObject({ waiting: 0, active: 1, acquireTimeouts: 1 })
    const next = p.connect()
    held.release()
    const client = await next
    expect(client).toBe(held)
    client.release()
    expect(p.stats()).toMatchObject({ waiting: 0, active: 0, acquisitions: 2 })
  })

  it('closes overflow connections after DB_POOL_OVERFLOW_IDLE_MS and keeps DB_POOL_SIZE', async () => {
    const p = pool({ DB_POOL_SIZE: '2', DB_POOL_MAX_OVERFLOW: '3', DB_POOL_OVERFLOW_IDLE_MS: '150' })
    await Promise.all(Array.from({ length: 5 }, () => hold(p, 50)))
    expect(p.totalCount).toBe(5)
    await sleep(600)
    expect(p.totalCount).toBe(2)
    expect(p.stats()).toMatchObject({ connectionsRemoved: 3, connectionsRecycled: 0, idle: 2 })
  })

  it('reports active, idle and waiting while connections are held', async () => {
    const p = pool({ DB_POOL_SIZE: '2', DB_POOL_MAX_OVERFLOW: '0' })
    const a = await p.connect()
    const b = await p.connect()
    const waiter = p.connect()
    await sleep(20)
    expect(p.stats()).toMatchObject({ total: 2, active: 2, idle: 0, waiting: 1 })
    a.release()
    const c = await waiter
    b.release()
    expect(p.stats()).toMatchObject({ total: 2, active: 1, idle: 1, waiting: 0 })
    c.release()
    expect(p.stats()).toMatchObject({ active: 0, idle: 2, acquisitions: 3 })
  })
})

describe('queue warning', () => {
  it('warns once when waiting exceeds the threshold, not at it, and says when it drained', async () => {
    const { logger, lines } = recordingLogger()
    const p = pool(
      {
        DB_POOL_SIZE: '1',
        DB_POOL_MAX_OVERFLOW: '0',
        DB_POOL_QUEUE_WARN_THRESHOLD: '3',
        DB_POOL_QUEUE_WARN_INTERVAL_MS: '60000',
      },
      logger,
    )
    const holder = await p.connect()
    const waiters = Array.from({ length: 3 }, () => p.connect())
    await sleep(20)
    expect(p.waitingCount).toBe(3)
    expect(lines.filter((l) => l.level === 'warn')).toEqual([])

    waiters.push(p.connect(), p.connect(), p.connect())
    await sleep(20)
    const warnings = lines.filter((l) => l.level === 'warn')
    expect(warnings).toEqual([
      {
        level: 'warn',
        message: 'database pool wait queue above threshold',
        waiting: 4,
        total: 1,
        idle: 0,
        max: 1,
        threshold: 3,
      },
    ])

    holder.release()
    for (const waiter of waiters) (await waiter).release()
    const drained = lines.filter((l) => l.message === 'database pool wait queue drained')
    expect(drained).toHaveLength(1)
    expect(drained[0]).toMatchObject({ level: 'info', threshold: 3, peakWaiting: 6 })
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(1)
  })

  it('repeats the warning once per interval while the queue stays above', async () => {
    const { logger, lines } = recordingLogger()
    const p = pool(
      {
        DB_POOL_SIZE: '1',
        DB_POOL_MAX_OVERFLOW: '0',
        DB_POOL_QUEUE_WARN_THRESHOLD: '0',
        DB_POOL_QUEUE_WARN_INTERVAL_MS: '200',
        // A waiter kept 700 ms with nothing released: FIFO, or the adaptive policy would refuse it.
        DB_POOL_QUEUE_POLICY: 'fifo',
      },
      logger,
    )
    const holder = await p.connect()
    const waiter = p.connect()
    await sleep(700)
    const warnings = lines.filter((l) => l.level === 'warn').length
    expect(warnings).toBeGreaterThanOrEqual(2)
    expect(warnings).toBeLessThanOrEqual(5)
    holder.release()
    ;(await waiter).release()
  })
})

describe('connection lifetime', () => {
  it('recycles connections past DB_POOL_RECYCLE_SECONDS after their current use, never failing a query', async () => {
    const p = pool({ DB_POOL_SIZE: '2', DB_POOL_MAX_OVERFLOW: '0', DB_POOL_RECYCLE_SECONDS: '1' })
    const pids = new Set<number>()
    const firstPids = new Set<number>()
    // A query that spans the lifetime: its connection must be retired after it, not during it.
    const longQuery = p.query<{ pid: number }>('select pg_backend_pid() as pid, pg_sleep(1.5)')
    const deadline = performance.now() + 2500
    while (performance.now() < deadline) {
      const { rows } = await p.query<{ pid: number }>('select pg_backend_pid() as pid')
      const pid = rows[0]!.pid
      if (pids.size === 0) firstPids.add(pid)
      pids.add(pid)
      await sleep(50)
    }
    const { rows: longRows } = await longQuery
    expect(longRows).toHaveLength(1)
    expect(pids.size).toBeGreaterThanOrEqual(2)
    expect([...pids].some((pid) => !firstPids.has(pid))).toBe(true)
    expect(p.stats().connectionsRecycled).toBeGreaterThanOrEqual(2)
  })
})

describe('lifetime jitter', () => {
  it('spreads the retirement of connections opened together over DB_POOL_RECYCLE_JITTER_SECONDS', async () => {
    const p = pool({
      DB_POOL_SIZE: '20',
      DB_POOL_MAX_OVERFLOW: '0',
      DB_POOL_RECYCLE_SECONDS: '2',
      DB_POOL_RECYCLE_JITTER_SECONDS: '1',
    })
    const startedAt = performance.now()
    const retiredAt: number[] = []
    p.on('remove', () => retiredAt.push(performance.now() - startedAt))
    // Twenty connections opened at once, then all kept busy: each retires at its first checkout past its own deadline.
    await Promise.all(Array.from({ length: 20 }, () => hold(p, 20)))
    while (performance.now() - startedAt < 2300) {
      await Promise.all(Array.from({ length: 20 }, () => hold(p, 10)))
    }
    const first20 = retiredAt.slice(0, 20)
    expect(first20).toHaveLength(20)
    expect(Math.min(...first20)).toBeGreaterThanOrEqual(950)
    expect(Math.max(...first20)).toBeLessThan(2200)
    // Uniform over a second, twenty retirements never bunch into one instant.
    expect(Math.max(...first20) - Math.min(...first20)).toBeGreaterThan(300)
    const busiest = Math.max(...first20.map((t) => first20.filter((u) => Math.abs(u - t) < 50).length))
    expect(busiest).toBeLessThan(12)
    expect(p.stats().connectionsRecycled).toBeGreaterThanOrEqual(20)
  })

  it('refuses a jitter as long as the lifetime', () => {
    expect(() =>
      configFor(url, { DB_POOL_RECYCLE_SECONDS: '10', DB_POOL_RECYCLE_JITTER_SECONDS: '10' }),
    ).toThrow('DB_POOL_RECYCLE_JITTER_SECONDS: got "10"; expected less than DB_POOL_RECYCLE_SECONDS (10)')
  })
})

describe('checkout failures', () => {
  it('waits DB_POOL_UNAVAILABLE_WAIT_MS for a database nobody listens for, then fails with DatabaseUnavailableError, then fails at once', async () => {
    const port = await findClosedPort()
    const p = pool({
      DATABASE_URL: `postgres://app:hunter2@127.0.0.1:${port}/app`,
      DB_POOL_UNAVAILABLE_WAIT_MS: '300',
    })
    const startedAt = performance.now()
    const error = await p.query('select 1').catch((e: unknown) => e)
    const waited = performance.now() - startedAt
    expect(error).toBeInstanceOf(DatabaseUnavailableError)
    expect((error as DatabaseUnavailableError).code).toBe('DATABASE_UNAVAILABLE')
    expect((error as Error).message).toMatch(
      /^the database has been unreachable for 0\.\d+ s: .*ECONNREFUSED/,
    )
    expect((error as Error).message).not.toContain('hunter2')
    expect(waited).toBeGreaterThanOrEqual(250)
    expect(waited).toBeLessThan(2000) // not the 30 s acquire timeout
    // Down longer than the wait: the circuit is open, the next checkout fails without waiting.
    await sleep(50)
    const again = performance.now()
    await expect(p.query('select 1')).rejects.toBeInstanceOf(DatabaseUnavailableError)
    expect(performance.now() - again).toBeLessThan(100)
    expect(p.stats()).toMatchObject({ acquireFailures: 2, acquireTimeouts: 0, total: 0, databaseDown: true })
  })

  it('fails at once on an unreachable database with DB_POOL_UNAVAILABLE_WAIT_MS=0', async () => {
    const port = await findClosedPort()
    const p = pool({
      DATABASE_URL: `postgres://app:x@127.0.0.1:${port}/app`,
      DB_POOL_UNAVAILABLE_WAIT_MS: '0',
    })
    const startedAt = performance.now()
    await expect(p.query('select 1')).rejects.toThrow(/^could not connect to the database: .*ECONNREFUSED/)
    expect(performance.now() - startedAt).toBeLessThan(500)
    expect(p.stats()).toMatchObject({ acquireFailures: 1, connectAttempts: 1, connectFailures: 1 })
  })

  it('reports a host name that does not resolve as an unavailable database, not as an unexpected error', async () => {
    const p = pool({
      DATABASE_URL: 'postgres://app:x@no-such-host.invalid:5432/app',
      DB_POOL_UNAVAILABLE_WAIT_MS: '0',
    })
    const error = await p.query('select 1').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DatabaseUnavailableError)
    expect((error as Error).message).toMatch(/no-such-host\.invalid/)
  })

  it('reports a database that accepts TCP but never answers as unavailable, not as a full pool', async () => {
    const silent = await startSilentServer()
    try {
      // Size 1: the one connection being opened fills the pool, yet no caller holds it.
      const p = pool({
        DATABASE_URL: silent.url,
        DB_POOL_SIZE: '1',
        DB_POOL_MAX_OVERFLOW: '0',
        DB_POOL_TIMEOUT_SECONDS: '0.3',
      })
      const error = await p.query('select 1').catch((e: unknown) => e)
      expect(error).toBeInstanceOf(DatabaseUnavailableError)
      expect((error as Error).message).toBe(
        'could not open a connection to the database within 0.3 s (connection timeout)',
      )
      expect(p.stats()).toMatchObject({ acquireTimeouts: 0, acquireFailures: 1 })
    } finally {
      silent.close()
    }
  })

  it("reports a rejected login as an authentication failure with the server's code, not as unavailability", async () => {
    const wrong = new URL(url)
    wrong.password = 'not-the-password'
    const p = pool({ DATABASE_URL: wrong.toString() })
    const error = await p.query('select 1').catch((e: unknown) => e)
    expect(error).not.toBeInstanceOf(DatabaseUnavailableError)
    expect(error).toBeInstanceOf(DatabaseAuthError)
    expect(error).toMatchObject({ code: 'DATABASE_AUTH_FAILED', causeCode: '28P01' })
  })

  it('keeps the process alive when a connection dies inside a Kysely transaction; the next one succeeds', async () => {
    const { logger, lines } = recordingLogger()
    const {
      db,
      pool: p,
      close,
    } = openDb<Record<string, never>>(configFor(url, { DB_POOL_SIZE: '2' }), logger)
    try {
      const admin = new pg.Client({ connectionString: url })
      await admin.connect()
      const outcome = await db
        .transaction()
        .execute(async (trx) => {
          const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx)
          await admin.query('select pg_terminate_backend($1)', [rows[0]!.pid])
          await sleep(100) // let the termination notice arrive while the connection is checked out
          await sql`select 1`.execute(trx)
          return 'committed'
        })
        .catch((e: unknown) => e)
      await admin.end()
      expect(outcome).toBeInstanceOf(Error)
      expect(p.stats().connectionErrors).toBe(1)
      expect(lines).toContainEqual(
        expect.objectContaining({ message: 'database connection lost', checkedOut: true }),
      )
      const next = await db
        .transaction()
        .execute(async (trx) => (await sql<{ one: number }>`select 1 as one`.execute(trx)).rows)
      expect(next).toEqual([{ one: 1 }])
    } finally {
      await close()
    }
  })
})
