import type {
  CompiledQuery,
  DatabaseConnection,
  Driver,
  OperationNode,
  QueryCompiler,
  QueryResult,
  TransactionSettings,
} from 'kysely'
import type pg from 'pg'
import { isConnectionError } from '../connection-errors.js'
import { type CancelTarget, sendCancelRequest } from '../pool/cancel-request.js'
import type { InstrumentedPool } from '../pool/instrumented-pool.js'

type AbortOptions = Parameters<Driver['acquireConnection']>[0]

/**
 * Whether a statement only reads: a SELECT whose CTEs are all SELECTs too (a `with x as (insert ...)`
 * writes). Functions with side effects inside a SELECT cannot be seen here; do not call them in
 * queries that may be retried.
 */
export function isReadOnlyQuery(node: OperationNode): boolean {
  if (node.kind !== 'SelectQueryNode') return false
  const ctes =
    (node as { with?: { expressions: readonly { expression: OperationNode }[] } }).with?.expressions ?? []
  return ctes.every((cte) => isReadOnlyQuery(cte.expression))
}

/**
 * Wraps Kysely's PostgreSQL driver with what db-core adds per connection:
 *
 * - leak attribution: its checkouts release themselves (no leak stack is taken for them, a capture
 *   costs about 3 µs), and a transaction begun on one is named by the stack of the code that began it;
 * - with `readRetry`, the read retry: a read-only statement that fails with a connection-level
 *   error (server shutdown 57P01, reset, terminated) runs once more on a verified connection, waiting
 *   for a restarting database up to `readRetryWaitMs`. Only when it is the first statement on its
 *   checkout: a plain query always is, while inside `db.connection()` or a transaction later
 *   statements may depend on session state (`set search_path`, temp tables, a snapshot) that a new
 *   connection would silently lack. Writes are never retried: their failure is reported as it happened.
 */
export class InstrumentedPostgresDriver implements Driver {
  readonly #inner: Driver
  readonly #pool: InstrumentedPool
  readonly #readRetry: boolean

  constructor(inner: Driver, pool: InstrumentedPool) {
    this.#inner = inner
    this.#pool = pool
    this.#readRetry = pool.settings.readRetry
  }

  /** Whether failed reads run again (`readRetry`). */
  get readRetry(): boolean {
    return this.#readRetry
  }

  init(options?: AbortOptions): Promise<void> {
    return this.#inner.init(options)
  }

  async acquireConnection(options?: AbortOptions): Promise<DatabaseConnection> {
    const token = {}
    // Kysely releases every connection it acquires (in a finally): no leak stack at checkout.
    this.#pool.checkoutReleasesItself(token, options?.signal)
    const inner = await this.#inner.acquireConnection(options)
    // A new wrapper per checkout: its statement count starts at zero each time.
    return new InstrumentedConnection(inner, this, this.#pool.clientOf(token))
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const wrapped = connection as InstrumentedConnection
    // A transaction can be held open (a hung callback, a controlled transaction never ended): name
    // the code that began it. Taken synchronously, so the caller's async frames are in it.
    const begunAt = this.#pool.captureCaller(this.beginTransaction)
    if (begunAt && wrapped.client) this.#pool.attributeCheckout(wrapped.client, begunAt)
    wrapped.inTransaction = true
    await this.#inner.beginTransaction(wrapped.inner, settings)
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const wrapped = connection as InstrumentedConnection
    try {
      await this.#inner.commitTransaction(wrapped.inner)
    } finally {
      wrapped.inTransaction = false
    }
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const wrapped = connection as InstrumentedConnection
    try {
      await this.#inner.rollbackTransaction(wrapped.inner)
    } finally {
      wrapped.inTransaction = false
    }
  }

  async savepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    await this.#inner.savepoint?.((connection as InstrumentedConnection).inner, name, compile)
  }

  async rollbackToSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    await this.#inner.rollbackToSavepoint?.((connection as InstrumentedConnection).inner, name, compile)
  }

  async releaseSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    await this.#inner.releaseSavepoint?.((connection as InstrumentedConnection).inner, name, compile)
  }

  releaseConnection(connection: DatabaseConnection, options?: AbortOptions): Promise<void> {
    return this.#inner.releaseConnection((connection as InstrumentedConnection).inner, options)
  }

  destroy(options?: AbortOptions): Promise<void> {
    return this.#inner.destroy(options)
  }

  /**
   * Runs a failed read once more on a connection proven alive (other pooled connections may have
   * been dropped by the server too), waiting out a restart through the pool's reconnect loop for at
   * most `readRetryWaitMs`: a database that stays down must still be answered fast.
   */
  retryRead<R>(query: CompiledQuery, cause: unknown): Promise<QueryResult<R>> {
    return this.#pool.readRetry(cause, () => this.#runAgain<R>(query))
  }

  async #runAgain<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const client = await this.#pool.connectVerified(this.#pool.settings.readRetryWaitMs)
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

class InstrumentedConnection implements DatabaseConnection {
  readonly inner: DatabaseConnection
  /** The pool's client under `inner`, for leak attribution. */
  readonly client: pg.PoolClient | undefined
  readonly #driver: InstrumentedPostgresDriver
  inTransaction = false
  /** Statements sent on this checkout so far. */
  #statements = 0

  constructor(
    inner: DatabaseConnection,
    driver: InstrumentedPostgresDriver,
    client: pg.PoolClient | undefined,
  ) {
    this.inner = inner
    this.#driver = driver
    this.client = client
  }

  executeQuery<R>(query: CompiledQuery, options?: AbortOptions): Promise<QueryResult<R>> {
    const first = this.#statements++ === 0
    const result = this.inner.executeQuery<R>(query, options)
    // Only a read, first on its checkout and outside a transaction, may run again: nothing to wrap otherwise.
    if (!this.#driver.readRetry || !first || this.inTransaction || !isReadOnlyQuery(query.query))
      return result
    return result.catch((error: unknown) => {
      if (!isConnectionError(error)) throw error
      return this.#driver.retryRead<R>(query, error)
    })
  }

  streamQuery<R>(
    query: CompiledQuery,
    chunkSize: number,
    options?: AbortOptions,
  ): AsyncIterableIterator<QueryResult<R>> {
    this.#statements++
    return this.inner.streamQuery<R>(query, chunkSize, options)
  }

  /**
   * Kysely's `'cancel query'`: a protocol-level CancelRequest with the session's backend key (no
   * pooled connection needed, and right through PgBouncer), where Kysely's own driver would run
   * `pg_cancel_backend(pid)` on another pooled connection.
   */
  async cancelQuery(provider: Parameters<NonNullable<DatabaseConnection['cancelQuery']>>[0]): Promise<void> {
    const session = this.client as (pg.PoolClient & Partial<CancelTarget>) | undefined
    if (session?.processID && session.secretKey !== undefined && session.host && session.port) {
      await sendCancelRequest(session as CancelTarget)
      return
    }
    await this.inner.cancelQuery?.(provider)
  }

  async killSession(provider: Parameters<NonNullable<DatabaseConnection['killSession']>>[0]): Promise<void> {
    await this.inner.killSession?.(provider)
  }

  async collectSessionInfo(): Promise<void> {
    await this.inner.collectSessionInfo?.()
  }
}
