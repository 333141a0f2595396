// Whether the pools of every replica fit in the connections the server gives: checked, told, refused.
import type pg from 'pg'
import type { DbConfig } from './config/settings.js'
import { DbCoreError } from './errors.js'
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
 * The pools of every replica together could ask for more connections than the server gives. Kept
 * beside the budget it reports: errors.ts sits at the bottom and imports nothing above it.
 *
 * ```ts
 * if (error instanceof ConnectionBudgetError) console.log(error.budget.demand, error.budget.available)
 * ```
 */
export class ConnectionBudgetError extends DbCoreError {
  readonly code = 'CONNECTION_BUDGET_EXCEEDED'
  readonly budget: ConnectionBudget

  constructor(budget: ConnectionBudget) {
    super(describeBudget(budget))
    this.name = 'ConnectionBudgetError'
    this.budget = budget
  }
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

/** The budget's arithmetic in words, with what to change. */
function describeBudget(b: ConnectionBudget): string {
  return (
    `${b.replicas} replica(s) × (size + overflow = ${b.perReplica}) = ${b.demand} connections, but the server gives ordinary roles ` +
    `${b.available} (max_connections ${b.maxConnections} − superuser_reserved_connections ${b.superuserReserved} − reserved_connections ${b.reserved}). ` +
    'Lower DB_POOL_SIZE / DB_POOL_MAX_OVERFLOW, raise max_connections, or put PgBouncer in front.'
  )
}
