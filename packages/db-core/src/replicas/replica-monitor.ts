// One poll per replica per interval: replay position, recovery state, lag behind the primary.
import { performance } from 'node:perf_hooks'
import type pg from 'pg'
import type { ReplicaSettings } from '../config/settings.js'
import { redactSecrets } from '../logging/redact.js'
import type { InstrumentedPool } from '../pool/instrumented-pool.js'
import { lsnOf } from './read-position.js'
import type { Replica } from './replica.js'
import { WalHistory } from './wal-history.js'

// A poll slower than this (or than the interval, when longer) counts as a failure.
const MIN_POLL_TIMEOUT_MS = 1000

const REPLICA_POLL =
  'select pg_is_in_recovery() as recovery, coalesce(pg_last_wal_replay_lsn(), pg_current_wal_lsn())::text as replay'
// On a standby pg_current_wal_lsn() fails: the coalesce above is reached only on a promoted one.
const PRIMARY_POLL = 'select pg_current_wal_lsn()::text as lsn'

/** A connection of the poll's own, outside the pool: a busy pool must not delay or starve it. */
class PollConnection {
  readonly #pool: InstrumentedPool
  readonly #timeoutMs: number
  #client: pg.Client | undefined

  constructor(pool: InstrumentedPool, timeoutMs: number) {
    this.#pool = pool
    this.#timeoutMs = timeoutMs
  }

  async row<R>(sql: string): Promise<R> {
    try {
      // Made with the pool's options and query_timeout = the poll's timeout.
      this.#client ??= await this.#pool.connectDetached(this.#timeoutMs)
      const { rows } = await this.#client.query(sql)
      return rows[0] as R
    } catch (error) {
      // Timed out or lost: a new connection next time, never one with a query still pending.
      this.close()
      throw error
    }
  }

  close(): void {
    const client = this.#client
    this.#client = undefined
    client?.end().catch(() => undefined)
  }
}

/**
 * Polls every replica, and the primary's WAL position for their lag, every `pollMs` (the next
 * round starts `pollMs` after the last ended, so rounds never overlap), and tells each
 * {@link Replica} what it found. Its timer is unref'd: it never holds the process open.
 */
export class ReplicaMonitor {
  readonly #replicas: readonly Replica[]
  readonly #settings: ReplicaSettings
  readonly #primary: PollConnection
  readonly #polls: readonly PollConnection[]
  readonly #history: WalHistory
  #timer: NodeJS.Timeout | undefined
  #round: Promise<void> | undefined
  #stopped = false

  constructor(primary: InstrumentedPool, replicas: readonly Replica[], settings: ReplicaSettings) {
    const timeoutMs = Math.max(MIN_POLL_TIMEOUT_MS, settings.pollMs)
    this.#replicas = replicas
    this.#settings = settings
    this.#primary = new PollConnection(primary, timeoutMs)
    this.#polls = replicas.map((replica) => new PollConnection(replica.pool, timeoutMs))
    // Lags up to twice the limit are told apart; beyond, a replica is far out either way.
    this.#history = new WalHistory(2 * settings.maxLagMs + settings.pollMs)
  }

  /** Polls now, then every `pollMs`. */
  start(): void {
    this.#schedule(0)
  }

  /** No poll after this one; the poll's connections are closed. */
  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    await this.#round
    this.#primary.close()
    for (const poll of this.#polls) poll.close()
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return
    this.#timer = setTimeout(() => {
      this.#round = this.#poll().finally(() => this.#schedule(this.#settings.pollMs))
    }, delayMs)
    this.#timer.unref()
  }

  async #poll(): Promise<void> {
    const [primary, ...replicas] = await Promise.allSettled([
      this.#primary.row<{ lsn: string }>(PRIMARY_POLL),
      ...this.#polls.map((poll) => poll.row<{ recovery: boolean; replay: string }>(REPLICA_POLL)),
    ])
    const now = performance.now()
    // A primary that does not answer leaves the lags as they were last known.
    if (primary!.status === 'fulfilled') this.#history.record(now, lsnOf(primary.value.lsn)!)
    replicas.forEach((outcome, i) => {
      const replica = this.#replicas[i]!
      if (outcome.status === 'rejected') {
        replica.leave(`its poll failed: ${redactSecrets(String((outcome.reason as Error)?.message))}`)
        return
      }
      if (replica.pool.stats().databaseDown) {
        // Reached by the poll, not yet by its pool, whose reconnect loop pauses when no read asks
        // for a connection (none does while it is left out): a checkout wakes it.
        replica.pool.connect().then(
          (client) => client.release(),
          () => undefined,
        )
        replica.leave('its pool has not reconnected yet')
        return
      }
      const replay = lsnOf(outcome.value.replay)!
      replica.observe(
        outcome.value.recovery,
        replay,
        this.#history.lagMs(replay, now),
        this.#settings.maxLagMs,
      )
    })
  }
}
