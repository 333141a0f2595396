// What the api's routes need from the outside world: its own module so app.ts and the routes both import it, not each other.
import type { Database } from '@classroom/classroom-db'
import type { DatabaseHealth, DbLogger } from '@classroom/db-core'
import type { Kysely } from 'kysely'
import type { TokenVerifier } from './auth/verifier.js'
import type { ApiMetrics } from './metrics.js'

/** What the routes need from the outside world. */
export interface AppDependencies {
  readonly db: Kysely<Database>
  readonly logger: DbLogger
  readonly metrics: ApiMetrics
  /** How long a write whose connection was lost is run again (or found committed): the pool's ride-through. */
  readonly writeRetryWithinMs: number
  /** Pings the database for `/readyz`. */
  readonly checkDatabase: () => Promise<DatabaseHealth>
  /**
   * Each request's deadline from its arrival, in milliseconds (`API_REQUEST_TIMEOUT_MS`): every
   * checkout its statements make is bounded by it, and refused at once (503 `POOL_OVERLOADED`)
   * when the pool expects a longer wait. None when unset.
   */
  readonly requestDeadlineMs?: number
  /** Verifies a request's bearer token into its principal. */
  readonly verifyToken: TokenVerifier
  /** The bearer token `/metrics` takes; unset: `/metrics` answers 401. */
  readonly metricsToken?: string | undefined
  /** A tracer provider is registered: name each request's span by its route. */
  readonly traceRoutes?: boolean
}
