// The dialect Kysely is given: where each Kysely instance's pool comes from, and Kysely's PostgreSQL parts.
import {
  type AbortableOperationOptions,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  PostgresDialect,
  type QueryCompiler,
} from 'kysely'
import { resolveDbConfig } from '../config/db-config.js'
import type { ReplicaSettings } from '../config/settings.js'
import { InstrumentedPool } from '../pool/instrumented-pool.js'
import type { InstrumentedPoolOptions } from '../pool/pool-options.js'
import type { ReadRouting } from '../replicas/read-routing.js'
import { RoutingDriver } from '../replicas/routing-driver.js'
import { InstrumentedPostgresDriver } from './instrumented-postgres-driver.js'

/**
 * A pool, or a function that makes one (called once per Kysely instance, when it first connects),
 * as Kysely's `PostgresDialect` takes them.
 */
export type InstrumentedPoolSource =
  | InstrumentedPool
  | ((options?: AbortableOperationOptions) => InstrumentedPool | Promise<InstrumentedPool>)

/** The dialect's other form: a pool made elsewhere, or a factory, instead of the pool's settings. */
export interface InstrumentedPostgresDialectConfig {
  /**
   * The pool, or a function called once per Kysely instance when it first connects. Whichever it
   * is, that instance's `db.destroy()` ends it (once the instance has connected, as Kysely's own
   * `PostgresDialect` does): one dialect with a factory serves several Kysely instances, each with
   * a pool of its own.
   *
   * ```ts
   * const dialect = new InstrumentedPostgresDialect({
   *   pool: () => new InstrumentedPool({ ...loadDbConfig(), logger: createLogger() }),
   * })
   * const reports = new Kysely<Record<string, never>>({ dialect })
   * const api = new Kysely<Record<string, never>>({ dialect })
   * ```
   */
  pool: InstrumentedPoolSource
}

/**
 * Kysely's PostgreSQL dialect over db-core's {@link InstrumentedPool}: pre-ping, one acquire
 * deadline, recycling, leak detection and counters for every Kysely query and transaction, and
 * (unless `pool.readRetry` is off) a transparent second try for reads that lose their connection.
 * Hand it to Kysely like any dialect:
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
 * Its lifecycle is Kysely's own `PostgresDialect`'s: a Kysely instance gets its pool when it first
 * connects (its first query, transaction or `db.connection()`), made from the settings given here
 * or by the factory, or the pool given; `db.destroy()` ends that pool, waiting for checked-out
 * connections. An instance that never connected made no pool, and leaves nothing open. A pool
 * passed as it is, and only used directly, is the caller's to end (Kysely ends only what it connected
 * through).
 */
export class InstrumentedPostgresDialect implements Dialect {
  readonly #source: (options?: AbortableOperationOptions) => Promise<InstrumentedPool>
  #pool: InstrumentedPool | undefined
  readonly #postgres: PostgresDialect
  /** With `replicas.urls` in the settings: the replicas and the settings their pools share. */
  readonly #replicas:
    | { readonly options: InstrumentedPoolOptions; readonly settings: ReplicaSettings }
    | undefined
  #routing: ReadRouting | undefined

