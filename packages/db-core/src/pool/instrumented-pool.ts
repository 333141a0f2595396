import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { context, type MeterProvider, type TracerProvider } from '@opentelemetry/api'
import type pg from 'pg'
import { type ConnectionUrl, formatHost, parseConnectionUrl } from '../config/connection-url.js'
import { type DbConfig, type DbCoreOptions, type PoolSettings, resolveDbConfig } from '../config/db-config.js'
import { isConnectionError, READ_ONLY_SQL_TRANSACTION } from '../connection-errors.js'
import {
  DatabaseAuthError,
  DatabaseTlsError,
  DatabaseUnavailableError,
  formatSeconds,
  PoolTimeoutError,
} from '../errors.js'
import type { DbLogger } from '../logging/db-logger.js'
import { redactSecrets } from '../logging/redact.js'
import { createLogger } from '../logging/winston-logger.js'
import {
  CONNECT_TIMEOUT_MESSAGE,
  connectFailure,
  isPgPoolTimeout,
  QUEUE_TIMEOUT_MESSAGE,
} from './acquire-errors.js'
import { DatabaseAvailability } from './availability.js'
import { poolClientOptions } from './client-options.js'
import { type ConnectionState, newConnectionState } from './connection-state.js'
import { passwordSource } from './credentials.js'
import { HostRefusedError, HostSelection } from './host-selection.js'
import { LeakDetector } from './leak-detector.js'
import { LoopWatch } from './loop-watch.js'
import { type MonitoredClient, monitoredClient } from './monitored-client.js'
import { Pool as PgPool } from './pg-module.js'
import { emptyCounters, type PoolCounters, type PoolStats } from './pool-stats.js'
import { PoolTelemetry } from './pool-telemetry.js'
import { CheckoutSpan, PoolTracing } from './pool-tracing.js'
import { needsPing, ping } from './pre-ping.js'
import { QueueMonitor } from './queue-monitor.js'
import { socketClosed } from './socket-state.js'

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

const ACQUIRE_DEADLINE = Symbol('acquire deadline')

// The "error" a retired connection is released with: pg-pool closes a client released with one.
const RECYCLED = new Error('connection recycled')

// The token of pg-pool's own query(): its checkout releases itself. Called with a callback of the
// caller's, or returning a promise. And that of db-core's Kysely driver, which releases its own too.
const POOL_QUERY = Object.freeze({})
const POOL_QUERY_PROMISE = Object.freeze({})
const DRIVER_CHECKOUT = Object.freeze({})
const noop = () => undefined

// The "error" a connection the server already closed is released with.
const SERVER_CLOSED = new Error('connection closed by the server')

// One host's share of a checkout when the URL names several and sets no connect_timeout.
const MULTI_HOST_CONNECT_TIMEOUT_MS = 5000

// pg-pool's words for a pool used after end(), kept for code that matches them.
const ENDED_MESSAGE = 'Cannot use a pool after calling end on the pool'

// How often end() looks whether the queue has drained.
const DRAIN_POLL_MS = 10

// The "error" a connection still held when a bounded end() ran out of time is released with.
const HELD_AT_SHUTDOWN = new Error('the connection was still held at shutdown')

// The "error" a connection whose server refused a write as read-only is released with.
const READ_ONLY_SERVER = new Error('the server no longer accepts writes')

// A reconnect probe gives up on a server that accepts TCP but does not answer after this long.
const PROBE_TIMEOUT_MS = 2000

/** What pg-pool answered to a checkout's first request, when that request was made outside {@link InstrumentedPool.#checkout}. */
type FirstAttempt = { readonly startedAt: number } & (
  | { readonly client: pg.PoolClient; readonly error?: undefined }
  | { readonly client?: undefined; readonly error: unknown }
)

type ConnectCallback = (
  err: Error | undefined,
  client: pg.PoolClient | undefined,
  done: (release?: boolean | Error) => void,
) => void

/**
 * A node-postgres `Pool` with production semantics layered on through its own events and
 * counters (no monkey-patching):
 *
 * - `size` connections kept, `maxOverflow` more under burst, closed again after `overflowIdleMs`;
 * - one deadline per checkout, queueing, connecting and pre-ping retries included, that ends in a
 *   {@link PoolTimeoutError} (pool full) or {@link DatabaseUnavailableError} (database unreachable);
 * - pre-ping of connections idle at least `prePingIdleMs`, discarding dead ones transparently;
 * - recycling after `recycleMs` with jitter, never mid-query;
 * - an `error` listener on every connection for its whole life, so a connection that dies while
 *   checked out rejects the caller's query instead of crashing the process;
 * - counters, a queue-length warning and leak detection.
 *
 * It is a real `pg.Pool`: raw `pool.query()` and Kysely (through `InstrumentedPostgresDialect`,
 * which builds one) share the same checkout.
 *
 * ```ts
 * const pool = new InstrumentedPool({ connectionString: 'postgres://app:secret@127.0.0.1/app', pool: { size: 5 } })
 * const { rows } = await pool.query('select 1 as one')
 * await pool.end()
 * ```
 */
