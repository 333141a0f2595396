// When the wait queue is overloaded: CoDel's rule (RFC 8289) applied to a connection pool's queue.
import type { PoolSettings } from '../../config/settings.js'

/** How fast the recent hold time follows new samples: about the last ten checkouts. */
const HOLD_SMOOTHING = 0.1

/**
 * Decides, from what the queue sees, whether the pool is overloaded. A queue that empties, or
 * serves a waiter within `queueTargetMs`, is a good queue: a short burst drains through it in
 * arrival order. One that stays non-empty for `queueIntervalMs` with no waiter served within the
 * target is a standing queue (CoDel's rule): demand is above what the database serves, and a FIFO
 * queue there only makes every answer late. The pool is then overloaded until the queue empties.
 * Also keeps the recent hold time, from which the wait ahead of a new caller is estimated.
 *
 * ```ts
 * const detector = new OverloadDetector({ queuePolicy: 'adaptive', queueTargetMs: 50, queueIntervalMs: 200 })
 * detector.queueStarted(performance.now())
 * ```
 */
export class OverloadDetector {
  readonly #adaptive: boolean
  readonly #targetMs: number
  readonly #intervalMs: number
  /** When the queue was last good: empty, or a waiter served within the target. */
  #goodAt = Number.NEGATIVE_INFINITY
  #overloadedSince: number | undefined
  #holdMs: number | undefined

  constructor(settings: Pick<PoolSettings, 'queuePolicy' | 'queueTargetMs' | 'queueIntervalMs'>) {
    this.#adaptive = settings.queuePolicy === 'adaptive'
    this.#targetMs = settings.queueTargetMs
    this.#intervalMs = settings.queueIntervalMs
  }

  /** Whether the policy is on (`adaptive`): off, nothing is ever overloaded or refused early. */
  get adaptive(): boolean {
    return this.#adaptive
  }

  get overloaded(): boolean {
    return this.#overloadedSince !== undefined
  }

  /** When the current overload began, if the pool is overloaded. */
  get overloadedSince(): number | undefined {
    return this.#overloadedSince
  }

  /**
   * The longest an overloaded queue keeps a waiter: the target, or two turnovers of a connection
   * (recent hold time / `connections`) when that is longer, so that a pool of slow statements still
   * has a waiter at hand each time a connection comes free.
   */
  budgetMs(connections: number): number {
    return Math.max(this.#targetMs, 2 * this.expectedWaitMs(1, connections))
  }

  /**
   * When the queue turns overloaded unless it is good again first, judged since `judgedSince`;
   * `Infinity` when it cannot.
   */
  overloadAt(judgedSince: number): number {
    return this.#adaptive && !this.overloaded
      ? Math.max(this.#goodAt, judgedSince) + this.#intervalMs
      : Number.POSITIVE_INFINITY
  }

  /** A waiter entered an empty queue at `now`: the queue was good until now. */
  queueStarted(now: number): void {
    this.#goodAt = now
  }

  /** A waiter was served after `delayMs` in the queue. */
  served(now: number, delayMs: number): void {
    if (delayMs <= this.#targetMs && !this.overloaded) this.#goodAt = now
  }

  /**
   * Checks the rule at `now` with the queue non-empty, judged since `judgedSince` (the queue's
   * delay before then was the database's or the connections' opening, not demand's); returns true
   * when the pool has just turned overloaded.
   */
  check(now: number, judgedSince: number): boolean {
    if (now < this.overloadAt(judgedSince)) return false
    this.#overloadedSince = now
    return true
  }

  /** The queue emptied at `now`; returns how long the overload lasted, if there was one. */
  emptied(now: number): number | undefined {
    this.#goodAt = now
    const since = this.#overloadedSince
    this.#overloadedSince = undefined
    return since === undefined ? undefined : now - since
  }

  /** A checkout held its connection `heldMs`. */
  held(heldMs: number): void {
    this.#holdMs =
      this.#holdMs === undefined ? heldMs : this.#holdMs + HOLD_SMOOTHING * (heldMs - this.#holdMs)
  }

  /**
   * The wait a new caller can expect with `ahead` waiters served before it and `connections`
   * turning over: `ahead x recent hold time / connections`. 0 until a hold time is known.
   */
  expectedWaitMs(ahead: number, connections: number): number {
    return this.#holdMs === undefined ? 0 : (ahead * this.#holdMs) / Math.max(1, connections)
  }
}
