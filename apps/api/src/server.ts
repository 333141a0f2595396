import { type Database, seedDemoData } from '@classroom/classroom-db'
import {
  checkConnectionBudget,
  checkDatabase,
  type DbLogger,
  type InstrumentedPool,
  InstrumentedPostgresDialect,
} from '@classroom/db-core'
import type { FastifyInstance } from 'fastify'
import { Kysely } from 'kysely'
import { buildApp } from './app.js'
import { developmentAuth, logDevelopmentTokens } from './auth/development.js'
import { tokenVerifier } from './auth/verifier.js'
import type { ApiConfig } from './config.js'
import { type DatabaseTarget, openDatabaseTarget } from './database-target.js'
import { registerHeapAfterGcMetrics } from './heap-after-gc.js'
import { startIdempotencyPurge } from './idempotency-purge.js'
import { createMetrics, registerPoolMetrics } from './metrics.js'
import { runMigrations } from './migrate.js'
import { registerReplicaMetrics } from './replica-metrics.js'
import { tracerProviderRegistered } from './tracing.js'

const IDLE_SWEEP_MS = 50

/** A started api: listening, migrated, with its database. */
export interface RunningApi {
  readonly app: FastifyInstance
  /** `http://host:port` it listens on. */
  readonly url: string
  readonly db: Kysely<Database>
  /** The instrumented pool under `db`: stats and counters. */
  readonly pool: InstrumentedPool
  readonly target: DatabaseTarget
  /**
   * Stops accepting, lets in-flight requests finish (at most `shutdownTimeoutMs`, then their
   * connections are cut), closes the pool and stops the embedded database. Resolves to whether
   * everything finished in time.
   */
  close(): Promise<boolean>
}

/**
 * Opens the database (embedded when `DATABASE_URL` is unset), applies pending migrations unless
 * `DB_MIGRATE_ON_START=false` (through a short-lived pool on `DATABASE_MIGRATION_URL`, the owner
 * role, when set: the serving pool may not change the schema), checks the connection budget (`DB_EXPECTED_REPLICAS`), seeds demo
 * data on the embedded database, and listens.
 *
 * ```ts
 * const api = await startApi(loadApiConfig(), logger)
 * process.once('SIGTERM', () => api.close())
 * ```
 */
export async function startApi(config: ApiConfig, logger: DbLogger): Promise<RunningApi> {
  const target = await openDatabaseTarget(config, logger)
  const metrics = createMetrics()
  const stopHeapMetrics = registerHeapAfterGcMetrics(metrics.registry)
  const dbConfig = config.dbConfig(target.connectionString)
  const dialect = new InstrumentedPostgresDialect({
    ...dbConfig,
    logger,
    onAcquire: (ms) => metrics.poolAcquireDuration.observe(ms / 1000),
    onRelease: (ms) => metrics.connectionUseTime.observe(ms / 1000),
    onQueueDelay: (ms) => metrics.queueDelay.observe(ms / 1000),
    onConnectionCreated: (ms) => metrics.connectionCreateTime.observe(ms / 1000),
    clientConfig: { application_name: 'classroom-api' },
  })
  const db = new Kysely<Database>({ dialect })
  try {
    // Kysely makes the pool as it first connects: from then on, db.destroy() ends it on every path.
    const pool = await db.connection().execute(async () => dialect.pool)
    // Made with the connection above, when DATABASE_READ_URLS names replicas.
    const { routing } = dialect
    registerPoolMetrics(metrics, pool, routing)
    if (routing) registerReplicaMetrics(metrics, routing)
    // No key configured (only allowed on the embedded database): one made for this run.
    const development = config.auth === undefined ? developmentAuth() : undefined
    const verifyToken = await tokenVerifier(
      config.auth ?? (development as NonNullable<typeof development>).settings,
    )
    if (config.migrateOnStart) {
      // The demo data goes in as the owner: row-level security lets the serving role write only a principal's rows.
      const applied = await runMigrations(config, target.migrationConnectionString, logger, async (owner) => {
        if (target.embedded && (await seedDemoData(owner))) logger.info('demo data loaded')
        if (development) await logDevelopmentTokens(owner, development, logger)
      })
      logger.info('database migrations applied', { applied })
    }
    await checkConnectionBudget(pool, dbConfig, logger)
    const stopPurge = startIdempotencyPurge(db, { retentionMs: config.idempotencyKeyRetentionMs, logger })
    const app = buildApp(
      {
        db,
        writeRetryWithinMs: dbConfig.pool.unavailableWaitMs,
        requestDeadlineMs: config.requestDeadlineMs,
        logger,
        metrics,
        checkDatabase: () => checkDatabase(pool, { timeoutMs: config.readyzTimeoutMs }),
        verifyToken,
        metricsToken: config.metricsToken ?? development?.metricsToken,
        traceRoutes: tracerProviderRegistered(),
      },
      config.http,
    )
    const url = await app.listen({ host: config.host, port: config.port })
    logger.info(`api listening: open ${url}/ (the API reference: ${url}/documentation)`, {
      url,
      pool: { size: dbConfig.pool.size, maxOverflow: dbConfig.pool.maxOverflow },
    })
    return {
      app,
      url,
      db,
      pool,
      target,
      close: () => {
        stopPurge()
        stopHeapMetrics()
        return closeApi(app, db, pool, target, config.shutdownTimeoutMs, logger)
      },
    }
  } catch (error) {
    stopHeapMetrics()
    await db.destroy()
    await target.stop()
    throw error
  }
}

async function closeApi(
  app: FastifyInstance,
  db: Kysely<Database>,
  pool: InstrumentedPool,
  target: DatabaseTarget,
  timeoutMs: number,
  logger: DbLogger,
): Promise<boolean> {
  const deadlineAt = performance.now() + timeoutMs
  let inTime = true
  const deadline = setTimeout(() => {
    inTime = false
    logger.warn('in-flight requests did not finish within SHUTDOWN_TIMEOUT_MS; cutting their connections', {
      timeoutMs,
    })
    app.server.closeAllConnections()
  }, timeoutMs)
  // Node reaps idle keep-alive sockets once, when close() starts; a socket whose in-flight response
  // completes later would hold the drain open until the client's keep-alive ends. Sweep them.
  const sweep = setInterval(() => app.server.closeIdleConnections(), IDLE_SWEEP_MS)
  try {
    await app.close()
  } finally {
    clearTimeout(deadline)
    clearInterval(sweep)
  }
  // The database gets what is left of the same budget: a checkout still held then is destroyed.
  const databaseInTime = await pool.endWithin(deadlineAt - performance.now())
  // The pool has ended: this only marks the Kysely instance destroyed.
  await db.destroy()
  await target.stop()
  return inTime && databaseInTime
}
