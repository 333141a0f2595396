import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import type { PoolSettings } from '../config/settings.js'
import type { DbLogger } from '../logging/db-logger.js'
import { redactSecrets } from '../logging/redact.js'

/** How many of its longest pauses the loop goes on probing with nobody asking, before it pauses. */
const IDLE_PAUSE_PROBES = 10

/**
 * Whether the pool believes the database is down, and the one reconnect loop that finds out when it
 * is back. Checkouts that find it unreachable wait here instead of each opening a connection of
 * their own (a connection storm against a restarting server); the loop probes with exponential
 * backoff and jitter and wakes them all at the first success. Down for longer than
 * `unavailableWaitMs`, the circuit is open: checkouts fail at once until a probe succeeds.
 *
 * Before it is known down, a lost connection makes it suspect: new connections are then opened one
 * at a time ({@link claimAttempt}), the others waiting for that attempt's verdict. Only a failed
 * attempt makes it down (and starts the circuit's clock); the first connection that opens clears it.
 *
 * Its timers are unref'd, so a pool nobody uses never keeps the process alive; and once nobody has
 * asked for a connection for {@link IDLE_PAUSE_PROBES} probes' worth of its longest pause, it stops
 * probing until a checkout asks again ({@link wanted}), which then waits for that first probe.
 */
export class DatabaseAvailability {
  readonly #settings: PoolSettings
  readonly #logger: DbLogger
  readonly #probe: () => Promise<void>
  readonly #waiters = new Set<() => void>()
  #downSince: number | undefined
  #lastError: unknown
  #stopped = false
  /** The reconnect loop is running (sleeping or probing). */
  #looping = false
  /** When a checkout last asked for a connection while the database was down. */
  #wantedAt = Number.NEGATIVE_INFINITY
  /** A connection was lost or an attempt failed, and none has opened since. */
  #suspect = false
  /** The one connection attempt a suspect database is given is in flight. */
  #attempting = false
  /** When it was last cleared of suspicion. */
  #trustedAt = Number.NEGATIVE_INFINITY

  constructor(options: {
    settings: PoolSettings
    logger: DbLogger
    probe: () => Promise<void>
  }) {
    this.#settings = options.settings
    this.#logger = options.logger
    this.#probe = options.probe
  }

  /** Whether the last word on the database is that it is unreachable. */
  get down(): boolean {
    return this.#downSince !== undefined
  }

  /** Whether new connections are opened one at a time: a connection was lost, or it is down. */
  get suspect(): boolean {
    return this.#suspect
  }

  /**
   * Since when the database has been trusted (a `performance.now()` instant): `Infinity` while it
   * is suspect, the instant a connection last opened after a loss otherwise.
   */
  get trustedSince(): number {
    return this.#suspect ? Number.POSITIVE_INFINITY : this.#trustedAt
  }

  /** The failure that made it (or keeps it) down, or suspect. */
  get lastError(): unknown {
    return this.#lastError
  }

  /** How long it has been down, in milliseconds; 0 when it is up. */
  downForMs(): number {
    return this.#downSince === undefined ? 0 : performance.now() - this.#downSince
  }

  /** Down for longer than checkouts may wait: they fail at once. */
  circuitOpen(): boolean {
    return this.#downSince !== undefined && this.downForMs() >= this.#settings.unavailableWaitMs
  }

  /** A connection attempt met an unreachable database: believe it is down, and start probing. */
  reportUnreachable(error: unknown): void {
    this.#lastError = error
    if (this.#downSince !== undefined || this.#stopped) return
    this.#suspect = true
    this.#downSince = performance.now()
    this.#logger.warn('database unreachable: checkouts wait for it while one reconnect loop probes', {
      error: redactSecrets(error instanceof Error ? error.message : String(error)),
      code: (error as { code?: unknown })?.code,
      waitMs: this.#settings.unavailableWaitMs,
    })
    this.wanted()
  }

  /** A connection was lost (`error`): until one opens again, new connections are dialled one at a time. */
  reportLost(error: unknown): void {
    if (this.#stopped || this.#downSince !== undefined) return
    this.#suspect = true
    this.#lastError = error
  }

  /**
   * Whether a checkout may open a new connection now: always while the database is trusted; while
   * it is suspect, only when no other attempt is in flight (this one is then the probe, and must
   * call {@link attemptSettled}); never while it is down, when the reconnect loop probes.
   */
  claimAttempt(): boolean {
    if (!this.#suspect) return true
    if (this.#downSince !== undefined || this.#attempting) return false
    this.#attempting = true
    return true
  }

  /** The claimed attempt ended, its verdict (if it reached one) reported: the waiters look again. */
  attemptSettled(): void {
    this.#attempting = false
    this.#wakeAll()
  }

  /**
   * A checkout wants a connection while the database is down. Returns whether the loop had paused
   * and probes again now: the checkout should then wait for that probe, even with the circuit open.
   */
  wanted(): boolean {
    if (this.#downSince === undefined || this.#stopped) return false
    this.#wantedAt = performance.now()
    if (this.#looping) return false
    this.#looping = true
    void this.#reconnectLoop().finally(() => {
      this.#looping = false
    })
    return true
  }

  /** A connection opened: the database answers again. */
  reportReachable(): void {
    if (!this.#suspect) return
    this.#suspect = false
    this.#trustedAt = performance.now()
    if (this.#downSince !== undefined) {
      this.#logger.info('database reachable again', {
        downMs: Math.round(performance.now() - this.#downSince),
      })
    }
    this.#downSince = undefined
    this.#lastError = undefined
    // Woken in the order they came: each asks pg-pool for its connection in that order.
    this.#wakeAll()
  }

  /**
   * Waits, while the database is suspect, for news: it answers again, the attempt in flight ended,
   * or the pool stops. Resolves false once `performance.now()` passes `until` with no news.
   */
  async waitForNews(until: number): Promise<boolean> {
    if (!this.#suspect) return true
    const remaining = until - performance.now()
    if (remaining <= 0) return false
    let wake: (() => void) | undefined
    const back = new Promise<true>((resolve) => {
      wake = () => resolve(true)
      this.#waiters.add(wake)
    })
    const timer = new AbortController()
    try {
      return await Promise.race([back, sleep(remaining, false, { signal: timer.signal }).catch(() => false)])
    } finally {
      timer.abort()
      if (wake) this.#waiters.delete(wake)
    }
  }

  /** Stops probing (the pool is ending); waiters give up. */
  stop(): void {
    this.#stopped = true
    this.#suspect = false
    this.#downSince = undefined
    this.#wakeAll()
  }

  #wakeAll(): void {
    for (const wake of this.#waiters) wake()
    this.#waiters.clear()
  }

  async #reconnectLoop(): Promise<void> {
    let pauseMs = this.#settings.reconnectMinMs
    while (this.#downSince !== undefined && !this.#stopped) {
      // Full jitter over the upper half: replicas that lost the database together do not probe together.
      await sleep(pauseMs * (0.5 + Math.random() / 2), undefined, { ref: false })
      if (this.#downSince === undefined || this.#stopped) return
      // Nobody has wanted a connection for a while: pause until the next checkout asks (wanted()).
      const idleMs = performance.now() - this.#wantedAt
      if (this.#waiters.size === 0 && idleMs > IDLE_PAUSE_PROBES * this.#settings.reconnectMaxMs) return
      try {
        await this.#probe()
        this.reportReachable()
        return
      } catch (error) {
        this.#lastError = error
      }
      pauseMs = Math.min(pauseMs * 2, this.#settings.reconnectMaxMs)
    }
  }
}
