import { ConfigError, createLogger } from '@classroom/db-core'
import { loadApiConfig } from './config.js'
import { openDatabaseTarget } from './database-target.js'
import { runMigrations } from './migrate.js'

// `pnpm db:migrate`: applies pending migrations as DATABASE_MIGRATION_URL (else DATABASE_URL; or the
// embedded database's owner role) and exits.
try {
  const config = loadApiConfig(process.env, { verifiesTokens: false })
  const logger = createLogger({
    level: config.log.level,
    format: config.log.format,
    defaultMeta: { service: 'classroom-migrate' },
  })
  const target = await openDatabaseTarget(config, logger)
  try {
    const applied = await runMigrations(config, target.migrationConnectionString, logger)
    logger.info(applied.length > 0 ? 'migrations applied' : 'database already up to date', { applied })
  } finally {
    await target.stop()
  }
} catch (error) {
  process.stderr.write(
    `${error instanceof ConfigError ? error.message : error instanceof Error ? error.stack : String(error)}\n`,
  )
  process.exitCode = 1
}
