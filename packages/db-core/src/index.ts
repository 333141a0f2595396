export { type ConnectionBudget, ConnectionBudgetError, checkConnectionBudget } from './connection-budget.js'
export { isConnectionError } from './connection-errors.js'
export { type CreateDbOptions, createDb, type Database } from './create-db.js'
export { checkDatabase, type DatabaseHealth } from './database-health.js'
export {
  type DbConfig,
  type DbPoolEnv,
  dbConfigFromEnv,
  dbEnvSpec,
  loadDbConfig,
  type PoolSettings,
  type SessionSettings,
  type TlsSettings,
} from './db-config.js'
export {
  boolean,
  numberOrZeroForOff,
  oneOf,
  parseEnv,
  positiveNumber,
  postgresUrl,
  wholeNumber,
} from './env.js'
export {
  ConfigError,
  type ConfigIssue,
  DatabaseTlsError,
  DatabaseUnavailableError,
  DbCoreError,
  type DbCoreErrorCode,
  type PoolTimeoutDetails,
  PoolTimeoutError,
} from './errors.js'
export { createPool, InstrumentedPool, type InstrumentedPoolOptions } from './instrumented-pool.js'
export {
  createLogger,
  LOG_LEVELS,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  loggerEnvSpec,
} from './logger.js'
export type { PoolCounters, PoolStats } from './pool-stats.js'
export { isReadOnlyQuery, ReadRetryDriver } from './read-retry-driver.js'
export { redactSecrets } from './redact.js'
