// One standby that serves reads: its pool and driver, and whether reads may go to it now.

import type { InstrumentedPostgresDriver } from '../dialect/instrumented-postgres-driver.js'
import type { DbLogger } from '../logging/db-logger.js'
import type { InstrumentedPool } from '../pool/instrumented-pool.js'
import type { PoolStats } from '../pool/pool-stats.js'
import { lsnText } from './read-position.js'

/**
 * Where a replica stands: `healthy` serves reads; `lagging` is further behind than
 * `DB_REPLICA_MAX_LAG_MS`; `down` failed its poll or a read's checkout (or was never reached);
 * `promoted` answers `pg_is_in_recovery()` false: a primary now, no longer a standby of this one.
 */
export type ReplicaState = 'healthy' | 'lagging' | 'down' | 'promoted'

/** One replica as `dialect.routing.stats()` shows it. */
export interface ReplicaStatus {
  readonly name: string
  readonly state: ReplicaState
  /** How far behind the primary it was at its last poll, in ms; `null` before it is known. */
  readonly lagMs: number | null
  /** `pg_last_wal_replay_lsn()` at its last successful poll, as PostgreSQL prints it. */
  readonly replayPosition: string | null
  /** Its pool's stats. */
  readonly pool: PoolStats
}

/** What a query runs through: the primary's driver, or a replica's. */
export interface RoutingTarget {
  readonly name: string
  readonly driver: InstrumentedPostgresDriver
}

/**
 * One replica: its pool, the driver over it, and its state from the polls and from reads that
 * failed on it. Logs `replica left` (warn, with the reason) when it stops serving reads, and
 * `replica returned` (info) when it serves them again: once per change.
 */
export class Replica implements RoutingTarget {
  readonly name: string
  readonly pool: InstrumentedPool
  readonly driver: InstrumentedPostgresDriver
  readonly #logger: DbLogger
  #state: ReplicaState = 'down'
  /** Not polled yet: a replica down at start is reported as leaving; one up at start is no news. */
  #known = false
  #lagMs: number | null = null
  #replay: bigint | undefined

  constructor(name: string, pool: InstrumentedPool, driver: InstrumentedPostgresDriver, logger: DbLogger) {
    this.name = name
    this.pool = pool
    this.driver = driver
    this.#logger = logger
  }

  get healthy(): boolean {
    return this.#state === 'healthy'
  }

  /** The replay position of its last successful poll (reads it has replayed are at most this old). */
  get replay(): bigint | undefined {
    return this.#replay
  }

  /** A read's own check found it replayed up to `replay`: newer than its last poll, never older. */
  replayedTo(replay: bigint): void {
    if (this.#replay === undefined || replay > this.#replay) this.#replay = replay
  }

  /** A poll answered: a standby replayed up to `replay`, `lagMs` behind the primary, or no standby. */
  observe(inRecovery: boolean, replay: bigint, lagMs: number | null, maxLagMs: number): void {
    this.#replay = replay
    this.#lagMs = lagMs
    if (!inRecovery) {
      this.#become('promoted', 'pg_is_in_recovery() is false: promoted, no longer a standby of the primary')
    } else if (lagMs !== null && lagMs > maxLagMs) {
      this.#become('lagging', `${lagMs} ms behind the primary (DB_REPLICA_MAX_LAG_MS is ${maxLagMs})`)
    } else {
      this.#become('healthy', 'caught up')
    }
  }

  /** Its poll or a read's checkout failed, or a read lost its connection: no reads until a poll succeeds. */
  leave(reason: string): void {
    this.#become('down', reason)
  }

  status(): ReplicaStatus {
    return {
      name: this.name,
      state: this.#state,
      lagMs: this.#lagMs,
      replayPosition: this.#replay === undefined ? null : lsnText(this.#replay),
      pool: this.pool.stats(),
    }
  }

  #become(state: ReplicaState, reason: string): void {
    const was = this.#state
    const known = this.#known
    this.#state = state
    this.#known = true
    if (state === 'healthy') {
      if (known && was !== 'healthy') this.#logger.info('replica returned', { replica: this.name, was })
    } else if (was === 'healthy' || !known) {
      this.#logger.warn('replica left', { replica: this.name, state, reason })
    }
  }
}