export class InstrumentedPool extends PgPool {
  readonly #config: DbConfig
  readonly #logger: DbLogger
  readonly #onAcquire: ((waitMs: number) => void) | undefined
  readonly #onReleaseHook: ((heldMs: number) => void) | undefined
  readonly #telemetry: PoolTelemetry
  readonly #tracing: PoolTracing
  readonly #counters: PoolCounters
  readonly #connections = new WeakMap<pg.ClientBase, ConnectionState>()
  readonly #queueMonitor: QueueMonitor
  readonly #leakDetector: LeakDetector | undefined
  readonly #availability: DatabaseAvailability
  readonly #loopWatch = new LoopWatch()
  readonly #url: ConnectionUrl
  readonly #hosts: HostSelection
  /** When a connection of this pool was last lost: every one older is validated at its next checkout. */
  #suspectBefore = Number.NEGATIVE_INFINITY
  /** When a server last refused a write as read-only: every older connection is asked whether it still accepts writes. */
  #writeRefusedAt = Number.NEGATIVE_INFINITY
  /** Connections callers hold now. */
  readonly #checkedOut = new Set<pg.PoolClient>()
  #ending: Promise<void> | undefined
  /** end() was called: new checkouts are refused, queued ones still served. */
  #closing = false
  /** endWithin() ran out of time: queued checkouts are no longer waited for. */
  #outOfTime = false
  /** Set while pg-pool's own `query()` or db-core's Kysely driver checks out: no leak stack taken. */
  #selfReleasing: object | undefined
  /** The abort signal of the Kysely checkout being started, if its query has one. */
  #checkoutSignal: AbortSignal | undefined

