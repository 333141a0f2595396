import {
  checkConnectionBudget,
  checkDatabase,
  createDb,
  type Database as DbHandle,
  type Logger,
} from '@classroom/db-core'
import type { FastifyInstance } from 'fastify'
import { buildApp } from './app.js'
import type { ApiConfig } from './config.js'
import { type DatabaseTarget, openDatabaseTarget } from './database-target.js'
import { seedDemoData } from './demo-data.js'
import { createMetrics, registerPoolMetrics } from './metrics.js'
import { migrateToLatest } from './migrator.js'
import type { Database } from './schema.js'

const IDLE_SWEEP_MS = 50

/** A started api: listening, migrated, with its database. */
export interface RunningApi {
  readonly app: FastifyInstance
  /** `http://host:port` it listens on. */
  readonly url: string
  readonly database: DbHandle<Database>
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
 * `DB_MIGRATE_ON_START=false`, checks the connection budget (`DB_EXPECTED_REPLICAS`), seeds demo
 * data on the embedded database, and listens.
 *
 * ```ts
 * const api = await startApi(loadApiConfig(), logger)
 * process.once('SIGTERM', () => api.close())
 * ```
 */
export async function startApi(config: ApiConfig, logger: Logger): Promise<RunningApi> {
  const target = await openDatabaseTarget(config, logger)
  const metrics = createMetrics()
  const dbConfig = config.dbConfig(target.connectionString)
  const database = createDb<Database>(dbConfig, {
    logger,
    onAcquire: (ms) => metrics.poolAcquireDuration.observe(ms / 1000),
    clientConfig: { application_name: 'classroom-api' },
  })
  try {
    registerPoolMetrics(metrics, database.pool)
    if (config.migrateOnStart) {
      const applied = await migrateToLatest(database.db)
      logger.info('database migrations applied', { applied })
    }
    await checkConnectionBudget(database.pool, dbConfig, logger)
    if (target.embedded && (await seedDemoData(database.db))) logger.info('demo data loaded')
    const app = buildApp({
      db: database.db,
      logger,
      metrics,
      checkDatabase: () => checkDatabase(target.connectionString, { timeoutMs: config.readyzTimeoutMs }),
    })
    const url = await app.listen({ host: config.host, port: config.port })
    logger.info('api listening', {
      url,
      pool: { size: dbConfig.pool.size, maxOverflow: dbConfig.pool.maxOverflow },
    })
    return {
      app,
      url,
      database,
      target,
      close: () => closeApi(app, database, target, config.shutdownTimeoutMs, logger),
    }
  } catch (error) {
    await database.close()
    await target.stop()
    throw error
  }
}

async function closeApi(
  app: FastifyInstance,
  database: DbHandle<Database>,
  target: DatabaseTarget,
  timeoutMs: number,
  logger: Logger,
): Promise<boolean> {
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
  await database.close()
  await target.stop()
  return inTime
}
