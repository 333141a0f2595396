import type { DbLogger } from '@classroom/db-core'
import type { ApiConfig } from './config.js'

/** The database the api serves from, and how to let go of it at shutdown. */
export interface DatabaseTarget {
  readonly connectionString: string
  /** True when the api runs its own embedded PostgreSQL. */
  readonly embedded: boolean
  /** Stops the embedded server; nothing for an external one. */
  stop(): Promise<void>
}

const EMBEDDED_DATABASE = 'classroom'

/**
 * `DATABASE_URL` when set; otherwise an embedded PostgreSQL whose data directory survives restarts
 * of the api (`EMBEDDED_PG_DATA_DIR`).
 *
 * ```ts
 * const target = await openDatabaseTarget(config, logger)
 * ```
 */
export async function openDatabaseTarget(config: ApiConfig, logger: DbLogger): Promise<DatabaseTarget> {
  const { database } = config
  if (database.kind === 'external') {
    return { connectionString: database.connectionString, embedded: false, stop: async () => undefined }
  }
  const { LocalPostgres } = await loadLocalPostgres()
  const cluster = await LocalPostgres.start({
    dataDir: database.dataDir,
    ...(database.port !== undefined && { port: database.port }),
    onLog: (line) => logger.debug(line, { source: 'postgres' }),
  })
  const connectionString = await cluster.createDatabase(EMBEDDED_DATABASE)
  logger.info('embedded PostgreSQL started', {
    version: cluster.version,
    port: cluster.port,
    dataDir: cluster.dataDir,
    databaseUrl: connectionString,
  })
  return { connectionString, embedded: true, stop: () => cluster.stop('fast') }
}

/**
 * The embedded PostgreSQL, a development dependency: loaded only when `DATABASE_URL` is unset, so a
 * production install (`pnpm deploy --prod`) carries no PostgreSQL binaries and must set it.
 */
async function loadLocalPostgres(): Promise<typeof import('@classroom/local-postgres')> {
  try {
    return await import('@classroom/local-postgres')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw error
    throw new Error(
      'DATABASE_URL is not set, and the embedded PostgreSQL (@classroom/local-postgres, a development ' +
        'dependency) is not installed here: set DATABASE_URL to the database this api should serve',
      { cause: error },
    )
  }
}
