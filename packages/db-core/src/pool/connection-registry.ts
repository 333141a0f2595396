// What the pool knows of each of its connections, kept current from pg-pool's own events.
import { performance } from 'node:perf_hooks'
import type pg from 'pg'
import type { PoolSettings } from '../config/settings.js'
import type { DbLogger } from '../logging/db-logger.js'
import { redactSecrets } from '../logging/redact.js'
import { type ConnectionState, newConnectionState } from './connection-state.js'
import type { PoolCounters } from './pool-stats.js'

/** Who hears of connections opening, dying and coming back: availability, telemetry, leak detection, the queue watch. */
export interface RegistryListeners {
  opened(): void
  lost(error: Error): void
  released(client: pg.PoolClient, heldMs: number | undefined): void
}

/**
 * Each connection's {@link ConnectionState}, the set callers hold now, and when a connection was
 * last lost (every older one is then suspect until pinged). Fed by pg-pool's `connect`, `acquire`,
 * `release`, `remove` and `error` events, and by the checkout when it finds a connection dead.
 */
export class ConnectionRegistry {
  readonly #settings: PoolSettings
  readonly #counters: PoolCounters
  readonly #logger: DbLogger
  readonly #listeners: RegistryListeners
  readonly #states = new WeakMap<pg.ClientBase, ConnectionState>()
  /** Connections callers hold now. */
  readonly checkedOut = new Set<pg.PoolClient>()
  /** When a connection of this pool was last lost: every one older is validated at its next checkout. */
  suspectBefore = Number.NEGATIVE_INFINITY

  constructor(options: {
    settings: PoolSettings
    counters: PoolCounters
    logger: DbLogger
    listeners: RegistryListeners
  }) {
    this.#settings = options.settings
    this.#counters = options.counters
    this.#logger = options.logger
    this.#listeners = options.listeners
  }

  /** Subscribes to `pool`'s events: every connection it opens, lends, takes back and closes. */
  watch(pool: pg.Pool): void {
    pool.on('connect', (client) => this.#opened(client))
    pool.on('acquire', (client) => this.#checkedOut(client))
    pool.on('release', (_err, client) => this.#released(client))
    pool.on('remove', (client) => this.#removed(client))
    // pg-pool re-emits errors of idle connections here; without a listener they would crash the process.
    pool.on('error', (error, client) => this.lost(client, error))
  }

  stateOf(client: pg.ClientBase): ConnectionState {
    let state = this.#states.get(client)
    if (!state) {
      // Events for a client that never reached 'connect' (a failed connection attempt).
      state = newConnectionState(performance.now(), this.#settings)
      this.#states.set(client, state)
    }
    return state
  }

  /** A connection died (its socket, the server, or found closed at checkout): counted and logged once. */
  lost(client: pg.ClientBase, error: Error): void {
    const state = this.stateOf(client)
    // pg can report one loss several times (socket error, then end); count and log it once.
    if (state.removal === 'error') return
    state.removal = 'error'
    this.suspectBefore = performance.now()
    this.#listeners.lost(error)
    this.#counters.connectionErrors++
    this.#logger.warn('database connection lost', {
      checkedOut: this.checkedOut.has(client as pg.PoolClient),
      error: redactSecrets(error.message),
      code: (error as { code?: unknown }).code,
    })
  }

  #opened(client: pg.PoolClient): void {
    this.#states.set(client, newConnectionState(performance.now(), this.#settings))
    this.#counters.connectionsCreated++
    this.#listeners.opened()
    // Kysely attaches no listener to a checked-out client (node-postgres #2635, #3083): this one
    // stays for the connection's whole life so a death mid-checkout is counted and logged.
    client.on('error', (error) => {
      if (this.checkedOut.has(client)) this.lost(client, error)
    })
  }

  #checkedOut(client: pg.PoolClient): void {
    this.stateOf(client).checkouts++
    this.checkedOut.add(client)
  }

  #released(client: pg.PoolClient): void {
    const state = this.stateOf(client)
    const now = performance.now()
    // Checkouts the pool itself made (recycling, discarding) were never handed out: no use to time.
    const handedOut = this.checkedOut.delete(client) && state.checkedOutAt !== undefined
    const heldMs = handedOut ? now - (state.checkedOutAt as number) : undefined
    state.checkedOutAt = undefined
    state.lastReleasedAt = now
    this.#listeners.released(client, heldMs)
  }

  #removed(client: pg.PoolClient): void {
    const state = this.stateOf(client)
    this.#counters.connectionsRemoved++
    const recycleMs = this.#settings.recycleMs
    if (state.removal === undefined && recycleMs > 0 && performance.now() - state.createdAt >= recycleMs) {
      this.#counters.connectionsRecycled++
    }
  }
}
