// The public surface: what a service needs to get PostgreSQL through Kysely. Env-spec composition
// (validators, `dbEnvSpec`, `loggerEnvSpec`) lives in the `@classroom/db-core/env` subpath.
export { DB_CONFIG_DEFAULTS, resolveDbConfig } from './config/db-config.js'
export { loadDbConfig } from './config/load-db-config.js'
export { type PasswordFunction, Secret } from './config/secret.js'
export type {
  BudgetSettings,
  DbConfig,
  DbCoreOptions,
  PoolSettings,
  ReplicaSettings,
  ReplicaTarget,
  SessionSettings,
  TlsSettings,
} from './config/settings.js'
export { type ConnectionBudget, ConnectionBudgetError, checkConnectionBudget } from './connection-budget.js'
export { isCapacityRefusal, isConnectionError, isReadOnlyError } from './connection-errors.js'
export { checkDatabase, type DatabaseHealth } from './database-health.js'
export {
  type InstrumentedPoolSource,
  InstrumentedPostgresDialect,
  type InstrumentedPostgresDialectConfig,
} from './dialect/instrumented-postgres-dialect.js'
export { StatementCancellation } from './dialect/statement-cancellation.js'
export { StreamInterruptedError } from './dialect/stream-interrupted-error.js'
export {
  ConfigError,
  type ConfigIssue,
  DatabaseAtCapacityError,
  DatabaseAuthError,
  DatabaseTlsError,
  DatabaseUnavailableError,
  DbCoreError,
  type DbCoreErrorCode,
  IdempotencyKeyReusedError,
  InvalidReadPositionError,
  type OverloadReason,
  type PoolOverloadedDetails,
  PoolOverloadedError,
  type PoolTimeoutDetails,
  PoolTimeoutError,
} from './errors.js'
export {
  createIdempotencyKeysTable,
  type IdempotencyOptions,
  type IdempotentOutcome,
  idempotentTransaction,
  purgeIdempotencyKeys,
} from './idempotent-transaction.js'
export type { DbLogger } from './logging/db-logger.js'
export { redactSecrets } from './logging/redact.js'
export { createLogger, type LoggerOptions } from './logging/winston-logger.js'
export { InstrumentedPool } from './pool/instrumented-pool.js'

export type { InstrumentedPoolOptions } from './pool/pool-options.js'
export type { PoolCounters, PoolStats } from './pool/pool-stats.js'
export { withDeadline } from './pool/queue/deadline-scope.js'
export {
  SessionSettingsError,
  type SessionSettingsRefusal,
  withSessionSettings,
} from './pool/session-settings.js'
export { parseReadPosition } from './replicas/read-position.js'
export type { FallbackReason, ReadRouting, RoutingStats } from './replicas/read-routing.js'
export type { ReplicaState, ReplicaStatus } from './replicas/replica.js'
export { currentReadPosition, onPrimary, withReadPosition } from './replicas/routing-scope.js'
