// What a checkout that got no connection tells its caller: pool full, database unreachable, or TLS.
import type { PoolSettings, TlsSettings } from '../config/settings.js'
import { isCapacityRefusal, isConnectionError } from '../connection-errors.js'
import {
  DatabaseAtCapacityError,
  DatabaseTlsError,
  DatabaseUnavailableError,
  formatSeconds,
  PoolTimeoutError,
} from '../errors.js'
import { redactSecrets } from '../logging/redact.js'
import type { DatabaseAvailability } from './availability.js'

// pg-pool's words for "no connection in time": one for the queue, one for a connect attempt.
const QUEUE_TIMEOUT_MESSAGE = 'timeout exceeded when trying to connect'
const CONNECT_TIMEOUT_MESSAGE = 'Connection terminated due to connection timeout'

const NO_TLS_OFFERED = 'The server does not support SSL connections'

/** Where a failed checkout stood when it gave up. */
export interface CheckoutStanding {
  readonly settings: PoolSettings
  readonly tls: TlsSettings
  /** How long this checkout could wait: the acquire timeout, or a retry's shorter bound. */
  readonly deadlineMs: number
  readonly waitedMs: number
  /** Callers held every connection the pool may open. */
  readonly poolFull: boolean
  readonly total: number
  readonly waiting: number
}

/** The queue's own "no connection in time", as pg-pool words it, for a deadline db-core timed itself. */
export function queueTimeout(): Error {
  return new Error(QUEUE_TIMEOUT_MESSAGE)
}

/**
 * A checkout's failure in db-core's terms. Out of time, when callers hold every connection, the
 * pool is the limit ({@link PoolTimeoutError}); otherwise the time went to opening connections and
 * the database is the problem ({@link DatabaseUnavailableError}). Connection failures become
 * {@link connectFailure}'s errors; anything else passes as it is.
 */
export function translateAcquireError(error: unknown, standing: CheckoutStanding): unknown {
  if (error instanceof PoolTimeoutError || error instanceof DatabaseUnavailableError) return error
  if (!isPgPoolTimeout(error)) return connectFailure(error, standing.tls) ?? error
  const { settings } = standing
  if (error.message === CONNECT_TIMEOUT_MESSAGE || !standing.poolFull) {
    return new DatabaseUnavailableError(
      `could not open a connection to the database within ${formatSeconds(standing.deadlineMs)} (connection timeout)`,
      { cause: error },
    )
  }
  return new PoolTimeoutError({
    size: settings.size,
    maxOverflow: settings.maxOverflow,
    timeoutMs: standing.deadlineMs,
    waitedMs: standing.waitedMs,
    total: standing.total,
    waiting: standing.waiting,
  })
}

/**
 * The database stayed unreachable (or full, with no connection held) for as long as a checkout could
 * wait, `waitedMs`; or, not yet known down, the one connection attempt in flight had no verdict by then.
 */
export function unavailableFor(
  availability: DatabaseAvailability,
  waitedMs: number,
): DatabaseUnavailableError {
  const cause = availability.lastError
  const reason = cause instanceof Error ? `: ${redactSecrets(cause.message)}` : ''
  if (!availability.down) {
    return new DatabaseUnavailableError(
      `a connection to the database was lost and the attempt to open another had no answer within ${formatSeconds(waitedMs)}${reason}`,
      { cause },
    )
  }
  if (isCapacityRefusal(cause)) {
    return new DatabaseAtCapacityError(
      `the database has refused new connections for capacity for ${formatSeconds(availability.downForMs())} and the pool holds none${reason}`,
      { cause },
    )
  }
  return new DatabaseUnavailableError(
    `the database has been unreachable for ${formatSeconds(availability.downForMs())}${reason}`,
    { cause },
  )
}

/** Whether pg-pool gave up waiting (queue or connect): the pool decides what that means. */
function isPgPoolTimeout(error: unknown): error is Error {
  return (
    error instanceof Error &&
    (error.message === QUEUE_TIMEOUT_MESSAGE || error.message === CONNECT_TIMEOUT_MESSAGE)
  )
}

/**
 * A failure to open a connection in db-core's terms: {@link DatabaseTlsError} when TLS could not be
 * set up as configured, {@link DatabaseUnavailableError} when the server refused, dropped or did
 * not answer; `undefined` for anything else (the caller rethrows it as it is).
 */
function connectFailure(
  error: unknown,
  tls: TlsSettings,
): DatabaseTlsError | DatabaseUnavailableError | undefined {
  if (isTlsFailure(error)) return new DatabaseTlsError(describeTlsFailure(tls, error), { cause: error })
  if (isConnectionError(error)) {
    return new DatabaseUnavailableError(
      `could not connect to the database: ${redactSecrets((error as Error).message)}`,
      { cause: error },
    )
  }
  return undefined
}

function isTlsFailure(error: unknown): error is Error {
  if (!(error instanceof Error)) return false
  const code = (error as { code?: unknown }).code
  return (
    error.message === NO_TLS_OFFERED ||
    (typeof code === 'string' &&
      /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_SELF_SIGNED)/.test(code))
  )
}

function describeTlsFailure(tls: TlsSettings, error: Error): string {
  if (error.message === NO_TLS_OFFERED) {
    return `DB_SSL_MODE=${tls.mode} requires TLS, but the database server does not offer it (enable ssl on the server, or set DB_SSL_MODE=disable)`
  }
  const ca = tls.caFile ? ` against DB_SSL_CA_FILE=${tls.caFile}` : ''
  return `the database server's TLS certificate did not verify${ca} (DB_SSL_MODE=${tls.mode}): ${error.message}`
}
