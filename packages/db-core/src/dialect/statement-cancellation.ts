// Cancels one Kysely query from outside, wherever it is: queued for a connection, running, streaming.
import type { AbortableQueryOptions } from 'kysely'

/** What a cancellation needs of the connection its statement runs on. */
export interface CancellableConnection {
  /** Asks the server to cancel the statement running now, if one is. */
  cancelQuery(): Promise<void>
  /** Gives the client back to the pool unused. */
  giveBack(): void
}

// Kysely passes the options of a query on to the driver's checkout: they carry their cancellation
// under this key (a property read, where a WeakMap entry per query cost more).
const CANCELLATION = Symbol('db-core statement cancellation')

/**
 * Cancels one Kysely query from outside, at any point: waiting for a connection (it leaves the
 * queue at once, and the connection it is served later goes straight back), or running (a
 * protocol-level CancelRequest; the query fails with 57014, `query_canceled`). What an
 * `AbortSignal` with `inflightQueryAbortStrategy: 'cancel query'` does, without Kysely's abortable
 * path (a deferred, races and listeners per query) or an `AbortController` per query: for a hot
 * path such as an HTTP read cancelled when its client hangs up. Pass {@link options} to the query;
 * a query run inside a transaction or `db.connection()` is not reached by it (its connection was
 * checked out before). Kysely hands a stream nothing but an `AbortSignal`: give `.stream()` its
 * {@link signal} instead.
 *
 * ```ts
 * const cancellation = new StatementCancellation()
 * // Or when the HTTP client it answers hangs up.
 * const timer = setTimeout(() => cancellation.cancel(), 5000)
 * await db.selectFrom('classrooms').selectAll().execute(cancellation.options)
 * clearTimeout(timer)
 * ```
 */
export class StatementCancellation {
  /** Hand these to Kysely's `execute` / `executeQuery`. */
  readonly options: AbortableQueryOptions = { [CANCELLATION]: this } as AbortableQueryOptions
  #cancelled = false
  /** Rejects the checkout still waiting for a connection. */
  #leave: ((error: Error) => void) | undefined
  #connection: CancellableConnection | undefined
  #controller: AbortController | undefined

  /** The cancellation these options name, if any. */
  static of(options: object | undefined): StatementCancellation | undefined {
    return (options as { [CANCELLATION]?: StatementCancellation } | undefined)?.[CANCELLATION]
  }

  get cancelled(): boolean {
    return this.#cancelled
  }

  /**
   * Aborts when this is cancelled, with the `57014` error its queries fail with: for `.stream()`,
   * whose cursor's read in flight is then cancelled on the server, its portal closed.
   *
   * ```ts
   * const cancellation = new StatementCancellation()
   * const rows = db.selectFrom('classrooms').selectAll().stream({ chunkSize: 500, signal: cancellation.signal })
   * for await (const row of rows) if (row.name === 'last') cancellation.cancel()
   * ```
   */
  get signal(): AbortSignal {
    // Made on demand: queries that never stream pay nothing for it.
    this.#controller ??= new AbortController()
    if (this.#cancelled && !this.#controller.signal.aborted) this.#controller.abort(cancelledError())
    return this.#controller.signal
  }

  /** Cancels the query wherever it is now; later ones under the same options fail at once. */
  cancel(): void {
    if (this.#cancelled) return
    this.#cancelled = true
    this.#leave?.(cancelledError())
    this.#controller?.abort(cancelledError())
    // The CancelRequest is best effort: the server may be gone, and nobody awaits this.
    this.#connection?.cancelQuery().catch(() => undefined)
  }

  /** The driver's checkout for this query: left at once on cancel, its connection then given back. */
  checkout<C extends CancellableConnection>(pending: Promise<C>): Promise<C> {
    return new Promise<C>((resolve, reject) => {
      if (this.#cancelled) reject(cancelledError())
      else this.#leave = reject
      pending.then(
        (connection) => {
          this.#leave = undefined
          if (this.#cancelled) return connection.giveBack()
          this.#connection = connection
          resolve(connection)
        },
        (error: unknown) => {
          this.#leave = undefined
          reject(error)
        },
      )
    })
  }

  /** Throws when cancelled: a statement about to be sent is not. */
  throwIfCancelled(): void {
    if (this.#cancelled) throw cancelledError()
  }

  /** The query's connection went back to the pool: a later cancel must not reach its next user. */
  released(): void {
    this.#connection = undefined
  }
}

function cancelledError(): Error {
  return Object.assign(new Error('the query was cancelled'), { code: '57014' })
}
