import type pg from 'pg'
import { Query as PgQuery } from './pg-module.js'

/** The part of pg's Connection a query prepares itself on. */
interface ProtocolConnection {
  close(message: { type: 'S'; name: string }): void
  parse(message: { text: string }): void
  bind(message: { values?: readonly unknown[] }): void
  execute(message: { portal?: string; rows?: number }): void
  sync(): void
}

/** How pg answers a submitted query. */
export type QueryCallback = (error: Error | undefined, result: pg.QueryResult) => void

/** A statement db-core runs around a caller's, in its exchange: its answer is not the caller's. */
export interface Statement {
  readonly text: string
  /** Text parameters (`$1`, ...). */
  readonly values?: readonly string[]
}

/** What db-core adds to one statement's exchange with the server. */
export interface Exchange {
  /** Statements to close first (evicted from the cache, re-planned by a schema change). */
  readonly closing: readonly string[]
  /** Statements run first and answered first (a transaction's BEGIN, its settings). */
  readonly leading?: readonly Statement[]
  /** Statements run after it, before the Sync (the COMMIT of a transaction made for it). */
  readonly trailing?: readonly Statement[]
}

// The steps of pg's Query db-core builds on (extended protocol, socket corked); its types leave them out.
const base = PgQuery.prototype as unknown as {
  prepare(connection: ProtocolConnection): void
  handleCommandComplete(message: unknown, connection: ProtocolConnection): void
  handleDataRow(message: unknown): void
  handleError(error: Error, connection: ProtocolConnection): void
  _getRows(connection: ProtocolConnection, rows: number | undefined): void
}

/** Errors that answered a leading statement: the statement behind it never ran. */
const leadingFailures = new WeakSet<object>()

/** Whether `error` failed the leading statement of an exchange (a BEGIN), not the statement behind it. */
export function failedLeadingStatement(error: unknown): boolean {
  return typeof error === 'object' && error !== null && leadingFailures.has(error)
}

/**
 * pg's `Query` with what db-core adds to its exchange, in the same corked write as its own Parse:
 *
 * - protocol Close messages for other statements the connection prepared (evicted from its cache,
 *   or re-planned by a schema change): no statement of their own, no round trip, so nothing is ever
 *   submitted while another statement runs (pg 9 refuses that). Closing a name the server does not
 *   hold is no error, in a transaction or out of it: an evicted statement whose preparation failed,
 *   or a retried one, cannot abort the caller's transaction;
 * - leading statements (a transaction's BEGIN, the settings of `withSessionSettings`) as Parse, Bind
 *   and Execute of the unnamed statement, ahead of the statement's own messages, and trailing ones
 *   (the COMMIT of a transaction made for one statement) after its Execute, one Sync ending all: PostgreSQL runs an extended-protocol
 *   exchange as one implicit transaction, which the BEGIN turns into the explicit transaction block
 *   that stays open after the Sync. Their answers (CommandComplete, rows) are not the result; when a
 *   leading one fails instead, the server skips to the Sync and the statement fails with its error
 *   ({@link failedLeadingStatement} tells it); a failed trailing one fails the statement.
 *
 * Run as a named prepared statement when given a name; otherwise through the unnamed one, always in
 * the extended protocol (one statement per text). Built directly rather than from a named config
 * object, which pg would copy property by property (`cloneQueryConfig`) once more.
 */
export class PreparedQuery extends PgQuery {
  readonly #closing: readonly string[]
  readonly #leading: readonly Statement[]
  readonly #trailing: readonly Statement[]
  /** Answers of leading statements still to come. */
  #leadingDue: number
  /** The statement's own answer is in: what follows answers trailing statements. */
  #answered = false

  constructor(
    name: string | undefined,
    config: string | pg.QueryConfig,
    values: unknown[] | undefined,
    callback: QueryCallback,
    { closing, leading = [], trailing = [] }: Exchange,
  ) {
    super(config, values, callback)
    if (name !== undefined) (this as { name?: string }).name = name
    this.#closing = closing
    this.#leading = leading
    this.#trailing = trailing
    this.#leadingDue = leading.length
  }

  /** Named, or behind a leading statement: the extended protocol either way. */
  requiresPreparation(): boolean {
    return true
  }

  /** pg's own step, after the Close messages and the leading statement; called by `submit`. */
  prepare(connection: ProtocolConnection): void {
    for (const name of this.#closing) connection.close({ type: 'S', name })
    for (const statement of this.#leading) unnamed(connection, statement)
    base.prepare.call(this, connection)
  }

  /** pg's last step, Execute and Sync: the trailing statements go between them. */
  _getRows(connection: ProtocolConnection, rows: number | undefined): void {
    if (this.#trailing.length === 0 || rows) {
      base._getRows.call(this, connection, rows)
      return
    }
    connection.execute({ portal: (this as { portal?: string }).portal ?? '' })
    for (const statement of this.#trailing) unnamed(connection, statement)
    connection.sync()
  }

  handleCommandComplete(message: unknown, connection: ProtocolConnection): void {
    if (this.#leadingDue > 0) this.#leadingDue--
    else if (!this.#answered) {
      this.#answered = true
      base.handleCommandComplete.call(this, message, connection)
    }
  }

  /** Rows of a leading or trailing statement (`set_config`'s) are not the caller's. */
  handleDataRow(message: unknown): void {
    if (this.#leadingDue === 0 && !this.#answered) base.handleDataRow.call(this, message)
  }

  handleError(error: Error, connection: ProtocolConnection): void {
    if (this.#leadingDue > 0) leadingFailures.add(error)
    base.handleError.call(this, error, connection)
  }
}

/** Parse, Bind and Execute of the unnamed statement, no Describe: its rows come without a description. */
function unnamed(connection: ProtocolConnection, { text, values }: Statement): void {
  connection.parse({ text })
  connection.bind(values ? { values } : {})
  connection.execute({})
}
