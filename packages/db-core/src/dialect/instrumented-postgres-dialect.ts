import {
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  PostgresDialect,
  type QueryCompiler,
} from 'kysely'
import { InstrumentedPool } from '../pool/instrumented-pool.js'
import type { InstrumentedPoolOptions } from '../pool/pool-options.js'
import { InstrumentedPostgresDriver } from './instrumented-postgres-driver.js'

/**
 * Kysely's PostgreSQL dialect over db-core's {@link InstrumentedPool}: pre-ping, one acquire
 * deadline, recycling, leak detection and counters for every Kysely query and transaction, and
 * (unless `pool.readRetry` is off) a transparent second try for reads that lose their connection.
 * Hand it to Kysely like any dialect; `db.destroy()` waits for checked-out connections and closes
 * the pool. The pool is `dialect.pool`, for stats and metrics.
 *
 * ```ts
 * import { Kysely } from 'kysely'
 *
 * interface Database {
 *   classrooms: { id: number; name: string }
 * }
 *
 * const dialect = new InstrumentedPostgresDialect({ ...loadDbConfig(), logger: createLogger() })
 * const db = new Kysely<Database>({ dialect, log: ['error'] })
 * await db.selectFrom('classrooms').selectAll().execute()
 * dialect.pool.stats().acquisitions // 1
 * await db.destroy()
 * ```
 *
 * Kysely ends a pool only once it has run a query through it; code that uses `dialect.pool`
 * directly and never queries through Kysely ends it with `await dialect.pool.end()`.
 */
export class InstrumentedPostgresDialect implements Dialect {
  /** The pool every query goes through: `stats()`, counters, raw `query()`. */
  readonly pool: InstrumentedPool
  readonly #postgres: PostgresDialect

  /**
   * Validates the settings (one `ConfigError` naming every bad one) and builds the pool; no
   * connection is opened until the first query.
   *
   * ```ts
   * new InstrumentedPostgresDialect({
   *   connectionString: 'postgres://app:secret@127.0.0.1:5432/app',
   *   pool: { size: 10, maxOverflow: 10 },
   * })
   * ```
   */
  constructor(config: InstrumentedPoolOptions) {
    this.pool = new InstrumentedPool(config)
    this.#postgres = new PostgresDialect({ pool: this.pool })
  }

  createDriver(): Driver {
    return new InstrumentedPostgresDriver(this.pool, this.#postgres.createDriver())
  }

  createQueryCompiler(): QueryCompiler {
    return this.#postgres.createQueryCompiler()
  }

  createAdapter(): DialectAdapter {
    return this.#postgres.createAdapter()
  }

  // biome-ignore lint/suspicious/noExplicitAny: Kysely's Dialect interface takes any schema here
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return this.#postgres.createIntrospector(db)
  }
}
