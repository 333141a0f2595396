import { type Kysely, sql } from 'kysely'
import {
  DEFAULT_MIGRATION_LOCK_TABLE,
  DEFAULT_MIGRATION_TABLE,
  type MigrationResultSet,
  Migrator,
} from 'kysely/migration'
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
    await revokeMigrationTables(trx)
    return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
  })
}

/** Takes every privilege on the migrator's tables from roles other than their owner (none: a no-op). */
async function revokeMigrationTables<DB>(db: Kysely<DB>): Promise<void> {
  const tables = [DEFAULT_MIGRATION_TABLE, DEFAULT_MIGRATION_LOCK_TABLE]
  const { rows } = await sql<{ grantee: string }>`
    select distinct case when a.grantee = 0 then 'public' else a.grantee::regrole::text end as grantee
    from pg_class c, aclexplode(c.relacl) a
    where c.oid in (${sql.join(tables.map((t) => sql`to_regclass(${t})`))}) and a.grantee <> c.relowner`.execute(
    db,
  )
  for (const { grantee } of rows) {
    await sql`revoke all on table ${sql.join(tables.map((t) => sql.table(t)))} from ${sql.raw(grantee)}`.execute(
      db,
    )
  }
}
