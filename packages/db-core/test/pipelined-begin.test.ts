// A transaction's BEGIN goes out in the same write as its first statement: what that saves, and what it keeps.

import { type BouncedCluster, createTestDatabase, startBouncedCluster } from '@classroom/local-postgres'
import { recordingLogger } from '@classroom/test-kit'
import { CompiledQuery, type Generated, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { InstrumentedPostgresDialect, isConnectionError } from '../src/index.js'
import { configFor, countExchanges, openDb, openPool, preparedStatementNames, sleep } from './support.js'

interface Tables {
  ledger: { id: Generated<number>; note: string }
  counter: { id: number; n: number }
}

let url: string

beforeAll(async () => {
  url = await createTestDatabase(inject('databaseUrl'), 'db_core_pipelined_begin')
  const { db, close } = openDb(configFor(url))
  try {
    await sql`create table ledger (id serial primary key, note text not null);
      create table counter (id int primary key, n int not null); insert into counter values (1, 0)`.execute(
      db,
    )
  } finally {
    await close()
  }
})

afterAll(async () => {
  const { db, close } = openDb(configFor(url))
  await sql`drop table ledger; drop table counter`.execute(db).finally(close)
})

/**
 * Kysely on a pool of one connection, with the count of the exchanges it waited for (ReadyForQuery)
 * and of the writes its socket made.
 */
function onePool(overrides: Record<string, string> = {}, logger = recordingLogger().logger) {
  const opened = openDb<Tables>(
    configFor(url, { DB_POOL_SIZE: '1', DB_POOL_MAX_OVERFLOW: '0', ...overrides }),
    logger,
  )
  const waits = countExchanges(opened.pool)
  return { ...opened, waits }
}

const notes = (db: ReturnType<typeof onePool>['db'], note: string) =>
  db.selectFrom('ledger').select('note').where('note', '=', note).execute()

describe('a transaction begun in the same write as its first statement', () => {
  it('sends BEGIN and the first statement in one socket write and one exchange: a write and a round trip fewer, the result only the statement’s', async () => {
    const { db, waits, close } = onePool()
    try {
      await sql`select 1`.execute(db)
      waits.count = 0
      waits.writes = 0
      const result = await db.transaction().execute(async (trx) => {
        const updated = await trx
          .updateTable('counter')
          .set((eb) => ({ n: eb('n', '+', 1) }))
          .where('id', '=', 1)
          .executeTakeFirst()
        await trx.insertInto('ledger').values({ note: 'counted' }).execute()
        return updated
      })
      expect(result.numUpdatedRows).toBe(1n)
      // BEGIN + UPDATE, INSERT, COMMIT: three writes and three exchanges where a BEGIN of its own made four.
      expect(waits.writes).toBe(3)
      expect(waits.count).toBe(3)
    } finally {
      await close()
    }
  })

  it('applies the isolation level and access mode as Kysely writes them', async () => {
    const { db, close } = onePool()
    try {
      const settings = await db
        .transaction()
        .setIsolationLevel('repeatable read')
        .setAccessMode('read only')
        .execute((trx) =>
          sql<{
            isolation: string
            readOnly: string
          }>`select current_setting('transaction_isolation') as isolation,
            current_setting('transaction_read_only') as "readOnly"`.execute(trx),
        )
      expect(settings.rows).toEqual([{ isolation: 'repeatable read', readOnly: 'on' }])
    } finally {
      await close()
    }
  })

  it('refuses a write that is the first statement of a read-only transaction (25006), and rolls back', async () => {
    const { db, close } = onePool()
    try {
      const refused = await db
        .transaction()
        .setAccessMode('read only')
        .execute((trx) => trx.insertInto('ledger').values({ note: 'read-only' }).execute())
        .catch((error: unknown) => error)
      expect(refused).toMatchObject({ code: '25006' })
      expect(await notes(db, 'read-only')).toEqual([])
      await expect(sql`select 1 as one`.execute(db)).resolves.toMatchObject({ rows: [{ one: 1 }] })
    } finally {
      await close()
    }
  })

  it('begins a controlled transaction (startTransaction) with its first statement: a rollback undoes it', async () => {
    const { db, waits, close } = onePool()
    try {
      await sql`select 1`.execute(db)
      waits.count = 0
      const trx = await db.startTransaction().execute()
      await trx.insertInto('ledger').values({ note: 'controlled' }).execute()
      expect(waits.count).toBe(1)
      await trx.rollback().execute()
      expect(await notes(db, 'controlled')).toEqual([])
    } finally {
      await close()
    }
  })

  it('begins a transaction inside db.connection() with its first statement: a throw rolls it back', async () => {
    const { db, close } = onePool()
    try {
      const thrown = await db
        .connection()
        .execute((conn) =>
          conn.transaction().execute(async (trx) => {
            await trx.insertInto('ledger').values({ note: 'in connection' }).execute()
            throw new Error('undo')
          }),
        )
        .catch((error: unknown) => error)
      expect(thrown).toMatchObject({ message: 'undo' })
      expect(await notes(db, 'in connection')).toEqual([])
    } finally {
      await close()
    }
  })

  it('commits and rolls back an empty transaction with nothing sent', async () => {
    const { db, waits, close } = onePool()
    try {
      await sql`select 1`.execute(db)
      waits.count = 0
      await expect(db.transaction().execute(async () => 'empty')).resolves.toBe('empty')
      const trx = await db.startTransaction().execute()
      await trx.rollback().execute()
      expect(waits.count).toBe(0)
      await expect(sql`select 1 as one`.execute(db)).resolves.toMatchObject({ rows: [{ one: 1 }] })
    } finally {
      await close()
    }
  })

  it('leaves the statements after the first as they were: one exchange each, prepared statements reused', async () => {
    const { db, pool, waits, close } = onePool()
    try {
      const run = () =>
        db.transaction().execute(async (trx) => {
          await trx.selectFrom('ledger').select('id').where('note', '=', 'x').execute()
          const before = waits.count
          await trx.selectFrom('counter').select('n').where('id', '=', 1).execute()
          return waits.count - before
        })
      expect(await run()).toBe(1)
      // The second time both statements are prepared already: Bind and Execute only, the same names.
      expect(await run()).toBe(1)
      expect(await preparedStatementNames(pool)).toHaveLength(2)
    } finally {
      await close()
    }
  })

  it('closes a statement its first statement evicts from the cache in the same exchange as the BEGIN', async () => {
    const { db, pool, waits, close } = onePool({ DB_STATEMENT_CACHE_SIZE: '1' })
    try {
      await db.selectFrom('ledger').select('id').where('id', '=', 1).execute()
      waits.count = 0
      await db
        .transaction()
        .execute((trx) => trx.selectFrom('counter').select('n').where('id', '=', 1).execute())
      // Close, BEGIN and the statement in one exchange, then COMMIT.
      expect(waits.count).toBe(2)
      expect(await preparedStatementNames(pool)).toHaveLength(1)
    } finally {
      await close()
    }
  })

  it('fails the first statement with the error of a BEGIN that failed, then the statements after it and the commit with it, sending nothing more', async () => {
    const { db, waits, close } = onePool()
    try {
      const seen: unknown[] = []
      let sentAfter = -1
      const outcome = await db
        .connection()
        .execute(async (conn) => {
          // A transaction that has run a query cannot change its isolation level: the BEGIN fails.
          await sql`begin`.execute(conn)
          await sql`select 1`.execute(conn)
          try {
            return await conn
              .transaction()
              .setIsolationLevel('serializable')
              .execute(async (trx) => {
                seen.push(
                  await trx
                    .insertInto('ledger')
                    .values({ note: 'not begun' })
                    .execute()
                    .catch((e: unknown) => e),
                )
                const sent = waits.count
                seen.push(await sql`select 1`.execute(trx).catch((e: unknown) => e))
                sentAfter = waits.count - sent
              })
          } finally {
            await sql`rollback`.execute(conn)
          }
        })
        .catch((error: unknown) => error)
      expect(seen[0]).toMatchObject({
        code: '25001',
        message: 'SET TRANSACTION ISOLATION LEVEL must be called before any query',
      })
      expect(seen[1]).toBe(seen[0])
      // The commit failed with it too (Kysely then rolled back, sending nothing).
      expect(outcome).toBe(seen[0])
      expect(sentAfter).toBe(0)
      expect(await notes(db, 'not begun')).toEqual([])
    } finally {
      await close()
    }
  })

  it('leaves the transaction aborted after a query error in its first statement, as Kysely expects: the commit reports it rolled back', async () => {
    const { db, close } = onePool()
    try {
      const trx = await db.startTransaction().execute()
      const failed = await sql`select 1 / ${0}::int`.execute(trx).catch((error: unknown) => error)
      expect(failed).toMatchObject({ code: '22012' })
      await expect(sql`select 1`.execute(trx)).rejects.toMatchObject({ code: '25P02' })
      await expect(trx.commit().execute()).rejects.toMatchObject({ name: 'AbortedTransactionError' })
      await expect(sql`select 1 as one`.execute(db)).resolves.toMatchObject({ rows: [{ one: 1 }] })
    } finally {
      await close()
    }
  })

  it('prepares anew a first statement whose Parse failed behind BEGIN: the same text, corrected by the schema, runs next time', async () => {
    const { db, close } = onePool()
    try {
      const query = (trx: typeof db) =>
        trx.selectFrom('ledger').select(sql`later`.as('later')).where('note', '=', 'never written')
      const missing = await db
        .transaction()
        .execute((trx) => query(trx).execute())
        .catch((error: unknown) => error)
      expect(missing).toMatchObject({ code: '42703' })
      await sql`alter table ledger add column later int`.execute(db)
      try {
        await expect(db.transaction().execute((trx) => query(trx).execute())).resolves.toEqual([])
      } finally {
        await sql`alter table ledger drop column later`.execute(db)
      }
    } finally {
      await close()
    }
  })

  it('sends the BEGIN on its own ahead of a text of several statements, which the simple protocol runs', async () => {
    const { db, close } = onePool()
    try {
      const trx = await db.startTransaction().execute()
      await sql
        .raw(`insert into ledger (note) values ('several'); insert into ledger (note) values ('several')`)
        .execute(trx)
      await trx.rollback().execute()
      expect(await notes(db, 'several')).toEqual([])
    } finally {
      await close()
    }
  })

  it('sends the BEGIN on its own ahead of a stream, which reads inside the transaction', async () => {
    const { db, close } = onePool()
    try {
      const seen = await db.transaction().execute(async (trx) => {
        const xacts: unknown[] = []
        for await (const row of trx.selectNoFrom(sql<string>`pg_current_xact_id()::text`.as('x')).stream(10))
          xacts.push(row.x)
        const { rows } = await sql<{ x: string }>`select pg_current_xact_id()::text as x`.execute(trx)
        return { streamed: xacts[0], after: rows[0]!.x }
      })
      expect(seen.streamed).toBe(seen.after)
    } finally {
      await close()
    }
  })
})

describe('what a pipelined BEGIN keeps', () => {
  it('never retries a read that is the first statement of a transaction: its connection error is reported', async () => {
    const { db, pool, close } = onePool({ DB_READ_RETRY: 'true' })
    try {
      const lost = await db
        .transaction()
        .execute((trx) =>
          trx.selectNoFrom(sql<boolean>`pg_terminate_backend(pg_backend_pid())`.as('t')).execute(),
        )
        .catch((error: unknown) => error)
      expect(isConnectionError(lost)).toBe(true)
      expect(pool.stats().readRetries).toBe(0)
    } finally {
      await close()
    }
  })

  it('still retries the first read of a checkout outside a transaction', async () => {
    const { db, pool, close } = onePool({ DB_READ_RETRY: 'true' })
    try {
      await db.transaction().execute(async () => undefined)
      await db
        .selectNoFrom(sql<boolean>`pg_terminate_backend(pg_backend_pid())`.as('t'))
        .execute()
        .catch((error: unknown) => error)
      expect(pool.stats().readRetries).toBe(1)
    } finally {
      await close()
    }
  })

  it('fails the statement with a connection error when the session dies between the two answers; the connection is dropped and the pool serves on', async () => {
    const { db, pool, close } = onePool()
    try {
      const pidBefore = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)).rows[0]!.pid
      // BEGIN is answered, then the backend ends itself while running the statement.
      const lost = await db
        .transaction()
        .execute((trx) => sql`select pg_terminate_backend(pg_backend_pid())`.execute(trx))
        .catch((error: unknown) => error)
      expect(isConnectionError(lost)).toBe(true)
      const pidAfter = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)).rows[0]!.pid
      expect(pidAfter).not.toBe(pidBefore)
      expect(pool.stats().unsafeReleases).toBe(0)
    } finally {
      await close()
    }
  })

  it('destroys on release a connection whose pipelined transaction is still open (the release guard)', async () => {
    const pool = openPool(configFor(url, { DB_POOL_SIZE: '1', DB_POOL_MAX_OVERFLOW: '0' }))
    const driver = new InstrumentedPostgresDialect({ pool }).createDriver()
    await driver.init()
    try {
      const connection = await driver.acquireConnection()
      await driver.beginTransaction(connection, {})
      await connection.executeQuery(CompiledQuery.raw(`insert into ledger (note) values ('released open')`))
      await driver.releaseConnection(connection)
      expect(pool.stats().unsafeReleases).toBe(1)
      const next = await driver.acquireConnection()
      try {
        const { rows } = await next.executeQuery(
          CompiledQuery.raw(`select count(*)::int as n from ledger where note = 'released open'`),
        )
        expect(rows).toEqual([{ n: 0 }])
      } finally {
        await driver.releaseConnection(next)
      }
    } finally {
      await driver.destroy()
    }
  })

  it('reuses on release a connection whose transaction never sent its BEGIN: the session is idle', async () => {
    const { db, pool, close } = onePool()
    try {
      const pid = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)).rows[0]!.pid
      await db.transaction().execute(async () => undefined)
      expect((await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)).rows[0]!.pid).toBe(pid)
      expect(pool.stats().unsafeReleases).toBe(0)
    } finally {
      await close()
    }
  })

  it('"cancel query" ends the first statement on the server; the transaction rolls back and the connection serves on', async () => {
    const { db, close } = onePool()
    try {
      const pid = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)).rows[0]!.pid
      const abort = new AbortController()
      const running = db
        .transaction()
        .execute((trx) =>
          sql`select pg_sleep(30)`.execute(trx, {
            signal: abort.signal,
            inflightQueryAbortStrategy: 'cancel query',
          } as never),
        )
        .catch((error: unknown) => error)
      await sleep(300)
      abort.abort(new Error('stop'))
      expect(await running).toMatchObject({ message: 'stop' })
      const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)
      expect(rows[0]!.pid).toBe(pid)
    } finally {
      await close()
    }
  })

  it('"kill session" ends the session running the first statement; its connection is dropped and the pool opens another', async () => {
    const pool = openPool(configFor(url, { DB_POOL_SIZE: '1', DB_POOL_MAX_OVERFLOW: '1' }))
    const driver = new InstrumentedPostgresDialect({ pool }).createDriver()
    await driver.init()
    try {
      const first = await driver.acquireConnection()
      const pid = (
        await first.executeQuery<{ pid: number }>(CompiledQuery.raw('select pg_backend_pid() as pid'))
      ).rows[0]!.pid
      await driver.beginTransaction(first, {})
      const running = first
        .executeQuery(CompiledQuery.raw('select pg_sleep(30)'))
        .catch((error: unknown) => error)
      await sleep(300)
      await first.killSession?.(undefined as never)
      expect(isConnectionError(await running)).toBe(true)
      await driver.rollbackTransaction(first).catch(() => undefined)
      await driver.releaseConnection(first)
      const next = await driver.acquireConnection()
      try {
        const { rows } = await next.executeQuery<{ pid: number }>(
          CompiledQuery.raw('select pg_backend_pid() as pid'),
        )
        expect(rows[0]!.pid).not.toBe(pid)
      } finally {
        await driver.releaseConnection(next)
      }
    } finally {
      await driver.destroy()
    }
  })

  it('names the code that began a transaction held open before its first statement went out', async () => {
    const { logger, lines } = recordingLogger()
    const { db, close } = onePool({ DB_POOL_LEAK_WARN_MS: '200' }, logger)
    async function slowEmptyReconciliation() {
      await db.transaction().execute(() => sleep(600))
    }
    try {
      await slowEmptyReconciliation()
      const leaks = lines.filter(
        (l) => l.message === 'database connection held longer than DB_POOL_LEAK_WARN_MS: possible leak',
      )
      expect(leaks).toHaveLength(1)
      expect(leaks[0]!.acquiredAt).toEqual(expect.stringContaining('slowEmptyReconciliation'))
    } finally {
      await close()
    }
  })
})

