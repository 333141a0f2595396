import { LocalPostgres } from '@classroom/local-postgres'
import { recordingLogger } from '@classroom/test-kit'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { configFor, openDb, sleep, warm } from './support.js'

// Freezing backends needs a server whose processes we may signal: a cluster of our own.
let cluster: LocalPostgres

beforeAll(async () => {
  cluster = await LocalPostgres.temporary()
})

afterAll(async () => {
  await cluster.destroy()
})

/**
 * SIGSTOP leaves the backend's socket open but unanswered: the silent death pre-ping exists for.
 * (A terminated backend is not enough: PostgreSQL tells the client, and pg-pool drops it before any ping.)
 */
async function withFrozenBackends<T>(pids: number[], run: () => Promise<T>): Promise<T> {
  for (const pid of pids) process.kill(pid, 'SIGSTOP')
  try {
    return await run()
  } finally {
    for (const pid of pids) process.kill(pid, 'SIGCONT')
  }
}

describe('pre-ping', () => {
  it('discards idle connections whose ping times out and hands the caller a working one, for Kysely queries and transactions', async () => {
    const { logger } = recordingLogger()
    const { db, pool, close } = openDb(
      configFor(cluster.connectionString(), {
        DB_POOL_SIZE: '3',
        DB_POOL_PRE_PING_IDLE_MS: '100',
        DB_POOL_PRE_PING_TIMEOUT_MS: '300',
      }),
      logger,
    )
    try {
      const frozen = await warm(pool, 3)
      await sleep(150) // idle past the pre-ping threshold
      const { pid, inTransaction } = await withFrozenBackends(frozen, async () => {
        const row = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)).rows[0]!
        const trx = await db
          .transaction()
          .execute(
            async (t) => (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(t)).rows[0]!,
          )
        return { pid: row.pid, inTransaction: trx.pid }
      })
      expect(frozen).not.toContain(pid)
      expect(frozen).not.toContain(inTransaction)
      const stats = pool.stats()
      expect(stats.prePingFailures).toBe(3)
      expect(stats.prePings).toBe(3)
      expect(stats.acquireTimeouts).toBe(0)
      expect(stats.total).toBeLessThanOrEqual(3)
    } finally {
      await close()
    }
  })

  it('does not ping connections used within DB_POOL_PRE_PING_IDLE_MS (pgxpool rule)', async () => {
    const { logger } = recordingLogger()
    const { db, pool, close } = openDb(
      configFor(cluster.connectionString(), {
        DB_POOL_SIZE: '1',
        DB_POOL_PRE_PING_IDLE_MS: '60000',
        DB_POOL_PRE_PING_TIMEOUT_MS: '300',
      }),
      logger,
    )
    try {
      const [pid] = await warm(pool, 1)
      // Frozen but recently used: handed out unpinged, so the query hangs until the backend thaws.
      process.kill(pid!, 'SIGSTOP')
      const query = sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)
      await sleep(400)
      process.kill(pid!, 'SIGCONT')
      expect((await query).rows[0]!.pid).toBe(pid)
      expect(pool.stats()).toMatchObject({ prePings: 0, prePingFailures: 0 })
    } finally {
      await close()
    }
  })

  it('pings on every checkout with DB_POOL_PRE_PING_IDLE_MS=0', async () => {
    const { logger } = recordingLogger()
    const { db, pool, close } = openDb(
      configFor(cluster.connectionString(), {
        DB_POOL_SIZE: '2',
        DB_POOL_PRE_PING_IDLE_MS: '0',
        DB_POOL_PRE_PING_TIMEOUT_MS: '300',
      }),
      logger,
    )
    try {
      const frozen = await warm(pool, 2)
      const row = await withFrozenBackends(
        frozen,
        async () => (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)).rows[0]!,
      )
      expect(frozen).not.toContain(row.pid)
      expect(pool.stats()).toMatchObject({ prePings: 2, prePingFailures: 2 })
    } finally {
      await close()
    }
  })
})
