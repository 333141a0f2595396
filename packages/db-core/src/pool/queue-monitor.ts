// The pool's wait-queue warning: when to say the queue is long, and when that it drained.
import type { DbLogger } from '../logging/db-logger.js'
import { type Clock, type ClockTimer, systemClock } from './clock.js'

/** The pool gauges a queue warning reports. */
export interface QueueSnapshot {
  readonly waiting: number
  readonly total: number
  readonly idle: number
  readonly max: number
}

/**
 * Watches the wait queue: one structured warning when more than `threshold` callers wait with no
 * idle connection for them, at most one per `intervalMs` while it stays above, and one info line
 * when it drains back under. Never a line per request.
 */
export class QueueMonitor {
  readonly #threshold: number
  readonly #intervalMs: number
  readonly #logger: DbLogger
  readonly #waiting: () => number
  readonly #snapshot: () => QueueSnapshot
  readonly #clock: Clock
  #lastWarnAt: number | undefined
  #peak = 0
  #timer: ClockTimer | undefined

  constructor(options: {
    threshold: number
    intervalMs: number
    logger: DbLogger
    waiting: () => number
    snapshot: () => QueueSnapshot
    clock?: Clock
  }) {
    this.#threshold = options.threshold
    this.#intervalMs = options.intervalMs
    this.#logger = options.logger
    this.#waiting = options.waiting
    this.#snapshot = options.snapshot
    this.#clock = options.clock ?? systemClock
  }

  /** Compares the queue with the threshold; cheap enough to call on every checkout and release. */
  check(): void {
    // The common case, on every checkout and release: short queue, no alert. One read, no allocation.
    if (this.#waiting() <= this.#threshold && this.#lastWarnAt === undefined) return
    const snapshot = this.#snapshot()
    // pg-pool queues a checkout even while connections are idle, and hands it one a tick later: only
    // callers no idle connection is there for are waiting.
    if (snapshot.waiting - snapshot.idle > this.#threshold) {
      this.#peak = Math.max(this.#peak, snapshot.waiting)
      const now = this.#clock.now()
      if (this.#lastWarnAt === undefined || now - this.#lastWarnAt >= this.#intervalMs) {
        this.#lastWarnAt = now
        this.#logger.warn('database pool wait queue above threshold', {
          ...snapshot,
          threshold: this.#threshold,
        })
        // A queue stuck above the threshold produces no checkouts to re-check on: poll while alerting.
        this.#timer ??= this.#clock.every(this.#intervalMs, () => this.check())
      }
    } else if (this.#lastWarnAt !== undefined) {
      this.#logger.info('database pool wait queue drained', {
        ...snapshot,
        threshold: this.#threshold,
        peakWaiting: this.#peak,
      })
      this.stop()
    }
  }

  /** Forgets the alert state and stops polling. */
  stop(): void {
    this.#timer?.cancel()
    this.#timer = undefined
    this.#lastWarnAt = undefined
    this.#peak = 0
  }
}