  constructor(options: InstrumentedPoolOptions) {
    const {
      logger,
      onAcquire,
      onRelease,
      onConnectionCreated,
      name,
      meterProvider,
      tracerProvider,
      clientConfig,
      ...settings
    } = options
    const config = resolveDbConfig(settings)
    // resolveDbConfig refused any URL that does not parse.
    const url = parseConnectionUrl(config.connectionString) as ConnectionUrl
    const hosts = new HostSelection(url)
    // Made before super(): the Client class pg-pool opens connections with reports into it.
    const counters = emptyCounters()
    let onWriteRefused: (client: MonitoredClient) => void = noop
    let onCreated: (ms: number) => void = noop
    const Client = monitoredClient({
      hooks: {
        attempted: () => counters.connectAttempts++,
        failed: () => counters.connectFailures++,
        created: (ms) => onCreated(ms),
        refusedForRole: () => counters.serverRoleRefusals++,
        statementRetried: () => counters.statementsPreparedAnew++,
        writeRefused: (client) => onWriteRefused(client),
      },
      // PgBouncer in transaction mode hands each statement any server connection.
      statementCacheSize: config.pgbouncer ? 0 : config.session.statementCacheSize,
      hosts,
      connectTimeoutMs: hostConnectTimeoutMs(url),
      credentials: passwordSource(config, url),
    })
    super({ ...clientConfig, ...poolClientOptions(config), Client })
    onWriteRefused = (client) => this.#onWriteRefused(client)
    this.#counters = counters
    this.#config = config
    this.#url = url
    this.#hosts = hosts
    this.#logger = logger ?? createLogger({ defaultMeta: { component: 'db-core' } })
    this.#onAcquire = onAcquire
    this.#onReleaseHook = onRelease
    const poolName = name ?? `${url.hosts.map(formatHost).join(',')}/${url.database}`
    this.#tracing = new PoolTracing({
      ...(tracerProvider && { tracerProvider }),
      poolName,
      database: url.database,
    })
    this.#telemetry = new PoolTelemetry({
      ...(meterProvider && { meterProvider }),
      poolName,
      gauges: {
        idle: () => this.idleCount,
        used: () => this.#checkedOut.size,
        pending: () => this.waitingCount,
        idleMin: config.pool.size,
        max: config.pool.size + config.pool.maxOverflow,
      },
    })
    onCreated = (ms) => {
      this.#telemetry.created(ms)
      onConnectionCreated?.(ms)
    }
    this.#availability = new DatabaseAvailability({
      settings: config.pool,
      logger: this.#logger,
      probe: () => this.#probe(),
    })
    this.#leakDetector =
      config.pool.leakWarnMs > 0
        ? new LeakDetector({
            thresholdMs: config.pool.leakWarnMs,
            logger: this.#logger,
            onLeak: () => this.#counters.leaksDetected++,
          })
        : undefined
    this.#queueMonitor = new QueueMonitor({
      threshold: config.pool.queueWarnThreshold,
      intervalMs: config.pool.queueWarnIntervalMs,
      logger: this.#logger,
      waiting: () => this.waitingCount,
      snapshot: () => ({
        waiting: this.waitingCount,
        total: this.totalCount,
        idle: this.idleCount,
        max: this.max,
      }),
    })
    // pg-pool's query() checks out through connect() and releases what it took: no leak stack for it.
    const poolQuery = super.query.bind(this) as (...args: unknown[]) => unknown
    this.query = ((...args: unknown[]) => {
      this.#selfReleasing = typeof args.at(-1) === 'function' ? POOL_QUERY : POOL_QUERY_PROMISE
      try {
        return poolQuery(...args)
      } finally {
        this.#selfReleasing = undefined
      }
    }) as typeof this.query
    this.on('connect', (client) => this.#onConnect(client))
    this.on('acquire', (client) => this.#onCheckout(client))
    this.on('release', (_err, client) => this.#onRelease(client))
    this.on('remove', (client) => this.#onRemove(client))
    // pg-pool re-emits errors of idle connections here; without a listener they would crash the process.
    this.on('error', (error, client) => this.#onConnectionError(client, error))
  }

  /** The most connections this pool opens: size + overflow. */
  get max(): number {
    return this.#config.pool.size + this.#config.pool.maxOverflow
  }

  /** The pool settings in force, every default filled in. */
  get settings(): PoolSettings {
    return this.#config.pool
  }

  /** Gauges and cumulative counters, as one plain object. */
  stats(): PoolStats {
    return {
      ...this.#counters,
      total: this.totalCount,
      idle: this.idleCount,
      active: this.#checkedOut.size,
      waiting: this.waitingCount,
      max: this.max,
      size: this.#config.pool.size,
      databaseDown: this.#availability.down,
    }
  }

  /**
   * Checks out a connection: waits for a free or new one, pre-pings it when it has been idle, and
   * retries past dead ones, all within one acquire deadline.
   */
  override connect(): Promise<pg.PoolClient>
  override connect(callback: ConnectCallback): void
  override connect(callback?: ConnectCallback): Promise<pg.PoolClient> | undefined {
    // pg-pool's query() and db-core's driver release what they take: no stack needed (it costs ~3 µs).
    const token = this.#selfReleasing
    const signal = this.#checkoutSignal
    this.#selfReleasing = this.#checkoutSignal = undefined
    if (this.#closing) {
      const error = new Error(ENDED_MESSAGE)
      if (!callback) return Promise.reject(error)
      process.nextTick(callback, error, undefined, noop)
      return undefined
    }
    const acquiredAt = token ? undefined : this.#leakDetector?.captureCaller(this.connect)
    if (!callback) {
      return new Promise((resolve, reject) =>
        this.#startCheckout(acquiredAt, signal, (error, client) => {
          if (client) resolve(client)
          else reject(error)
        }),
      )
    }
    this.#startCheckout(acquiredAt, signal, (error, client) => {
      // pg-pool's own query() without a callback: its callback settles a promise and cannot throw, and
      // pg-pool calls it straight from its queue, as here. Any other callback, as pg-pool: called once,
      // outside any promise chain, so a throw in it is an uncaught exception.
      if (client && token === POOL_QUERY_PROMISE) callback(undefined, client, client.release)
      else if (client) process.nextTick(callback, undefined, client, client.release)
      else process.nextTick(callback, error, undefined, noop)
    })
    return undefined
  }

  /**
   * {@link #checkoutFirst}, under a checkout span when traces are recorded: its steps run with
   * tracing suppressed, and `done` back in the caller's context (pg-pool may call back from the
   * context of whoever released the connection).
   */
  #startCheckout(
    acquiredAt: Error | undefined,
    signal: AbortSignal | undefined,
    done: (error: unknown, client?: pg.PoolClient) => void,
  ): void {
    const span = this.#tracing.startCheckout()
    if (!span) {
      this.#checkoutFirst(acquiredAt, signal, done)
      return
    }
    const finish = context.bind(context.active(), (error: unknown, client?: pg.PoolClient) => {
      span.end(client ? undefined : error, client)
      done(error, client)
    })
    context.with(span.internal, () => this.#checkoutFirst(acquiredAt, signal, finish, span))
  }

  /**
   * A checkout's first step without a promise of its own: pg-pool is asked with a callback, and a
   * connection that needs nothing more (not closed by the server, not to be retired or discarded,
   * no pre-ping due, a loop that was not held up, a database not known down) is handed out in that
   * callback. Anything else continues in {@link #checkout}, from the connection or error pg-pool gave.
   */
  #checkoutFirst(
    acquiredAt: Error | undefined,
    signal: AbortSignal | undefined,
    done: (error: unknown, client?: pg.PoolClient) => void,
    span?: CheckoutSpan,
  ): void {
    const slow = (first?: FirstAttempt) => {
      this.#checkout(acquiredAt, false, this.#config.pool.unavailableWaitMs, signal, first).then(
        (client) => done(undefined, client),
        done,
      )
    }
    const startedAt = performance.now()
    if (
      signal?.aborted ||
      (this.#loopWatch.stalled(startedAt) && this.idleCount > 0) ||
      (this.#availability.down && this.idleCount === 0)
    ) {
      slow()
      return
    }
    let left = false
    const onAbort = () => {
      left = true
      slow({ startedAt, error: signal?.reason })
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    const given = (error: Error | undefined, client: pg.PoolClient | undefined) => {
      signal?.removeEventListener('abort', onAbort)
      if (left) {
        // The caller left the queue: the connection it would have had goes straight back.
        client?.release()
        return
      }
      if (error || !client) slow({ startedAt, error })
      else if (this.#readyAsIs(client)) done(undefined, this.#handOut(client, startedAt, acquiredAt))
      else slow({ startedAt, client })
    }
    try {
      // Traced, the rest of the checkout stays in its own context, whoever's release answers it.
      super.connect(span ? context.bind(span.internal, given) : given)
    } catch (error) {
      // As in the state machine: thrown before pg-pool queued anything, passed on as it is.
      signal?.removeEventListener('abort', onAbort)
      done(this.#failed(error))
      return
    }
    this.#queueMonitor.check()
  }

  /** Whether a connection pg-pool just gave can be handed out with no further step. */
  #readyAsIs(client: pg.PoolClient): boolean {
    if ((client as unknown as MonitoredClient).refusalPending) return false
    const state = this.#stateOf(client)
    const now = performance.now()
    return (
      !(state.checkouts > 1 && socketClosed(client)) &&
      state.removal !== 'read-only' &&
      now < state.retireAt &&
      !needsPing(state, this.#config.pool, now, false, this.#suspectBefore)
    )
  }

  /**
   * For db-core's Kysely driver, right before it calls {@link connect}: that checkout releases itself
   * (no leak stack is taken), and an abort of `signal` takes it out of the queue at once.
   */
  checkoutReleasesItself(signal?: AbortSignal): void {
    this.#selfReleasing = DRIVER_CHECKOUT
    this.#checkoutSignal = signal
  }

  /** Names the code holding `client` from now on (a transaction begun on it), for leak reports. */
  attributeCheckout(client: pg.PoolClient, acquiredAt: Error): void {
    this.#leakDetector?.attribute(client, acquiredAt)
  }

  /** The stack of the code calling `entry`, when leak detection is on. */
  captureCaller(entry: (...args: never[]) => unknown): Error | undefined {
    return this.#leakDetector?.captureCaller(entry)
  }

  /**
   * Runs `retry`, the second run of a read db-core's Kysely driver lost to `cause`: counted, and
   * traced under a `db-core.read-retry` span, so its checkout and query show as the retry's.
   */
  readRetry<T>(cause: unknown, retry: () => Promise<T>): Promise<T> {
    this.#counters.readRetries++
    return this.#tracing.traceReadRetry(cause, retry)
  }

  /**
   * Waits for checked-out connections to come back, then closes every connection; with a
   * callback, calls it once when done, as pg-pool does. Safe to call more than once (pg-pool
   * rejects a second `end()`; Kysely's `destroy()` and an app may both call it): later calls share
   * the first one's outcome. {@link endWithin} bounds the wait.
   */
  override end(): Promise<void>
  override end(callback: (error?: Error) => void): void
  override end(callback?: (error?: Error) => void): Promise<void> | undefined {
    this.#ending ??= (async () => {
      this.#closing = true
      this.#queueMonitor.stop()
      // Checkouts already queued are served before the pool closes (pg-pool 3 would strand them
      // until their timeout); each still leaves the queue by its own deadline.
      while (this.waitingCount > 0 && !this.#outOfTime) await sleep(DRAIN_POLL_MS)
      this.#availability.stop()
      await super.end()
      this.#leakDetector?.stop()
      this.#telemetry.stop()
    })()
    if (!callback) return this.#ending
    this.#ending.then(
      () => process.nextTick(callback),
      (error: Error) => process.nextTick(callback, error),
    )
    return undefined
  }

  /**
   * {@link end}, bounded: connections still checked out after `timeoutMs` are destroyed (their
   * holders' queries fail) so that a leaked or stuck checkout cannot hold a shutdown open. Each is
   * logged with how long it was held and, when leak stacks are on, the code that took it.
   * Resolves whether every connection came back in time.
   *
   * ```ts
   * const inTime = await pool.endWithin(10_000)
   * process.exitCode = inTime ? 0 : 1
   * ```
   */
  async endWithin(timeoutMs: number): Promise<boolean> {
    const ended = this.end()
    let timer: NodeJS.Timeout | undefined
    const expired = new Promise<false>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, timeoutMs), false)
    })
    const inTime = await Promise.race([ended.then(() => true as const), expired])
    clearTimeout(timer)
    if (inTime) return true
    this.#outOfTime = true
    // Until the pool has closed: a checkout queued behind a held one may be served meanwhile.
    do {
      for (const client of [...this.#checkedOut]) {
        this.#logger.warn('a connection still held at shutdown was destroyed', {
          timeoutMs,
          ...this.#leakDetector?.describe(client),
        })
        this.#counters.connectionsDestroyedAtShutdown++
        const release = client.release
        // Its holder releases it too once its statement fails (pg-pool's query() does): a second
        // release would throw from inside pg's callback, an uncaught exception.
        client.release = noop
        release.call(client, HELD_AT_SHUTDOWN)
      }
    } while (!(await Promise.race([ended.then(() => true), sleep(DRAIN_POLL_MS, false)])))
    return false
  }

  /**
   * A connection proven alive: like {@link connect}, but any connection not opened for this very
   * call is pinged whatever its idle time, and an unreachable database is waited for at most
   * `unavailableWaitMs`. For retries after a lost connection, when others in the pool may have been
   * dropped by the server a moment ago without pg having noticed yet.
   */
  connectVerified(unavailableWaitMs = this.#config.pool.unavailableWaitMs): Promise<pg.PoolClient> {
    const acquiredAt = this.#leakDetector?.captureCaller(this.connectVerified)
    return this.#tracing.traceCheckout(() => this.#checkout(acquiredAt, true, unavailableWaitMs))
  }

  /**
   * The checkout's state machine. `first`: what pg-pool already answered to a first request made by
   * {@link #checkoutFirst} (its loop and availability checks passed), continued from there.
   */
  async #checkout(
    acquiredAt: Error | undefined,
    alwaysPing = false,
    unavailableWaitMs = this.#config.pool.unavailableWaitMs,
    signal?: AbortSignal,
    first?: FirstAttempt,
  ): Promise<pg.PoolClient> {
    if (!first) signal?.throwIfAborted()
    const startedAt = first ? first.startedAt : performance.now()
    const { acquireTimeoutMs, prePingTimeoutMs } = this.#config.pool
    const deadline = startedAt + acquireTimeoutMs
    const waitUntil = Math.min(deadline, startedAt + unavailableWaitMs)
    // After the loop was held up, read what the sockets hold before trusting an idle connection.
    if (!first && this.#loopWatch.stalled(startedAt) && this.idleCount > 0) await this.#loopWatch.settle()
    let waited = false
    let answered = first
    const span = CheckoutSpan.current()
    for (let attempt = 0; ; attempt++) {
      if (!answered && this.#availability.down && this.idleCount === 0) {
        // Wait for the reconnect loop instead of adding a connection attempt of our own.
        if (!waited) this.#counters.checkoutsWaitedForDatabase++
        waited = true
        if (this.#availability.circuitOpen() || !(await this.#availability.waitUntilReachable(waitUntil))) {
          throw this.#failed(this.#unavailable())
        }
      }
      let client: pg.PoolClient
      try {
        if (answered) {
          const { client: given, error } = answered
          answered = undefined
          if (!given) throw this.#translateAcquireError(error, startedAt)
          client = given
        } else {
          // Only a first attempt made at once leaves the bound to pg-pool's own timer (the whole deadline).
          client = await this.#acquireBefore(deadline, startedAt, attempt === 0 && !waited, signal)
        }
      } catch (error) {
        // One host of several refused: the next is tried at once, as libpq does.
        if (error instanceof DatabaseUnavailableError && error.cause instanceof HostRefusedError) continue
        if (error instanceof DatabaseUnavailableError && isConnectionError(error.cause)) {
          this.#availability.reportUnreachable(error.cause)
          if (performance.now() < waitUntil && !this.#availability.circuitOpen()) continue
        }
        throw this.#failed(error)
      }
      // A write it just had refused as read-only is still being answered: judge it on the whole answer.
      const refusal = (client as unknown as MonitoredClient).refusalPending
      if (refusal) await refusal
      const state = this.#stateOf(client)
      const now = performance.now()
      if (state.checkouts > 1 && socketClosed(client)) {
        // The server's close already arrived: never hand this one out.
        this.#onConnectionError(client, new Error('the server closed the connection while it was idle'))
        span?.discarded('closed by the server')
        client.release(SERVER_CLOSED)
        continue
      }
      if (state.removal === 'read-only') {
        span?.discarded('read-only')
        client.release(READ_ONLY_SERVER)
        continue
      }
      if (now >= state.retireAt) {
        // Past its (jittered) lifetime: retire it between uses, never mid-query, and take another.
        state.removal = 'recycle'
        this.#counters.connectionsRecycled++
        span?.discarded('recycle')
        client.release(RECYCLED)
        continue
      }
      if (!needsPing(state, this.#config.pool, now, alwaysPing, this.#suspectBefore)) {
        return this.#handOut(client, startedAt, acquiredAt)
      }
      this.#counters.prePings++
      span?.prePinged()
      const failure = await ping(
        client,
        Math.min(prePingTimeoutMs, deadline - now),
        this.#pingRequirement(state),
      )
      if (!failure) {
        state.validatedAt = performance.now()
        return this.#handOut(client, startedAt, acquiredAt)
      }
      this.#counters.prePingFailures++
      span?.discarded('pre-ping')
      state.removal = 'pre-ping'
      this.#suspectBefore = performance.now()
      this.#logger.debug('discarded a connection that failed its pre-ping', {
        error: failure.message,
        idleMs: Math.round(performance.now() - state.lastReleasedAt),
      })
      client.release(failure)
    }
  }

  /** Counts a checkout's final failure by its kind, and returns it to be thrown. */
  #failed(error: unknown): unknown {
    if (error instanceof PoolTimeoutError) {
      this.#counters.acquireTimeouts++
      this.#telemetry.timedOut()
    } else if (
      error instanceof DatabaseUnavailableError ||
      error instanceof DatabaseTlsError ||
      error instanceof DatabaseAuthError
    ) {
      this.#counters.acquireFailures++
    }
    return error
  }

  /** The database stayed unreachable for as long as this checkout could wait. */
  #unavailable(): DatabaseUnavailableError {
    const cause = this.#availability.lastError
    const reason = cause instanceof Error ? `: ${redactSecrets(cause.message)}` : ''
    return new DatabaseUnavailableError(
      `the database has been unreachable for ${formatSeconds(this.#availability.downForMs())}${reason}`,
      { cause },
    )
  }

  /**
   * A connection outside the pool, made as the pool makes its own (host selection and
   * `target_session_attrs`, TLS, the password of each login, session settings) and bounded by
   * `timeoutMs`: for probes that must not take a pooled connection from real work. Hosts are tried
   * in turn until one qualifies or all have refused; a refused login fails at once with
   * `DatabaseAuthError`. The caller ends it.
   *
   * ```ts
   * const client = await pool.connectDetached(1000)
   * try { await client.query('select 1') } finally { await client.end() }
   * ```
   */
  async connectDetached(timeoutMs: number): Promise<pg.Client> {
    const { Client, options } = this as unknown as { Client: typeof pg.Client; options: pg.PoolConfig }
    for (;;) {
      // Its error listener is the monitored client's own, there from birth: a later death is no crash.
      const client = new Client({ ...options, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs })
      try {
        await client.connect()
        return client
      } catch (error) {
        await client.end().catch(noop)
        if (!(error instanceof HostRefusedError)) throw error
      }
    }
  }

  /** One connection for the reconnect loop, closed at once. */
  async #probe(): Promise<void> {
    try {
      const client = await this.connectDetached(
        Math.min(this.#config.pool.acquireTimeoutMs, PROBE_TIMEOUT_MS),
      )
      await client.end().catch(noop)
    } catch (error) {
      // The server answered and asked for a password: it is back; checkouts will say why they fail.
      if (!(error instanceof DatabaseAuthError)) throw error
    }
  }

  /**
   * What a pre-ping checks of a connection's server: what `target_session_attrs` asks of every
   * connection, and, after a server refused a write as read-only, that older ones still accept writes.
   */
  #pingRequirement(state: ConnectionState) {
    const requirement = this.#hosts.requirement
    if (requirement !== 'any' || state.validatedAt >= this.#writeRefusedAt) return requirement
    return 'read-write'
  }

  /**
   * A server refused a write as read-only (25006): after a failover, or a proxy, VIP or DNS name
   * now pointing at a standby. Unless the pool asked for read-only servers, or this one reports
   * that it accepts writes (the refusal then came from a read-only transaction), the connection is
   * discarded at its next checkout, older ones are re-checked, and new ones go through host
   * selection again.
   */
  #onWriteRefused(client: MonitoredClient): void {
    const attrs = this.#url.targetSessionAttrs
    if (attrs === 'read-only' || attrs === 'standby' || attrs === 'prefer-standby') return
    if (client.knownWritable) return
    const state = this.#stateOf(client)
    if (state.removal !== undefined) return
    state.removal = 'read-only'
    this.#counters.readOnlyDiscards++
    this.#suspectBefore = this.#writeRefusedAt = performance.now()
    this.#logger.warn(
      'the server refused a write as read-only: discarding the connection, re-checking older ones',
      {
        checkedOut: this.#checkedOut.has(client as unknown as pg.PoolClient),
        code: READ_ONLY_SQL_TRANSACTION,
      },
    )
  }

  #handOut(client: pg.PoolClient, startedAt: number, acquiredAt: Error | undefined): pg.PoolClient {
    this.#counters.acquisitions++
    this.#guardRelease(client)
    this.#leakDetector?.track(client, acquiredAt)
    const now = performance.now()
    this.#stateOf(client).checkedOutAt = now
    this.#telemetry.waited(now - startedAt)
    this.#onAcquire?.(now - startedAt)
    return client
  }

  /**
   * Wraps this checkout's `release` (pg-pool makes one per checkout): a session released inside a
   * transaction, open or failed, or with a query still running is destroyed, never handed to the
   * next caller, whose autocommit writes would otherwise join a transaction nobody commits. Two
   * field reads on the way back; Kysely, which releases only after COMMIT or ROLLBACK, pays nothing more.
   */
  #guardRelease(client: pg.PoolClient): void {
    const release = client.release
    client.release = (error?: boolean | Error) => {
      const unsafe = error ? undefined : sessionInUse(client)
      if (!unsafe) return release.call(client, error)
      this.#counters.unsafeReleases++
      this.#logger.warn(`a connection released ${unsafe} was destroyed instead of reused`, {
        ...this.#leakDetector?.describe(client),
      })
      return release.call(client, new Error(`connection released ${unsafe}`))
    }
  }

  /**
   * One wait for a pooled connection, bounded by what is left of the checkout's deadline. The first
   * wait is bounded by pg-pool itself (`connectionTimeoutMillis` is the whole acquire timeout, for
   * queueing and connecting alike), so only retries after a failed pre-ping arm a timer of their own.
   */
  async #acquireBefore(
    deadline: number,
    startedAt: number,
    first: boolean,
    signal: AbortSignal | undefined,
  ): Promise<pg.PoolClient> {
    const remaining = deadline - performance.now()
    if (remaining <= 0) throw this.#timeoutError(startedAt, QUEUE_TIMEOUT_MESSAGE)
    const pending = signal ? leaveOnAbort(super.connect(), signal) : super.connect()
    this.#queueMonitor.check()
    if (first) {
      try {
        return await pending
      } catch (error) {
        throw this.#translateAcquireError(error, startedAt)
      }
    }
    let timer: NodeJS.Timeout | undefined
    const expiry = new Promise<typeof ACQUIRE_DEADLINE>((resolve) => {
      timer = setTimeout(resolve, remaining, ACQUIRE_DEADLINE)
    })
    try {
      const winner = await Promise.race([pending, expiry])
      if (winner !== ACQUIRE_DEADLINE) return winner
      // The queued request lives on inside pg-pool: hand its connection straight back when it comes.
      pending.then(
        (late) => late.release(),
        () => undefined,
      )
      throw this.#timeoutError(startedAt, QUEUE_TIMEOUT_MESSAGE)
    } catch (error) {
      throw this.#translateAcquireError(error, startedAt)
    } finally {
      clearTimeout(timer)
    }
  }

  #translateAcquireError(error: unknown, startedAt: number): unknown {
    if (error instanceof PoolTimeoutError || error instanceof DatabaseUnavailableError) return error
    if (isPgPoolTimeout(error)) return this.#timeoutError(startedAt, error.message, error)
    return connectFailure(error, this.#config.tls) ?? error
  }

  /**
   * Out of time. When callers hold every connection the pool is the limit (`PoolTimeoutError`);
   * otherwise the time went to opening connections, and the database is the problem.
   */
  #timeoutError(startedAt: number, reason: string, cause?: unknown): Error {
    const waitedMs = performance.now() - startedAt
    if (reason === CONNECT_TIMEOUT_MESSAGE || this.#checkedOut.size < this.max) {
      return new DatabaseUnavailableError(
        `could not open a connection to the database within ${formatSeconds(this.#config.pool.acquireTimeoutMs)}`,
        { cause },
      )
    }
    return new PoolTimeoutError({
      size: this.#config.pool.size,
      maxOverflow: this.#config.pool.maxOverflow,
      timeoutMs: this.#config.pool.acquireTimeoutMs,
      waitedMs,
      total: this.totalCount,
      waiting: this.waitingCount,
    })
  }

  #onConnect(client: pg.PoolClient): void {
    this.#connections.set(client, newConnectionState(performance.now(), this.#config.pool))
    this.#counters.connectionsCreated++
    this.#availability.reportReachable()
    // Kysely attaches no listener to a checked-out client (node-postgres #2635, #3083): this one
    // stays for the connection's whole life so a death mid-checkout cannot crash the process.
    client.on('error', (error) => {
      if (this.#checkedOut.has(client)) this.#onConnectionError(client, error)
    })
  }

  #onCheckout(client: pg.PoolClient): void {
    const state = this.#stateOf(client)
    state.checkouts++
    this.#checkedOut.add(client)
  }

  #onRelease(client: pg.PoolClient): void {
    const state = this.#stateOf(client)
    const now = performance.now()
    // Checkouts the pool itself made (recycling, discarding) were never handed out: no use to time.
    if (this.#checkedOut.delete(client) && state.checkedOutAt !== undefined) {
      this.#telemetry.used(now - state.checkedOutAt)
      this.#onReleaseHook?.(now - state.checkedOutAt)
    }
    state.checkedOutAt = undefined
    state.lastReleasedAt = now
    this.#leakDetector?.release(client)
    this.#queueMonitor.check()
  }

  #onRemove(client: pg.PoolClient): void {
    const state = this.#stateOf(client)
    this.#counters.connectionsRemoved++
    const recycleMs = this.#config.pool.recycleMs
    if (state.removal === undefined && recycleMs > 0 && performance.now() - state.createdAt >= recycleMs) {
      this.#counters.connectionsRecycled++
    }
  }

  #onConnectionError(client: pg.ClientBase, error: Error): void {
    const state = this.#stateOf(client)
    // pg can report one loss several times (socket error, then end); count and log it once.
    if (state.removal === 'error') return
    state.removal = 'error'
    this.#suspectBefore = performance.now()
    this.#counters.connectionErrors++
    this.#logger.warn('database connection lost', {
      checkedOut: this.#checkedOut.has(client as pg.PoolClient),
      error: redactSecrets(error.message),
      code: (error as { code?: unknown }).code,
    })
  }

  #stateOf(client: pg.ClientBase): ConnectionState {
    let state = this.#connections.get(client)
    if (!state) {
      // Events for a client that never reached 'connect' (a failed connection attempt).
      state = newConnectionState(performance.now(), this.#config.pool)
      this.#connections.set(client, state)
    }
    return state
  }
}

