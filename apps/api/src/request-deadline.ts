// Each request's deadline, from its arrival: every checkout its statements make is bounded by it.
import { withDeadline } from '@classroom/db-core'
import type { FastifyInstance } from 'fastify'

/**
 * Runs each route's handler inside db-core's `withDeadline` scope, `deadlineMs` from the request's
 * arrival: no statement of it waits for a connection past that, and one the pool expects to wait
 * longer is refused at once (503 `POOL_OVERLOADED` with `Retry-After`), so an overloaded database
 * sheds the requests it cannot answer in time within milliseconds instead of answering them late.
 *
 * ```ts
 * requestDeadline(app, 10_000)
 * ```
 */
export function requestDeadline(app: FastifyInstance, deadlineMs: number): void {
  // Registered after readYourWrites: fastify calls the next hook, then the handler, from this done().
  app.addHook('preHandler', (_request, reply, done) => {
    withDeadline(Math.max(0, deadlineMs - reply.elapsedTime), done)
  })
}
