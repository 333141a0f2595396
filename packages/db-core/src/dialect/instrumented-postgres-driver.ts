// db-core's Kysely driver: checkouts, transactions and the read retry over one InstrumentedPool.
import {
  type AbortableOperationOptions,
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  type QueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from 'kysely'
import type pg from 'pg'
import { isConnectionError } from '../connection-errors.js'
import type { InstrumentedPool } from '../pool/instrumented-pool.js'
import { POOL_INTERNALS, type PoolInternals } from '../pool/internal.js'
import { type ConnectionDriver, InstrumentedConnection } from './instrumented-connection.js'
import { StatementCancellation } from './statement-cancellation.js'

type AbortOptions = Parameters<Driver['acquireConnection']>[0]

/** A promise that never settles: one each, so that what waits on it is collected with it. */
const unanswered = () => new Promise<never>(() => undefined)

// Kysely awaits a release; there is nothing to wait for.
const RELEASED = Promise.resolve()

/**
 * db-core's Kysely driver for PostgreSQL: Kysely's statements run straight on the pool's clients
 * ({@link InstrumentedConnection}), and Kysely's PostgreSQL driver is asked only for the statements
 * that begin and commit transactions and handle savepoints. Per connection it adds:
 *
 * - a transaction's BEGIN, as Kysely's driver writes it, kept and sent in the same write as the
 *   transaction's first statement (see `InstrumentedConnection.beginning`): one round trip fewer. A
 *   transaction that ran no statement commits or rolls back with nothing sent;
 * - leak attribution: its checkouts release themselves (no leak stack is taken for them, a capture
 *   costs about 3 µs), and a transaction begun on one is named by the stack of the code that began it;
 * - with `readRetry`, the read retry: a read-only statement that fails with a connection-level
 *   error (server shutdown 57P01, reset, terminated) runs once more on a verified connection, waiting
 *   for a restarting database up to `readRetryWaitMs`. Only when it is the first statement on its
 *   checkout: a plain query always is, while inside `db.connection()` or a transaction later
 *   statements may depend on session state (`set search_path`, temp tables, a snapshot) that a new
 *   connection would silently lack. Writes are never retried: their failure is reported as it happened.
 */
export class InstrumentedPostgresDriver implements Driver, ConnectionDriver {
  readonly #source: (options?: AbortableOperationOptions) => Promise<InstrumentedPool>
  /** Set by {@link init}: Kysely calls nothing else before it. */
  #pool!: InstrumentedPool
  /** The pool's checkout, leak attribution and retry accounting, reached through its internal entry. */
  #internals!: PoolInternals
  /** Kysely's own PostgreSQL driver: its transaction and savepoint statements, run on our connections. */
  readonly #statements: Driver
  #readRetry = false
  readonly #connections = new WeakMap<pg.PoolClient, InstrumentedConnection>()

  constructor(
    source: (options?: AbortableOperationOptions) => Promise<InstrumentedPool>,
    statements: Driver,
  ) {
    this.#source = source
    this.#statements = statements
  }

  /** Whether failed reads run again (`readRetry`). */
  get readRetry(): boolean {
    return this.#readRetry
  }

  /**
   * Takes the pool when Kysely first connects, as its PostgreSQL driver does: Kysely destroys only a
   * driver it initialised, so a pool made any earlier could outlive `db.destroy()`.
   */
  async init(options?: AbortableOperationOptions): Promise<void> {
    this.#pool = await this.#source(options)
    this.#internals = this.#pool[POOL_INTERNALS]
    this.#readRetry = this.#pool.settings.readRetry
  }

  acquireConnection(options?: AbortOptions): Promise<DatabaseConnection> {
    const cancellation = StatementCancellation.of(options)
    // Kysely releases every connection it acquires (in a finally): no leak stack at checkout.
    const request = { selfReleasing: true, ...(options?.signal && { signal: options.signal }) }
    const checkout = this.#internals.checkout(request).then((client) => {
      let connection = this.#connections.get(client)
      if (!connection) {
        connection = new InstrumentedConnection(client, this)
        this.#connections.set(client, connection)
      }
      return connection.checkedOut(cancellation)
    })
    if (cancellation) return cancellation.checkout(checkout)
    const signal = options?.signal
    // After an abort Kysely has thrown its reason to the caller and only waits to release what the
    // checkout brings: a failure then (the pool's own, for the abort) it prints with console.error.
    // The caller is gone and the pool gave its place in the queue up: nothing is left to say.
    return signal
      ? checkout.catch((error: unknown) => (signal.aborted ? unanswered() : Promise.reject(error)))
      : checkout
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const wrapped = connection as InstrumentedConnection
    // A transaction can be held open (a hung callback, a controlled transaction never ended): name
    // the code that began it.
    this.attributeToCaller(wrapped.client, this.beginTransaction)
    wrapped.inTransaction = true
    // Kept, not run: it goes out in the same write as the transaction's first statement.
    await this.#statements.beginTransaction(wrapped.beginning, settings)
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const wrapped = connection as InstrumentedConnection
    try {
      if (!wrapped.endUnsent(true)) await this.#statements.commitTransaction(wrapped)
    } finally {
      wrapped.inTransaction = false
    }
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const wrapped = connection as InstrumentedConnection
    try {
      if (!wrapped.endUnsent(false)) await wrapped.executeQuery(CompiledQuery.raw('rollback'))
    } catch (error) {
      // As Kysely's own driver: a connection that could not roll back is not used again.
      wrapped.discarded = true
      throw error
    } finally {
      wrapped.inTransaction = false
    }
  }

  async savepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    await this.#statements.savepoint?.(connection, name, compile)
  }

  async rollbackToSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    await this.#statements.rollbackToSavepoint?.(connection, name, compile)
  }

  async releaseSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    await this.#statements.releaseSavepoint?.(connection, name, compile)
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    const wrapped = connection as InstrumentedConnection
    wrapped.cancellation?.released()
    wrapped.cancellation = undefined
    wrapped.client.release(wrapped.discarded)
    return RELEASED
  }

  /** Ends the pool, unless the app already ended it (pg-pool refuses a second `end()` after the first). */
  destroy(): Promise<void> {
    return this.#pool.ended ? RELEASED : this.#pool.end()
  }

  /** Taken synchronously, so the caller's async frames are in the stack. */
  attributeToCaller(client: pg.PoolClient, entry: (...args: never[]) => unknown): void {
    const calledAt = this.#internals.captureCaller(entry)
    if (calledAt) this.#internals.attribute(client, calledAt)
  }

  connectDetached(): Promise<pg.Client> {
    return this.#pool.connectDetached(this.#pool.settings.acquireTimeoutMs)
  }

  /**
   * Runs a failed read once more on a connection proven alive (other pooled connections may have
   * been dropped by the server too), waiting out a restart through the pool's reconnect loop for at
   * most `readRetryWaitMs`: a database that stays down must still be answered fast.
   */
  retryRead<R>(query: CompiledQuery, cause: unknown): Promise<QueryResult<R>> {
    return this.#internals.readRetry(cause, () => this.#runAgain<R>(query))
  }

  async #runAgain<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    // Released below, whatever happens: no leak stack.
    const client = await this.#internals.checkout({
      selfReleasing: true,
      verifiedWithinMs: this.#pool.settings.readRetryWaitMs,
    })
    let lost: Error | undefined
    try {
      // A SELECT's result is its rows (Kysely's PostgreSQL driver reports no affected rows for it).
      const { rows } = await client.query<R & pg.QueryResultRow>(query.sql, [...query.parameters])
      return { rows }
    } catch (error) {
      // A statement error leaves a healthy connection: only a lost one is closed.
      if (isConnectionError(error)) lost = error as Error
      throw error
    } finally {
      client.release(lost)
    }
  }
}
