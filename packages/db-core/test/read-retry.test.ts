import { LocalPostgres } from '@classroom/local-postgres'
import { recordingLogger } from '@classroom/test-kit'
import { type Generated, type Kysely, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isReadOnlyQuery } from '../src/dialect/instrumented-connection.js'
import { DatabaseUnavailableError, isConnectionError } from '../src/index.js'
import { configFor, openDb, sleep } from './support.js'

interface Notes {
  notes: { id: Generated<number>; note: string }
}

// Restarts the server mid-query: a cluster of its own.
let cluster: LocalPostgres

beforeAll(async () => {
  cluster = await LocalPostgres.temporary()
  await cluster.query('create table notes (id serial primary key, note text not null)')
})

afterAll(async () => {
  await cluster.destroy()
})

/** A read that takes 400 ms, so it is in flight when the server goes down. */
const slowRead = (db: Kysely<Notes>) =>
  db.selectFrom(sql`pg_sleep(0.4)`.as('s')).select(sql<number>`1`.as('one')).execute()

/** A write that takes 400 ms. */
const slowWrite = (db: Kysely<Notes>, note: string) =>
  db
    .insertInto('notes')
    .columns(['note'])
    .expression((eb) =>
      eb.selectFrom(sql`pg_sleep(0.4)`.as('s')).select(sql<string>`${note}::text`.as('note')),
    )
    .execute()

describe('transparent retry of reads', () => {
  it('reads in flight during a restart succeed; an in-flight write reports its failure and the database agrees', async () => {
    const { db, pool, close } = openDb<Notes>(configFor(cluster.connectionString()), recordingLogger().logger)
    try {
      const reads = Array.from({ length: 5 }, () => slowRead(db))
      const write = slowWrite(db, 'in-flight').then(
        () => 'committed',
        (error: unknown) => error,
      )
      await sleep(100)
      await cluster.restart('fast', { downMs: 300 })
      const answers = await Promise.allSettled(reads)
      expect(answers).toEqual(Array.from({ length: 5 }, () => ({ status: 'fulfilled', value: [{ one: 1 }] })))
      const outcome = await write
      expect(outcome).toBeInstanceOf(Error)
      expect(isConnectionError(outcome)).toBe(true)
      const stored = await cluster.query<{ n: string }>(
        `select count(*) as n from notes where note = 'in-flight'`,
      )
      expect(Number(stored[0]?.n)).toBe(0)
      expect(pool.stats().readRetries).toBe(5)
    } finally {
      await close()
    }
  })

  it('stops waiting for a database that stays down after DB_READ_RETRY_WAIT_MS, and says it is unavailable', async () => {
    const { db, pool, close } = openDb<Notes>(
      configFor(cluster.connectionString(), { DB_READ_RETRY_WAIT_MS: '500' }),
      recordingLogger().logger,
    )
    try {
      const read = slowRead(db).catch((e: unknown) => e)
      await sleep(100)
      const stoppedAt = performance.now()
      await cluster.stop('fast')
      const outcome = await read
      const waited = performance.now() - stoppedAt
      expect(outcome).toBeInstanceOf(DatabaseUnavailableError)
      expect(waited).toBeGreaterThanOrEqual(400)
      expect(waited).toBeLessThan(2000)
      expect(pool.stats().readRetries).toBe(1)
    } finally {
      if (!cluster.running) await cluster.start()
      await close()
    }
  })

  it('does not retry with DB_READ_RETRY=false: the reads report the restart', async () => {
    const { db, pool, close } = openDb<Notes>(
      configFor(cluster.connectionString(), { DB_READ_RETRY: 'false' }),
      recordingLogger().logger,
    )
    try {
      const reads = Array.from({ length: 3 }, () => slowRead(db).catch((e: unknown) => e))
      await sleep(100)
      await cluster.restart('fast')
      for (const read of await Promise.all(reads))
        expect(isConnectionError(read), JSON.stringify(read)).toBe(true)
      expect(pool.stats().readRetries).toBe(0)
    } finally {
      await close()
    }
  })

  it('never retries inside a transaction', async () => {
    const { db, pool, close } = openDb<Notes>(configFor(cluster.connectionString()), recordingLogger().logger)
    try {
      const outcome = await db
        .transaction()
        .execute(async (trx) => {
          const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx)
          await cluster.query('select pg_terminate_backend($1)', [rows[0]!.pid])
          await sleep(100)
          return trx.selectFrom('notes').selectAll().execute()
        })
        .catch((e: unknown) => e)
      expect(isConnectionError(outcome)).toBe(true)
      expect(pool.stats().readRetries).toBe(0)
    } finally {
      await close()
    }
  })

  it('tells reads from writes, including a write hidden in a CTE', () => {
    const { db } = openDb<Notes>(configFor(cluster.connectionString()), recordingLogger().logger)
    const insertCte = db
      .with('added', (qb) => qb.insertInto('notes').values({ note: 'x' }).returningAll())
      .selectFrom('added')
      .selectAll()
    const selectCte = db
      .with('recent', (qb) => qb.selectFrom('notes').selectAll())
      .selectFrom('recent')
      .selectAll()
    expect(isReadOnlyQuery(db.selectFrom('notes').selectAll().compile().query)).toBe(true)
    expect(isReadOnlyQuery(selectCte.compile().query)).toBe(true)
    expect(isReadOnlyQuery(insertCte.compile().query)).toBe(false)
    expect(isReadOnlyQuery(db.insertInto('notes').values({ note: 'x' }).compile().query)).toBe(false)
    expect(isReadOnlyQuery(db.deleteFrom('notes').compile().query)).toBe(false)
    expect(isReadOnlyQuery(sql`select 1`.compile(db).query)).toBe(false)
  })
})
