// One Kysely checkout with replicas: bound to a target by its first statement, not at checkout.
import {
  type AbortableOperationOptions,
  CompiledQuery,
  type DatabaseConnection,
  type OperationNode,
  type QueryResult,
  type SelectQueryNode,
} from 'kysely'
import { isConnectionError } from '../connection-errors.js'
import { isReadOnlyQuery } from '../dialect/instrumented-connection.js'
import { StatementCancellation } from '../dialect/statement-cancellation.js'
import { redactSecrets } from '../logging/redact.js'
import { lsnOf } from './read-position.js'
import type { ReadRouting } from './read-routing.js'
import type { Replica, RoutingTarget } from './replica.js'
import { type RoutingContext, routingContext } from './routing-scope.js'

type AcquireOptions = AbortableOperationOptions | undefined

// A promoted standby answers null: never taken for caught up (its poll leaves it out soon).
const REPLAY_POSITION = CompiledQuery.raw('select pg_last_wal_replay_lsn()::text as lsn')

/**
 * Whether a statement may run on a standby: a read ({@link isReadOnlyQuery}) that takes no row
 * locks (`for update`, `for share`, ...: a standby refuses them, and they mean to write next).
 */
export function isReplicaRead(node: OperationNode): boolean {
  if (!isReadOnlyQuery(node)) return false
  const modifiers = (node as SelectQueryNode).endModifiers ?? []
  return !modifiers.some((m) => m.rawModifier !== undefined || m.modifier?.startsWith('For'))
}

/** What a routing connection needs of its driver. */
export interface RoutingConnectionDriver {
  readonly primary: RoutingTarget
  readonly routing: ReadRouting
  /** Whether a read that lost its connection runs again (the primary pool's `readRetry`). */
  readonly readRetry: boolean
  /** A write committed on `connection` (the primary's) in `context`: its scope's position advances. */
  recordWrite(connection: DatabaseConnection, context: RoutingContext | undefined): Promise<void>
}

/**
 * A Kysely checkout over the primary and its replicas. Kysely checks a connection out before it
 * knows what will run on it, so this one takes a pooled connection only at its first statement: a
 * Kysely read ({@link isReplicaRead}) outside a transaction and outside `onPrimary` goes to the
 * replica routing picks; anything else binds it to the primary, and so does every statement after
 * the first (a single query has one; more means `db.connection()`, whose session
 * state must stay on one server). `beginTransaction` binds it to the primary.
 *
 * `db.connection()` cannot be told from a single query at checkout in general; Kysely 0.29 hands
 * its checkout `{ signal }` even without a signal, where a query without one passes its caller's
 * options (none): such a checkout never goes to a replica. With a signal the two look the same,
 * and the first statement of `db.connection()`, when a read, may run on a replica; its second
 * statement, and every session statement (raw SQL, `set`, temporary tables: never reads), run on
 * the primary.
 */
export class RoutingConnection implements DatabaseConnection {
  readonly #driver: RoutingConnectionDriver
  readonly #acquire: AcquireOptions
  /** `db.connection()`'s checkout, as far as it can be told: never a replica. */
  readonly #session: boolean
  #statements = 0
  #inTransaction = false
  #target: RoutingTarget | undefined
  #connection: DatabaseConnection | undefined

  constructor(driver: RoutingConnectionDriver, acquire: AcquireOptions) {
    this.#driver = driver
    this.#acquire = acquire
    this.#session = acquire !== undefined && 'signal' in acquire && acquire.signal === undefined
  }

