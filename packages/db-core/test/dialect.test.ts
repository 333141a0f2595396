import { recordingLogger } from '@classroom/test-kit'
import { AbortedTransactionError, CamelCasePlugin, Kysely, type LogEvent, sql } from 'kysely'
import { describe, expect, inject, it } from 'vitest'
import { InstrumentedPool, InstrumentedPostgresDialect } from '../src/index.js'

const url = inject('databaseUrl')

interface Database {
  pg_database: { datname: string }
}

describe('InstrumentedPostgresDialect: db-core as Kysely users write it', () => {
  it("runs under new Kysely with the caller's log and plugins, and shows the pool it goes through", async () => {
    const events: LogEvent[] = []
    const dialect = new InstrumentedPostgresDialect({ connectionString: url, pool: { size: 2 } })
    const db = new Kysely<{ pgDatabase: { datname: string } }>({
      dialect,
      log: (event) => {
        events.push(event)
      },
      plugins: [new CamelCasePlugin()],
    })
    try {
      const rows = await db.selectFrom('pgDatabase').select('datname').limit(1).execute()
      expect(rows).toHaveLength(1)
      expect(events).toEqual([expect.objectContaining({ level: 'query' })])
      expect(events[0]!.query.sql).toContain('"pg_database"')
      expect(dialect.pool).toBeInstanceOf(InstrumentedPool)
      expect(dialect.pool.stats()).toMatchObject({ acquisitions: 1, size: 2, max: 42 })
    } finally {
      await db.destroy()
    }
  })

  it("runs Kysely's statements straight on the pool's clients: affected rows, savepoints, a commit that rolled back, the caller's stack, a stream", async () => {
    // One connection: the temporary table is there for every checkout.
    const dialect = new InstrumentedPostgresDialect({
      connectionString: url,
      pool: { size: 1, maxOverflow: 0 },
    })
    const db = new Kysely<{ notes: { id: number } }>({ dialect })
    try {
      await sql`create temporary table notes (id int primary key)`.execute(db)
      const inserted = await db
        .insertInto('notes')
        .values([{ id: 1 }, { id: 2 }])
        .executeTakeFirst()
      expect(inserted.numInsertedOrUpdatedRows).toBe(2n)
      const trx = await db.startTransaction().execute()
      const withSavepoint = await trx.savepoint('before_three').execute()
      await withSavepoint.insertInto('notes').values({ id: 3 }).execute()
      const rolledBack = await withSavepoint.rollbackToSavepoint('before_three').execute()
      await rolledBack.releaseSavepoint('before_three').execute()
      const duplicate = await rolledBack
        .insertInto('notes')
        .values({ id: 1 })
        .execute()
        .catch((error: Error) => error)
      expect(duplicate).toMatchObject({ code: '23505' })
      expect(String((duplicate as Error).stack)).toContain('dialect.test.ts')
      await expect(rolledBack.commit().execute()).rejects.toBeInstanceOf(AbortedTransactionError)
      expect(await db.selectFrom('notes').select('id').orderBy('id').execute()).toEqual([
        { id: 1 },
        { id: 2 },
      ])
      const streamed: { id: number }[] = []
      for await (const row of db.selectFrom('notes').select('id').orderBy('id').stream(1)) streamed.push(row)
      expect(streamed).toEqual([{ id: 1 }, { id: 2 }])
      expect(dialect.pool.stats()).toMatchObject({ active: 0, total: 1, unsafeReleases: 0 })
    } finally {
      await db.destroy()
    }
  })

  it('db.destroy() closes the pool: every connection, twice without error', async () => {
    const dialect = new InstrumentedPostgresDialect({ connectionString: url })
    const db = new Kysely<Database>({ dialect })
    await Promise.all(Array.from({ length: 5 }, () => sql`select pg_sleep(0.05)`.execute(db)))
    expect(dialect.pool.totalCount).toBe(5)
    await db.destroy()
    await db.destroy()
    expect(dialect.pool.ending).toBe(true)
    expect(dialect.pool.totalCount).toBe(0)
    await expect(sql`select 1`.execute(db)).rejects.toThrow(/destroyed/)
  })

  it('takes any logger with error, warn, info and debug, and makes its own without one', async () => {
    const { logger, lines } = recordingLogger()
    const dialect = new InstrumentedPostgresDialect({
      connectionString: url,
      pool: { size: 1, maxOverflow: 0, queueWarnThreshold: 0 },
      logger,
    })
    const db = new Kysely<Database>({ dialect })
    try {
      await Promise.all([sql`select pg_sleep(0.05)`.execute(db), sql`select 1`.execute(db)])
      expect(lines.map((l) => l.message)).toContain('database pool wait queue above threshold')
    } finally {
      await db.destroy()
    }
    const withDefault = new Kysely<Database>({
      dialect: new InstrumentedPostgresDialect({ connectionString: url }),
    })
    await expect(sql`select 1 as one`.execute(withDefault)).resolves.toMatchObject({ rows: [{ one: 1 }] })
    await withDefault.destroy()
  })

  it('names bad settings before anything connects', () => {
    expect(() => new InstrumentedPostgresDialect({ connectionString: url, pool: { size: -1 } })).toThrow(
      'pool.size: got "-1"; expected a whole number ≥ 0',
    )
  })
})
