// Who waits for a connection, in what order, for how long, and who is told at once there is none.
import { performance } from 'node:perf_hooks'
import type pg from 'pg'
import type { PoolSettings } from '../../config/settings.js'
import { type OverloadReason, PoolOverloadedError } from '../../errors.js'
import type { DbLogger } from '../../logging/db-logger.js'
import { queueTimeout } from '../acquire-errors.js'
import { OverloadDetector } from './overload-detector.js'
import type { PgPoolCallback, PgPoolStore } from './pg-pool-adapter.js'
import { type Waiter, WaitQueue } from './wait-queue.js'

/** What a waiter is handed when its turn comes with room to dial but the database suspect. */
export const DIAL_TURN = Symbol('dial turn')

/** What the queue tells the pool as it works: for counters, metrics and logs. */
export interface QueueListeners {
  /** A waiter left the queue after `delayMs`: served, refused, timed out or gone. */
  left(delayMs: number): void
  /** A checkout was refused for overload. */
  refused(reason: OverloadReason): void
  /** The pool turned overloaded, or back. */
  overload(overloaded: boolean): void
}

/** What the queue steers. */
export interface QueuedPool {
  readonly store: PgPoolStore
  /** How many connections the pool may hold now (the capacity gate may hold it below the maximum). */
  limit(): number
  /** Whether the database is trusted: a new connection may be opened for a waiter without the availability check. */
  trusted(): boolean
  /**
   * Since when a standing queue means demand above capacity (`Infinity` while it cannot): the
   * database trusted and every connection the pool asked for open. Before, waiters waited for the
   * database or for connections being opened, and that is no overload.
   */
  judgedSince(): number
}

interface QueuedCheckout extends Waiter {
  readonly resolve: (outcome: pg.PoolClient | typeof DIAL_TURN) => void
  readonly reject: (error: unknown) => void
  readonly signal: AbortSignal | undefined
  readonly onAbort: (() => void) | undefined
  /** Handed to pg-pool when the waiter is served: settles the wait, or gives back a late connection. */
  readonly given: PgPoolCallback
}

/**
 * The checkout's one wait queue and its one timer. A checkout that finds no idle connection and no
 * room to open one waits here, in deadline order, until {@link pump} serves it (on every release,
 * close and raised limit), its deadline passes (`PoolTimeoutError`, by way of the pool's
 * translation), its caller aborts, or, under the `adaptive` policy, the pool refuses it
 * (`PoolOverloadedError`).
 *
 * The policy (`DB_POOL_QUEUE_POLICY=adaptive`): a short burst queues in arrival order, as FIFO. Once
 * the queue has stood non-empty for `queueIntervalMs` with no waiter served within `queueTargetMs`
 * ({@link OverloadDetector}), the pool is overloaded until the queue empties: the newest waiter is
 * served first (adaptive LIFO: its answer is the freshest), and any waiter older than the target is
 * refused, so callers the pool cannot serve learn it within about the interval, not at their deadline.
 * A caller inside {@link withDeadline} whose remaining time is shorter than the wait expected ahead
 * of it is refused at once. `fifo` turns all of that off.
 *
 * One timer for the whole queue, armed for the soonest instant anything can happen (the head's
 * deadline or budget, or the instant the queue turns overloaded) and re-armed only when that moves
 * sooner; entering and leaving are O(1) ({@link WaitQueue}).
 */
export class CheckoutQueue {
  readonly #settings: PoolSettings
  readonly #pool: QueuedPool
  readonly #logger: DbLogger
  readonly #listeners: QueueListeners
  readonly #queue = new WaitQueue()
  readonly #detector: OverloadDetector
  #timer: NodeJS.Timeout | undefined
  #timerAt = Number.POSITIVE_INFINITY
  #pumping = false
  /** Refused since the current overload began, for the line that says it ended. */
  #refusedInOverload = 0

  constructor(options: {
    settings: PoolSettings
    pool: QueuedPool
    logger: DbLogger
    listeners: QueueListeners
  }) {
    this.#settings = options.settings
    this.#pool = options.pool
    this.#logger = options.logger
    this.#listeners = options.listeners
    this.#detector = new OverloadDetector(options.settings)
  }

  /** Callers waiting now. */
  get length(): number {
    return this.#queue.length
  }

  get overloaded(): boolean {
    return this.#detector.overloaded
  }