  /**
   * From the pool's settings (validated here: one `ConfigError` naming every bad one; no connection
   * is opened until the first query), or from a pool or factory ({@link InstrumentedPostgresDialectConfig}).
   *
   * ```ts
   * new InstrumentedPostgresDialect({
   *   connectionString: 'postgres://app:secret@127.0.0.1:5432/app',
   *   pool: { size: 10, maxOverflow: 10 },
   * })
   * ```
   */
  constructor(config: InstrumentedPoolOptions | InstrumentedPostgresDialectConfig) {
    const [source, replicas] = poolSource(config)
    this.#replicas = replicas?.urls.length
      ? { options: config as InstrumentedPoolOptions, settings: replicas }
      : undefined
    this.#source = async (options) => {
      const pool = await source(options)
      if (!(pool instanceof InstrumentedPool)) {
        throw new TypeError(
          `InstrumentedPostgresDialect's pool factory returned ${describe(pool)}, not an InstrumentedPool`,
        )
      }
      this.#pool = pool
      return pool
    }
    if (config.pool instanceof InstrumentedPool) this.#pool = config.pool
    // Kysely's own dialect, for its compiler, adapter, introspector and transaction statements.
    this.#postgres = new PostgresDialect({ pool: this.#source })
  }

  /**
   * The pool queries go through (`stats()`, counters, raw `query()`): the one given, else the one
   * made for the Kysely instance that connected last through this dialect. With several instances
   * on one factory, keep each pool from the factory instead. Throws before any instance connected
   * (read it after the first query, or hand the dialect a pool).
   *
   * ```ts
   * const dialect = new InstrumentedPostgresDialect({ ...loadDbConfig(), logger: createLogger() })
   * const db = new Kysely<Record<string, never>>({ dialect })
   * const pool = await db.connection().execute(async () => dialect.pool)
   * pool.stats().total // 1
   * ```
   */
  get pool(): InstrumentedPool {
    if (this.#pool) return this.#pool
    throw new Error(
      'InstrumentedPostgresDialect has no pool yet: a Kysely instance makes it when it first connects ' +
        '(a query, a transaction, db.connection()); pass { pool } to have one before',
    )
  }

  /**
   * The read routing of the Kysely instance that connected last through this dialect: where reads
   * went, fallbacks to the primary and each replica's state (`stats()`, see the README's "Read
   * replicas"). `undefined` without `replicas.urls` (`DATABASE_READ_URLS`), and before the first
   * connection.
   *
   * ```ts
   * const dialect = new InstrumentedPostgresDialect(loadDbConfig())
   * const kysely = new Kysely<Record<string, never>>({ dialect })
   * await kysely.selectNoFrom((eb) => eb.lit(1).as('one')).execute()
   * for (const replica of dialect.routing?.stats().replicas ?? []) console.log(replica.name, replica.state)
   * ```
   */
  get routing(): ReadRouting | undefined {
    return this.#routing
  }

  createDriver(): Driver {
    const statements = this.#postgres.createDriver()
    if (!this.#replicas) return new InstrumentedPostgresDriver(this.#source, statements)
    const { options, settings } = this.#replicas
    return new RoutingDriver(this.#source, statements, options, settings, (routing) => {
      this.#routing = routing
    })
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

/** Where each Kysely instance's pool comes from, and its replicas (settings only), the config checked at once. */
function poolSource(
  config: InstrumentedPoolOptions | InstrumentedPostgresDialectConfig,
): [(options?: AbortableOperationOptions) => InstrumentedPool | Promise<InstrumentedPool>, ReplicaSettings?] {
  const { pool } = config
  if (pool instanceof InstrumentedPool || typeof pool === 'function') {
    const others = Object.keys(config).filter((key) => key !== 'pool')
    if (others.length > 0) {
      throw new TypeError(
        `InstrumentedPostgresDialect takes a pool or its settings, not both: ${others.join(', ')} ` +
          'belong to new InstrumentedPool(options)',
      )
    }
    return [pool instanceof InstrumentedPool ? () => pool : pool]
  }
  if (typeof (pool as { connect?: unknown } | undefined)?.connect === 'function') {
    throw new TypeError(
      `InstrumentedPostgresDialect takes an InstrumentedPool, not ${describe(pool)}: ` +
        'build it with new InstrumentedPool(options), or pass the options themselves',
    )
  }
  const options = config as InstrumentedPoolOptions
  // A bad setting is named now, not at the first query.
  const { replicas } = resolveDbConfig(options)
  return [() => new InstrumentedPool(options), replicas]
}

function describe(value: unknown): string {
  const name = (value as { constructor?: { name?: string } } | null)?.constructor?.name
  return value === null || value === undefined ? String(value) : `a ${name ?? typeof value}`
}
