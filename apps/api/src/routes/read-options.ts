import type { FastifyRequest } from 'fastify'
import type { AbortableQueryOptions } from 'kysely'

/**
 * How a route's reads run: a client that hangs up before its answer cancels the statement on the
 * server (db-core sends a protocol-level CancelRequest), instead of leaving it to run for nobody.
 * Writes are not cancelled: they are short, and once sent their outcome is settled by their key.
 *
 * ```ts
 * await db.selectFrom('classrooms').selectAll().execute(readOptions(request))
 * ```
 */
export function readOptions(request: FastifyRequest): AbortableQueryOptions {
  return { signal: request.signal, inflightQueryAbortStrategy: 'cancel query' }
}