describe('a pipelined BEGIN through PgBouncer in transaction mode', () => {
  let bounced: BouncedCluster | undefined

  afterAll(async () => {
    await bounced?.destroy()
  })

  it('keeps every statement of a transaction on the one server session its BEGIN opened, under concurrent transactions', async () => {
    bounced = await startBouncedCluster({ database: 'pipelined', poolSize: 2 })
    await bounced.cluster.query(
      'create table ledger (id serial primary key, note text not null)',
      [],
      'pipelined',
    )
    const { db, close } = openDb<Tables>(
      configFor(bounced.bouncer.connectionString(), { DB_PGBOUNCER: 'true', DB_POOL_SIZE: '6' }),
    )
    try {
      const transaction = (i: number) =>
        db
          .transaction()
          .execute(async (trx) => {
            const written = await sql<{ xid: string }>`insert into ledger (note) values (${`n${i}`})
              returning pg_current_xact_id()::text as xid`.execute(trx)
            const seen = await sql<{
              xid: string
            }>`select pg_current_xact_id_if_assigned()::text as xid`.execute(trx)
            expect(seen.rows[0]!.xid).toBe(written.rows[0]!.xid)
            throw new Error('undo')
          })
          .catch((error: unknown) => error)
      const outcomes = await Promise.all(Array.from({ length: 12 }, (_, i) => transaction(i)))
      expect(outcomes.map((o) => (o as Error).message)).toEqual(Array(12).fill('undo'))
      expect((await sql<{ n: number }>`select count(*)::int as n from ledger`.execute(db)).rows).toEqual([
        { n: 0 },
      ])
    } finally {
      await close()
    }
  })
})
