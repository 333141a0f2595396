import type { InstrumentedPool, PoolCounters, PoolStats, ReadRouting } from '@classroom/db-core'
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

/** The api's Prometheus registry and the instruments request handling feeds. */
export interface ApiMetrics {
  readonly registry: Registry
  readonly httpRequestDuration: Histogram<'method' | 'route' | 'status_code'>
  readonly poolAcquireDuration: Histogram
  /** How long each checkout held its connection (OpenTelemetry's `db.client.connection.use_time`). */
  readonly connectionUseTime: Histogram
  /** How long each new connection took to open (`db.client.connection.create_time`). */
  readonly connectionCreateTime: Histogram
  /** How long each caller that queued for a connection waited (served, refused or gone). */
  readonly queueDelay: Histogram
  readonly idempotentReplays: Counter
  readonly writeReruns: Counter
}

// Acquire waits are mostly sub-millisecond; the tail up to the 30 s timeout is what matters.
const ACQUIRE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

const POOL_COUNTERS: ReadonlyArray<[name: string, help: string, field: keyof PoolCounters]> = [
  [
    'db_pool_acquire_timeouts_total',
    'Checkouts that timed out with every connection in use (POOL_TIMEOUT).',
    'acquireTimeouts',
  ],
  [
    'db_pool_acquire_failures_total',
    'Checkouts that failed because the database was unreachable.',
    'acquireFailures',
  ],
  [
    'db_pool_pre_pings_total',
    'Pre-pings run on connections idle at least DB_POOL_PRE_PING_IDLE_MS.',
    'prePings',
  ],
  [
    'db_pool_pre_ping_failures_total',
    'Connections discarded because their pre-ping failed.',
    'prePingFailures',
  ],
  [
    'db_pool_connect_attempts_total',
    'Connections the pool tried to open, reconnect probes included.',
    'connectAttempts',
  ],
  ['db_pool_connect_failures_total', 'Connection attempts that failed.', 'connectFailures'],
  [
    'db_pool_checkouts_waited_for_database_total',
    'Checkouts that found the database unreachable and waited for it (DB_POOL_UNAVAILABLE_WAIT_MS).',
    'checkoutsWaitedForDatabase',
  ],
  ['db_pool_connections_created_total', 'Connections opened.', 'connectionsCreated'],
  ['db_pool_connections_removed_total', 'Connections closed, for any reason.', 'connectionsRemoved'],
  [
    'db_pool_connections_recycled_total',
    'Connections closed for reaching DB_POOL_RECYCLE_SECONDS.',
    'connectionsRecycled',
  ],
  ['db_pool_connection_errors_total', 'Connections lost to a server or network error.', 'connectionErrors'],
  [
    'db_pool_connection_leaks_total',
    'Checkouts held longer than DB_POOL_LEAK_WARN_MS (each reported once, with its stack, in the log).',
    'leaksDetected',
  ],
  [
    'db_pool_read_retries_total',
    'Read-only queries run again on a fresh connection after theirs was lost.',
    'readRetries',
  ],
  [
    'db_pool_server_role_refusals_total',
    'Connections closed at once because their server was the wrong kind for target_session_attrs.',
    'serverRoleRefusals',
  ],
  [
    'db_pool_read_only_discards_total',
    'Connections discarded because their server refused a write as read-only (a failover).',
    'readOnlyDiscards',
  ],
  [
    'db_pool_unsafe_releases_total',
    'Connections released inside a transaction or with a query in flight, destroyed instead of reused.',
    'unsafeReleases',
  ],
  [
    'db_pool_connections_destroyed_at_shutdown_total',
    'Connections still checked out when the bounded shutdown ran out of time, destroyed.',
    'connectionsDestroyedAtShutdown',
  ],
  [
    'db_pool_statements_prepared_anew_total',
    'Prepared statements the server had dropped or re-planned (a schema change), prepared anew and run again.',
    'statementsPreparedAnew',
  ],
  [
    'db_pool_overloads_total',
    'Times the wait queue stood above DB_POOL_QUEUE_TARGET_MS for DB_POOL_QUEUE_INTERVAL_MS and the pool turned overloaded.',
    'overloads',
  ],
  [
    'db_pool_capacity_refusals_total',
    'Connection attempts the server refused for capacity (53300 too many clients, PgBouncer max_client_conn).',
    'capacityRefusals',
  ],
]

/**
 * Builds the registry. Pool gauges and counters are read from the pool at scrape time (nothing
 * runs per request for them); the acquire histogram is fed by the pool's `onAcquire` hook.
 *
 * ```ts
 * const metrics = createMetrics()
 * const dialect = new InstrumentedPostgresDialect({ ...config, onAcquire: (ms) => metrics.poolAcquireDuration.observe(ms / 1000) })
 * registerPoolMetrics(metrics, dialect.pool)
 * ```
 */
