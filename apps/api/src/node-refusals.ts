// Gives the api's JSON error body to the requests Node's HTTP server would refuse with an empty one of its own.
import { randomUUID } from 'node:crypto'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { ApiError, type ErrorBody } from './api-error.js'
import { rawErrorResponse } from './error-response.js'

/**
 * Answers what never reaches fastify's routes: an `Expect:` other than `100-continue` (417) and a
 * `CONNECT` (405: this api is no proxy), each with the uniform JSON body and its request id.
 * Pair with {@link requireHost} and `http: { requireHostHeader: false }`, which hands Node's
 * missing-`Host` check to the api.
 *
 * ```ts
 * answerNodeRefusals(app.server)
 * ```
 */
export function answerNodeRefusals(server: Server): void {
  server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    const body = JSON.stringify({
      error: 'EXPECTATION_FAILED',
      message: 'this api meets no Expect header but "Expect: 100-continue"',
    } satisfies ErrorBody)
    // The body it announced may follow: close rather than read it as the next request.
    response
      .writeHead(417, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        connection: 'close',
        'x-request-id': requestIdOf(request),
      })
      .end(body)
  })
  server.on('connect', (request: IncomingMessage, socket: Duplex) => {
    socket.end(
      rawErrorResponse(
        405,
        { error: 'METHOD_NOT_ALLOWED', message: 'CONNECT is not served: this api is not a proxy' },
        requestIdOf(request),
      ),
    )
  })
}

/**
 * An `onRequest` hook refusing an HTTP/1.1 request without `Host` (RFC 9112 §3.2) with a 400 in
 * the uniform body, as Node does with an empty one when `requireHostHeader` is left on.
 */
export function requireHost(
  request: FastifyRequest,
  _reply: FastifyReply,
  done: HookHandlerDoneFunction,
): void {
  if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
    done(new ApiError(400, 'MALFORMED_REQUEST', 'an HTTP/1.1 request must have a Host header'))
    return
  }
  done()
}

function requestIdOf(request: IncomingMessage): string {
  const given = request.headers['x-request-id']
  return typeof given === 'string' && given !== '' ? given : randomUUID()
}
