// "Too many clients" is a capacity signal, not an outage: the pool stops dialling and serves its
// waiters from the connections it already holds, trying one more connection at a time with backoff.
import type { PoolSettings } from '../config/settings.js'
import { codeOf } from '../connection-errors.js'
import type { DbLogger } from '../logging/db-logger.js'
import { redactSecrets } from '../logging/redact.js'
import type { PoolCounters } from './pool-stats.js'

/** What the gate steers: the bound the checkout dials below ({@link CapacityGate.limit}), and its queue. */
export interface GatedPool {
  /** Connections open and usable now (idle or held by callers), not those still opening. */
  connected(): number
  /** Lets the queue be served now: a waiter is dialled for when the pool is below its new bound. */
  pulse(): void
  /** The server's connection limit, for the log line (`max_connections`), when it can be asked. */
  serverLimit(): Promise<number | undefined>
}

/**
 * While the server refuses new connections for capacity, the pool's bound is held at the number of
 * connections the pool has, so checkouts queue for those instead of each dialling into a refusal
 * (a forked backend per attempt on the server). After a backoff (`reconnectMinMs`, doubling up to
 * `reconnectMaxMs`) the bound is raised by one: one attempt at a time. Each connection that opens
 * raises it by one more, at once, until the configured maximum is back; each refusal lowers it again
 * and doubles the backoff. Logged once when it starts (connections held, the server's limit), once
 * when it ends.
 */
export class CapacityGate {
  readonly #pool: GatedPool
  readonly #settings: PoolSettings
  readonly #max: number
  readonly #logger: DbLogger
  readonly #counters: PoolCounters
  #limit: number
  #backoffMs: number
  #timer: NodeJS.Timeout | undefined
  #stopped = false

  constructor(options: {
    pool: GatedPool
    settings: PoolSettings
    max: number
    logger: DbLogger
    counters: PoolCounters
  }) {
    this.#pool = options.pool
    this.#settings = options.settings
    this.#max = options.max
    this.#logger = options.logger
    this.#counters = options.counters
    this.#limit = options.max
    this.#backoffMs = options.settings.reconnectMinMs
  }

  /** How many connections pg-pool may hold now: the configured maximum, or fewer while the server is full. */
  get limit(): number {
    return this.#limit
  }

  /** Connections open and usable now: what a checkout refused for capacity can still be served from. */
  get connectionsHeld(): number {
    return this.#pool.connected()
  }

  /** Whether the pool is holding back because the server is full. */
  get atCapacity(): boolean {
    return this.#limit < this.#max
  }

  /** A connection attempt was refused for capacity (`error`): hold the bound at what the pool has. */
  refused(error: unknown): void {
    this.#counters.capacityRefusals++
    if (this.#stopped) return
    const first = !this.atCapacity
    this.#setLimit(this.#pool.connected())
    if (first) {
      this.#backoffMs = this.#settings.reconnectMinMs
      void this.#logStart(error)
    } else {
      this.#backoffMs = Math.min(this.#backoffMs * 2, this.#settings.reconnectMaxMs)
    }
    this.#scheduleTry()
  }

  /** A connection opened: while holding back, allow the next one at once. */
  opened(): void {
    if (!this.atCapacity || this.#stopped) return
    this.#setLimit(this.#pool.connected() + 1)
    if (!this.atCapacity) {
      clearTimeout(this.#timer)
      this.#logger.info('the database accepts new connections again', { connections: this.#pool.connected() })
    }
    this.#pool.pulse()
  }

  /** The pool is ending: no more tries. */
  stop(): void {
    this.#stopped = true
    clearTimeout(this.#timer)
  }

  #setLimit(limit: number): void {
    this.#limit = Math.min(this.#max, Math.max(0, limit))
  }

  #scheduleTry(): void {
    clearTimeout(this.#timer)
    // Jittered over the upper half: replicas refused together do not retry together.
    const pauseMs = this.#backoffMs * (0.5 + Math.random() / 2)
    this.#timer = setTimeout(() => {
      if (this.#stopped || !this.atCapacity) return
      this.#setLimit(this.#pool.connected() + 1)
      this.#pool.pulse()
    }, pauseMs)
    // A pool with nothing to do must not keep the process alive for this.
    this.#timer.unref()
  }

  /** One line per episode, once the server's limit is known (asked on a connection the pool holds). */
  async #logStart(error: unknown): Promise<void> {
    const serverLimit = await this.#pool.serverLimit().catch(() => undefined)
    this.#logger.warn(
      'the database refused a new connection for capacity: serving from the connections held',
      {
        connectionsHeld: this.#pool.connected(),
        serverMaxConnections: serverLimit ?? 'unknown',
        poolMax: this.#max,
        error: redactSecrets(error instanceof Error ? error.message : String(error)),
        code: error instanceof Error ? codeOf(error) : undefined,
      },
    )
  }
}