export function createMetrics(): ApiMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  return {
    registry,
    httpRequestDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by route template and status code.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: HTTP_BUCKETS,
      registers: [registry],
    }),
    idempotentReplays: new Counter({
      name: 'http_idempotent_replays_total',
      help: 'Writes answered from their stored idempotency key (a client retry, or a commit whose reply was lost).',
      registers: [registry],
    }),
    writeReruns: new Counter({
      name: 'db_write_reruns_total',
      help: 'Write transactions run again after their connection was lost before they committed.',
      registers: [registry],
    }),
    poolAcquireDuration: new Histogram({
      name: 'db_pool_acquire_seconds',
      help: 'Time to check out a database connection: queueing, connecting and pre-ping.',
      buckets: ACQUIRE_BUCKETS,
      registers: [registry],
    }),
    connectionUseTime: new Histogram({
      name: 'db_client_connection_use_time_seconds',
      help: 'Time between borrowing a database connection and returning it to the pool (hold time).',
      buckets: HTTP_BUCKETS,
      registers: [registry],
    }),
    queueDelay: new Histogram({
      name: 'db_client_connection_queue_delay_seconds',
      help: 'Time a request waited in the pool queue before it was served, refused (POOL_OVERLOADED) or gave up.',
      buckets: ACQUIRE_BUCKETS,
      registers: [registry],
    }),
    connectionCreateTime: new Histogram({
      name: 'db_client_connection_create_time_seconds',
      help: 'Time to open a new database connection (and qualify it, with target_session_attrs).',
      buckets: ACQUIRE_BUCKETS,
      registers: [registry],
    }),
  }
}

/**
 * Adds the pool's gauges and counters to the registry; with read replicas (`routing`), each
 * replica's pool's as well: the same series labelled `replica`, the primary's keeping no label.
 */
export function registerPoolMetrics(
  { registry }: ApiMetrics,
  pool: InstrumentedPool,
  routing?: ReadRouting,
): void {
  // Every pool as the scrape finds it: the primary's, then each replica's by name.
  const pools = (): Array<readonly [labels: { replica?: string }, stats: PoolStats]> => [
    [{}, pool.stats()],
    ...(routing?.stats().replicas ?? []).map((replica) => [{ replica: replica.name }, replica.pool] as const),
  ]
  const gauges: ReadonlyArray<[string, string, (stats: PoolStats) => number]> = [
    ['db_pool_connections', 'Open connections: idle, active and opening.', (s) => s.total],
    ['db_pool_connections_idle', 'Open connections waiting in the pool.', (s) => s.idle],
    ['db_pool_connections_active', 'Connections checked out by requests.', (s) => s.active],
    ['db_pool_connections_pending', 'Requests waiting for a connection.', (s) => s.waiting],
    ['db_pool_connections_max', 'Most connections the pool opens (size + overflow).', (s) => s.max],
    ['db_pool_connections_min', 'Connections the pool keeps (size).', (s) => s.size],
    [
      'db_pool_database_down',
      '1 while the pool believes the database is down (its reconnect loop probing), else 0.',
      (s) => (s.databaseDown ? 1 : 0),
    ],
    [
      'db_client_connection_pool_overloaded',
      '1 while the wait queue is overloaded (newest served first, the rest refused with POOL_OVERLOADED), else 0.',
      (s) => (s.overloaded ? 1 : 0),
    ],
    [
      'db_pool_database_at_capacity',
      '1 while the server refuses new connections for capacity and the pool serves from those it holds, else 0.',
      (s) => (s.databaseAtCapacity ? 1 : 0),
    ],
  ]
  for (const [name, help, read] of gauges) {
    new Gauge({
      name,
      help,
      labelNames: ['replica'],
      registers: [registry],
      collect() {
        for (const [labels, stats] of pools()) this.set(labels, read(stats))
      },
    })
  }
  // Checkouts refused, by why: the overload policy's two refusals and the acquire timeout.
  const refusalReasons: ReadonlyArray<[reason: string, field: keyof PoolCounters]> = [
    ['overloaded', 'overloadRefusals'],
    ['expected-wait', 'expectedWaitRefusals'],
    ['timeout', 'acquireTimeouts'],
  ]
  new Counter({
    name: 'db_client_connection_refusals_total',
    help: 'Checkouts the pool refused, by reason: overloaded and expected-wait (POOL_OVERLOADED), timeout (POOL_TIMEOUT).',
    labelNames: ['replica', 'reason'],
    registers: [registry],
    collect() {
      this.reset()
      for (const [labels, stats] of pools()) {
        for (const [reason, field] of refusalReasons) this.inc({ ...labels, reason }, stats[field])
      }
    },
  })
  for (const [name, help, field] of POOL_COUNTERS) {
    new Counter({
      name,
      help,
      labelNames: ['replica'],
      registers: [registry],
      collect() {
        // The pools own the counts; mirror them at scrape time.
        this.reset()
        for (const [labels, stats] of pools()) this.inc(labels, stats[field])
      },
    })
  }
}
