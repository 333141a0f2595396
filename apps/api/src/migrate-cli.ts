import { migrateToLatest } from '@classroom/classroom-db'
import { ConfigError, createLogger, InstrumentedPostgresDialect } from '@classroom/db-core'
import { Kysely } from 'kysely'
import { loadApiConfig } from './config.js'
import { openDatabaseTarget } from './database-target.js'

// `pnpm db:migrate`: applies pending migrations to DATABASE_URL (or the embedded database) and exits.
try {
  const config = loadApiConfig(process.env)
  const logger = createLogger({
    level: config.log.level,
    format: config.log.format,
    defaultMeta: { service: 'classroom-migrate' },
  })
  const target = await openDatabaseTarget(config, logger)
  const db = new Kysely({
    dialect: new InstrumentedPostgresDialect({ ...config.dbConfig(target.connectionString), logger }),
  })
  try {
    const applied = await migrateToLatest(db)
    logger.info(applied.length > 0 ? 'migrations applied' : 'database already up to date', { applied })
  } finally {
    await db.destroy()
    await target.stop()
  }
} catch (error) {
  process.stderr.write(
    `${error instanceof ConfigError ? error.message : error instanceof Error ? error.stack : String(error)}\n`,
  )
  process.exitCode = 1
}