/** What still holds a session a caller released, or `undefined` when it is idle and safe to reuse. */
function sessionInUse(client: pg.PoolClient): string | undefined {
  // The status of the last ReadyForQuery (node-postgres 8.21+).
  const status = client.getTransactionStatus()
  if (status === 'T') return 'inside an open transaction'
  if (status === 'E') return 'inside a failed transaction'
  const internals = client as unknown as { _getActiveQuery(): unknown; _queryQueue: unknown[] }
  if (internals._getActiveQuery() || internals._queryQueue.length > 0) return 'with a query in flight'
  return undefined
}

/**
 * `pending`, or the abort's reason as soon as `signal` aborts: the caller leaves the queue at once,
 * and the connection pg-pool hands its queued request later goes straight back.
 */
function leaveOnAbort(pending: Promise<pg.PoolClient>, signal: AbortSignal): Promise<pg.PoolClient> {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    pending.then(
      (client) => {
        signal.removeEventListener('abort', onAbort)
        if (signal.aborted) client.release()
        else resolve(client)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}

/**
 * How long one host may take to accept a connection: libpq's `connect_timeout` when the URL gives
 * one. Without it, a single host keeps the checkout's whole deadline, as before; with several, each
 * gets {@link MULTI_HOST_CONNECT_TIMEOUT_MS}, so that a dead first host that drops packets (a crashed
 * VM, a partition) costs seconds before the next is tried, not the whole acquire timeout.
 */
function hostConnectTimeoutMs(url: ConnectionUrl): number | undefined {
  if (url.connectTimeoutMs !== undefined || url.hosts.length === 1) return url.connectTimeoutMs
  return MULTI_HOST_CONNECT_TIMEOUT_MS
}
