import { readFileSync } from 'node:fs'
import { type CleanedEnv, str } from 'envalid'
import {
  boolean,
  numberOrZeroForOff,
  oneOf,
  parseEnv,
  positiveNumber,
  postgresUrl,
  wholeNumber,
} from './env.js'
import { ConfigError, type ConfigIssue } from './errors.js'

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
  /** Warn (once, with the acquiring stack) about a connection held longer than this; 0 off. `DB_POOL_LEAK_WARN_MS`. */
  readonly leakWarnMs: number
  /**
   * Each connection retires up to this much before `recycleMs`, at random, so connections opened
   * together do not all reconnect together. `DB_POOL_RECYCLE_JITTER_SECONDS` (default 10 % of the lifetime).
   */
  readonly recycleJitterMs: number
  /** Retry a failed read-only Kysely query once on a fresh connection. `DB_READ_RETRY`. */
  readonly readRetry: boolean
  /** How long that retry may wait for a restarting database; then the read fails as unavailable. `DB_READ_RETRY_WAIT_MS`. */
  readonly readRetryWaitMs: number
}

/** Limits every connection carries, so a silent network or a forgotten transaction cannot hang it. */
export interface SessionSettings {
  /** Server side `statement_timeout`; 0 off. `DB_STATEMENT_TIMEOUT_MS`. */
  readonly statementTimeoutMs: number
  /** Client side: a query with no answer this long fails and its connection is dropped; 0 off. `DB_QUERY_TIMEOUT_MS`. */
  readonly queryTimeoutMs: number
  /** Server side `idle_in_transaction_session_timeout`; 0 off. `DB_IDLE_IN_TRANSACTION_TIMEOUT_MS`. */
  readonly idleInTransactionTimeoutMs: number
  /** TCP keepalive probes start after this much silence; 0 turns keepalive off. `DB_KEEPALIVE_INITIAL_DELAY_MS`. */
  readonly keepAliveInitialDelayMs: number
}

/** TLS to the database, as libpq's sslmode. */
export interface TlsSettings {
  /**
   * `disable`: plain TCP. `require`: TLS or no connection, certificate not verified.
   * `verify-full`: TLS, certificate signed by `DB_SSL_CA_FILE` and issued for the host. `DB_SSL_MODE`.
   */
  readonly mode: 'disable' | 'require' | 'verify-full'
  /** The CA certificate(s) (PEM), read from `DB_SSL_CA_FILE` at start. */
  readonly ca: string | undefined
  readonly caFile: string | undefined
}

/** Everything db-core needs to reach and pool a database. */
export interface DbConfig {
  /** The connection string (it holds the password: log it only through `redactSecrets`). */
  readonly connectionString: string
  readonly pool: PoolSettings
  readonly session: SessionSettings
  readonly tls: TlsSettings
  /**
   * Connecting through PgBouncer in transaction mode: no session-level settings are sent at
   * connect (set statement_timeout and idle_in_transaction_session_timeout on the role instead),
   * and the connection budget is PgBouncer's to keep. `DB_PGBOUNCER`.
   */
  readonly pgbouncer: boolean
  readonly budget: {
    /** How many replicas share the server: `DB_EXPECTED_REPLICAS`. */
    readonly expectedReplicas: number
    /** Refuse to start, rather than warn, when the pools do not fit: `DB_POOL_BUDGET_STRICT`. */
    readonly strict: boolean
  }
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
  DB_POOL_RECYCLE_JITTER_SECONDS: numberOrZeroForOff({ default: undefined }),
  DB_READ_RETRY: boolean({ default: true }),
  DB_READ_RETRY_WAIT_MS: wholeNumber(0)({ default: 2000 }),
  DB_POOL_QUEUE_WARN_THRESHOLD: wholeNumber(0)({ default: 10 }),
  DB_POOL_QUEUE_WARN_INTERVAL_MS: wholeNumber(1)({ default: 5000 }),
  DB_POOL_LEAK_WARN_MS: wholeNumber(0)({ default: 60_000 }),
  DB_STATEMENT_TIMEOUT_MS: wholeNumber(0)({ default: 30_000 }),
  DB_QUERY_TIMEOUT_MS: wholeNumber(0)({ default: 35_000 }),
  DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: wholeNumber(0)({ default: 60_000 }),
  DB_KEEPALIVE_INITIAL_DELAY_MS: wholeNumber(0)({ default: 10_000 }),
  DB_SSL_MODE: oneOf(['disable', 'require', 'verify-full'] as const)({ default: 'disable' }),
  DB_SSL_CA_FILE: str({ default: undefined }),
  DB_PGBOUNCER: boolean({ default: false }),
  DB_EXPECTED_REPLICAS: wholeNumber(1)({ default: 1 }),
  DB_POOL_BUDGET_STRICT: boolean({ default: false }),
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
  const issues: ConfigIssue[] = []
  const tls = readTls(env, issues)
  const recycleJitterMs = readRecycleJitter(env, issues)
  if (issues.length > 0) throw new ConfigError(issues)
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
      leakWarnMs: env.DB_POOL_LEAK_WARN_MS,
      recycleJitterMs,
      readRetry: env.DB_READ_RETRY,
      readRetryWaitMs: env.DB_READ_RETRY_WAIT_MS,
    }),
    session: Object.freeze({
      statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS,
      queryTimeoutMs: env.DB_QUERY_TIMEOUT_MS,
      idleInTransactionTimeoutMs: env.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
      keepAliveInitialDelayMs: env.DB_KEEPALIVE_INITIAL_DELAY_MS,
    }),
    tls,
    pgbouncer: env.DB_PGBOUNCER,
    budget: Object.freeze({ expectedReplicas: env.DB_EXPECTED_REPLICAS, strict: env.DB_POOL_BUDGET_STRICT }),
  })
}

/** The lifetime jitter: explicit, or 10 % of the lifetime; it must stay below the lifetime. */
function readRecycleJitter(env: DbPoolEnv, issues: ConfigIssue[]): number {
  const lifetimeMs = Math.round(env.DB_POOL_RECYCLE_SECONDS * 1000)
  const explicit = env.DB_POOL_RECYCLE_JITTER_SECONDS
  if (explicit === undefined) return Math.round(lifetimeMs * 0.1)
  const jitterMs = Math.round(explicit * 1000)
  if (lifetimeMs > 0 && jitterMs >= lifetimeMs) {
    issues.push({
      name: 'DB_POOL_RECYCLE_JITTER_SECONDS',
      value: String(explicit),
      expected: `less than DB_POOL_RECYCLE_SECONDS (${env.DB_POOL_RECYCLE_SECONDS})`,
    })
  }
  return jitterMs
}

/** The TLS settings; a CA file that verify-full needs but is missing or unreadable is a config issue. */
function readTls(env: DbPoolEnv, issues: ConfigIssue[]): TlsSettings {
  const caFile = env.DB_SSL_CA_FILE
  let ca: string | undefined
  if (caFile !== undefined) {
    try {
      ca = readFileSync(caFile, 'utf8')
    } catch (error) {
      issues.push({
        name: 'DB_SSL_CA_FILE',
        value: caFile,
        expected: `a readable PEM file (${(error as NodeJS.ErrnoException).code})`,
      })
    }
  } else if (env.DB_SSL_MODE === 'verify-full') {
    issues.push({
      name: 'DB_SSL_CA_FILE',
      value: undefined,
      expected: 'the CA certificate file, which DB_SSL_MODE=verify-full needs',
    })
  }
  return Object.freeze({ mode: env.DB_SSL_MODE, ca, caFile })
}
