import type pg from 'pg'
import { Query as PgQuery } from './pg-module.js'

/** The part of pg's Connection a query prepares itself on. */
interface ProtocolConnection {
  close(message: { type: 'S'; name: string }): void
  parse(message: { text: string }): void
  bind(message: Record<string, never>): void
  execute(message: Record<string, never>): void
}

/** How pg answers a submitted query. */
export type QueryCallback = (error: Error | undefined, result: pg.QueryResult) => void

/** What db-core adds to one statement's exchange with the server. */
export interface Exchange {
  /** Statements to close first (evicted from the cache, re-planned by a schema change). */
  readonly closing: readonly string[]
  /** A statement run first, without rows, and answered first (a transaction's BEGIN). */
  readonly leading?: string
}

// The steps of pg's Query db-core builds on (extended protocol, socket corked); its types leave them out.
const base = PgQuery.prototype as unknown as {
  prepare(connection: ProtocolConnection): void
  handleCommandComplete(message: unknown, connection: ProtocolConnection): void
  handleError(error: Error, connection: ProtocolConnection): void
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
 * - a leading statement (a transaction's BEGIN) as Parse, Bind and Execute of the unnamed statement,
 *   ahead of the statement's own messages, one Sync ending both: PostgreSQL runs an extended-protocol
 *   exchange as one implicit transaction, which the BEGIN turns into the explicit transaction block
 *   that stays open after the Sync. Its CommandComplete comes first and is not the result; when it
 *   fails instead, the server skips to the Sync and the statement fails with the leading statement's
 *   error ({@link failedLeadingStatement} tells it).
 *
 * Run as a named prepared statement when given a name; otherwise through the unnamed one, always in
 * the extended protocol (one statement per text). Built directly rather than from a named config
 * object, which pg would copy property by property (`cloneQueryConfig`) once more.
 */
export class PreparedQuery extends PgQuery {
  readonly #closing: readonly string[]
  readonly #leading: string | undefined
  /** The leading statement's answer is still to come. */
  #leadingDue: boolean

  constructor(
    name: string | undefined,
    config: string | pg.QueryConfig,
    values: unknown[] | undefined,
    callback: QueryCallback,
    { closing, leading }: Exchange,
  ) {
    super(config, values, callback)
    if (name !== undefined) (this as { name?: string }).name = name
    this.#closing = closing
    this.#leading = leading
    this.#leadingDue = leading !== undefined
  }

  /** Named, or behind a leading statement: the extended protocol either way. */
  requiresPreparation(): boolean {
    return true
  }

  /** pg's own step, after the Close messages and the leading statement; called by `submit`. */
  prepare(connection: ProtocolConnection): void {
    for (const name of this.#closing) connection.close({ type: 'S', name })
    if (this.#leading !== undefined) {
      connection.parse({ text: this.#leading })
      connection.bind({})
      connection.execute({})
    }
    base.prepare.call(this, connection)
  }

  handleCommandComplete(message: unknown, connection: ProtocolConnection): void {
    if (this.#leadingDue) this.#leadingDue = false
    else base.handleCommandComplete.call(this, message, connection)
  }

  handleError(error: Error, connection: ProtocolConnection): void {
    if (this.#leadingDue) leadingFailures.add(error)
    base.handleError.call(this, error, connection)
  }
}
