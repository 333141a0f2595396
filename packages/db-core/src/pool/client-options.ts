import type pg from 'pg'
import type { DbConfig } from '../config/settings.js'

/**
 * The pool's settings, session limits and TLS as node-postgres pool options (0 leaves a limit off).
 * Through PgBouncer, server-side settings are not sent at connect: PgBouncer refuses unknown startup
 * parameters, and in transaction mode a session setting would not stay with our connection.
 */
export function poolClientOptions({
  connectionString,
  pool,
  session,
  tls,
  pgbouncer,
}: DbConfig): pg.PoolConfig {
  const serverSide = !pgbouncer
  return {
    connectionString,
    max: pool.size + pool.maxOverflow,
    min: pool.size,
    idleTimeoutMillis: pool.overflowIdleMs,
    // One bound for queueing and connecting alike: the checkout's own deadline.
    connectionTimeoutMillis: pool.acquireTimeoutMs,
    maxLifetimeSeconds: pool.recycleMs / 1000,
    ssl:
      tls.mode === 'disable'
        ? false
        : tls.mode === 'require'
          ? { rejectUnauthorized: false }
          : { rejectUnauthorized: true, ...(tls.ca !== undefined && { ca: tls.ca }) },
    ...(serverSide && session.statementTimeoutMs > 0 && { statement_timeout: session.statementTimeoutMs }),
    ...(session.queryTimeoutMs > 0 && { query_timeout: session.queryTimeoutMs }),
    ...(serverSide &&
      session.idleInTransactionTimeoutMs > 0 && {
        idle_in_transaction_session_timeout: session.idleInTransactionTimeoutMs,
      }),
    keepAlive: session.keepAliveInitialDelayMs > 0,
    keepAliveInitialDelayMillis: session.keepAliveInitialDelayMs,
  }
}
