import { type Kysely, sql } from 'kysely'
import { type MigrationResultSet, Migrator } from 'kysely/migration'
import { migrations } from './migrations/index.js'

/** Migrations failed: `results` says which ran and which one broke. */
export class MigrationError extends Error {
  readonly results: MigrationResultSet['results']

  constructor(cause: unknown, results: MigrationResultSet['results']) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName
    super(
      `database migration ${failed ? `"${failed}" ` : ''}failed: ${(cause as Error)?.message ?? String(cause)}`,
      { cause },
    )
    this.name = 'MigrationError'
    this.results = results
  }
}

/**
 * Applies every pending migration, all in one transaction, and returns the names applied now.
 *
 * Replicas may start together, so the run is serialised by a transaction-scoped advisory lock
 * taken first. Kysely's own migration lock is session-level (`pg_advisory_lock`): through
 * PgBouncer in transaction mode a session is not one server connection, so on its own it would
 * let two replicas run the same migration at once. Inside our transaction it is harmless.
 *
 * ```ts
 * const applied = await migrateToLatest(db)
 * ```
 */
export async function migrateToLatest<DB>(db: Kysely<DB>): Promise<string[]> {
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext('classroom-engine migrations'))`.execute(trx)
    const migrator = new Migrator({ db: trx, provider: { getMigrations: async () => migrations } })
    const { error, results } = await migrator.migrateToLatest()
    if (error) throw new MigrationError(error, results)
    return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
  })
}
