import { context, type Span } from '@opentelemetry/api'
import { READ_RETRY_ATTEMPT } from './pool-tracing.js'
import { STATEMENT_NAME_PREFIX } from './statement-cache.js'

/** What instrumentation-pg's `requestHook` is given of each query (the fields read here). */
export interface PgQueryInformation {
  readonly connection: { readonly database?: string }
  readonly query: { readonly text: string; readonly name?: string }
}

/**
 * A `requestHook` for `@opentelemetry/instrumentation-pg` that makes its query spans read right
 * over db-core: a statement db-core prepared under a name derived from its text is named by its
 * operation (`pg.query:SELECT app`, as an unnamed one is, not `pg.query:dbc_3q2… app`), and the
 * second run of a read lost with its connection carries `db_core.retry.attempt` = 2.
 *
 * ```ts
 * import { PgInstrumentation } from '@opentelemetry/instrumentation-pg'
 * new PgInstrumentation({ requestHook: dbCoreQuerySpanHook })
 * ```
 */
export function dbCoreQuerySpanHook(span: Span, { connection, query }: PgQueryInformation): void {
  if (query.name?.startsWith(STATEMENT_NAME_PREFIX)) {
    span.updateName(
      `pg.query:${operationOf(query.text)}${connection.database ? ` ${connection.database}` : ''}`,
    )
  }
  const attempt = context.active().getValue(READ_RETRY_ATTEMPT)
  if (attempt !== undefined) span.setAttribute('db_core.retry.attempt', attempt as number)
}

/** A statement's command, as instrumentation-pg names an unnamed one: `SELECT`, `INSERT`... */
function operationOf(text: string): string {
  return text.trimStart().split(/\s/, 1)[0]?.replace(/;$/, '').toUpperCase() ?? ''
}
