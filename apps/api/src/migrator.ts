import type { Kysely } from 'kysely'
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
 * Applies every pending migration, each in its own transaction; Kysely's migration lock makes
 * concurrent starts of several replicas safe. Returns the names applied now.
 *
 * ```ts
 * const applied = await migrateToLatest(db)
 * ```
 */
export async function migrateToLatest<DB>(db: Kysely<DB>): Promise<string[]> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } })
  const { error, results } = await migrator.migrateToLatest()
  if (error) throw new MigrationError(error, results)
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}
