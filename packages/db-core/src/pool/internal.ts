// The pool's internal entry for db-core's own Kysely driver: a module-private symbol, not exported
// from the package, so the driver's needs never widen the public pg.Pool surface.
import type pg from 'pg'

/** The key of {@link PoolInternals} on an `InstrumentedPool`. */
export const POOL_INTERNALS = Symbol('db-core pool internals')

/** One checkout, with everything that shapes it said at once. */
export interface CheckoutRequest {
  /** The caller releases what it takes (a single statement, a Kysely query): no leak stack is taken. */
  readonly selfReleasing?: boolean
  /** Aborted, the caller leaves the queue at once; a connection given late goes straight back. */
  readonly signal?: AbortSignal
  /**
   * Proven alive: every connection not opened for this very checkout is pinged, whatever its idle
   * time, and an unreachable database is waited for at most this long (retries after a lost connection).
   */
  readonly verifiedWithinMs?: number
  /** The stack that names who holds the connection in leak reports, when leak detection is on. */
  readonly caller?: Error
}

/** What db-core's driver asks of the pool beyond `pg.Pool`. */
export interface PoolInternals {
  checkout(request: CheckoutRequest): Promise<pg.PoolClient>
  /** The stack of the code calling `entry`, when leak detection is on. */
  captureCaller(entry: (...args: never[]) => unknown): Error | undefined
  /** Names the code holding `client` from now on (a transaction begun on it), for leak reports. */
  attribute(client: pg.PoolClient, caller: Error): void
  /** Runs `retry`, the second run of a read lost to `cause`: counted and traced as a retry. */
  readRetry<T>(cause: unknown, retry: () => Promise<T>): Promise<T>
}
