import type { DbLogger } from '../logging/db-logger.js'
import { type Clock, type ClockTimer, systemClock } from './clock.js'

// Enough to name the code that took the connection and what called it.
const CALLER_FRAMES = 6

// What a report says of a checkout whose stack was not taken (one that releases itself).
const NOT_RECORDED =
  'not recorded: a single statement (pool.query or a Kysely query) or a Kysely db.connection() scope; ' +
  'statements are bounded by DB_QUERY_TIMEOUT_MS and DB_STATEMENT_TIMEOUT_MS'

interface Checkout {
  readonly at: number
  /** Its stack names the code that took the connection (or began the transaction on it). */
  acquiredAt: Error | undefined
  reported: boolean
}

/**
 * HikariCP's leakDetectionThreshold: a connection checked out longer than `thresholdMs` is
 * reported once, with the stack of the code that acquired it, and again (as returned) if it
 * ever comes back. One sweep timer runs only while connections are out, never one per checkout.
 * Stacks cost about 3 µs each to take, so the pool takes them only where a leak can hide: raw
 * `pool.connect()` and transactions; checkouts that release themselves are tracked by time alone.
 */
export class LeakDetector {
  readonly #thresholdMs: number
  readonly #logger: DbLogger
  readonly #onLeak: () => void
  readonly #clock: Clock
  readonly #checkouts = new Map<object, Checkout>()
  #sweep: ClockTimer | undefined

  constructor(options: { thresholdMs: number; logger: DbLogger; onLeak: () => void; clock?: Clock }) {
    this.#thresholdMs = options.thresholdMs
    this.#logger = options.logger
    this.#onLeak = options.onLeak
    this.#clock = options.clock ?? systemClock
  }

  /**
   * The stack of the code that asked for a connection, starting at the caller of `entry` (db-core's
   * own frames are left out). Call it synchronously at the start of the checkout: after the first
   * await, only the caller's async frames would be left. The walk is capped at a few frames: a
   * capture runs on every checkout, and its cost grows with depth (about 4.7 µs for V8's default
   * 10 frames with async frames, 2.8 µs for 4, measured here).
   */
  captureCaller(entry: (...args: never[]) => unknown): Error {
    const limit = Error.stackTraceLimit
    try {
      // Built without a trace (limit 0), then given the one we want: a single, short walk.
      Error.stackTraceLimit = 0
      const holder = new Error('connection acquired here')
      Error.stackTraceLimit = CALLER_FRAMES
      Error.captureStackTrace(holder, entry)
      return holder
    } finally {
      Error.stackTraceLimit = limit
    }
  }

  track(connection: object, acquiredAt: Error | undefined): void {
    this.#checkouts.set(connection, { at: this.#clock.now(), acquiredAt, reported: false })
    // Reports land within half the threshold (at most a second) of it.
    this.#sweep ??= this.#clock.every(Math.max(10, Math.min(1000, this.#thresholdMs / 2)), () =>
      this.#check(),
    )
  }

  /** Names the code that now holds a tracked connection (a transaction begun on it). */
  attribute(connection: object, acquiredAt: Error): void {
    const checkout = this.#checkouts.get(connection)
    if (checkout) checkout.acquiredAt = acquiredAt
  }

  release(connection: object): void {
    const checkout = this.#checkouts.get(connection)
    if (!checkout) return
    this.#checkouts.delete(connection)
    if (checkout.reported) {
      this.#logger.info('a connection reported as leaked was returned to the pool', {
        heldMs: Math.round(this.#clock.now() - checkout.at),
      })
    }
  }

  /** How long `connection` has been held and the code that took it, for a log line about it. */
  describe(connection: object): { heldMs: number; acquiredAt: string } | undefined {
    const checkout = this.#checkouts.get(connection)
    if (!checkout) return undefined
    return {
      heldMs: Math.round(this.#clock.now() - checkout.at),
      acquiredAt: checkout.acquiredAt?.stack ?? NOT_RECORDED,
    }
  }

  stop(): void {
    this.#sweep?.cancel()
    this.#sweep = undefined
    this.#checkouts.clear()
  }

  #check(): void {
    if (this.#checkouts.size === 0) {
      this.stop()
      return
    }
    const now = this.#clock.now()
    for (const checkout of this.#checkouts.values()) {
      if (checkout.reported || now - checkout.at < this.#thresholdMs) continue
      checkout.reported = true
      this.#onLeak()
      this.#logger.warn('database connection held longer than DB_POOL_LEAK_WARN_MS: possible leak', {
        heldMs: Math.round(now - checkout.at),
        thresholdMs: this.#thresholdMs,
        acquiredAt: checkout.acquiredAt?.stack ?? NOT_RECORDED,
      })
    }
  }
}
