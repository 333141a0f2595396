// The pool's options: its settings, and the hooks and providers it reports to.
import type { MeterProvider, TracerProvider } from '@opentelemetry/api'
import type pg from 'pg'
import type { DbCoreOptions } from '../config/settings.js'
import type { DbLogger } from '../logging/db-logger.js'

/** The pool's settings (a typed `DbCoreOptions`, or the `DbConfig` `loadDbConfig` returns) and its hooks. */
export interface InstrumentedPoolOptions extends DbCoreOptions {
  /**
   * Receives the pool's warnings (queue length, lost connections, leaks) and debug lines: any
   * object with `error`, `warn`, `info` and `debug` (winston as it is). Default: `createLogger()`.
   *
   * ```ts
   * new InstrumentedPool({ ...loadDbConfig(), logger: createLogger({ level: 'debug' }) })
   * ```
   */
  readonly logger?: DbLogger
  /**
   * Called with the wait, in milliseconds, of every successful checkout (queueing, connecting
   * and pre-ping included): feed it to an acquire-time histogram.
   *
   * ```ts
   * new InstrumentedPool({ ...loadDbConfig(), onAcquire: (ms) => console.log(`checkout took ${ms} ms`) })
   * ```
   */
  readonly onAcquire?: (waitMs: number) => void
  /**
   * Called with how long each checkout held its connection, in milliseconds, when it comes back:
   * feed it to a hold-time histogram (HikariCP's `usage`).
   *
   * ```ts
   * new InstrumentedPool({ ...loadDbConfig(), onRelease: (ms) => console.log(`held ${ms} ms`) })
   * ```
   */
  readonly onRelease?: (heldMs: number) => void
  /**
   * Called with how long each caller that waited in the pool's queue stayed there, in
   * milliseconds, whether it was served, refused or gave up: feed it to a queue-delay histogram
   * (the overload policy's own signal, `DB_POOL_QUEUE_TARGET_MS`).
   *
   * ```ts
   * new InstrumentedPool({ ...loadDbConfig(), onQueueDelay: (ms) => console.log(`queued ${ms} ms`) })
   * ```
   */
  readonly onQueueDelay?: (queuedMs: number) => void
  /**
   * Called with how long each new connection took to open (and qualify, with `target_session_attrs`),
   * in milliseconds: feed it to a creation-time histogram (HikariCP's `creation`).
   *
   * ```ts
   * new InstrumentedPool({ ...loadDbConfig(), onConnectionCreated: (ms) => console.log(`opened in ${ms} ms`) })
   * ```
   */
  readonly onConnectionCreated?: (ms: number) => void
  /**
   * The pool's `db.client.connection.pool.name` in its OpenTelemetry metrics. Default: the URL's
   * hosts and database, `db1:5432,db2:5432/app`.
   *
   * ```ts
   * new InstrumentedPool({ ...loadDbConfig(), name: 'classroom-api' })
   * ```
   */
  readonly name?: string
  /**
   * Where the pool's OpenTelemetry metrics go (semantic-convention names, see `PoolTelemetry`).
   * Default: the global meter provider, a no-op until an SDK registers one.
   *
   * ```ts
   * import { metrics } from '@opentelemetry/api'
   * new InstrumentedPool({ ...loadDbConfig(), meterProvider: metrics.getMeterProvider() })
   * ```
   */
  readonly meterProvider?: MeterProvider
  /**
   * Where the pool's OpenTelemetry spans go: one `pg-pool.connect` per checkout, however many
   * connections it tried and pre-pinged (those steps and the pool's own probes make no spans, not
   * even instrumentation-pg's), and `db-core.read-retry` around a read run a second time. Default:
   * the global tracer provider, a no-op until an SDK registers one.
   *
   * ```ts
   * import { trace } from '@opentelemetry/api'
   * new InstrumentedPool({ ...loadDbConfig(), tracerProvider: trace.getTracerProvider() })
   * ```
   */
  readonly tracerProvider?: TracerProvider
  /**
   * Extra node-postgres client settings (`application_name`, `types`, ...). Pool sizing, timeouts,
   * TLS and the password come from the settings above and cannot be overridden here.
   *
   * ```ts
   * new InstrumentedPool({ ...loadDbConfig(), clientConfig: { application_name: 'classroom-api' } })
   * ```
   */
  readonly clientConfig?: Omit<
    pg.PoolConfig,
    | 'connectionString'
    | 'max'
    | 'min'
    | 'idleTimeoutMillis'
    | 'connectionTimeoutMillis'
    | 'maxLifetimeSeconds'
    | 'ssl'
    | 'password'
  >
}
