import { createHash, randomUUID } from 'node:crypto'
import type { Database } from '@classroom/classroom-db'
import { idempotentTransaction } from '@classroom/db-core'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Transaction } from 'kysely'
import type { AppDependencies } from '../app-dependencies.js'
import { requestPrincipal } from '../auth/authenticate.js'

/** What a write answers: its status and body, stored with its idempotency key. */
export interface WriteAnswer {
  readonly status: number
  readonly body?: unknown
}

/** Set on an answer replayed from a stored idempotency key instead of written again. */
export const REPLAYED_HEADER = 'idempotent-replayed'

/**
 * Runs a POST's or DELETE's transaction through db-core's `idempotentTransaction` and sends its
 * answer: keyed by the client's `Idempotency-Key`, or by one made for this request, so a write whose
 * connection dies after its commit is answered from the stored key instead of failing or running
 * twice. The key stands for the method, the URL and the body: reused for another request, it is
 * refused (422).
 *
 * ```ts
 * return idempotentWrite(deps, request, reply, async (trx) => ({ status: 201, body: { id: 1 } }))
 * ```
 */
export async function idempotentWrite(
  { db, metrics, writeRetryWithinMs }: Pick<AppDependencies, 'db' | 'metrics' | 'writeRetryWithinMs'>,
  request: FastifyRequest,
  reply: FastifyReply,
  work: (trx: Transaction<Database>) => Promise<WriteAnswer>,
): Promise<FastifyReply> {
  // Validated by the route's header schema.
  const given = request.headers['idempotency-key'] as string | undefined
  const fingerprint = createHash('sha256')
    .update(`${request.method} ${request.url}\n${JSON.stringify(request.body ?? null)}`)
    .digest('base64url')
  const { schoolId, userId, role } = requestPrincipal(request)
  const outcome = await idempotentTransaction(
    db,
    {
      // A client's key is its principal's: the same key from another one is another write, never its answer.
      key:
        given === undefined
          ? randomUUID()
          : createHash('sha256').update(`${schoolId}/${role}/${userId}/${given}`).digest('base64url'),
      fresh: given === undefined,
      fingerprint,
      retryWithinMs: writeRetryWithinMs,
    },
    work,
  )
  if (outcome.replayed) metrics.idempotentReplays.inc()
  if (outcome.attempts > 1) metrics.writeReruns.inc(outcome.attempts - 1)
  reply.code(outcome.response.status)
  if (outcome.replayed) reply.header(REPLAYED_HEADER, 'true')
  return outcome.response.status === 204 ? reply.send() : reply.send(outcome.response.body)
}
