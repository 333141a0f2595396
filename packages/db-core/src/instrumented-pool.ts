import { performance } from 'node:perf_hooks'
import pg from 'pg'
import { isConnectionError } from './connection-errors.js'
import type { DbConfig, PoolSettings, TlsSettings } from './db-config.js'
import { DatabaseTlsError, DatabaseUnavailableError, formatSeconds, PoolTimeoutError } from './errors.js'
import { LeakDetector } from './leak-detector.js'
import type { Logger } from './logger.js'
import { emptyCounters, type PoolCounters, type PoolStats } from './pool-stats.js'
import { QueueMonitor } from './queue-monitor.js'
import { redactSecrets } from './redact.js'

export interface InstrumentedPoolOptions {
  /**
   * Where the database is, the pool's settings and the limits every connection carries.
   *
   * ```ts
   * new InstrumentedPool({ config: loadDbConfig(), logger })
   * ```
   */
  readonly config: DbConfig
  /** Receives the pool's warnings (queue length, lost connections) and debug lines. */
  readonly logger: Logger
  /**
   * Called with the wait, in milliseconds, of every successful checkout (queueing, connecting
   * and pre-ping included): feed it to an acquire-time histogram.
   *
   * ```ts
   * onAcquire: (ms) => acquireSeconds.observe(ms / 1000)
   * ```
   */
  readonly onAcquire?: (waitMs: number) => void
  /**
   * Extra node-postgres client settings (TLS, keepalive, `application_name`, ...).
   *
   * ```ts
   * clientConfig: { application_name: 'classroom-api' }
   * ```
   */
  readonly clientConfig?: Omit<pg.PoolConfig, 'connectionString' | 'max' | 'min'>
}

/**
 * The session limits and TLS as node-postgres client options (0 leaves a limit off). Through
 * PgBouncer, server-side settings are not sent at connect: PgBouncer refuses unknown startup
 * parameters, and in transaction mode a session setting would not stay with our connection.
 */
function clientOptions({ session, tls, pgbouncer }: DbConfig): pg.PoolConfig {
  const serverSide = !pgbouncer
  return {
    ssl:
      tls.mode === 'disable'
        ? false
        : tls.mode === 'require'
          ? { rejectUnauthorized: false }
          : { rejectUnauthorized: true, ...(tls.ca !== undefined && { ca: tls.ca }) },
    ...(serverSide && session.statementTimeoutMs > 0 && { statement_timeout: session.statementTimeoutMs }),
    ...(session.queryTimeoutMs > 0 && { query_timeout: session.queryTimeoutMs }),
    ...(serverSide &&
      session.idleInTransactionTimeoutMs > 0 && {
        idle_in_transaction_session_timeout: session.idleInTransactionTimeoutMs,
      }),
    keepAlive: session.keepAliveInitialDelayMs > 0,
    keepAliveInitialDelayMillis: session.keepAliveInitialDelayMs,
  }
}

/** Why db-core closed a connection, for the removal counters. */
type RemovalReason = 'pre-ping' | 'error' | 'recycle'

interface ConnectionState {
  readonly createdAt: number
  /** When this connection retires at its next checkout: the lifetime less its own random jitter. */
  readonly retireAt: number
  lastReleasedAt: number
  checkouts: number
  checkedOut: boolean
  removal: RemovalReason | undefined
}

// pg-pool's words for "no connection in time": one for the queue, one for a connect attempt.
const QUEUE_TIMEOUT_MESSAGE = 'timeout exceeded when trying to connect'
const CONNECT_TIMEOUT_MESSAGE = 'Connection terminated due to connection timeout'

const ACQUIRE_DEADLINE = Symbol('acquire deadline')

