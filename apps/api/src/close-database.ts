import type { InstrumentedPool } from '@classroom/db-core'
import type { Kysely } from 'kysely'

/**
 * Kysely ends the pool on `destroy()` once it has run a query; a start that failed before any
 * query (or one that only used the pool directly) leaves the pool to end here. Both are idempotent.
 *
 * ```ts
 * await closeDatabase(db, dialect.pool)
 * ```
 */
export async function closeDatabase<DB>(db: Kysely<DB>, pool: InstrumentedPool): Promise<void> {
  await db.destroy()
  await pool.end()
}
