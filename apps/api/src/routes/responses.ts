// The api's answers as JSON Schema: fastify serializes by them and the OpenAPI document shows them.
import { API_ERROR_STATUSES, type ApiErrorCode } from '../api-error.js'
import { READ_POSITION_ANSWER } from '../read-position.js'

/** A moment, as JSON carries it. */
export const timestamp = { type: 'string', format: 'date-time' } as const

/** A classroom as the api shows it. */
export const classroomSchema = {
  type: 'object',
  required: ['id', 'name', 'capacity', 'createdAt'],
  additionalProperties: false,
  properties: {
    id: { type: 'integer' },
    name: { type: 'string' },
    capacity: { type: 'integer' },
    createdAt: timestamp,
  },
} as const

/** A student as the api shows it. */
export const studentSchema = {
  type: 'object',
  required: ['id', 'name', 'email', 'createdAt'],
  additionalProperties: false,
  properties: {
    id: { type: 'integer' },
    name: { type: 'string' },
    email: { type: 'string' },
    createdAt: timestamp,
  },
} as const

/** `schema` with extra required properties (a classroom with its enrolled count, say). */
export function extended<S extends { required: readonly string[]; properties: object }>(
  schema: S,
  extra: Record<string, object>,
) {
  return {
    ...schema,
    required: [...schema.required, ...Object.keys(extra)],
    properties: { ...schema.properties, ...extra },
  }
}

// Headers the document shows on answers: every answer's request id and log position, a stored write's replay mark, a 503's wait.
const EVERY_ANSWER = {
  'x-request-id': {
    type: 'string',
    description: 'The request id: the caller’s own `x-request-id` when sent, else a UUID; the logs quote it.',
  },
  ...READ_POSITION_ANSWER,
} as const
/** The header a write's answer carries when it is the stored first answer to a repeated Idempotency-Key. */
export const REPLAY_HEADER = {
  'idempotent-replayed': {
    type: 'string',
    const: 'true',
    description: 'This is the first answer to this key, replayed.',
  },
} as const
const WWW_AUTHENTICATE = {
  'www-authenticate': {
    type: 'string',
    description:
      'The challenge (RFC 6750): `Bearer realm="classroom-api"`, with `error="invalid_token"` for a token that does not verify.',
  },
} as const

const RETRY_AFTER = {
  'retry-after': { type: 'string', description: 'Seconds to wait before retrying.' },
} as const

/** A 2xx answer's schema with the sentence the document shows for it, and the headers it carries. */
export function answer<S extends object>(
  description: string,
  schema: S,
  headers: Record<string, object> = {},
): S & { description: string; headers: Record<string, object> } {
  return { description, headers: { ...EVERY_ANSWER, ...headers }, ...schema }
}

// What any route can answer whatever it does: Node's and fastify's refusals of a request, and a fault.
const EVERY_ROUTE: readonly ApiErrorCode[] = [
  'MALFORMED_REQUEST',
  'INVALID_READ_POSITION',
  'REQUEST_TIMEOUT',
  'EXPECTATION_FAILED',
  'HEADERS_TOO_LARGE',
  'INTERNAL_ERROR',
]
/** What a route behind a bearer token can also answer: no or a bad token, a role without the right. */
export const AUTH_ERRORS: readonly ApiErrorCode[] = ['UNAUTHENTICATED', 'FORBIDDEN']

/** What a route reading the database can also answer. */
export const DATABASE_ERRORS: readonly ApiErrorCode[] = [
  'POOL_TIMEOUT',
  'POOL_OVERLOADED',
  'DATABASE_UNAVAILABLE',
  'DATABASE_AT_CAPACITY',
]
/** What a route with path parameters can also answer. */
export const PATH_ERRORS: readonly ApiErrorCode[] = ['VALIDATION_FAILED', 'MALFORMED_URL', 'URL_TOO_LONG']
/** What a route taking a body can also answer. */
export const BODY_ERRORS: readonly ApiErrorCode[] = [
  'VALIDATION_FAILED',
  'MALFORMED_JSON',
  'BODY_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
]

/**
 * The error answers of a route, by status: the uniform body with `error` limited to the codes
 * `codes` (and those every route can answer) bring at that status, each listed in its description.
 *
 * ```ts
 * response: { 200: classroomSchema, ...errorResponses(PATH_ERRORS, ['CLASSROOM_NOT_FOUND']) }
 * ```
 */
export function errorResponses(...groups: ReadonlyArray<readonly ApiErrorCode[]>): Record<number, object> {
  const byStatus = new Map<number, Set<ApiErrorCode>>()
  for (const code of [...EVERY_ROUTE, ...groups.flat()]) {
    const status = API_ERROR_STATUSES[code]
    byStatus.set(status, (byStatus.get(status) ?? new Set()).add(code))
  }
  return Object.fromEntries(
    [...byStatus].map(([status, codes]) => [
      status,
      {
        description: `The uniform error body; \`error\` is one of ${[...codes].join(', ')}.`,
        headers:
          status === 503
            ? { ...EVERY_ANSWER, ...RETRY_AFTER }
            : status === 401
              ? { ...EVERY_ANSWER, ...WWW_AUTHENTICATE }
              : EVERY_ANSWER,
        type: 'object',
        required: ['error', 'message'],
        additionalProperties: false,
        properties: {
          error: { type: 'string', enum: [...codes] },
          message: { type: 'string' },
          field: { type: 'string', description: 'The offending input, e.g. `body.capacity`.' },
          requestId: { type: 'string', description: 'On a 500: the id to find the failure in the logs.' },
        },
      },
    ]),
  )
}
