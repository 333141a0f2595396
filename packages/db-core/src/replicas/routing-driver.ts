// db-core's Kysely driver with read replicas: one instrumented driver per target, a checkout that binds late.
import {
  type AbortableOperationOptions,
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  type QueryCompiler,
  type TransactionSettings,
} from 'kysely'
import { parseConnectionUrl } from '../config/connection-url.js'
import type { ReplicaSettings, ReplicaTarget } from '../config/settings.js'
import { InstrumentedPostgresDriver } from '../dialect/instrumented-postgres-driver.js'
import type { DbLogger } from '../logging/db-logger.js'
import { createLogger } from '../logging/winston-logger.js'
import { InstrumentedPool } from '../pool/instrumented-pool.js'
import type { InstrumentedPoolOptions } from '../pool/pool-options.js'
import { lsnOf } from './read-position.js'
import { ReadRouting } from './read-routing.js'
import { Replica, type RoutingTarget } from './replica.js'
import { ReplicaMonitor } from './replica-monitor.js'
import { RoutingConnection, type RoutingConnectionDriver } from './routing-connection.js'
import { advanceReadPosition, type RoutingContext, routingContext } from './routing-scope.js'

type PoolSource = (options?: AbortableOperationOptions) => Promise<InstrumentedPool>

// The insert position is past every record already in the WAL, the commit's included, whatever
// synchronous_commit says (pg_current_wal_lsn, the write position, is past it only once flushed).
const WAL_POSITION = CompiledQuery.raw('select pg_current_wal_insert_lsn()::text as lsn')

/**
 * The driver of a dialect with `replicas.urls`: the primary's {@link InstrumentedPostgresDriver}
 * and one per replica, each over its own pool, and checkouts ({@link RoutingConnection}) that bind
 * to one of them at their first statement. Replica pools are made and polled when Kysely first
 * connects (none connects until a read needs it: a replica down at start fails nothing) and ended,
 * their polls stopped, by `db.destroy()`.
 */
export class RoutingDriver implements Driver, RoutingConnectionDriver {
  readonly #options: InstrumentedPoolOptions
  readonly #settings: ReplicaSettings
  readonly #statements: Driver
  readonly #onRouting: (routing: ReadRouting) => void
  readonly #primaryDriver: InstrumentedPostgresDriver
  #primaryPool!: InstrumentedPool
  #replicas: readonly Replica[] = []
  #monitor: ReplicaMonitor | undefined
  /** Set by {@link init}: Kysely calls nothing else before it. */
  primary!: RoutingTarget
  routing!: ReadRouting

  constructor(
    source: PoolSource,
    statements: Driver,
    options: InstrumentedPoolOptions,
    settings: ReplicaSettings,
    onRouting: (routing: ReadRouting) => void,
  ) {
    this.#options = options
    this.#settings = settings
    this.#statements = statements
    this.#onRouting = onRouting
    this.#primaryDriver = new InstrumentedPostgresDriver(async (abort) => {
      this.#primaryPool = await source(abort)
      return this.#primaryPool
    }, statements)
  }

  get readRetry(): boolean {
    return this.#primaryDriver.readRetry
  }

  async init(options?: AbortableOperationOptions): Promise<void> {
    await this.#primaryDriver.init(options)
    this.primary = { name: 'primary', driver: this.#primaryDriver }
    const logger = this.#options.logger ?? createLogger()
    this.#replicas = await Promise.all(this.#settings.urls.map((target) => this.#replica(target, logger)))
    this.routing = new ReadRouting(this.#replicas, this.#settings.readYourWrites)
    this.#monitor = new ReplicaMonitor(this.#primaryPool, this.#replicas, this.#settings)
    this.#monitor.start()
    this.#onRouting(this.routing)
  }

  acquireConnection(options?: AbortableOperationOptions): Promise<DatabaseConnection> {
    return Promise.resolve(new RoutingConnection(this, options))
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const primary = await (connection as RoutingConnection).beginTransaction()
    await this.#primaryDriver.beginTransaction(primary, settings)
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const routed = connection as RoutingConnection
    const primary = await routed.onPrimary()
    try {
      await this.#primaryDriver.commitTransaction(primary)
    } finally {
      routed.transactionEnded()
    }
    await this.recordWrite(primary, routingContext())
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const routed = connection as RoutingConnection
    try {
      await this.#primaryDriver.rollbackTransaction(await routed.onPrimary())
    } finally {
      routed.transactionEnded()
    }
  }

  async savepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']) {
    await this.#primaryDriver.savepoint(await (connection as RoutingConnection).onPrimary(), name, compile)
  }

  async rollbackToSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    const primary = await (connection as RoutingConnection).onPrimary()
    await this.#primaryDriver.rollbackToSavepoint(primary, name, compile)
  }

  async releaseSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    const primary = await (connection as RoutingConnection).onPrimary()
    await this.#primaryDriver.releaseSavepoint(primary, name, compile)
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return (connection as RoutingConnection).release()
  }

  /** Stops the polls, then ends every pool (the primary's as its own driver does). */
  async destroy(): Promise<void> {
    await this.#monitor?.stop()
    await Promise.all([this.#primaryDriver.destroy(), ...this.#replicas.map((r) => r.driver.destroy())])
  }

  /**
   * With read-your-writes on and inside a consistency scope: the WAL position on the primary
   * connection that just committed, asked on that connection before it goes back, so the scope's
   * next reads see the commit. One round trip per commit, only in a scope.
   */
  async recordWrite(connection: DatabaseConnection, context: RoutingContext | undefined): Promise<void> {
    const scope = context?.consistency
    if (!scope || !this.#settings.readYourWrites) return
    const { rows } = await connection.executeQuery<{ lsn: string }>(WAL_POSITION)
    advanceReadPosition(scope, lsnOf(rows[0]!.lsn)!)
  }

  async #replica(target: ReplicaTarget, logger: DbLogger): Promise<Replica> {
    const pool = new InstrumentedPool(replicaPoolOptions(this.#options, target))
    const driver = new InstrumentedPostgresDriver(async () => pool, this.#statements)
    await driver.init()
    return new Replica(target.name, pool, driver, logger)
  }
}

/**
 * A replica's pool: the primary's settings and hooks on the replica's URL, named after it. Its own
 * URL's password, when it has one, replaces the primary's password file or function. A replica
 * that cannot be reached fails its checkout at once (the read goes elsewhere) and retries no read
 * itself: the routing runs a lost read again on another target.
 */
function replicaPoolOptions(
  options: InstrumentedPoolOptions,
  target: ReplicaTarget,
): InstrumentedPoolOptions {
  const url = parseConnectionUrl(target.url)
  const ownPassword = url.ok && url.hasPassword
  return {
    ...options,
    connectionString: target.url,
    name: target.name,
    replicas: undefined,
    ...(ownPassword && { password: undefined, passwordFile: undefined }),
    pool: { ...options.pool, readRetry: false, unavailableWaitMs: 0 },
  }
}
