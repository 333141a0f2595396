import { realpathSync } from 'node:fs'
import { createRequire } from 'node:module'
import { InstrumentedPool, InstrumentedPostgresDialect } from '@classroom/db-core'
import type {} from '@classroom/local-postgres/vitest-global-setup'
import { AbortedTransactionError, Kysely, sql } from 'kysely'
import pg from 'pg'
import { describe, expect, inject, it } from 'vitest'

const url = inject('databaseUrl')
const quiet = { error() {}, warn() {}, info() {}, debug() {} }

/** The file `specifier` loads from the directory of `from`, links resolved. */
function loadedFile(from: string, specifier: string): string {
  return realpathSync(createRequire(from).resolve(specifier))
}

describe("db-core in an app with its own pg and kysely: the app's copies, no second one", () => {
  it("resolves pg and kysely to the app's own files, a pg version db-core's tests do not use", () => {
    const dbCore = import.meta.resolve('@classroom/db-core')
    expect(loadedFile(dbCore, 'pg')).toBe(loadedFile(import.meta.url, 'pg'))
    expect(loadedFile(dbCore, 'kysely')).toBe(loadedFile(import.meta.url, 'kysely'))
    expect(createRequire(import.meta.url)('pg/package.json').version).toBe('8.23.0')
  })

  it("fails through db-core with the app's own pg.DatabaseError and Kysely errors", async () => {
    const db = new Kysely<{ missing: { id: number } }>({
      dialect: new InstrumentedPostgresDialect({ connectionString: url, logger: quiet }),
    })
    try {
      const missing = await db
        .selectFrom('missing')
        .selectAll()
        .execute()
        .catch((error: unknown) => error)
      expect(missing).toBeInstanceOf(pg.DatabaseError)
      expect(missing).toMatchObject({ code: '42P01' })
      const inTransaction = await db
        .transaction()
        .execute((trx) => sql`select 1/0`.execute(trx))
        .catch((error: unknown) => error)
      expect(inTransaction).toBeInstanceOf(pg.DatabaseError)
      // The stack reaches the code that ran the statement (Kysely's "retain the full stack trace").
      expect((inTransaction as Error).stack).toContain('one-copy.test.ts')
      const trx = await db.startTransaction().execute()
      await sql`select 1/0`.execute(trx).catch(() => undefined)
      await expect(trx.commit().execute()).rejects.toBeInstanceOf(AbortedTransactionError)
    } finally {
      await db.destroy()
    }
    const pool = new InstrumentedPool({ connectionString: url, logger: quiet })
    await expect(pool.query('select * from missing')).rejects.toBeInstanceOf(pg.DatabaseError)
    await pool.end()
  })
})
