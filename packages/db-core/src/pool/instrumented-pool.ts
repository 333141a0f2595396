// The facade: a real pg.Pool whose checkout, shutdown and bookkeeping are db-core's parts, wired here.
import type pg from 'pg'
import { type ConnectionUrl, formatHost, parseConnectionUrl } from '../config/connection-url.js'
import { resolveDbConfig } from '../config/db-config.js'
import type { DbConfig, PoolSettings } from '../config/settings.js'
import { createLogger } from '../logging/winston-logger.js'
import { DatabaseAvailability } from './availability.js'
import { CapacityGate } from './capacity-gate.js'
import { type CheckoutDone, Checkouts } from './checkout.js'
import { poolClientOptions } from './client-options.js'
import { ConnectionRegistry } from './connection-registry.js'
import { passwordSource } from './credentials.js'
import { connectDetached, probe } from './detached-connections.js'
import { HostSelection, hostConnectTimeoutMs } from './host-selection.js'
import { type CheckoutRequest, POOL_INTERNALS, type PoolInternals } from './internal.js'
import { LeakDetector } from './leak-detector.js'
import { LoopWatch } from './loop-watch.js'
import { clientClass, type MonitoredClient, monitoredClient } from './monitored-client.js'
import { Pool as PgPool } from './pg-module.js'
import type { InstrumentedPoolOptions } from './pool-options.js'
import { emptyCounters, type PoolCounters, type PoolStats } from './pool-stats.js'
import { PoolTelemetry } from './pool-telemetry.js'
import { PoolTracing } from './pool-tracing.js'
import { CheckoutQueue } from './queue/checkout-queue.js'
import { PgPoolStore } from './queue/pg-pool-adapter.js'
import { QueueMonitor } from './queue-monitor.js'
import { PoolShutdown } from './shutdown.js'
import { WriteRefusals } from './write-refusals.js'

// The token of pg-pool's own query(): its checkout releases itself. Called with a callback of the
// caller's, or returning a promise.
const POOL_QUERY = Object.freeze({})
const POOL_QUERY_PROMISE = Object.freeze({})
const noop = () => undefined

// pg-pool's words for a pool used after end(), kept for code that matches them.
const ENDED_MESSAGE = 'Cannot use a pool after calling end on the pool'

type ConnectCallback = (
  err: Error | undefined,
  client: pg.PoolClient | undefined,
  done: (release?: boolean | Error) => void,
) => void

/**
 * A node-postgres `Pool` with production semantics:
 *
 * - `size` connections kept, `maxOverflow` more under burst, closed again after `overflowIdleMs`;
 * - one deadline per checkout, queueing, connecting and pre-ping retries included, that ends in a
 *   {@link PoolTimeoutError} (pool full) or {@link DatabaseUnavailableError} (database unreachable);
 * - pre-ping of connections idle at least `prePingIdleMs`, discarding dead ones transparently;
 * - recycling after `recycleMs` with jitter, never mid-query;
 * - an `error` listener on every connection from birth to close, so a connection that dies at any
 *   instant rejects its caller's query (or fails its own opening) instead of crashing the process;
 * - counters, metrics, traces, a queue-length warning and leak detection.
 *
 * It is a real `pg.Pool` (pg-pool's class, subclassed): its idle list, its connections and its
 * events are pg-pool's own; the wait queue is db-core's. What db-core replaces, and why:
 * - `connect()` and `end()` are overridden: the checkout ({@link Checkouts}) decides who gets a
 *   connection and when, from its own queue ({@link CheckoutQueue}: FIFO for a burst, adaptive LIFO
 *   and early refusals under overload), taking idle connections from pg-pool and having it open new
 *   ones through one pinned adapter ({@link PgPoolStore}); the shutdown ({@link PoolShutdown}) wraps
 *   pg-pool's own; `waitingCount` is db-core's queue;
 * - `query()` is pg-pool's own, wrapped in an instance field that marks its checkout as one that
 *   releases itself (no leak stack is taken for it);
 * - the `Client` pg-pool opens connections with is db-core's {@link monitoredClient}: a subclass of
 *   pg's `Client`, or of the `clientConfig.Client` given (which must itself extend pg's `Client`);
 * - each checkout's `release` (a function pg-pool sets per checkout) is wrapped by the release
 *   guard, so a session released mid-transaction is destroyed, and swapped by `endWithin()` for the
 *   connections it destroys.
 *
 * ```ts
 * const pool = new InstrumentedPool({ connectionString: 'postgres://app:secret@127.0.0.1/app', pool: { size: 5 } })
 * const { rows } = await pool.query('select 1 as one')
 * await pool.end()
 * ```
 */
