import type pg from 'pg'
import type { DbConfig } from './config/db-config.js'
import { ConnectionBudgetError, describeBudget } from './errors.js'
import type { DbLogger } from './logging/db-logger.js'

/** The arithmetic of {@link checkConnectionBudget}. */
export interface ConnectionBudget {
  /** size + overflow of one replica. */
  readonly perReplica: number
  readonly replicas: number
  /** perReplica × replicas: what the replicas may open at worst. */
  readonly demand: number
  readonly maxConnections: number
  readonly superuserReserved: number
  /** `reserved_connections` (PostgreSQL 16+), 0 before. */
  readonly reserved: number
  /** What ordinary roles can open: max_connections − superuser_reserved − reserved. */
  readonly available: number
  readonly fits: boolean
}

/**
 * Reads what the server allows and compares it with what `DB_EXPECTED_REPLICAS` pools of this
 * size could open. Logs a warning when they do not fit, or throws {@link ConnectionBudgetError}
 * with `DB_POOL_BUDGET_STRICT=true`. Skipped (undefined) through PgBouncer.
 *
 * ```ts
 * await checkConnectionBudget(pool, config, logger)
 * ```
 */
export async function checkConnectionBudget(
  pool: pg.Pool,
  config: DbConfig,
  logger: DbLogger,
): Promise<ConnectionBudget | undefined> {
  if (config.pgbouncer) {
    // Replicas hold connections to PgBouncer, not to PostgreSQL: PgBouncer's pool size is the budget.
    logger.info('connection budget not checked: DB_PGBOUNCER=true, PgBouncer sizes the server connections')
    return undefined
  }
  const { rows } = await pool.query<{ max: number; superuser: number; reserved: number }>(
    `select current_setting('max_connections')::int as max,
            current_setting('superuser_reserved_connections')::int as superuser,
            coalesce(current_setting('reserved_connections', true), '0')::int as reserved`,
  )
  const row = rows[0]!
  const perReplica = config.pool.size + config.pool.maxOverflow
  const demand = perReplica * config.budget.expectedReplicas
  const available = row.max - row.superuser - row.reserved
  const budget: ConnectionBudget = {
    perReplica,
    replicas: config.budget.expectedReplicas,
    demand,
    maxConnections: row.max,
    superuserReserved: row.superuser,
    reserved: row.reserved,
    available,
    fits: demand <= available,
  }
  if (!budget.fits) {
    if (config.budget.strict) throw new ConnectionBudgetError(budget)
    logger.warn(`database connection budget exceeded: ${describeBudget(budget)}`, { ...budget })
  }
  return budget
}
