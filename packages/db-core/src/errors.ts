import type { ConnectionBudget } from './connection-budget.js'
import { codeOf, findInCauses } from './connection-errors.js'

/**
 * The codes of every error db-core throws, for callers that switch on them.
 *
 * ```ts
 * if (error instanceof DbCoreError && error.code === 'POOL_TIMEOUT') reply.code(503)
 * ```
 */
export type DbCoreErrorCode =
  | 'CONFIG_INVALID'
  | 'POOL_TIMEOUT'
  | 'DATABASE_UNAVAILABLE'
  | 'DATABASE_TLS_FAILED'
  | 'DATABASE_AUTH_FAILED'
  | 'CONNECTION_BUDGET_EXCEEDED'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'STREAM_INTERRUPTED'

/** Base class of db-core's errors: `code` tells them apart without `instanceof` chains. */
export abstract class DbCoreError extends Error {
  abstract readonly code: DbCoreErrorCode

  /**
   * The code of the driver's error this one wraps (`ECONNREFUSED`, `ECONNRESET`, `57P03`, ...),
   * found down `.cause`: what `err.code` is for code written against node-postgres.
   *
   * ```ts
   * if (error instanceof DbCoreError && error.causeCode === 'ECONNREFUSED') console.log('nothing listens there')
   * ```
   */
  get causeCode(): string | undefined {
    const coded = findInCauses(this.cause, (current) => codeOf(current) !== undefined)
    return coded && codeOf(coded)
  }
}

/** One environment variable that failed validation. */
export interface ConfigIssue {
  /** The variable's name, e.g. `DB_POOL_SIZE`. */
  readonly name: string
  /** The value as given, with secrets masked; `undefined` when it was missing. */
  readonly value: string | undefined
  /** What a valid value looks like. */
  readonly expected: string
}

/**
 * The environment is invalid. Lists every offending variable at once, so one restart fixes them all.
 * Values are quoted with passwords masked.
 */
export class ConfigError extends DbCoreError {
  readonly code = 'CONFIG_INVALID'
  readonly issues: readonly ConfigIssue[]

  constructor(issues: readonly ConfigIssue[]) {
    const lines = issues.map(
      ({ name, value, expected }) =>
        `  ${name}: ${value === undefined ? 'missing' : `got ${JSON.stringify(value)}`}; expected ${expected}`,
    )
    super(
      `Invalid configuration (${issues.length} variable${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}`,
    )
    this.name = 'ConfigError'
    this.issues = issues
  }
}

/** What a {@link PoolTimeoutError} reports about the pool at the moment it gave up. */
export interface PoolTimeoutDetails {
  readonly size: number
  readonly maxOverflow: number
  readonly timeoutMs: number
  readonly waitedMs: number
  readonly total: number
  readonly waiting: number
}

/**
 * Every connection was in use and none came free within the acquire timeout. The request was
 * never sent to the database, so it is safe to retry.
 */
export class PoolTimeoutError extends DbCoreError {
  readonly code = 'POOL_TIMEOUT'
  readonly details: PoolTimeoutDetails

  constructor(details: PoolTimeoutDetails) {
    super(
      `pool limit of size ${details.size} overflow ${details.maxOverflow} reached, no connection within ` +
        `${formatSeconds(details.timeoutMs)} (${details.total} connections open, ${details.waiting} requests waiting). ` +
        'Raise DB_POOL_SIZE / DB_POOL_MAX_OVERFLOW or find what holds connections.',
    )
    this.name = 'PoolTimeoutError'
    this.details = details
  }
}

/**
 * The database refused, dropped or did not answer a connection: it is down, restarting or
 * unreachable. Retry after a short pause; the pool heals by itself once it is back.
 */
export class DatabaseUnavailableError extends DbCoreError {
  readonly code = 'DATABASE_UNAVAILABLE'

  constructor(message: string, options: { cause: unknown }) {
    super(message, options)
    this.name = 'DatabaseUnavailableError'
  }
}

/**
 * TLS to the database could not be set up as `DB_SSL_MODE` demands: the server offers no TLS, or
 * its certificate does not verify. Not transient: fix the configuration or the certificates.
 */
export class DatabaseTlsError extends DbCoreError {
  readonly code = 'DATABASE_TLS_FAILED'

  constructor(message: string, options: { cause: unknown }) {
    super(message, options)
    this.name = 'DatabaseTlsError'
  }
}

/**
 * The database refused the credentials of a new connection (SQLSTATE 28P01, wrong password; 28000,
 * no `pg_hba.conf` entry or an unknown role), or the password could not be had (its file unreadable,
 * the password function failed). The message names the user and where the password came from
 * (`DB_PASSWORD_FILE=/path`, `DATABASE_URL`, the password function), never the password; the
 * server's or the file system's error is on `cause`. Not transient: fix the secret or its rotation.
 *
 * ```ts
 * if (error instanceof DatabaseAuthError) logger.error(error.message, { source: error.passwordSource })
 * ```
 */
export class DatabaseAuthError extends DbCoreError {
  readonly code = 'DATABASE_AUTH_FAILED'
  /** Where the password came from, in the settings' words: `DB_PASSWORD_FILE=/run/secrets/db-password`. */
  readonly passwordSource: string

  constructor(message: string, options: { passwordSource: string; cause: unknown }) {
    super(message, { cause: options.cause })
    this.name = 'DatabaseAuthError'
    this.passwordSource = options.passwordSource
  }
}

/**
 * An idempotency key came back with a different request than the one it was first used for: the
 * caller reused a key by mistake. Nothing was written.
 */
export class IdempotencyKeyReusedError extends DbCoreError {
  readonly code = 'IDEMPOTENCY_KEY_REUSED'
  readonly key: string

  constructor(key: string) {
    super(`the idempotency key ${JSON.stringify(key)} was already used for a different request`)
    this.name = 'IdempotencyKeyReusedError'
    this.key = key
  }
}

/** The pools of every replica together could ask for more connections than the server gives. */
export class ConnectionBudgetError extends DbCoreError {
  readonly code = 'CONNECTION_BUDGET_EXCEEDED'
  readonly budget: ConnectionBudget

  constructor(budget: ConnectionBudget) {
    super(describeBudget(budget))
    this.name = 'ConnectionBudgetError'
    this.budget = budget
  }
}

/** The budget's arithmetic in words, with what to change. */
export function describeBudget(b: ConnectionBudget): string {
  return (
    `${b.replicas} replica(s) × (size + overflow = ${b.perReplica}) = ${b.demand} connections, but the server gives ordinary roles ` +
    `${b.available} (max_connections ${b.maxConnections} − superuser_reserved_connections ${b.superuserReserved} − reserved_connections ${b.reserved}). ` +
    'Lower DB_POOL_SIZE / DB_POOL_MAX_OVERFLOW, raise max_connections, or put PgBouncer in front.'
  )
}

/** Milliseconds as seconds for messages: `30 s`, `0.3 s`. */
export function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`
}
