// How the pool ends: queued checkouts served first, then every connection closed; bounded on request.
import { setTimeout as sleep } from 'node:timers/promises'
import type pg from 'pg'
import type { DbLogger } from '../logging/db-logger.js'
import type { PoolCounters } from './pool-stats.js'

// How often end() looks whether the queue has drained.
const DRAIN_POLL_MS = 10

// pg-pool's words for end() called on a pool that has ended, kept for code that matches them.
const ENDED_ALREADY = 'Called end on pool more than once'

// The "error" a connection still held when a bounded end() ran out of time is released with.
const HELD_AT_SHUTDOWN = new Error('the connection was still held at shutdown')

const noop = () => undefined

/** What the shutdown needs of the pool, in the order it needs it. */
export interface ShutdownSteps {
  /** Callers waiting in pg-pool's queue now. */
  waiting(): number
  /** end() was called: stop what only matters while checkouts come in (the queue warning). */
  closing(): void
  /** The queue drained: stop waiting for the database (the reconnect loop). */
  drained(): void
  /** pg-pool's own end(): closes every connection once callers have released theirs. */
  close(): Promise<void>
  /** Every connection closed: stop the rest (leak sweep, metrics). */
  closed(): void
  /** Connections callers hold now. */
  readonly checkedOut: ReadonlySet<pg.PoolClient>
  /** What a leak report would say of `client` (how long held, and by whom when known). */
  describe(client: pg.PoolClient): object | undefined
}

/**
 * `end()` that may be called again while the pool is ending (Kysely's `destroy()` and an app may
 * both call it): those calls share the first one's outcome, where pg-pool rejects them. Called once
 * the pool has ended, it is refused as pg-pool refuses it. Checkouts
 * already queued are served before the pool closes (pg-pool 3 would strand them until their
 * timeout); each still leaves the queue by its own deadline. `endWithin()` bounds the wait.
 */
export class PoolShutdown {
  readonly #steps: ShutdownSteps
  readonly #logger: DbLogger
  readonly #counters: PoolCounters
  #ending: Promise<void> | undefined
  #ended = false
  /** endWithin() ran out of time: queued checkouts are no longer waited for. */
  #outOfTime = false

  constructor(steps: ShutdownSteps, logger: DbLogger, counters: PoolCounters) {
    this.#steps = steps
    this.#logger = logger
    this.#counters = counters
  }

  /** end() was called: new checkouts are refused, queued ones still served. */
  get closing(): boolean {
    return this.#ending !== undefined
  }

  end(): Promise<void> {
    if (this.#ended) return Promise.reject(new Error(ENDED_ALREADY))
    this.#ending ??= (async () => {
      const steps = this.#steps
      steps.closing()
      while (steps.waiting() > 0 && !this.#outOfTime) await sleep(DRAIN_POLL_MS)
      steps.drained()
      await steps.close()
      steps.closed()
      this.#ended = true
    })()
    return this.#ending
  }

  /**
   * {@link end}, bounded: connections still checked out after `timeoutMs` are destroyed (their
   * holders' queries fail), each logged with how long it was held and, when leak stacks are on, the
   * code that took it. Resolves whether every connection came back in time.
   */
  async endWithin(timeoutMs: number): Promise<boolean> {
    // Ended already: every connection came back.
    if (this.#ended) return true
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
      for (const client of [...this.#steps.checkedOut]) {
        this.#logger.warn('a connection still held at shutdown was destroyed', {
          timeoutMs,
          ...this.#steps.describe(client),
        })
        this.#counters.connectionsDestroyedAtShutdown++
        client.release(HELD_AT_SHUTDOWN)
        // Its holder releases it too once its statement fails (pg-pool's query() does): a second
        // release would throw from inside pg's callback, an uncaught exception.
        client.release = noop
      }
    } while (!(await Promise.race([ended.then(() => true), sleep(DRAIN_POLL_MS, false)])))
    return false
  }
}