  async executeQuery<R>(query: CompiledQuery, options?: AbortableOperationOptions): Promise<QueryResult<R>> {
    const context = routingContext()
    if (this.#readsFromReplica(query)) return this.#read<R>(query, options, context)
    const connection = await this.onPrimary()
    const result = await connection.executeQuery<R>(query, options)
    // Outside a transaction a statement commits as it returns (raw SQL may be anything: counted);
    // only a scope wants its position, so a statement outside one costs no walk of its query.
    if (context?.consistency && !this.#inTransaction && !isReadOnlyQuery(query.query)) {
      await this.#driver.recordWrite(connection, context)
    }
    return result
  }

  async *streamQuery<R>(
    query: CompiledQuery,
    chunkSize: number,
    options?: AbortableOperationOptions,
  ): AsyncIterableIterator<QueryResult<R>> {
    const connection = this.#readsFromReplica(query)
      ? await this.#readConnection(routingContext())
      : await this.onPrimary()
    // A stream is never run again: one that loses its connection ends with StreamInterruptedError.
    yield* connection.streamQuery<R>(query, chunkSize, options)
  }

  cancelQuery(): Promise<void> {
    return (
      (this.#connection as { cancelQuery?(): Promise<void> } | undefined)?.cancelQuery?.() ??
      Promise.resolve()
    )
  }

  killSession(): Promise<void> {
    return (
      (this.#connection as { killSession?(): Promise<void> } | undefined)?.killSession?.() ??
      Promise.resolve()
    )
  }

  /** Kysely begins a transaction: from here the checkout is the primary's. */
  async beginTransaction(): Promise<DatabaseConnection> {
    this.#statements++
    const connection = await this.onPrimary()
    this.#inTransaction = true
    return connection
  }

  /** The transaction ended (committed or rolled back). */
  transactionEnded(): void {
    this.#inTransaction = false
  }

  /** This checkout's connection on the primary, taken now if it has none (one on a replica goes back). */
  async onPrimary(): Promise<DatabaseConnection> {
    return this.#bind(this.#driver.primary)
  }

  /** Gives the pooled connection back, if one was taken. */
  async release(): Promise<void> {
    const target = this.#target
    const connection = this.#connection
    this.#target = undefined
    this.#connection = undefined
    if (target && connection) await target.driver.releaseConnection(connection)
  }

  #readsFromReplica(query: CompiledQuery): boolean {
    return this.#statements++ === 0 && !this.#session && isReplicaRead(query.query)
  }

  /**
   * A read on the target routing picks. One that loses its replica's connection (with the read
   * retry on) leaves that replica out and runs again on the next choice; on the primary, the
   * primary's own read retry applies.
   */
  async #read<R>(
    query: CompiledQuery,
    options: AbortableOperationOptions | undefined,
    context: RoutingContext | undefined,
  ): Promise<QueryResult<R>> {
    for (;;) {
      const connection = await this.#readConnection(context)
      const replica = this.#target === this.#driver.primary ? undefined : (this.#target as Replica)
      if (!replica) return connection.executeQuery<R>(query, options)
      try {
        return await connection.executeQuery<R>(query, options)
      } catch (error) {
        if (!this.#driver.readRetry || !isConnectionError(error) || this.#cancelled(options)) throw error
        replica.leave(`a read lost its connection: ${describe(error)}`)
        await this.release()
      }
    }
  }

  /**
   * A connection for a read: a replica whose checkout fails is left out, and the next choice taken;
   * one whose last poll is behind the read's position is asked first, on the connection the read
   * then runs on (a round trip on the standby instead of a read on the primary).
   */
  async #readConnection(context: RoutingContext | undefined): Promise<DatabaseConnection> {
    const routing = this.#driver.routing
    for (;;) {
      const choice = routing.choose(context)
      if (!choice) return this.onPrimary()
      const { replica, confirm } = choice
      let connection: DatabaseConnection
      let caughtUp: boolean
      try {
        connection = await this.#bind(replica)
        caughtUp = confirm === undefined || (await replayedTo(connection, replica, confirm))
      } catch (error) {
        if (this.#cancelled(this.#acquire)) throw error
        replica.leave(`a checkout failed: ${describe(error)}`)
        continue
      }
      if (confirm === undefined) return connection
      if (caughtUp) {
        routing.served(replica)
        return connection
      }
      routing.behind()
      return this.onPrimary()
    }
  }

  async #bind(target: RoutingTarget): Promise<DatabaseConnection> {
    if (this.#target === target) return this.#connection!
    await this.release()
    const connection = await target.driver.acquireConnection(this.#acquire)
    this.#target = target
    this.#connection = connection
    return connection
  }

  /** The caller gave up: its failure is its own, never a reason to try elsewhere. */
  #cancelled(options: AbortableOperationOptions | undefined): boolean {
    return (
      options?.signal?.aborted === true ||
      this.#acquire?.signal?.aborted === true ||
      StatementCancellation.of(this.#acquire)?.cancelled === true
    )
  }
}

/** Whether `replica`, asked on `connection`, has replayed `position` (what it says is kept as its own). */
async function replayedTo(
  connection: DatabaseConnection,
  replica: Replica,
  position: bigint,
): Promise<boolean> {
  const { rows } = await connection.executeQuery<{ lsn: string | null }>(REPLAY_POSITION)
  const replay = rows[0]?.lsn ? lsnOf(rows[0].lsn) : undefined
  if (replay === undefined) return false
  replica.replayedTo(replay)
  return replay >= position
}

function describe(error: unknown): string {
  return redactSecrets(error instanceof Error ? error.message : String(error))
}
