import type pg from 'pg'
import { Query as PgQuery } from './pg-module.js'

/** The part of pg's Connection a query prepares itself on. */
interface ProtocolConnection {
  close(message: { type: 'S'; name: string }): void
}

/** How pg answers a submitted query. */
export type QueryCallback = (error: Error | undefined, result: pg.QueryResult) => void

// pg's Query prepares itself here (extended protocol, socket corked); its types leave it out.
const prepare = (PgQuery.prototype as unknown as { prepare(connection: ProtocolConnection): void }).prepare

/**
 * pg's `Query` run as a named prepared statement, which first closes other statements the
 * connection prepared (evicted from its cache, or re-planned by a schema change) with protocol
 * Close messages, in the same exchange as its own Parse: no statement of its own, no round trip, so
 * nothing is ever submitted while another statement runs (pg 9 refuses that). Closing a name the
 * server does not hold is no error, in a transaction or out of it: an evicted statement whose
 * preparation failed, or a retried one, cannot abort the caller's transaction.
 *
 * Built directly rather than from a named config object, which pg would copy property by property
 * (`cloneQueryConfig`) once more.
 */
export class PreparedQuery extends PgQuery {
  readonly #closing: readonly string[]

  constructor(
    name: string,
    config: string | pg.QueryConfig,
    values: unknown[] | undefined,
    callback: QueryCallback,
    closing: readonly string[],
  ) {
    super(config, values, callback)
    ;(this as { name?: string }).name = name
    this.#closing = closing
  }

  /** pg's own step, after the Close messages; called by `submit` for every named statement. */
  prepare(connection: ProtocolConnection): void {
    for (const name of this.#closing) connection.close({ type: 'S', name })
    prepare.call(this, connection)
  }
}
