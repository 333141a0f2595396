import { type Database, MigrationError, migrateToLatest } from '@classroom/classroom-db'
import { type DbLogger, InstrumentedPostgresDialect } from '@classroom/db-core'
import { Kysely, sql } from 'kysely'
import type { ApiConfig } from './config.js'

// PostgreSQL's insufficient_privilege.
const PERMISSION_DENIED = '42501'

/**
 * Applies pending migrations through a pool of its own, one connection, closed before it returns:
 * `connectionString` is the owner role's (`DATABASE_MIGRATION_URL`), which the serving pool never
 * holds. Returns the names applied now. A migration refused for want of privileges says which
 * variable to set.
 *
 * ```ts
 * const applied = await runMigrations(config, target.migrationConnectionString, logger)
 * ```
 */
export async function runMigrations(
  config: ApiConfig,
  connectionString: string,
  logger: DbLogger,
  /** Run after migrating, as the same role (the owner: the demo data, which row-level security would refuse the serving role). */
  afterwards?: (db: Kysely<Database>) => Promise<void>,
): Promise<string[]> {
  const base = config.dbConfig(connectionString)
  const dialect = new InstrumentedPostgresDialect({
    ...base,
    // Migrations run in one transaction: one connection is all they use.
    pool: { ...base.pool, size: 1, maxOverflow: 0 },
    // The migrator's own reads (does its table exist, what ran) must see the primary, not a standby behind it.
    replicas: { ...base.replicas, urls: [] },
    logger,
    clientConfig: { application_name: 'classroom-migrate' },
  })
  const db = new Kysely<Database>({ dialect })
  try {
    const applied = await migrateToLatest(db)
    await afterwards?.(db)
    return applied
  } catch (error) {
    const denied = error instanceof MigrationError && (await deniedRole(db, error))
    if (!denied) throw error
    throw new Error(
      `${error.message}. The migrating role "${denied}" may not change the schema: set DATABASE_MIGRATION_URL ` +
        "to a connection of the role that owns the database's tables (DATABASE_URL is then the serving role), " +
        'or DB_MIGRATE_ON_START=false and migrate elsewhere',
      { cause: error },
    )
  } finally {
    await db.destroy()
  }
}

/**
 * The current role when a failed migration was a want of privileges, else undefined. Kysely's
 * migrator hides a refused `create table` behind "current transaction is aborted", so the schema
 * privilege is asked for too.
 */
async function deniedRole(db: Kysely<Database>, error: MigrationError): Promise<string | undefined> {
  const probe = await sql<{ role: string; canCreate: boolean }>`
    select current_user as role, has_schema_privilege('public', 'CREATE') as "canCreate"`
    .execute(db)
    .catch(() => undefined)
  const row = probe?.rows[0]
  if (!row) return undefined
  const refused = (error.cause as { code?: string } | undefined)?.code === PERMISSION_DENIED
  return refused || !row.canCreate ? row.role : undefined
}
