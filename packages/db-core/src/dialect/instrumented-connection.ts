// One pooled client as Kysely sees it: its statements, streams and cancellation.
import type {
  AbortableOperationOptions,
  CompiledQuery,
  DatabaseConnection,
  OperationNode,
  QueryId,
  QueryResult,
} from 'kysely'
import type pg from 'pg'
import Cursor from 'pg-cursor'
import { isConnectionError } from '../connection-errors.js'
import type { MonitoredClient } from '../pool/monitored-client.js'
import { failedLeadingStatement } from '../pool/prepared-query.js'
import { type CancelTarget, sendCancelRequest } from './cancel-request.js'
import type { CancellableConnection, StatementCancellation } from './statement-cancellation.js'
import { StreamInterruptedError } from './stream-interrupted-error.js'

/** What a connection needs of db-core's Kysely driver. */
export interface ConnectionDriver {
  readonly readRetry: boolean
  retryRead<R>(query: CompiledQuery, cause: unknown): Promise<QueryResult<R>>
  /** A connection outside the pool, for statements about this one's session. */
  connectDetached(): Promise<pg.Client>
  /** Names the code that called `entry` as the holder of `client`, for leak reports. */
  attributeToCaller(client: pg.PoolClient, entry: (...args: never[]) => unknown): void
}

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
 * A pooled pg client as Kysely sees it, run straight on the client (Kysely's own PostgreSQL
 * connection adds an async layer per statement and per checkout): results shaped as Kysely's
 * PostgreSQL driver shapes them, a read retried once when it is the first statement of its checkout
 * (see `InstrumentedPostgresDriver`), `'cancel query'` as a protocol-level CancelRequest and
 * `'kill session'` through a detached connection, each only while one of its statements runs.
 * One per pooled client, kept across its checkouts.
 */
export class InstrumentedConnection implements DatabaseConnection, CancellableConnection {
  readonly client: pg.PoolClient
  readonly #driver: ConnectionDriver
  inTransaction = false
  /** A rollback failed: the client is closed when released, never handed out again. */
  discarded = false
  /** Statements sent on this checkout so far. */
  #statements = 0
  /** The statement running now: an abort cancels or kills only that one. */
  #running: QueryId | undefined
  /** The {@link StatementCancellation} of this checkout's query, if it was given one. */
  cancellation: StatementCancellation | undefined
  /** The BEGIN Kysely's driver wrote and nothing has sent yet: it leads the next statement. */
  #begin: string | undefined
  /** The error of a BEGIN that failed: the transaction never began, and nothing more of it runs. */
  #notBegun: unknown
  /**
   * Where Kysely's PostgreSQL driver begins a transaction: its BEGIN, with the isolation level and
   * access mode written as that driver writes them, is kept to go out with the next statement.
   */
  readonly beginning: DatabaseConnection

  constructor(client: pg.PoolClient, driver: ConnectionDriver) {
    this.client = client
    this.#driver = driver
    this.beginning = {
      executeQuery: async <R>(query: CompiledQuery): Promise<QueryResult<R>> => {
        this.#begin = query.sql
        return { rows: [] }
      },
      streamQuery: () => {
        throw new TypeError("Kysely's driver begins a transaction with a statement, not a stream")
      },
    }
  }

  /** A new checkout of this client begins: its statement count starts at zero, no transaction pending. */
  checkedOut(cancellation: StatementCancellation | undefined): this {
    this.#statements = 0
    this.#begin = undefined
    this.#notBegun = undefined
    this.cancellation = cancellation
    return this
  }

