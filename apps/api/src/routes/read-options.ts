import { StatementCancellation } from '@classroom/db-core'
import type { FastifyReply } from 'fastify'
import type { AbortableQueryOptions } from 'kysely'

/**
 * How a route's reads run: a client that hangs up before its answer cancels the statement on the
 * server (db-core sends a protocol-level CancelRequest), or takes it out of the pool's queue,
 * instead of leaving it to run for nobody. Writes are not cancelled: they are short, and once sent
 * their outcome is settled by their key. A {@link StatementCancellation}, not `request.signal`: an
 * AbortController and Kysely's abortable path cost about 8 % of a read's CPU (BENCHMARKS.md).
 *
 * ```ts
 * await db.selectFrom('classrooms').selectAll().execute(readOptions(reply))
 * ```
 */
export function readOptions(reply: FastifyReply): AbortableQueryOptions {
  const cancellation = new StatementCancellation()
  const response = reply.raw
  // The response closes once written, or when its client hangs up before that.
  response.on('close', () => {
    if (!response.writableFinished) cancellation.cancel()
  })
  return cancellation.options
}

/** Whether the client hung up before its answer was written. */
export function hungUp(reply: FastifyReply): boolean {
  return reply.raw.destroyed && !reply.raw.writableFinished
}
