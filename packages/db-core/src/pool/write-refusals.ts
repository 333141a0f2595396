// Failover seen from the pool: a server that refuses a write as read-only, and what the pool then
// re-checks before trusting its older connections with writes again.
import { performance } from 'node:perf_hooks'
import type pg from 'pg'
import type { ConnectionUrl } from '../config/connection-url.js'
import { READ_ONLY_SQL_TRANSACTION } from '../connection-errors.js'
import type { DbLogger } from '../logging/db-logger.js'
import type { ConnectionRegistry } from './connection-registry.js'
import type { ConnectionState } from './connection-state.js'
import type { HostSelection } from './host-selection.js'
import type { MonitoredClient } from './monitored-client.js'
import type { PoolCounters } from './pool-stats.js'
import type { RoleRequirement } from './server-role.js'

/**
 * A server refused a write as read-only (25006): after a failover, or a proxy, VIP or DNS name now
 * pointing at a standby. Unless the pool asked for read-only servers, or this one reports that it
 * accepts writes (the refusal then came from a read-only transaction), the connection is discarded
 * at its next checkout, older ones are re-checked, and new ones go through host selection again.
 */
export class WriteRefusals {
  readonly #url: ConnectionUrl
  readonly #hosts: HostSelection
  readonly #registry: ConnectionRegistry
  readonly #counters: PoolCounters
  readonly #logger: DbLogger
  /** When a server last refused a write as read-only: every older connection is asked whether it still accepts writes. */
  #refusedAt = Number.NEGATIVE_INFINITY

  constructor(options: {
    url: ConnectionUrl
    hosts: HostSelection
    registry: ConnectionRegistry
    counters: PoolCounters
    logger: DbLogger
  }) {
    this.#url = options.url
    this.#hosts = options.hosts
    this.#registry = options.registry
    this.#counters = options.counters
    this.#logger = options.logger
  }

  /** `client`'s server refused a write (told by the client as soon as the server's answer is whole). */
  refused(client: MonitoredClient): void {
    const attrs = this.#url.targetSessionAttrs
    if (attrs === 'read-only' || attrs === 'standby' || attrs === 'prefer-standby') return
    if (client.knownWritable) return
    const state = this.#registry.stateOf(client)
    if (state.removal !== undefined) return
    state.removal = 'read-only'
    this.#counters.readOnlyDiscards++
    this.#registry.suspectBefore = this.#refusedAt = performance.now()
    this.#logger.warn(
      'the server refused a write as read-only: discarding the connection, re-checking older ones',
      {
        checkedOut: this.#registry.checkedOut.has(client as unknown as pg.PoolClient),
        code: READ_ONLY_SQL_TRANSACTION,
      },
    )
  }

  /**
   * What a pre-ping checks of a connection's server: what `target_session_attrs` asks of every
   * connection, and, after a server refused a write as read-only, that older ones still accept writes.
   */
  pingRequirement(state: ConnectionState): RoleRequirement {
    const requirement = this.#hosts.requirement
    if (requirement !== 'any' || state.validatedAt >= this.#refusedAt) return requirement
    return 'read-write'
  }
}
