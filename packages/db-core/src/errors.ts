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
  | 'POOL_OVERLOADED'
  | 'DATABASE_UNAVAILABLE'
  | 'DATABASE_AT_CAPACITY'
  | 'DATABASE_TLS_FAILED'
  | 'DATABASE_AUTH_FAILED'
  | 'CONNECTION_BUDGET_EXCEEDED'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'STREAM_INTERRUPTED'
  | 'INVALID_READ_POSITION'
  | 'SESSION_SETTINGS_REFUSED'

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

/** Why an overloaded pool refused a checkout. */
export type OverloadReason =
  /** The pool was overloaded and no connection came free within the queue's short budget. */
  | 'overloaded'
  /** The caller's deadline was shorter than the wait the pool expected ahead of it. */
  | 'expected-wait'

/** What a {@link PoolOverloadedError} reports about the queue at the moment it refused. */
export interface PoolOverloadedDetails {
  readonly reason: OverloadReason
  /** How long this checkout had waited when it was refused (0 when refused at once). */
  readonly waitedMs: number
  /** The oldest waiter's delay then: how far behind the pool is. */
  readonly queueDelayMs: number
  /** Callers waiting then, this one included. */
  readonly queueLength: number
  /** The wait the pool expected for this caller (queue length x recent hold time / connections). */
  readonly expectedWaitMs: number
  /** What was left of the caller's deadline, when it gave one. */
  readonly remainingMs: number | undefined
}

/**
 * Demand is above what the database can serve, and the pool refused this checkout early rather
 * than let it wait for an answer that would come too late (`DB_POOL_QUEUE_POLICY=adaptive`):
 * the queue's delay stayed above its target for an interval, or the caller's deadline was shorter
 * than the wait ahead of it. Nothing was sent to the database; retry after a pause (a 503 with
 * `Retry-After`), never at once: an immediate retry is the load that keeps the pool overloaded.
 *
 * ```ts
 * if (error instanceof PoolOverloadedError) reply.code(503).header('Retry-After', '1')
 * ```
 */
export class PoolOverloadedError extends DbCoreError {
  readonly code = 'POOL_OVERLOADED'
  readonly details: PoolOverloadedDetails

  constructor(details: PoolOverloadedDetails) {
    const why =
      details.reason === 'expected-wait'
        ? `the wait ahead (about ${Math.round(details.expectedWaitMs)} ms) is longer than the ${Math.round(details.remainingMs ?? 0)} ms left of the caller's deadline`
        : `no connection came free within the overloaded queue's budget (waited ${Math.round(details.waitedMs)} ms)`
    super(
      `pool overloaded: ${why}; ${details.queueLength} requests waiting, the oldest for ${Math.round(details.queueDelayMs)} ms. ` +
        'Demand is above what the database serves: retry after a pause, shed load, or give the database more capacity.',
    )
    this.name = 'PoolOverloadedError'
    this.details = details
  }
}

/**
 * The database refused, dropped or did not answer a connection: it is down, restarting or
 * unreachable. Retry after a short pause; the pool heals by itself once it is back.
 */
export class DatabaseUnavailableError extends DbCoreError {
  readonly code: 'DATABASE_UNAVAILABLE' | 'DATABASE_AT_CAPACITY' = 'DATABASE_UNAVAILABLE'

  constructor(message: string, options: { cause: unknown }) {
    super(message, options)
    this.name = 'DatabaseUnavailableError'
  }
}

/**
 * The server refuses new connections for capacity (SQLSTATE 53300, too many clients; PgBouncer's
 * max_client_conn) and the pool holds none to serve from. Up, but full: retry after a pause. A
 * {@link DatabaseUnavailableError}, so code that handles that one handles this one too.
 *
 * ```ts
 * if (error instanceof DatabaseAtCapacityError) reply.code(503).header('Retry-After', '2')
 * ```
 */
export class DatabaseAtCapacityError extends DatabaseUnavailableError {
  override readonly code = 'DATABASE_AT_CAPACITY'

  constructor(message: string, options: { cause: unknown }) {
    super(message, options)
    this.name = 'DatabaseAtCapacityError'
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

/**
 * A read position from outside (a `Read-Position` header) is not a PostgreSQL WAL position: the
 * message names the value and the expected form. Nothing was run: answer 400.
 *
 * ```ts
 * if (error instanceof InvalidReadPositionError) reply.code(400)
 * ```
 */
export class InvalidReadPositionError extends DbCoreError {
  readonly code = 'INVALID_READ_POSITION'
  /** The value as given. */
  readonly value: string

  constructor(value: string) {
    super(
      `${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)} is not a read position: ` +
        'expected a PostgreSQL WAL position <hex>/<hex> (1 to 8 hex digits each), e.g. 16/B374D848',
    )
    this.name = 'InvalidReadPositionError'
    this.value = value
  }
}

/** Milliseconds as seconds for messages: `30 s`, `0.3 s`. */
export function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`
}
