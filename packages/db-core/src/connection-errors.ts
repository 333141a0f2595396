// SQLSTATEs meaning "this connection, or the server behind it, is gone", not "this statement is wrong".
const CONNECTION_SQLSTATES = new Set([
  '57P01', // admin_shutdown: the server is shutting down (fast/immediate) or the backend was terminated
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up, shutting down, in recovery
  '08000', // connection_exception
  '08001', // sqlclient_unable_to_establish_sqlconnection
  '08003', // connection_does_not_exist
  '08004', // sqlserver_rejected_establishment_of_sqlconnection
  '08006', // connection_failure
  '08P01', // protocol_violation: what PgBouncer answers when its server connection died ("server conn crashed?")
  '57P05', // idle_session_timeout (PostgreSQL 14+): the server closed an idle session
])

const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND', // a DNS name briefly unresolvable, as during a failover that moves it
  'ECONNABORTED',
  'EADDRNOTAVAIL',
  'ENETDOWN',
  'EHOSTDOWN',
])

// node-postgres reports some losses only in words.
const CONNECTION_MESSAGES = [
  'Connection terminated',
  'Client has encountered a connection error and is not queryable',
  'Query read timeout',
  'timeout expired',
]

/** SQLSTATE read_only_sql_transaction: a write refused by a read-only server or transaction. */
export const READ_ONLY_SQL_TRANSACTION = '25006'

/**
 * The first error down `error`'s `.cause` chain (itself included, five deep at most: wrappers of
 * wrappers) that `matches`; `undefined` when none does.
 */
export function findInCauses(error: unknown, matches: (current: Error) => boolean): Error | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    if (matches(current)) return current
    current = current.cause
  }
  return undefined
}

/**
 * Whether the server refused a write because it is read-only (SQLSTATE 25006): a standby, during
 * a failover or behind a proxy, VIP or DNS name that points at one, or a read-only transaction.
 * Nothing was written, so the write may be sent again once a primary answers.
 *
 * ```ts
 * if (isReadOnlyError(error)) reply.code(503).header('Retry-After', '2')
 * ```
 */
export function isReadOnlyError(error: unknown): boolean {
  return findInCauses(error, (current) => codeOf(current) === READ_ONLY_SQL_TRANSACTION) !== undefined
}

/**
 * Whether an error means the connection or the server is gone (down, restarting, unreachable,
 * or the backend was killed), as opposed to an error in the statement itself. Such failures are
 * worth a retry once the database is back; a statement error is not.
 *
 * ```ts
 * if (isConnectionError(error)) reply.code(503).header('Retry-After', '1')
 * ```
 */
export function isConnectionError(error: unknown): boolean {
  const lost = findInCauses(error, (current) => {
    const code = codeOf(current)
    if (code !== undefined && (CONNECTION_SQLSTATES.has(code) || SOCKET_CODES.has(code))) return true
    return CONNECTION_MESSAGES.some((text) => current.message.includes(text))
  })
  return lost !== undefined
}

/** An error's `code` (a SQLSTATE, a socket code), when it has a textual one. */
export function codeOf(error: Error): string | undefined {
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' ? code : undefined
}

// SQLSTATE too_many_connections: max_connections reached, the slots left reserved for superusers or
// roles with privileges, a role's or a database's CONNECTION LIMIT.
const TOO_MANY_CONNECTIONS = '53300'

// PgBouncer's own refusal when max_client_conn is reached (sent as 08P01, told by its words).
const PGBOUNCER_FULL = 'no more connections allowed'

/**
 * Whether a failed connection attempt was refused for capacity: the server (or PgBouncer) is up and
 * answering, it just will not take one more connection now.
 *
 * ```ts
 * if (isCapacityRefusal(error)) console.log('the database is full, not down')
 * ```
 */
export function isCapacityRefusal(error: unknown): boolean {
  return (
    findInCauses(
      error,
      (current) => codeOf(current) === TOO_MANY_CONNECTIONS || current.message.includes(PGBOUNCER_FULL),
    ) !== undefined
  )
}