// The "error" a retired connection is released with: pg-pool closes a client released with one.
const RECYCLED = new Error('connection recycled')

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
 * - recycling after `recycleMs`, never mid-query (pg-pool's `maxLifetimeSeconds`);
 * - an `error` listener on every connection for its whole life, so a connection that dies while
 *   checked out rejects the caller's query instead of crashing the process;
 * - counters and a queue-length warning.
 *
 * It is a real `pg.Pool`, so Kysely's `PostgresDialect` and raw `pool.query()` both go through it.
 *
 * ```ts
 * const pool = createPool(loadDbConfig(), { logger })
 * const { rows } = await pool.query('select 1')
 * ```
 */
export class InstrumentedPool extends pg.Pool {
  readonly #settings: PoolSettings
  readonly #logger: Logger
  readonly #onAcquire: ((waitMs: number) => void) | undefined
  readonly #counters: PoolCounters = emptyCounters()
  readonly #connections = new WeakMap<pg.ClientBase, ConnectionState>()
  readonly #queueMonitor: QueueMonitor
  readonly #leakDetector: LeakDetector | undefined
  readonly #tls: TlsSettings
  #active = 0

  constructor(options: InstrumentedPoolOptions) {
    const { pool: settings, connectionString } = options.config
    super({
      ...clientOptions(options.config),
      ...options.clientConfig,
      connectionString,
      max: settings.size + settings.maxOverflow,
      min: settings.size,
      idleTimeoutMillis: settings.overflowIdleMs,
      connectionTimeoutMillis: settings.acquireTimeoutMs,
      maxLifetimeSeconds: settings.recycleMs / 1000,
    })
    this.#settings = settings
    this.#logger = options.logger
    this.#onAcquire = options.onAcquire
    this.#tls = options.config.tls
    this.#leakDetector =
      settings.leakWarnMs > 0
        ? new LeakDetector({
            thresholdMs: settings.leakWarnMs,
            logger: options.logger,
            onLeak: () => this.#counters.leaksDetected++,
          })
        : undefined
    this.#queueMonitor = new QueueMonitor({
      threshold: settings.queueWarnThreshold,
      intervalMs: settings.queueWarnIntervalMs,
      logger: options.logger,
      waiting: () => this.waitingCount,
      snapshot: () => ({
        waiting: this.waitingCount,
        total: this.totalCount,
        idle: this.idleCount,
        max: this.max,
      }),
    })
    this.on('connect', (client) => this.#onConnect(client))
    this.on('acquire', (client) => this.#onCheckout(client))
    this.on('release', (_err, client) => this.#onRelease(client))
    this.on('remove', (client) => this.#onRemove(client))
    // pg-pool re-emits errors of idle connections here; without a listener they would crash the process.
    this.on('error', (error, client) => this.#onConnectionError(client, error))
  }

  /** The most connections this pool opens: size + overflow. */
  get max(): number {
    return this.#settings.size + this.#settings.maxOverflow
  }

  /** The settings this pool was built with. */
  get settings(): PoolSettings {
    return this.#settings
  }

  /** Gauges and cumulative counters, as one plain object. */
  stats(): PoolStats {
    return {
      ...this.#counters,
      total: this.totalCount,
      idle: this.idleCount,
      active: this.#active,
      waiting: this.waitingCount,
      max: this.max,
      size: this.#settings.size,
    }
  }

  /**
   * Checks out a connection: waits for a free or new one, pre-pings it when it has been idle, and
   * retries past dead ones, all within one acquire deadline.
   */
  override connect(): Promise<pg.PoolClient>
  override connect(callback: ConnectCallback): void
  override connect(callback?: ConnectCallback): Promise<pg.PoolClient> | undefined {
    const checkout = this.#checkout(this.#leakDetector?.captureCaller(this.connect))
    if (!callback) return checkout
    // pg-pool's own `query()` uses the callback form.
    checkout.then(
      (client) => callback(undefined, client, client.release),
      (error: Error) => callback(error, undefined, () => undefined),
    )
    return undefined
  }

  /** Counts a read that db-core's Kysely driver ran again after its connection was lost. */
  countReadRetry(): void {
    this.#counters.readRetries++
  }

  override async end(): Promise<void> {
    this.#queueMonitor.stop()
    this.#leakDetector?.stop()
    await super.end()
  }

  /**
   * A connection proven alive: like {@link connect}, but any connection not opened for this very
   * call is pinged whatever its idle time. For retries after a lost connection, when others in the
   * pool may have been dropped by the server a moment ago without pg having noticed yet.
   */
  connectVerified(): Promise<pg.PoolClient> {
    return this.#checkout(this.#leakDetector?.captureCaller(this.connectVerified), true)
  }

  async #checkout(acquiredAt: Error | undefined, alwaysPing = false): Promise<pg.PoolClient> {
    const startedAt = performance.now()
    const deadline = startedAt + this.#settings.acquireTimeoutMs
    for (let attempt = 0; ; attempt++) {
      const client = await this.#acquireBefore(deadline, startedAt, attempt === 0)
      const state = this.#stateOf(client)
      if (performance.now() >= state.retireAt) {
        // Past its (jittered) lifetime: retire it between uses, never mid-query, and take another.
        state.removal = 'recycle'
        this.#counters.connectionsRecycled++
        client.release(RECYCLED)
        continue
      }
      if (!this.#shouldPing(state, alwaysPing)) return this.#handOut(client, startedAt, acquiredAt)
      this.#counters.prePings++
      const failure = await this.#ping(
        client,
        Math.min(this.#settings.prePingTimeoutMs, deadline - performance.now()),
      )
      if (!failure) return this.#handOut(client, startedAt, acquiredAt)
      this.#counters.prePingFailures++
      state.removal = 'pre-ping'
      this.#logger.debug('discarded a connection that failed its pre-ping', {
        error: failure.message,
        idleMs: Math.round(performance.now() - state.lastReleasedAt),
      })
      client.release(failure)
    }
  }

  #handOut(client: pg.PoolClient, startedAt: number, acquiredAt: Error | undefined): pg.PoolClient {
    this.#counters.acquisitions++
    if (acquiredAt) this.#leakDetector?.track(client, acquiredAt)
    this.#onAcquire?.(performance.now() - startedAt)
    return client
  }

  /**
   * One wait for a pooled connection, bounded by what is left of the checkout's deadline. The first
   * wait is bounded by pg-pool itself (`connectionTimeoutMillis` is the whole acquire timeout, for
   * queueing and connecting alike), so only retries after a failed pre-ping arm a timer of their own.
   */
  async #acquireBefore(deadline: number, startedAt: number, first: boolean): Promise<pg.PoolClient> {
    const remaining = deadline - performance.now()
    if (remaining <= 0) throw this.#timeoutError(startedAt, QUEUE_TIMEOUT_MESSAGE)
    const pending = super.connect()
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
    if (
      error instanceof Error &&
      (error.message === QUEUE_TIMEOUT_MESSAGE || error.message === CONNECT_TIMEOUT_MESSAGE)
    ) {
      return this.#timeoutError(startedAt, error.message, error)
    }
    if (isTlsFailure(error)) {
      this.#counters.acquireFailures++
      return new DatabaseTlsError(describeTlsFailure(this.#tls, error as Error), { cause: error })
    }
    if (isConnectionError(error)) {
      this.#counters.acquireFailures++
      return new DatabaseUnavailableError(
        `could not connect to the database: ${redactSecrets((error as Error).message)}`,
        { cause: error },
      )
    }
    return error
  }

  /**
   * Out of time. When callers hold every connection the pool is the limit (`PoolTimeoutError`);
   * otherwise the time went to opening connections, and the database is the problem.
   */
  #timeoutError(startedAt: number, reason: string, cause?: unknown): Error {
    const waitedMs = performance.now() - startedAt
    if (reason === CONNECT_TIMEOUT_MESSAGE || this.#active < this.max) {
      this.#counters.acquireFailures++
      return new DatabaseUnavailableError(
        `could not open a connection to the database within ${formatSeconds(this.#settings.acquireTimeoutMs)}`,
        { cause },
      )
    }
    this.#counters.acquireTimeouts++
    return new PoolTimeoutError({
      size: this.#settings.size,
      maxOverflow: this.#settings.maxOverflow,
      timeoutMs: this.#settings.acquireTimeoutMs,
      waitedMs,
      total: this.totalCount,
      waiting: this.waitingCount,
    })
  }

  #shouldPing(state: ConnectionState, always: boolean): boolean {
    // A connection opened for this very checkout has just proven itself.
    if (state.checkouts <= 1) return false
    if (always) return true
    return this.#settings.prePing && performance.now() - state.lastReleasedAt >= this.#settings.prePingIdleMs
  }

  async #ping(client: pg.PoolClient, timeoutMs: number): Promise<Error | undefined> {
    try {
      // query_timeout is honoured per query by pg, though @types/pg does not declare it.
      await client.query({
        text: 'select 1',
        query_timeout: Math.max(1, Math.floor(timeoutMs)),
      } as pg.QueryConfig)
      return undefined
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error))
    }
  }

  #newState(): ConnectionState {
    const now = performance.now()
    const { recycleMs, recycleJitterMs } = this.#settings
    return {
      createdAt: now,
      retireAt: recycleMs > 0 ? now + recycleMs - Math.random() * recycleJitterMs : Number.POSITIVE_INFINITY,
      lastReleasedAt: now,
      checkouts: 0,
      checkedOut: false,
      removal: undefined,
    }
  }

  #onConnect(client: pg.PoolClient): void {
    this.#connections.set(client, this.#newState())
    this.#counters.connectionsCreated++
    // Kysely attaches no listener to a checked-out client (node-postgres #2635, #3083): this one
    // stays for the connection's whole life so a death mid-checkout cannot crash the process.
    client.on('error', (error) => {
      if (this.#stateOf(client).checkedOut) this.#onConnectionError(client, error)
    })
  }

  #onCheckout(client: pg.PoolClient): void {
    const state = this.#stateOf(client)
    state.checkedOut = true
    state.checkouts++
    this.#active++
  }

  #onRelease(client: pg.PoolClient): void {
    const state = this.#stateOf(client)
    if (state.checkedOut) this.#active--
    state.checkedOut = false
    state.lastReleasedAt = performance.now()
    this.#leakDetector?.release(client)
    this.#queueMonitor.check()
  }

  #onRemove(client: pg.PoolClient): void {
    const state = this.#stateOf(client)
    this.#counters.connectionsRemoved++
    const recycleMs = this.#settings.recycleMs
    if (state.removal === undefined && recycleMs > 0 && performance.now() - state.createdAt >= recycleMs) {
      this.#counters.connectionsRecycled++
    }
  }

  #onConnectionError(client: pg.ClientBase, error: Error): void {
    const state = this.#stateOf(client)
    // pg can report one loss several times (socket error, then end); count and log it once.
    if (state.removal === 'error') return
    state.removal = 'error'
    this.#counters.connectionErrors++
    this.#logger.warn('database connection lost', {
      checkedOut: state.checkedOut,
      error: redactSecrets(error.message),
      code: (error as { code?: unknown }).code,
    })
  }

  #stateOf(client: pg.ClientBase): ConnectionState {
    let state = this.#connections.get(client)
    if (!state) {
      // Events for a client that never reached 'connect' (a failed connection attempt).
      state = this.#newState()
      this.#connections.set(client, state)
    }
    return state
  }
}

const NO_TLS_OFFERED = 'The server does not support SSL connections'

function isTlsFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false
  const code = (error as { code?: unknown }).code
  return (
    error.message === NO_TLS_OFFERED ||
    (typeof code === 'string' &&
      /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_SELF_SIGNED)/.test(code))
  )
}

function describeTlsFailure(tls: TlsSettings, error: Error): string {
  if (error.message === NO_TLS_OFFERED) {
    return `DB_SSL_MODE=${tls.mode} requires TLS, but the database server does not offer it (enable ssl on the server, or set DB_SSL_MODE=disable)`
  }
  const ca = tls.caFile ? ` against DB_SSL_CA_FILE=${tls.caFile}` : ''
  return `the database server's TLS certificate did not verify${ca} (DB_SSL_MODE=${tls.mode}): ${error.message}`
}

/**
 * Builds the instrumented pool from a validated config.
 *
 * ```ts
 * const pool = createPool(loadDbConfig(), { logger: createLogger() })
 * ```
 */
export function createPool(
  config: DbConfig,
  options: Omit<InstrumentedPoolOptions, 'config'>,
): InstrumentedPool {
  return new InstrumentedPool({ ...options, config })
}