  /**
   * Ends the transaction on this side when nothing of it reached the server (no statement ran: its
   * BEGIN is dropped unsent; or its BEGIN failed): whether nothing is left to send. Committing a
   * transaction whose BEGIN failed fails with the BEGIN's error, as each of its statements did.
   */
  endUnsent(commit: boolean): boolean {
    if (this.#begin !== undefined) {
      this.#begin = undefined
      return true
    }
    if (this.#notBegun === undefined) return false
    if (commit) throw this.#notBegun
    this.#notBegun = undefined
    return true
  }

  /** Back to the pool unused (its query was cancelled while it waited for it). */
  giveBack(): void {
    this.client.release()
  }

  executeQuery<R>(query: CompiledQuery, options?: AbortableOperationOptions): Promise<QueryResult<R>> {
    const first = this.#statements++ === 0
    const signal = options?.signal
    const ran = this.#run<R>(query)
    // After an abort Kysely has thrown its reason and only waits for the statement to end before it
    // releases the connection: the failure it asked for (a cancel, a kill) it would print with
    // console.error, and a read lost to 'kill session' must not run again. Nobody reads this result.
    const result = signal
      ? ran.catch((error: unknown) => (signal.aborted ? { rows: [] } : Promise.reject(error)))
      : ran
    // Only a read, first on its checkout and outside a transaction, may run again: nothing to wrap otherwise.
    if (!this.#driver.readRetry || !first || this.inTransaction || !isReadOnlyQuery(query.query))
      return result
    return result.catch((error: unknown) => {
      if (!isConnectionError(error)) throw error
      return this.#driver.retryRead<R>(query, error)
    })
  }

  async #run<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.discarded) throw new Error('Postgres connection has been discarded')
    this.cancellation?.throwIfCancelled()
    if (this.#notBegun !== undefined) throw this.#notBegun
    this.#running = query.queryId
    let begin = this.#begin
    this.#begin = undefined
    try {
      // Texts without parameters go in the simple protocol, where a ';' may part several statements:
      // those cannot follow a BEGIN in one extended-protocol exchange, so it goes first on its own.
      if (begin !== undefined && query.parameters.length === 0 && query.sql.includes(';')) {
        await this.#beginAlone(begin)
        begin = undefined
      }
      const { command, rowCount, rows } = await (begin === undefined
        ? this.client.query<R & pg.QueryResultRow>(query.sql, query.parameters as unknown[])
        : (this.client as unknown as MonitoredClient).queryBehind(begin, query.sql, query.parameters))
      // Kysely's PostgreSQL driver tells a COMMIT that rolled back by its command tag.
      if (command === 'ROLLBACK' || command === 'COMMIT') return { rows: [{ command } as R] }
      const writes =
        command === 'INSERT' || command === 'UPDATE' || command === 'DELETE' || command === 'MERGE'
      return { numAffectedRows: writes ? BigInt(rowCount ?? 0) : undefined, rows: rows ?? [] }
    } catch (error) {
      if (begin !== undefined && failedLeadingStatement(error)) this.#notBegun = error
      throw withCallerStack(error, new Error())
    } finally {
      this.#running = undefined
    }
  }

  /** Sends the pending BEGIN by itself (before a stream, or a text of several statements). */
  async #beginAlone(begin: string): Promise<void> {
    try {
      await this.client.query(begin)
    } catch (error) {
      this.#notBegun = error
      throw error
    }
  }

  /**
   * Kysely's `.stream()`, as its PostgreSQL driver does it: a pg-cursor read `chunkSize` rows at a
   * time. The checkout is named in leak reports by the code that opened the stream (a reader can hold
   * it for long); an abort of `options.signal` cancels a read in flight on the server and ends the
   * iterator quietly (Kysely has already thrown the abort's reason to the reader); a lost connection
   * ends it with {@link StreamInterruptedError}. A stream is never run again.
   */
  async *streamQuery<R>(
    query: CompiledQuery,
    chunkSize: number,
    options?: AbortableOperationOptions,
  ): AsyncIterableIterator<QueryResult<R>> {
    if (!Number.isInteger(chunkSize) || chunkSize <= 0) {
      throw new TypeError(`a stream's chunkSize must be a positive integer, got ${String(chunkSize)}`)
    }
    if (this.discarded) throw new Error('Postgres connection has been discarded')
    if (this.#notBegun !== undefined) throw this.#notBegun
    this.#driver.attributeToCaller(this.client, this.streamQuery)
    const begin = this.#begin
    this.#begin = undefined
    // A cursor's exchange is pg-cursor's own: the BEGIN goes first, in its own.
    if (begin !== undefined) await this.#beginAlone(begin)
    // Whatever runs after it on this checkout is not its first statement: never retried.
    this.#statements++
    const signal = options?.signal
    const cursor = this.client.query(new Cursor<R>(query.sql, [...query.parameters]))
    // pg's query_timeout runs from a query's submission to its callback, which a cursor never calls: it
    // would end a stream longer than it, and hold the process open after one. The server's
    // statement_timeout bounds each read on its own.
    ;(cursor as { callback?: () => void }).callback?.()
    let reading = false
    // Between reads the cursor's portal waits suspended, and close() ends it: only a read runs.
    const onAbort = () => {
      if (reading) this.cancelQuery().catch(() => undefined)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    let streamed = 0
    let lost = false
    try {
      for (;;) {
        this.#running = query.queryId
        reading = true
        let rows: R[]
        try {
          rows = await cursor.read(chunkSize)
        } catch (error) {
          lost = isConnectionError(error)
          if (signal?.aborted) return
          throw lost ? new StreamInterruptedError(streamed, error) : withCallerStack(error, new Error())
        } finally {
          reading = false
          this.#running = undefined
        }
        if (rows.length === 0) return
        streamed += rows.length
        yield { rows }
      }
    } finally {
      signal?.removeEventListener('abort', onAbort)
      // A lost connection answers no Close: its client is destroyed on release.
      if (lost) this.discarded = true
      else await cursor.close()
    }
  }

  /**
   * Kysely's `'cancel query'`: a protocol-level CancelRequest with the session's backend key (no
   * pooled connection needed, and right through PgBouncer), where Kysely's own driver would run
   * `pg_cancel_backend(pid)` on another pooled connection.
   */
  async cancelQuery(): Promise<void> {
    const session = this.client as pg.PoolClient & Partial<CancelTarget>
    if (!this.#running || !session.processID || session.secretKey === undefined) return
    await sendCancelRequest(session as CancelTarget)
  }

  /** Kysely's `'kill session'`: `pg_terminate_backend` from a connection outside the pool. */
  async killSession(): Promise<void> {
    const running = this.#running
    const pid = (this.client as Partial<CancelTarget>).processID
    if (!running || !pid) return
    const control = await this.#driver.connectDetached()
    try {
      // Still the statement that was aborted: the session may have moved on meanwhile.
      if (this.#running === running) await control.query('select pg_terminate_backend($1)', [pid])
    } finally {
      // Closed in the background, as Kysely's driver does: Kysely releases the session once this returns.
      control.end().catch(() => undefined)
    }
  }
}

/** The error with the stack of the code that ran the statement appended, as Kysely's own driver does. */
function withCallerStack(error: unknown, caller: Error): unknown {
  if (error instanceof Error && error.stack && caller.stack) {
    error.stack += `\n${caller.stack.split('\n').slice(1).join('\n')}`
  }
  return error
}
