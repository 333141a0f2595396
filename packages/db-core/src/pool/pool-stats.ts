/** Cumulative pool events since the pool was created (HikariCP's counters, in its words). */
export interface PoolCounters {
  /** Connections handed out. */
  acquisitions: number
  /** Callers that got no connection within the acquire timeout (`PoolTimeoutError`). */
  acquireTimeouts: number
  /** Checkouts that failed because the database was unreachable (`DatabaseUnavailableError`). */
  acquireFailures: number
  /** Pre-pings run (on connections idle at least `DB_POOL_PRE_PING_IDLE_MS`). */
  prePings: number
  /** Connections that failed their pre-ping and were discarded. */
  prePingFailures: number
  /** Connections the pool tried to open (its reconnect probes included). */
  connectAttempts: number
  /** Of those, the ones that failed. */
  connectFailures: number
  /** Connections closed at once because their server was the wrong kind for `target_session_attrs`. */
  serverRoleRefusals: number
  /** Connections discarded because their server refused a write as read-only (25006): a failover. */
  readOnlyDiscards: number
  /** Checkouts that found the database unreachable and waited for it (successfully or not). */
  checkoutsWaitedForDatabase: number
  /** Connections opened. */
  connectionsCreated: number
  /** Connections closed, for any reason. */
  connectionsRemoved: number
  /** Connections closed because they reached `DB_POOL_RECYCLE_SECONDS` (a subset of removed). */
  connectionsRecycled: number
  /** Connections lost to an error from the server or the network, idle or checked out. */
  connectionErrors: number
  /** Checkouts held longer than `DB_POOL_LEAK_WARN_MS` (each reported once). */
  leaksDetected: number
  /** Connections released inside a transaction or with a query in flight, destroyed instead of reused. */
  unsafeReleases: number
  /** Connections still checked out when `endWithin()` ran out of time, destroyed. */
  connectionsDestroyedAtShutdown: number
  /** Read-only queries run again on a fresh connection after theirs was lost. */
  readRetries: number
  /** Prepared statements the server had dropped or re-planned (a schema change), prepared anew and run again. */
  statementsPreparedAnew: number
  /** Connection attempts the server refused for capacity (53300 too many clients, PgBouncer's max_client_conn). */
  capacityRefusals: number
  /** Checkouts an overloaded queue refused, not served within its budget (`POOL_OVERLOADED`, reason `overloaded`). */
  overloadRefusals: number
  /** Checkouts refused at once, their deadline shorter than the wait ahead (`POOL_OVERLOADED`, reason `expected-wait`). */
  expectedWaitRefusals: number
  /** Times the wait queue turned overloaded. */
  overloads: number
}

/**
 * A snapshot of the pool: live gauges plus the cumulative counters.
 *
 * ```ts
 * const { waiting, active, acquireTimeouts } = pool.stats()
 * ```
 */
export interface PoolStats extends PoolCounters {
  /** Open connections (idle + active + being opened). */
  total: number
  /** Open connections waiting in the pool. */
  idle: number
  /** Connections checked out by callers. */
  active: number
  /** Callers waiting for a connection (HikariCP's "pending"). */
  waiting: number
  /** The most connections the pool opens: size + overflow. */
  max: number
  /** Connections the pool keeps. */
  size: number
  /** Whether the pool believes the database is down (a reconnect loop is probing it). */
  databaseDown: boolean
  /** Whether the server refuses new connections for capacity and the pool serves from those it holds. */
  databaseAtCapacity: boolean
  /** Whether the wait queue is overloaded now (`DB_POOL_QUEUE_POLICY=adaptive`). */
  overloaded: boolean
}

export function emptyCounters(): PoolCounters {
  return {
    acquisitions: 0,
    acquireTimeouts: 0,
    acquireFailures: 0,
    prePings: 0,
    prePingFailures: 0,
    connectAttempts: 0,
    connectFailures: 0,
    serverRoleRefusals: 0,
    readOnlyDiscards: 0,
    checkoutsWaitedForDatabase: 0,
    connectionsCreated: 0,
    connectionsRemoved: 0,
    connectionsRecycled: 0,
    connectionErrors: 0,
    leaksDetected: 0,
    unsafeReleases: 0,
    connectionsDestroyedAtShutdown: 0,
    readRetries: 0,
    statementsPreparedAnew: 0,
    capacityRefusals: 0,
    overloadRefusals: 0,
    expectedWaitRefusals: 0,
    overloads: 0,
  }
}
