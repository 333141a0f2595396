// Parses JSON bodies as fastify does, but refuses bytes that are not UTF-8 instead of storing U+FFFD for them.
import { isUtf8 } from 'node:buffer'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { ApiError } from './api-error.js'

type ParserDone = (error: Error | null, body?: unknown) => void

/**
 * The `application/json` parser: a body that is not valid UTF-8 is a 400 `MALFORMED_JSON` naming
 * `body` (decoded as fastify does, each bad byte would become U+FFFD and be stored so); the rest
 * goes to fastify's own parser, with its prototype-poisoning checks.
 *
 * ```ts
 * app.addContentTypeParser('application/json', { parseAs: 'buffer' }, utf8JsonParser(app))
 * ```
 */
export function utf8JsonParser(
  app: FastifyInstance,
): (request: FastifyRequest, body: Buffer, done: ParserDone) => void {
  const parseJson = app.getDefaultJsonParser('error', 'error')
  return (request, body, done) => {
    if (!isUtf8(body)) {
      done(
        new ApiError(
          400,
          'MALFORMED_JSON',
          'body is not valid UTF-8 text; send JSON encoded as UTF-8',
          'body',
        ),
      )
      return
    }
    parseJson(request, body.toString('utf8'), done)
  }
}
