import { createLogger, InstrumentedPool } from '@classroom/db-core'

// The runner's own checks speak through the api's pool settings, not its logs.
const QUIET = createLogger({ silent: true })

/**
 * A one-connection pool for the runner's own look at the database (the ledger check, "accepting
 * again" polls): db-core reads the URL as the api does, so a multi-host URL with
 * `target_session_attrs=read-write` finds the primary after a failover. End it after use.
 *
 * ```ts
 * const pool = openProbePool(databaseUrl)
 * try { await pool.query('select 1') } finally { await pool.end() }
 * ```
 */
export function openProbePool(connectionString: string): InstrumentedPool {
  return new InstrumentedPool({ connectionString, pool: { size: 1, maxOverflow: 0 }, logger: QUIET })
}
