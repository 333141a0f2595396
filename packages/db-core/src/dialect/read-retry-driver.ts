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
 * Wraps Kysely's PostgreSQL driver: a read-only statement that fails with a connection-level error
 * (server shutdown 57P01, reset, terminated) runs once more on a verified connection, waiting for a
 * restarting database up to `readRetryWaitMs`. Only when it is the first statement on its checkout:
 * a plain query always is, while inside `db.connection()` or a transaction later statements may
 * depend on session state (`set search_path`, temp tables, a snapshot) that a new connection would
 * silently lack. Writes are never retried: their failure is reported as it happened.
 */
export class ReadRetryDriver implements Driver {
  readonly #inner: Driver
  readonly #pool: InstrumentedPool

  constructor(inner: Driver, pool: InstrumentedPool) {
    this.#inner = inner
    this.#pool = pool
  }

  init(options?: AbortOptions): Promise<void> {
    return this.#inner.init(options)
  }

  async acquireConnection(options?: AbortOptions): Promise<DatabaseConnection> {
    // A new wrapper per checkout: its statement count starts at zero each time.
    return new ReadRetryConnection(await this.#inner.acquireConnection(options), this)
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const wrapped = connection as ReadRetryConnection
    wrapped.inTransaction = true
    await this.#inner.beginTransaction(wrapped.inner, settings)
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const wrapped = connection as ReadRetryConnection
    try {
      await this.#inner.commitTransaction(wrapped.inner)
    } finally {
      wrapped.inTransaction = false
    }
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const wrapped = connection as ReadRetryConnection
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
    await this.#inner.savepoint?.((connection as ReadRetryConnection).inner, name, compile)
  }

  async rollbackToSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    await this.#inner.rollbackToSavepoint?.((connection as ReadRetryConnection).inner, name, compile)
  }

  async releaseSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    await this.#inner.releaseSavepoint?.((connection as ReadRetryConnection).inner, name, compile)
  }

  releaseConnection(connection: DatabaseConnection, options?: AbortOptions): Promise<void> {
    return this.#inner.releaseConnection((connection as ReadRetryConnection).inner, options)
  }

  destroy(options?: AbortOptions): Promise<void> {
    return this.#inner.destroy(options)
  }

  /**
   * Runs a failed read once more on a connection proven alive (other pooled connections may have
   * been dropped by the server too), waiting out a restart through the pool's reconnect loop for at
   * most `readRetryWaitMs`: a database that stays down must still be answered fast.
   */
  async retryRead<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    this.#pool.countReadRetry()
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

class ReadRetryConnection implements DatabaseConnection {
  readonly inner: DatabaseConnection
  readonly #driver: ReadRetryDriver
  inTransaction = false
  /** Statements sent on this checkout so far. */
  #statements = 0

  constructor(inner: DatabaseConnection, driver: ReadRetryDriver) {
    this.inner = inner
    this.#driver = driver
  }

  async executeQuery<R>(query: CompiledQuery, options?: AbortOptions): Promise<QueryResult<R>> {
    const first = this.#statements++ === 0
    try {
      return await this.inner.executeQuery<R>(query, options)
    } catch (error) {
      if (!first || this.inTransaction || !isReadOnlyQuery(query.query) || !isConnectionError(error))
        throw error
      return this.#driver.retryRead<R>(query)
    }
  }

  streamQuery<R>(
    query: CompiledQuery,
    chunkSize: number,
    options?: AbortOptions,
  ): AsyncIterableIterator<QueryResult<R>> {
    this.#statements++
    return this.inner.streamQuery<R>(query, chunkSize, options)
  }

  async cancelQuery(provider: Parameters<NonNullable<DatabaseConnection['cancelQuery']>>[0]): Promise<void> {
    await this.inner.cancelQuery?.(provider)
  }

  async killSession(provider: Parameters<NonNullable<DatabaseConnection['killSession']>>[0]): Promise<void> {
    await this.inner.killSession?.(provider)
  }

  async collectSessionInfo(): Promise<void> {
    await this.inner.collectSessionInfo?.()
  }
}
