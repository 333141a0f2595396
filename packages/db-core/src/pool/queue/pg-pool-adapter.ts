// The one place db-core touches pg-pool's private state: its idle list, its client list, how it
// hands over an idle connection and how it opens a new one. Pinned by test/pg-pool-adapter.test.ts
// against the pg-pool version in the lockfile.
import { performance } from 'node:perf_hooks'
import type pg from 'pg'

/** What pg-pool calls back with: its error, or a connection and that checkout's release. */
export type PgPoolCallback = (
  error: Error | undefined,
  client: pg.PoolClient | undefined,
  release: (error?: boolean | Error) => void,
) => void

/** pg-pool 3's private state and steps this adapter reads and calls. */
interface PgPoolPrivates {
  readonly options: pg.PoolConfig & { max: number }
  readonly _idle: readonly unknown[]
  readonly _clients: readonly unknown[]
  readonly _pendingQueue: { callback: PgPoolCallback; timedOut: boolean }[]
  _pulseQueue(): void
  newClient(pending: { callback: PgPoolCallback; timedOut: boolean }): void
}

/**
 * pg-pool as a store of connections, without its queue: db-core decides who gets a connection and
 * when ({@link CheckoutQueue}); pg-pool keeps the idle list, opens connections (its connect timer
 * bounds each attempt), reaps idle ones, and emits its events. {@link take} hands the caller the
 * idle connection pg-pool would hand its own queue's head, synchronously; {@link dial} opens a new
 * one. Neither ever leaves a request in pg-pool's queue, so pg-pool sets no timer per checkout and
 * its `waitingCount` stays 0.
 *
 * ```ts
 * const store = new PgPoolStore(pool, () => console.log('room to open another'))
 * if (store.idle > 0) store.take((error, client) => client?.release())
 * ```
 */
export class PgPoolStore {
  readonly #pool: PgPoolPrivates
  readonly #failedToOpen: () => void
  #opening = 0
  #lastOpenedAt = Number.NEGATIVE_INFINITY

  /** `failedToOpen`: a connection {@link dial} asked for failed, and its place is free again. */
  constructor(pool: pg.Pool, failedToOpen: () => void) {
    this.#pool = pool as unknown as PgPoolPrivates
    this.#failedToOpen = failedToOpen
  }

  /** Idle connections, ready to hand over now. */
  get idle(): number {
    return this.#pool._idle.length
  }

  /** Connections open or opening. */
  get open(): number {
    return this.#pool._clients.length
  }

  /** Connections {@link dial} asked for that are still opening. */
  get opening(): number {
    return this.#opening
  }

  /** When the last connection {@link dial} asked for opened or failed (`performance.now()`). */
  get lastOpenedAt(): number {
    return this.#lastOpenedAt
  }

  /** The most connections pg-pool was configured to hold (`size + maxOverflow`). */
  get max(): number {
    return this.#pool.options.max
  }

  /**
   * Hands over the most recently idle connection, calling `callback` before returning. Only with
   * {@link idle} above 0: pg-pool would otherwise keep the request in its queue.
   */
  take(callback: PgPoolCallback): void {
    const pool = this.#pool
    pool._pendingQueue.push({ callback, timedOut: false })
    pool._pulseQueue()
  }

  /**
   * Opens a new connection for `callback`, which pg-pool calls once it is open (or failed, or out of
   * its `connectionTimeoutMillis`). Only below {@link max}.
   */
  dial(callback: PgPoolCallback): void {
    this.#opening++
    this.#pool.newClient({
      callback: (error, client, release) => {
        this.#opening--
        this.#lastOpenedAt = performance.now()
        callback(error, client, release)
        if (error) this.#failedToOpen()
      },
      timedOut: false,
    })
  }
}