  /** How long the oldest waiter has waited, in milliseconds; 0 with nobody waiting. */
  delayMs(now = performance.now()): number {
    const head = this.#queue.head
    return head ? now - head.queuedAt : 0
  }

  /** A checkout held its connection `heldMs`: the wait ahead of new callers is estimated from it. */
  held(heldMs: number): void {
    this.#detector.held(heldMs)
  }

  /**
   * Waits for a connection until `deadline` (a `performance.now()` instant, the pool's), or
   * `callers`, the caller's own ({@link withDeadline}), when sooner. Resolves with a connection, or
   * {@link DIAL_TURN} when there is room to open one while the database is suspect (the checkout then
   * opens it through the availability check). Rejects with `PoolOverloadedError`, pg-pool's queue
   * timeout (for the pool to translate), the abort's reason, or pg-pool's error for a connection it
   * failed to open for this waiter.
   */
  wait(
    deadline: number,
    callers: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<pg.PoolClient | typeof DIAL_TURN> {
    const now = performance.now()
    const callerDeadline = callers !== undefined && callers < deadline
    const detector = this.#detector
    this.#judge(now)
    if (detector.adaptive && callerDeadline) {
      const ahead = detector.overloaded ? 0 : this.#queue.length
      const expectedMs = detector.expectedWaitMs(ahead, this.#pool.limit())
      if ((callers as number) - now < expectedMs) {
        return Promise.reject(this.#refusal('expected-wait', 0, now, expectedMs, (callers as number) - now))
      }
    }
    if (callerDeadline && (callers as number) <= now) return Promise.reject(queueTimeout())
    return new Promise((resolve, reject) => {
      const waiter: QueuedCheckout = {
        queuedAt: now,
        deadline: callerDeadline ? (callers as number) : deadline,
        callerDeadline,
        prev: undefined,
        next: undefined,
        queued: false,
        resolve,
        reject,
        signal,
        onAbort: signal ? () => this.#gone(waiter, signal.reason) : undefined,
        given: (error, client) => {
          if (client && waiter.signal?.aborted) return client.release()
          if (client) resolve(client)
          else reject(error)
        },
      }
      if (signal && waiter.onAbort) signal.addEventListener('abort', waiter.onAbort, { once: true })
      this.#queue.enter(waiter)
      this.#arm(now)
    })
  }

  /**
   * Serves waiters while a connection is there for them: an idle one is handed over at once, room
   * to dial opens one for the waiter. FIFO, or the newest first while overloaded. Cheap with nobody
   * waiting: called on every release.
   */
  pump(): void {
    if (this.#queue.length === 0 || this.#pumping) return
    // pg-pool hands an idle connection over synchronously, and the waiter's release may pump again.
    this.#pumping = true
    try {
      const { store } = this.#pool
      while (this.#queue.length > 0) {
        if (store.idle > 0) store.take(this.#serve().given)
        else if (store.open < this.#pool.limit()) {
          const waiter = this.#serve()
          if (this.#pool.trusted()) {
            // Opening takes a while: a caller who aborts meanwhile is answered at once, its connection given back.
            waiter.signal?.addEventListener('abort', () => waiter.reject(waiter.signal?.reason), {
              once: true,
            })
            store.dial(waiter.given)
          } else {
            // The database is suspect: every waiter, in its order, goes through the availability
            // check (one of them opens the one connection attempt, the others wait for its verdict).
            waiter.resolve(DIAL_TURN)
          }
        } else break
      }
    } finally {
      this.#pumping = false
    }
    const now = performance.now()
    this.#afterLeaving(now)
    // The database may be trusted again since the timer was armed: the overload rule's instant moved.
    if (this.#queue.length > 0) this.#arm(now)
  }

  /** The pool is ending with `error` for whoever still waits (a bounded shutdown out of time). */
  failAll(error: unknown): void {
    for (let waiter = this.#queue.head; waiter; waiter = this.#queue.head) {
      this.#remove(waiter as QueuedCheckout, performance.now())
      ;(waiter as QueuedCheckout).reject(error)
    }
    this.#afterLeaving(performance.now())
  }

  /** Takes the waiter whose turn it is out of the queue. */
  #serve(): QueuedCheckout {
    const queue = this.#queue
    const waiter = (this.#detector.overloaded ? queue.tail : queue.head) as QueuedCheckout
    const now = performance.now()
    this.#remove(waiter, now)
    this.#detector.served(now, now - waiter.queuedAt)
    return waiter
  }

  #remove(waiter: QueuedCheckout, now: number): void {
    this.#queue.leave(waiter)
    if (waiter.signal && waiter.onAbort) waiter.signal.removeEventListener('abort', waiter.onAbort)
    this.#listeners.left(now - waiter.queuedAt)
  }

  #gone(waiter: QueuedCheckout, reason: unknown): void {
    if (!waiter.queued) return
    const now = performance.now()
    this.#remove(waiter, now)
    waiter.reject(reason)
    this.#afterLeaving(now)
  }

  /** After waiters left: an empty queue ends an overload; otherwise the timer follows the new head. */
  #afterLeaving(now: number): void {
    if (this.#queue.length > 0) return
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#timerAt = Number.POSITIVE_INFINITY
    const lastedMs = this.#detector.emptied(now)
    if (lastedMs === undefined) return
    this.#logger.info('database pool overload ended: the wait queue emptied', {
      overloadedMs: Math.round(lastedMs),
      refused: this.#refusedInOverload,
    })
    this.#refusedInOverload = 0
    this.#listeners.overload(false)
  }

  /** When the next thing can happen to the queue: the head's deadline or budget, or overload. */
  #nextAt(): number {
    const head = this.#queue.head
    if (!head) return Number.POSITIVE_INFINITY
    const detector = this.#detector
    const bound = detector.overloaded
      ? Math.min(head.deadline, head.queuedAt + detector.budgetMs(this.#pool.limit()))
      : head.deadline
    return Math.min(bound, detector.overloadAt(this.#pool.judgedSince()))
  }

  /** Arms the queue's one timer for {@link #nextAt}, unless it already fires by then. */
  #arm(now: number): void {
    const at = this.#nextAt()
    if (at >= this.#timerAt) return
    clearTimeout(this.#timer)
    this.#timerAt = at
    // Unref'd as pg-pool's own timers: a waiting checkout does not keep a process alive by itself.
    this.#timer = setTimeout(() => this.#tick(), Math.max(0, at - now)).unref()
  }

  #tick(): void {
    this.#timer = undefined
    this.#timerAt = Number.POSITIVE_INFINITY
    const now = performance.now()
    const detector = this.#detector
    if (this.#queue.length > 0) this.#judge(now)
    const budgetMs = detector.budgetMs(this.#pool.limit())
    for (
      let head = this.#queue.head as QueuedCheckout | undefined;
      head;
      head = this.#queue.head as QueuedCheckout | undefined
    ) {
      if (now >= head.deadline) {
        this.#remove(head, now)
        head.reject(queueTimeout())
      } else if (detector.overloaded && now - head.queuedAt >= budgetMs) {
        this.#remove(head, now)
        head.reject(
          this.#refusal(
            'overloaded',
            now - head.queuedAt,
            now,
            0,
            head.callerDeadline ? head.deadline - now : undefined,
          ),
        )
      } else break
    }
    this.#afterLeaving(now)
    this.#arm(now)
  }

  /** Applies CoDel's rule at `now`, to a queue of the length it has (not yet holding a newcomer). */
  #judge(now: number): void {
    const detector = this.#detector
    if (this.#queue.length === 0) detector.queueStarted(now)
    else if (detector.check(now, this.#pool.judgedSince())) this.#overloadStarted(now)
  }

  #overloadStarted(now: number): void {
    this.#refusedInOverload = 0
    this.#logger.warn(
      'database pool overloaded: the wait queue stayed above its target; serving the newest first, refusing what it cannot serve in time',
      {
        waiting: this.#queue.length,
        queueDelayMs: Math.round(this.delayMs(now)),
        targetMs: this.#settings.queueTargetMs,
        intervalMs: this.#settings.queueIntervalMs,
        connections: this.#pool.store.open,
      },
    )
    this.#listeners.overload(true)
  }

  #refusal(
    reason: OverloadReason,
    waitedMs: number,
    now: number,
    expectedWaitMs: number,
    remainingMs: number | undefined,
  ): PoolOverloadedError {
    if (this.#detector.overloaded) this.#refusedInOverload++
    this.#listeners.refused(reason)
    return new PoolOverloadedError({
      reason,
      waitedMs,
      queueDelayMs: Math.max(waitedMs, this.delayMs(now)),
      queueLength: this.#queue.length + 1,
      expectedWaitMs,
      remainingMs,
    })
  }
}
