import type { TlsSettings } from '../config/db-config.js'
import { isConnectionError } from '../connection-errors.js'
import { DatabaseTlsError, DatabaseUnavailableError } from '../errors.js'
import { redactSecrets } from '../logging/redact.js'

// pg-pool's words for "no connection in time": one for the queue, one for a connect attempt.
export const QUEUE_TIMEOUT_MESSAGE = 'timeout exceeded when trying to connect'
export const CONNECT_TIMEOUT_MESSAGE = 'Connection terminated due to connection timeout'

const NO_TLS_OFFERED = 'The server does not support SSL connections'

/** Whether pg-pool gave up waiting (queue or connect): the pool decides what that means. */
export function isPgPoolTimeout(error: unknown): error is Error {
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
export function connectFailure(
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
