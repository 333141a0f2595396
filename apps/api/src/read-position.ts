// Read-your-writes across requests: the Read-Position header in, each request in its scope, the position out.
import { AsyncResource } from 'node:async_hooks'
import {
  currentReadPosition,
  InvalidReadPositionError,
  parseReadPosition,
  withReadPosition,
} from '@classroom/db-core'
import type { FastifyInstance, FastifyRequest, FastifySchema } from 'fastify'
import { ApiError } from './api-error.js'

/** The header a client sends back: the log position an earlier answer handed it. */
export const READ_POSITION_HEADER = 'read-position'

const WHAT_IT_IS =
  'A PostgreSQL WAL position, `<hex>/<hex>` (e.g. `16/B374D848`): where the writes this client was answered about end.'

/** The request header as the OpenAPI document shows it on every route. */
const READ_POSITION_PARAMETER = {
  type: 'string',
  description: `${WHAT_IT_IS} Send back the last \`Read-Position\` an answer carried: reads then see those writes (a replica that has not replayed that far is passed over for the primary), whichever api process answers. Malformed: 400 \`INVALID_READ_POSITION\`.`,
} as const

/** The answer header, shown on every answer of the document. */
export const READ_POSITION_ANSWER = {
  [READ_POSITION_HEADER]: {
    type: 'string',
    description: `${WHAT_IT_IS} Present when the request carried one or wrote (with read replicas, every write's answer has one): send it back with the next requests.`,
  },
} as const

/** The parsed header of each request, from `onRequest` to the scope `preHandler` opens. */
const givenPositions = new WeakMap<FastifyRequest, string>()
/** Each request's scope, to read its position when the answer is sent, wherever that runs. */
const scopedPositions = new WeakMap<FastifyRequest, () => string | undefined>()

/**
 * Runs every request's handler inside db-core's `withReadPosition` with the position its
 * `Read-Position` header carries (none: a scope without one), and sends the scope's position back
 * in the answer's `Read-Position` (after its writes: their commit's position). A header that is no
 * position is refused before anything runs: 400 `INVALID_READ_POSITION`.
 *
 * ```ts
 * readYourWrites(app) // before the routes are registered
 * ```
 */
export function readYourWrites(app: FastifyInstance): void {
  app.addHook('onRequest', (request, _reply, done) => {
    const given = request.headers[READ_POSITION_HEADER]
    if (typeof given !== 'string') return done()
    let position: string
    try {
      position = parseReadPosition(given)
    } catch (error) {
      return done(
        error instanceof InvalidReadPositionError
          ? new ApiError(
              400,
              'INVALID_READ_POSITION',
              `the Read-Position header: ${error.message}; send back the value an earlier answer's Read-Position carried`,
              'headers.read-position',
            )
          : (error as Error),
      )
    }
    givenPositions.set(request, position)
    done()
  })
  // No route has a preHandler of its own: fastify calls the handler from this done(), inside the scope.
  app.addHook('preHandler', (request, _reply, done) => {
    withReadPosition(givenPositions.get(request), () => {
      // Bound to the scope: the answer may be sent from a context that is not the handler's.
      scopedPositions.set(request, AsyncResource.bind(currentReadPosition))
      done()
    })
  })
  app.addHook('onSend', (request, reply, payload, done) => {
    const position = scopedPositions.get(request)?.()
    if (position !== undefined) reply.header(READ_POSITION_HEADER, position)
    done(null, payload)
  })
}

/**
 * A route's schema as the OpenAPI document shows it: with the `Read-Position` request header
 * (documented only: the hook above parses it, so a bad one is `INVALID_READ_POSITION`, not a
 * schema failure).
 *
 * ```ts
 * app.register(swagger, { transform: ({ schema, url }) => ({ schema: withReadPositionHeader(schema), url }) })
 * ```
 */
export function withReadPositionHeader(schema: FastifySchema | undefined): FastifySchema {
  const headers = (schema?.headers ?? {}) as { properties?: Record<string, unknown> }
  return {
    ...schema,
    headers: {
      type: 'object',
      ...headers,
      properties: { ...headers.properties, [READ_POSITION_HEADER]: READ_POSITION_PARAMETER },
    },
  }
}
