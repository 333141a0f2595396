import type { CleanedEnv } from 'envalid'
import { boolean, numberOrZeroForOff, parseEnv, positiveNumber, postgresUrl, wholeNumber } from './env.js'

/**
 * The pool's settings, in the pool's units. Defaults are the production spec: 20 kept connections,
 * 40 more under burst, 30 s acquire timeout, pre-ping, recycling after 30 minutes.
 */
export interface PoolSettings {
  /** Connections the pool keeps open once created (pg `min`: exempt from idle reaping). `DB_POOL_SIZE`. */
  readonly size: number
  /** Extra connections allowed under burst; the pool holds at most `size + maxOverflow`. `DB_POOL_MAX_OVERFLOW`. */
  readonly maxOverflow: number
  /** An overflow connection idle this long is closed. `DB_POOL_OVERFLOW_IDLE_MS`. */
  readonly overflowIdleMs: number
  /** Longest wait for a connection, queueing and connecting included; then `PoolTimeoutError`. `DB_POOL_TIMEOUT_SECONDS`. */
  readonly acquireTimeoutMs: number
  /** Validate a connection with `SELECT 1` before handing it out. `DB_POOL_PRE_PING`. */
  readonly prePing: boolean
  /** Ping only connections idle at least this long; 0 pings on every checkout. `DB_POOL_PRE_PING_IDLE_MS`. */
  readonly prePingIdleMs: number
  /** A ping slower than this counts as a dead connection. `DB_POOL_PRE_PING_TIMEOUT_MS`. */
  readonly prePingTimeoutMs: number
  /** Connections older than this are closed after their current use; 0 never. `DB_POOL_RECYCLE_SECONDS`. */
  readonly recycleMs: number
  /** Warn when more requests than this wait for a connection. `DB_POOL_QUEUE_WARN_THRESHOLD`. */
  readonly queueWarnThreshold: number
  /** At most one queue warning per this interval while the queue stays long. `DB_POOL_QUEUE_WARN_INTERVAL_MS`. */
  readonly queueWarnIntervalMs: number
}

/** Everything db-core needs to reach and pool a database. */
export interface DbConfig {
  /** The connection string (it holds the password: log it only through `redactSecrets`). */
  readonly connectionString: string
  readonly pool: PoolSettings
}

/**
 * The envalid spec of every db-core variable. Spread it into an app's own spec to validate both
 * in one pass (see `parseEnv`), or override an entry, as an app with an embedded default database
 * makes `DATABASE_URL` optional.
 */
export const dbEnvSpec = {
  DATABASE_URL: postgresUrl({ desc: 'a postgres:// URL like postgres://user:password@host:5432/database' }),
  DB_POOL_SIZE: wholeNumber(1)({ default: 20 }),
  DB_POOL_MAX_OVERFLOW: wholeNumber(0)({ default: 40 }),
  DB_POOL_OVERFLOW_IDLE_MS: wholeNumber(1)({ default: 10_000 }),
  DB_POOL_TIMEOUT_SECONDS: positiveNumber({ default: 30 }),
  DB_POOL_PRE_PING: boolean({ default: true }),
  DB_POOL_PRE_PING_IDLE_MS: wholeNumber(0)({ default: 1000 }),
  DB_POOL_PRE_PING_TIMEOUT_MS: wholeNumber(1)({ default: 2000 }),
  DB_POOL_RECYCLE_SECONDS: numberOrZeroForOff({ default: 1800 }),
  DB_POOL_QUEUE_WARN_THRESHOLD: wholeNumber(0)({ default: 10 }),
  DB_POOL_QUEUE_WARN_INTERVAL_MS: wholeNumber(1)({ default: 5000 }),
}

/** The pool variables, as validated by {@link dbEnvSpec} (or an app spec that includes it). */
export type DbPoolEnv = Omit<CleanedEnv<typeof dbEnvSpec>, 'DATABASE_URL'>

/**
 * Reads and validates db-core's configuration from the environment. Throws one `ConfigError`
 * naming every bad variable; opens no connection.
 *
 * ```ts
 * const config = loadDbConfig() // process.env
 * const config = loadDbConfig({ DATABASE_URL: url, DB_POOL_SIZE: '5' })
 * ```
 */
export function loadDbConfig(env: Record<string, string | undefined> = process.env): DbConfig {
  const clean = parseEnv(dbEnvSpec, env)
  return dbConfigFromEnv(clean.DATABASE_URL, clean)
}

/**
 * Builds the frozen config from already validated variables: the step an app takes after
 * validating db-core's spec together with its own.
 *
 * ```ts
 * const env = parseEnv({ ...dbEnvSpec, ...apiEnvSpec }, process.env)
 * const config = dbConfigFromEnv(env.DATABASE_URL, env)
 * ```
 */
export function dbConfigFromEnv(connectionString: string, env: DbPoolEnv): DbConfig {
  return Object.freeze({
    connectionString,
    pool: Object.freeze({
      size: env.DB_POOL_SIZE,
      maxOverflow: env.DB_POOL_MAX_OVERFLOW,
      overflowIdleMs: env.DB_POOL_OVERFLOW_IDLE_MS,
      acquireTimeoutMs: Math.round(env.DB_POOL_TIMEOUT_SECONDS * 1000),
      prePing: env.DB_POOL_PRE_PING,
      prePingIdleMs: env.DB_POOL_PRE_PING_IDLE_MS,
      prePingTimeoutMs: env.DB_POOL_PRE_PING_TIMEOUT_MS,
      recycleMs: Math.round(env.DB_POOL_RECYCLE_SECONDS * 1000),
      queueWarnThreshold: env.DB_POOL_QUEUE_WARN_THRESHOLD,
      queueWarnIntervalMs: env.DB_POOL_QUEUE_WARN_INTERVAL_MS,
    }),
  })
}