export class InstrumentedPool extends PgPool {
  readonly #config: DbConfig
  readonly #counters: PoolCounters
  readonly #registry: ConnectionRegistry
  readonly #checkouts: Checkouts
  readonly #shutdown: PoolShutdown
  readonly #leakDetector: LeakDetector | undefined
  readonly #tracing: PoolTracing
  readonly #availability: DatabaseAvailability
  readonly #capacity: CapacityGate
  readonly #queue: CheckoutQueue
  /** Set while pg-pool's own `query()` checks out: no leak stack taken for it. */
  #selfReleasing: object | undefined

  constructor(options: InstrumentedPoolOptions) {
    const {
      logger: givenLogger,
      onAcquire,
      onRelease,
      onQueueDelay,
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
    let onCapacityRefusal: (error: unknown) => void = noop
    let onCreated: (ms: number) => void = noop
    let onReleasedUnsafe: (client: MonitoredClient, unsafe: string) => void = noop
    let onReturned: () => void = noop
    const Client = monitoredClient({
      hooks: {
        attempted: () => counters.connectAttempts++,
        failed: () => counters.connectFailures++,
        created: (ms) => onCreated(ms),
        refusedForCapacity: (error) => onCapacityRefusal(error),
        refusedForRole: () => counters.serverRoleRefusals++,
        statementRetried: () => counters.statementsPreparedAnew++,
        writeRefused: (client) => onWriteRefused(client),
        releasedUnsafe: (client, unsafe) => onReleasedUnsafe(client, unsafe),
        returned: () => onReturned(),
      },
      // PgBouncer in transaction mode hands each statement any server connection.
      statementCacheSize: config.pgbouncer ? 0 : config.session.statementCacheSize,
      hosts,
      connectTimeoutMs: hostConnectTimeoutMs(url),
      credentials: passwordSource(config, url),
      base: clientClass(clientConfig?.Client),
    })
    super({ ...clientConfig, ...poolClientOptions(config), Client })
    const logger = givenLogger ?? createLogger({ defaultMeta: { component: 'db-core' } })
    const poolName = name ?? `${url.hosts.map(formatHost).join(',')}/${url.database}`
    const { pool: poolSettings } = config
    this.#config = config
    this.#counters = counters
    this.#tracing = new PoolTracing({
      ...(tracerProvider && { tracerProvider }),
      poolName,
      database: url.database,
    })
    const telemetry = new PoolTelemetry({
      ...(meterProvider && { meterProvider }),
      poolName,
      gauges: {
        idle: () => this.idleCount,
        used: () => this.#registry.checkedOut.size,
        pending: () => this.waitingCount,
        idleMin: poolSettings.size,
        max: this.max,
        overloaded: () => this.#queue.overloaded,
      },
    })
    onCreated = (ms) => {
      telemetry.created(ms)
      onConnectionCreated?.(ms)
    }
    this.#availability = new DatabaseAvailability({
      settings: poolSettings,
      logger,
      probe: () => probe((timeoutMs) => this.connectDetached(timeoutMs), poolSettings.acquireTimeoutMs),
    })
    const leakDetector =
      poolSettings.leakWarnMs > 0
        ? new LeakDetector({
            thresholdMs: poolSettings.leakWarnMs,
            logger,
            onLeak: () => counters.leaksDetected++,
          })
        : undefined
    this.#leakDetector = leakDetector
    onReleasedUnsafe = (client, unsafe) => {
      counters.unsafeReleases++
      logger.warn(`a connection released ${unsafe} was destroyed instead of reused`, {
        ...leakDetector?.describe(client as unknown as pg.PoolClient),
      })
    }
    const queueMonitor = new QueueMonitor({
      threshold: poolSettings.queueWarnThreshold,
      intervalMs: poolSettings.queueWarnIntervalMs,
      logger,
      waiting: () => this.waitingCount,
      snapshot: () => ({
        waiting: this.waitingCount,
        total: this.totalCount,
        idle: this.idleCount,
        max: this.max,
      }),
    })
    const capacity = new CapacityGate({
      pool: {
        connected: () => this.idleCount + this.#registry.checkedOut.size,
        pulse: () => this.#queue.pump(),
        serverLimit: async () => {
          const { rows } = await this.query<{ max: number }>(
            "select current_setting('max_connections')::int as max",
          )
          return rows[0]?.max
        },
      },
      settings: poolSettings,
      max: this.max,
      logger,
      counters,
    })
    this.#capacity = capacity
    onCapacityRefusal = (error) => capacity.refused(error)
    const store = new PgPoolStore(this, () => this.#queue.pump())
    this.#queue = new CheckoutQueue({
      settings: poolSettings,
      pool: {
        store,
        limit: () => capacity.limit,
        trusted: () => !this.#availability.suspect,
        judgedSince: () =>
          store.opening > 0
            ? Number.POSITIVE_INFINITY
            : Math.max(this.#availability.trustedSince, store.lastOpenedAt),
      },
      logger,
      listeners: {
        left: (ms) => {
          telemetry.queued(ms)
          onQueueDelay?.(ms)
        },
        refused: (reason) => {
          if (reason === 'expected-wait') counters.expectedWaitRefusals++
          else counters.overloadRefusals++
          telemetry.refused(reason)
        },
        overload: (overloaded) => {
          if (overloaded) counters.overloads++
        },
      },
    })
    onReturned = () => this.#queue.pump()
    // A connection closed: room to open one for whoever waits.
    this.on('remove', () => this.#queue.pump())
    this.#registry = new ConnectionRegistry({
      settings: poolSettings,
      counters,
      logger,
      listeners: {
        opened: () => {
          this.#availability.reportReachable()
          capacity.opened()
        },
        lost: (error) => this.#availability.reportLost(error),
        released: (client, heldMs) => {
          if (heldMs !== undefined) {
            telemetry.used(heldMs)
            this.#queue.held(heldMs)
            onRelease?.(heldMs)
          }
          leakDetector?.release(client)
          queueMonitor.check()
        },
      },
    })
    this.#registry.watch(this)
    const writeRefusals = new WriteRefusals({ url, hosts, registry: this.#registry, counters, logger })
    onWriteRefused = (client) => writeRefusals.refused(client)
    this.#checkouts = new Checkouts({
      settings: poolSettings,
      tls: config.tls,
      counters,
      logger,
      registry: this.#registry,
      writeRefusals,
      availability: this.#availability,
      capacity,
      loopWatch: new LoopWatch(),
      queueMonitor,
      telemetry,
      tracing: this.#tracing,
      leakDetector,
      onAcquire,
      store,
      queue: this.#queue,
    })
    this.#shutdown = new PoolShutdown(
      {
        waiting: () => this.waitingCount,
        closing: () => queueMonitor.stop(),
        drained: () => this.#availability.stop(),
        close: () => super.end(),
        closed: () => {
          capacity.stop()
          leakDetector?.stop()
          telemetry.stop()
        },
        checkedOut: this.#registry.checkedOut,
        describe: (client) => leakDetector?.describe(client),
      },
      logger,
      counters,
    )
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
      active: this.#registry.checkedOut.size,
      waiting: this.waitingCount,
      max: this.max,
      size: this.#config.pool.size,
      databaseDown: this.#availability.down,
      databaseAtCapacity: this.#capacity.atCapacity,
      overloaded: this.#queue.overloaded,
    }
  }

  static {
    // Callers waiting for a connection now, in db-core's queue: pg-pool's getter, replaced (its
    // types declare a property, which a class accessor may not override).
    Object.defineProperty(InstrumentedPool.prototype, 'waitingCount', {
      get(this: InstrumentedPool) {
        return this.#queue.length
      },
    })
  }

  /**
   * pg-pool's own `query()`, its checkout marked as one that releases itself: pg-pool checks out
   * through {@link connect} at once and releases what it took, so no leak stack is taken for it.
   */
  override query = ((text: unknown, values?: unknown, callback?: unknown) => {
    // pg-pool's own three parameters, no rest array and spread per call; a callback may come second.
    const withCallback = typeof callback === 'function' || typeof values === 'function'
    this.#selfReleasing = withCallback ? POOL_QUERY : POOL_QUERY_PROMISE
    try {
      return (super.query as (t: unknown, v?: unknown, c?: unknown) => unknown)(text, values, callback)
    } finally {
      this.#selfReleasing = undefined
    }
  }) as pg.Pool['query']

  /**
   * Checks out a connection: waits for a free or new one, pre-pings it when it has been idle, and
   * retries past dead ones, all within one acquire deadline.
   */
  override connect(): Promise<pg.PoolClient>
  override connect(callback: ConnectCallback): void
  override connect(callback?: ConnectCallback): Promise<pg.PoolClient> | undefined {
    // pg-pool's query() releases what it takes: no stack needed (it costs ~3 µs).
    const token = this.#selfReleasing
    this.#selfReleasing = undefined
    const caller = token ? undefined : this.#leakDetector?.captureCaller(this.connect)
    if (!callback) return this.#checkout({ caller })
    if (this.#shutdown.closing) {
      process.nextTick(callback, new Error(ENDED_MESSAGE), undefined, noop)
      return undefined
    }
    this.#checkouts.start(caller, undefined, (error, client) => {
      // pg-pool's own query() without a callback: its callback settles a promise and cannot throw, and
      // pg-pool calls it straight from its queue, as here. Any other callback, as pg-pool: called once,
      // outside any promise chain, so a throw in it is an uncaught exception.
      if (client && token === POOL_QUERY_PROMISE) callback(undefined, client, client.release)
      else if (client) process.nextTick(callback, undefined, client, client.release)
      else process.nextTick(callback, error as Error, undefined, noop)
    })
    return undefined
  }

  /**
   * Waits for checked-out connections to come back, then closes every connection; with a
   * callback, calls it once when done, as pg-pool does. Safe to call more than once: later calls
   * share the first one's outcome. {@link endWithin} bounds the wait.
   */
  override end(): Promise<void>
  override end(callback: (error?: Error) => void): void
  override end(callback?: (error?: Error) => void): Promise<void> | undefined {
    const ending = this.#shutdown.end()
    if (!callback) return ending
    ending.then(
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
  endWithin(timeoutMs: number): Promise<boolean> {
    return this.#shutdown.endWithin(timeoutMs)
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
  connectDetached(timeoutMs: number): Promise<pg.Client> {
    const { Client, options } = this as unknown as { Client: typeof pg.Client; options: pg.PoolConfig }
    return connectDetached(Client, options, timeoutMs)
  }

  /** db-core's own driver's entry: see {@link PoolInternals}. */
  get [POOL_INTERNALS](): PoolInternals {
    const leakDetector = this.#leakDetector
    return {
      checkout: (request) => this.#checkout(request),
      captureCaller: (entry) => leakDetector?.captureCaller(entry),
      attribute: (client, caller) => leakDetector?.attribute(client, caller),
      readRetry: (cause, retry) => {
        this.#counters.readRetries++
        return this.#tracing.traceReadRetry(cause, retry)
      },
    }
  }

  /** One checkout as a promise, refused once `end()` was called. */
  #checkout({ selfReleasing, signal, verifiedWithinMs, caller }: CheckoutRequest): Promise<pg.PoolClient> {
    if (this.#shutdown.closing) return Promise.reject(new Error(ENDED_MESSAGE))
    const stack = selfReleasing ? undefined : caller
    if (verifiedWithinMs !== undefined) return this.#checkouts.verified(stack, verifiedWithinMs)
    return new Promise((resolve, reject) => {
      const done: CheckoutDone = (error, client) => (client ? resolve(client) : reject(error))
      this.#checkouts.start(stack, signal, done)
    })
  }
}
