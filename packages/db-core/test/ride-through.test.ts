import { Socket } from 'node:net'
import { LocalPostgres } from '@classroom/local-postgres'
import { findClosedPort, recordingLogger } from '@classroom/test-kit'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DatabaseUnavailableError, InstrumentedPool } from '../src/index.js'
import { configFor, openDb, sleep } from './support.js'

// Stops and starts the server: a cluster of its own.
let cluster: LocalPostgres

beforeAll(async () => {
  cluster = await LocalPostgres.temporary()
})

afterAll(async () => {
  await cluster.destroy()
})

describe('riding through an outage', () => {
  it('serves checkouts that arrive while the server is down for less than DB_POOL_UNAVAILABLE_WAIT_MS once it is back', async () => {
    const { logger, lines } = recordingLogger()
    const { db, pool, close } = openDb(configFor(cluster.connectionString()), logger)
    try {
      await Promise.all(Array.from({ length: 20 }, () => sql`select pg_sleep(0.02)`.execute(db)))
      await cluster.stop('fast')
      const startedAt = performance.now()
      const queries = Promise.allSettled(Array.from({ length: 50 }, () => sql`select 1 as one`.execute(db)))
      await sleep(1000)
      await cluster.start()
      const outcomes = await queries
      expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([])
      expect(performance.now() - startedAt).toBeLessThan(5000)
      expect(pool.stats()).toMatchObject({ databaseDown: false, acquireFailures: 0 })
      expect(pool.stats().checkoutsWaitedForDatabase).toBeGreaterThanOrEqual(1)
      // One line when the pool decides the database is down, one when it is back: never one per request.
      expect(
        lines.filter((l) => /database unreachable|database reachable again/.test(l.message)),
      ).toMatchObject([
        {
          level: 'warn',
          message: 'database unreachable: checkouts wait for it while one reconnect loop probes',
        },
        { level: 'info', message: 'database reachable again' },
      ])
    } finally {
      if (!cluster.running) await cluster.start()
      await close()
    }
  })

  it('during a 5 s outage, 50 callers in a closed loop make at most 15 connection attempts while the server is down, and get fast failures past the wait', async () => {
    const { db, pool, close } = openDb(configFor(cluster.connectionString()))
    try {
      await Promise.all(Array.from({ length: 50 }, () => sql`select pg_sleep(0.02)`.execute(db)))
      const before = pool.stats()
      await cluster.stop('fast')
      const outageEnds = performance.now() + 5000
      const slowest = { ms: 0 }
      let failures = 0
      const user = async () => {
        while (performance.now() < outageEnds) {
          const startedAt = performance.now()
          await sql`select 1`.execute(db).catch((error: unknown) => {
            expect(error).toBeInstanceOf(DatabaseUnavailableError)
            failures++
          })
          slowest.ms = Math.max(slowest.ms, performance.now() - startedAt)
          await sleep(5)
        }
      }
      await Promise.all(Array.from({ length: 50 }, user))
      // Read before the server starts again: every one of these was made while it was down.
      const down = pool.stats()
      const attempts = down.connectAttempts - before.connectAttempts
      // One attempt, then one reconnect loop backing off from 50 ms to 1 s: about 11 in 5 s.
      expect(attempts).toBeLessThanOrEqual(15)
      expect(failures).toBeGreaterThan(0)
      // Nobody waited past DB_POOL_UNAVAILABLE_WAIT_MS (5 s), nowhere near the 30 s acquire timeout.
      expect(slowest.ms).toBeLessThan(5500)
      await cluster.start()
      await expect.poll(() => pool.stats().databaseDown, { timeout: 3000, interval: 20 }).toBe(false)
      await expect(sql`select 1 as one`.execute(db)).resolves.toMatchObject({ rows: [{ one: 1 }] })
    } finally {
      if (!cluster.running) await cluster.start()
      await close()
    }
  })

  it('validates every connection older than a lost one at its next checkout, whatever its idle time', async () => {
    const { db, pool, close } = openDb(
      configFor(cluster.connectionString(), { DB_POOL_PRE_PING_IDLE_MS: '60000' }),
    )
    try {
      await Promise.all(Array.from({ length: 5 }, () => sql`select pg_sleep(0.05)`.execute(db)))
      expect(pool.totalCount).toBe(5)
      const pings = pool.stats().prePings
      // One backend is terminated (57P01): the other four are now suspect.
      await cluster.query(
        `select pg_terminate_backend(pid) from pg_stat_activity
         where application_name = '' and backend_type = 'client backend' and pid <> pg_backend_pid()
         limit 1`,
      )
      await expect.poll(() => pool.stats().connectionErrors, { timeout: 2000 }).toBe(1)
      const held = await Promise.all(Array.from({ length: 4 }, () => pool.connect()))
      expect(pool.stats().prePings - pings).toBe(4)
      for (const client of held) client.release()
      // Validated since: the next checkouts trust them again.
      const again = await Promise.all(Array.from({ length: 4 }, () => pool.connect()))
      expect(pool.stats().prePings - pings).toBe(4)
      for (const client of again) client.release()
    } finally {
      await close()
    }
  })

  it('once connections were lost, checkouts needing a new one while the server is down make one attempt at a time, not one each', async () => {
    // Probes a second apart: within the first half second, the only attempt is the checkouts' own.
    const { pool, close } = openDb(
      configFor(cluster.connectionString(), {
        DB_POOL_RECONNECT_MIN_MS: '1000',
        DB_POOL_RECONNECT_MAX_MS: '1000',
      }),
    )
    try {
      const warm = await Promise.all(Array.from({ length: 5 }, () => pool.connect()))
      for (const client of warm) client.release()
      await cluster.stop('fast')
      await expect.poll(() => pool.stats().connectionErrors, { timeout: 2000, interval: 10 }).toBe(5)
      const before = pool.stats().connectAttempts
      const checkouts = Array.from({ length: 30 }, () => pool.connect())
      await sleep(500)
      expect(pool.stats().connectAttempts - before).toBe(1)
      expect(pool.stats().databaseDown).toBe(true)
      await cluster.start()
      const clients = await Promise.all(checkouts)
      for (const client of clients) client.release()
      // The probe that found it back, then one connection for each checkout that waited.
      expect(pool.stats().connectAttempts - before).toBeLessThanOrEqual(1 + 3 + 30)
    } finally {
      if (!cluster.running) await cluster.start()
      await close()
    }
  })

  it('serves the checkouts that waited for the server in the order they asked, once it accepts again', async () => {
    const { pool, close } = openDb(
      configFor(cluster.connectionString(), { DB_POOL_SIZE: '1', DB_POOL_MAX_OVERFLOW: '0' }),
    )
    try {
      const warm = await pool.connect()
      warm.release()
      await cluster.stop('fast')
      await expect.poll(() => pool.stats().connectionErrors, { timeout: 2000, interval: 10 }).toBe(1)
      const served: number[] = []
      const checkouts = Array.from({ length: 6 }, (_, index) =>
        pool.connect().then((client) => {
          served.push(index)
          client.release()
        }),
      )
      await sleep(300)
      expect(served).toEqual([])
      await cluster.start()
      await Promise.all(checkouts)
      expect(served).toEqual([0, 1, 2, 3, 4, 5])
    } finally {
      if (!cluster.running) await cluster.start()
      await close()
    }
  })

  it('drops a socket that connected to itself at once and counts it as a failed attempt', async () => {
    // Nothing listens on the port, and every socket binds that very port as its source: TCP
    // simultaneous open connects it to itself, as a reconnect loop in the ephemeral range can.
    const port = await findClosedPort()
    const selfConnecting = () => {
      const socket = new Socket()
      const connect = socket.connect.bind(socket) as (options: object) => Socket
      socket.connect = ((p: number, host: string) =>
        connect({ port: p, host, localPort: p, localAddress: '127.0.0.1' })) as unknown as Socket['connect']
      return socket
    }
    const pool = new InstrumentedPool({
      ...configFor(`postgres://app:x@127.0.0.1:${port}/app`, { DB_POOL_UNAVAILABLE_WAIT_MS: '0' }),
      logger: recordingLogger().logger,
      clientConfig: { stream: selfConnecting },
    })
    try {
      const startedAt = performance.now()
      const error = await pool.query('select 1').catch((e: unknown) => e)
      expect(error).toBeInstanceOf(DatabaseUnavailableError)
      expect((error as Error).message).toMatch(/connected to itself/)
      expect(performance.now() - startedAt).toBeLessThan(1000)
      expect(pool.stats()).toMatchObject({ connectAttempts: 1, connectFailures: 1 })
    } finally {
      await pool.end()
    }
  })
})
