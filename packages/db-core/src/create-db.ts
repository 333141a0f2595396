import { type Dialect, Kysely, type KyselyPlugin, PostgresDialect } from 'kysely'
import type { DbConfig } from './db-config.js'
import { createPool, type InstrumentedPool, type InstrumentedPoolOptions } from './instrumented-pool.js'
import { ReadRetryDriver } from './read-retry-driver.js'

/** A Kysely instance, the pool under it, and one way to close both. */
export interface Database<DB> {
  readonly db: Kysely<DB>
  readonly pool: InstrumentedPool
  /** Waits for checked-out connections to come back, then closes every connection. Idempotent. */
  close(): Promise<void>
}

export interface CreateDbOptions extends Omit<InstrumentedPoolOptions, 'config'> {
  /**
   * Kysely plugins, e.g. `CamelCasePlugin`.
   *
   * ```ts
   * createDb<DB>(config, { logger, plugins: [new CamelCasePlugin()] })
   * ```
   */
  readonly plugins?: KyselyPlugin[]
}

/**
 * A `Kysely<DB>` with `PostgresDialect` over db-core's instrumented pool. Pre-ping, timeouts and
 * recycling live in the pool's checkout, so they hold for Kysely queries and transactions alike
 * (and no `onReserveConnection` hook can leak a connection by throwing). With `DB_READ_RETRY`
 * (default on), a read-only query outside a transaction that loses its connection runs once more
 * on a fresh one (see `ReadRetryDriver`).
 *
 * ```ts
 * const { db, pool, close } = createDb<Database>(loadDbConfig(), { logger })
 * await db.selectFrom('classrooms').selectAll().execute()
 * await close()
 * ```
 */
export function createDb<DB>(config: DbConfig, options: CreateDbOptions): Database<DB> {
  const { plugins, ...poolOptions } = options
  const pool = createPool(config, poolOptions)
  const postgres = new PostgresDialect({ pool })
  const dialect: Dialect = {
    createAdapter: () => postgres.createAdapter(),
    createQueryCompiler: () => postgres.createQueryCompiler(),
    createIntrospector: (db) => postgres.createIntrospector(db),
    createDriver: () =>
      config.pool.readRetry ? new ReadRetryDriver(postgres.createDriver(), pool) : postgres.createDriver(),
  }
  const db = new Kysely<DB>({ dialect, plugins: plugins ?? [] })
  let closing: Promise<void> | undefined
  return {
    db,
    pool,
    close() {
      closing ??= (async () => {
        await db.destroy()
        // Kysely ends the pool only if it ever ran a query; end it ourselves otherwise.
        if (!pool.ending) await pool.end()
      })()
      return closing
    },
  }
}
