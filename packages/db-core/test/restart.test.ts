import { LocalPostgres } from '@classroom/local-postgres'
import { recordingLogger } from '@classroom/test-kit'
import { type Generated, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { DatabaseUnavailableError } from '../src/index.js'
import { configFor, openDb } from './support.js'

// These tests stop the server, so they run on a cluster of their own, never on DATABASE_URL's.
let cluster: LocalPostgres

beforeAll(async () => {
  cluster = await LocalPostgres.temporary()
  await cluster.query('create table ledger (id serial primary key, note text not null)')
})

afterAll(async () => {
  await cluster.destroy()
})

describe.each([
  ['default settings', {}],
  ['DB_POOL_PRE_PING_IDLE_MS=0', { DB_POOL_PRE_PING_IDLE_MS: '0' }],
])('after a PostgreSQL restart, with %s', (_label, overrides: Record<string, string>) => {
  it.each(['fast', 'immediate'] as const)(
    '%s shutdown: queries and transactions succeed with no manual action',
    async (mode) => {
      const { logger } = recordingLogger()
      const { db, pool, close } = openDb<{ ledger: { id: Generated<number>; note: string } }>(
        configFor(cluster.connectionString(), overrides),
        logger,
      )
      try {
        // Warm the pool: ten connections open and idle in it.
        await Promise.all(Array.from({ length: 10 }, () => sql`select pg_sleep(0.05)`.execute(db)))
        expect(pool.stats().idle).toBe(10)
        const pidsBefore = new Set(
          (
            await cluster.query<{ pid: number }>('select pid from pg_stat_activity where backend_type = $1', [
              'client backend',
            ])
          ).map((r) => r.pid),
        )

        await cluster.restart(mode)

        const errors: unknown[] = []
        const pidsAfter = new Set<number>()
        for (let round = 0; round < 3; round++) {
          const results = await Promise.allSettled([
            ...Array.from({ length: 15 }, () =>
              sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db),
            ),
            db.transaction().execute(async (trx) => {
              await trx
                .insertInto('ledger')
                .values({ note: `${mode} ${round}` })
                .execute()
              return sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx)
            }),
          ])
          for (const result of results) {
            if (result.status === 'rejected') errors.push(result.reason)
            else pidsAfter.add(result.value.rows[0]!.pid)
          }
        }
        expect(errors).toEqual([])
        expect([...pidsAfter].some((pid) => pidsBefore.has(pid))).toBe(false)
        const notes = await db
          .selectFrom('ledger')
          .select('note')
          .where('note', 'like', `${mode} %`)
          .execute()
        expect(notes.length).toBeGreaterThanOrEqual(3)
      } finally {
        await close()
        await cluster.query(`delete from ledger`)
      }
    },
  )
})

describe('while PostgreSQL is down', () => {
  it('once down longer than DB_POOL_UNAVAILABLE_WAIT_MS, checkouts fail fast with DatabaseUnavailableError, and succeed again once it is back', async () => {
    const { logger } = recordingLogger()
    const { db, pool, close } = openDb(
      configFor(cluster.connectionString(), { DB_POOL_UNAVAILABLE_WAIT_MS: '200' }),
      logger,
    )
    try {
      await sql`select 1`.execute(db)
      await cluster.stop('fast')
      const startedAt = performance.now()
      const results = await Promise.allSettled(Array.from({ length: 20 }, () => sql`select 1`.execute(db)))
      const elapsed = performance.now() - startedAt
      for (const result of results) {
        expect(result.status).toBe('rejected')
        expect((result as PromiseRejectedResult).reason).toBeInstanceOf(DatabaseUnavailableError)
      }
      expect(elapsed).toBeLessThan(5000) // nowhere near the 30 s acquire timeout
      expect(pool.stats().acquireFailures).toBeGreaterThanOrEqual(20)
      await cluster.start()
      // The circuit stays open until the reconnect loop's next probe (at most DB_POOL_RECONNECT_MAX_MS).
      await vi.waitFor(() => expect(pool.stats().databaseDown).toBe(false), { timeout: 3000, interval: 20 })
      await expect(sql<{ one: number }>`select 1 as one`.execute(db)).resolves.toMatchObject({
        rows: [{ one: 1 }],
      })
    } finally {
      if (!cluster.running) await cluster.start()
      await close()
    }
  })

  it('callers retrying at once against the open circuit, with no I/O in between, leave the event loop free: timers fire, the loop probes, the return is found', async () => {
    const { db, pool, close } = openDb(
      configFor(cluster.connectionString(), { DB_POOL_UNAVAILABLE_WAIT_MS: '200' }),
    )
    try {
      await sql`select 1`.execute(db)
      await cluster.stop('fast')
      await expect(sql`select 1`.execute(db)).rejects.toBeInstanceOf(DatabaseUnavailableError)
      expect(pool.stats().databaseDown).toBe(true)
      // Workers that retry a failed query at once: nothing but the pool between two attempts.
      const ends = performance.now() + 3000
      let served = 0
      const worker = async () => {
        while (performance.now() < ends) {
          await sql`select 1`.execute(db).then(
            () => served++,
            () => undefined,
          )
        }
      }
      const workers = Promise.all(Array.from({ length: 5 }, worker))
      // A timer due in 100 ms, and a restart: neither may wait for the workers to give up.
      const timerFiredAt = new Promise<number>((resolve) => setTimeout(() => resolve(performance.now()), 100))
      const restarted = cluster.start()
      const firedAt = await timerFiredAt
      await restarted
      await workers
      expect(firedAt).toBeLessThan(ends - 1000)
      // The reconnect loop ran meanwhile and found the server: the workers were served before they stopped.
      expect(served).toBeGreaterThan(0)
      expect(pool.stats().databaseDown).toBe(false)
    } finally {
      if (!cluster.running) await cluster.start()
      await close()
    }
  })

  it('stops probing once nobody has asked for a while, and the next checkout probes again and waits for that probe', async () => {
    const { db, pool, close } = openDb(
      configFor(cluster.connectionString(), {
        DB_POOL_UNAVAILABLE_WAIT_MS: '200',
        DB_POOL_RECONNECT_MIN_MS: '20',
        DB_POOL_RECONNECT_MAX_MS: '40',
      }),
    )
    try {
      await sql`select 1`.execute(db)
      await cluster.stop('fast')
      await expect(sql`select 1`.execute(db)).rejects.toBeInstanceOf(DatabaseUnavailableError)
      // 10 × the 40 ms longest pause with nobody asking: the loop pauses.
      await new Promise((resolve) => setTimeout(resolve, 800))
      const paused = pool.stats().connectAttempts
      await new Promise((resolve) => setTimeout(resolve, 400))
      expect(pool.stats().connectAttempts).toBe(paused)
      await cluster.start()
      // The circuit is open, but the loop had paused: this checkout waits for its first probe.
      await expect(sql<{ one: number }>`select 1 as one`.execute(db)).resolves.toMatchObject({
        rows: [{ one: 1 }],
      })
      expect(pool.stats().databaseDown).toBe(false)
    } finally {
      if (!cluster.running) await cluster.start()
      await close()
    }
  })
})
