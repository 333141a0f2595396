import { STATUS_CODES } from 'node:http'
import {
  DatabaseAtCapacityError,
  DatabaseUnavailableError,
  IdempotencyKeyReusedError,
  isConnectionError,
  isReadOnlyError,
  PoolOverloadedError,
  PoolTimeoutError,
} from '@classroom/db-core'
import type { FastifyError } from 'fastify'
import { API_ERROR_STATUSES, ApiError, type ErrorBody } from './api-error.js'

// Requests here are small JSON documents; anything bigger is a mistake or an attack.
export const BODY_LIMIT_BYTES = 16 * 1024
// Fastify's limit on one path parameter, set where the app is built and named in the 414's message.
export const MAX_PARAM_LENGTH = 100

/** What the error handler sends: status, the uniform body, and extra headers. */
export interface ErrorResponse {
  readonly status: number
  readonly body: ErrorBody
  readonly headers: Record<string, string>
  /** Whether the error was unexpected, to be logged with its stack. */
  readonly unexpected: boolean
}

// Seconds a client should wait before retrying: a full pool drains fast, a restart takes longer.
const RETRY_AFTER_POOL_TIMEOUT = '1'
// Overloaded: a pause of a second, not at once (an immediate retry is the load that keeps it so).
const RETRY_AFTER_OVERLOADED = '1'
const RETRY_AFTER_UNAVAILABLE = '2'

interface AjvError {
  instancePath: string
  keyword: string
  message?: string
  params: { missingProperty?: string; additionalProperty?: string }
}

// Fastify's own refusals of a request, by code: the api's code (its status with it) and a message saying what to send instead.
const FASTIFY_REFUSALS: Readonly<Record<string, ErrorBody>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { error: 'MALFORMED_JSON', message: 'the body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    error: 'MALFORMED_JSON',
    message: 'the body is empty; send a JSON document with Content-Type: application/json',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: {
    error: 'BODY_TOO_LARGE',
    message: `the body is larger than this api accepts (${BODY_LIMIT_BYTES / 1024} KiB)`,
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    error: 'UNSUPPORTED_MEDIA_TYPE',
    message: 'send the body as application/json',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    error: 'MALFORMED_REQUEST',
    message: 'the body is not as long as its Content-Length header says',
  },
  FST_ERR_ROUTE_MISSING_CONTENT_TYPE: {
    error: 'MALFORMED_REQUEST',
    message: 'this method needs a Content-Type header; send the body as application/json',
  },
  FST_ERR_ROUTE_MISSING_CONTENT: {
    error: 'MALFORMED_REQUEST',
    message: 'this method needs a body; send it as application/json',
  },
  FST_ERR_BAD_URL: { error: 'MALFORMED_URL', message: 'the path is not valid percent-encoded UTF-8' },
  FST_ERR_INVALID_URL: { error: 'MALFORMED_URL', message: 'the path is not valid percent-encoded UTF-8' },
  FST_ERR_MAX_PARAM_LENGTH: {
    error: 'URL_TOO_LONG',
    message: `a path segment is longer than this api accepts (${MAX_PARAM_LENGTH} characters)`,
  },
  FST_ERR_NOT_FOUND: { error: 'NOT_FOUND', message: 'no such route' },
  FST_ERR_VALIDATION: { error: 'VALIDATION_FAILED', message: 'the request does not match its schema' },
}

/**
 * Maps any error a request can end in to the api's uniform error response. Stack traces and SQL
 * never reach the body: an unexpected error answers 500 with the request id to find it in the logs.
 *
 * ```ts
 * const { status, body, headers } = toErrorResponse(error, request.id)
 * ```
 */
export function toErrorResponse(error: unknown, requestId: string): ErrorResponse {
  if (error instanceof ApiError) {
    const { statusCode, code, message, field, headers } = error
    return expected(
      statusCode,
      field === undefined ? { error: code, message } : { error: code, message, field },
      { ...headers },
    )
  }
  if (error instanceof IdempotencyKeyReusedError) {
    return expected(422, {
      error: 'IDEMPOTENCY_KEY_REUSED',
      message:
        'this Idempotency-Key was already used for a different request; use a new key for a new request',
    })
  }
  if (error instanceof PoolOverloadedError) {
    return expected(
      503,
      {
        error: 'POOL_OVERLOADED',
        message:
          'the service is receiving more requests than its database can serve in time; retry after the Retry-After pause',
      },
      { 'retry-after': RETRY_AFTER_OVERLOADED },
    )
  }
  if (error instanceof PoolTimeoutError) {
    return expected(
      503,
      { error: 'POOL_TIMEOUT', message: 'the service is at its database connection limit; retry shortly' },
      { 'retry-after': RETRY_AFTER_POOL_TIMEOUT },
    )
  }
  if (error instanceof DatabaseAtCapacityError) {
    // Up but full (53300, too many clients), and the pool holds no connection to queue for.
    return expected(
      503,
      { error: 'DATABASE_AT_CAPACITY', message: 'the database accepts no more connections; retry shortly' },
      { 'retry-after': RETRY_AFTER_UNAVAILABLE },
    )
  }
  if (error instanceof DatabaseUnavailableError || isConnectionError(error)) {
    return expected(
      503,
      { error: 'DATABASE_UNAVAILABLE', message: 'the database is unavailable; retry shortly' },
      { 'retry-after': RETRY_AFTER_UNAVAILABLE },
    )
  }
  if (isReadOnlyError(error)) {
    // A standby answered a write (a failover under way): nothing was written, and a retry will find the primary.
    return expected(
      503,
      {
        error: 'DATABASE_UNAVAILABLE',
        message: 'the database does not accept writes right now; retry shortly',
      },
      { 'retry-after': RETRY_AFTER_UNAVAILABLE },
    )
  }
  const fastifyError = error as Partial<FastifyError> & {
    validation?: AjvError[]
    validationContext?: string
  }
  if (fastifyError.validation?.[0])
    return validationFailed(fastifyError.validation[0], fastifyError.validationContext ?? 'request')
  const refusal = fastifyRefusal(fastifyError)
  if (refusal) return expected(refusal.status, refusal.body)
  return {
    status: 500,
    body: { error: 'INTERNAL_ERROR', message: 'an unexpected error occurred', requestId },
    headers: {},
    unexpected: true,
  }
}

function expected(status: number, body: ErrorBody, headers: Record<string, string> = {}): ErrorResponse {
  return { status, body, headers, unexpected: false }
}

/**
 * The answer to one of fastify's request errors: its own entry in {@link FASTIFY_REFUSALS}, or, for a
 * 4xx code fastify adds later, the same status with fastify's message. Fastify's 5xx codes are faults
 * of the server, not of the request: they stay unexpected.
 */
function fastifyRefusal({
  code,
  statusCode,
  message,
}: Partial<FastifyError>): { status: number; body: ErrorBody } | undefined {
  if (code === undefined || !code.startsWith('FST_')) return undefined
  const known = FASTIFY_REFUSALS[code]
  if (known) return { status: API_ERROR_STATUSES[known.error], body: known }
  if (statusCode !== undefined && statusCode >= 400 && statusCode < 500)
    return {
      status: statusCode,
      body: { error: 'MALFORMED_REQUEST', message: message ?? 'the request was refused' },
    }
  return undefined
}

function validationFailed(issue: AjvError, context: string): ErrorResponse {
  const base = [context, ...issue.instancePath.split('/').filter(Boolean)].join('.')
  if (issue.keyword === 'required' && issue.params.missingProperty) {
    const field = `${base}.${issue.params.missingProperty}`
    return expected(400, { error: 'VALIDATION_FAILED', message: `${field} is required`, field })
  }
  if (issue.keyword === 'additionalProperties' && issue.params.additionalProperty) {
    const field = `${base}.${issue.params.additionalProperty}`
    return expected(400, { error: 'VALIDATION_FAILED', message: `${field} is not a known field`, field })
  }
  return expected(400, {
    error: 'VALIDATION_FAILED',
    message: `${base} ${issue.message ?? 'is invalid'}`,
    field: base,
  })
}

/**
 * The raw HTTP response for a request Node's parser refused before fastify saw it (headers over
 * Node's 16 KiB, a malformed request line, one not whole within the request timeout): the uniform
 * body all the same, and the connection closes.
 *
 * ```ts
 * socket.write(clientErrorResponse(error))
 * ```
 */
export function clientErrorResponse(error: Error & { code?: string }): string {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return rawErrorResponse(431, {
        error: 'HEADERS_TOO_LARGE',
        message: 'the request headers are larger than this api accepts',
      })
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return rawErrorResponse(408, {
        error: 'REQUEST_TIMEOUT',
        message: 'the request did not arrive whole within HTTP_REQUEST_TIMEOUT_MS',
      })
    default:
      return rawErrorResponse(400, { error: 'MALFORMED_REQUEST', message: 'the request is not valid HTTP' })
  }
}

/**
 * An error answer written straight to a socket, for requests no `ServerResponse` exists for; the
 * connection closes after it.
 *
 * ```ts
 * socket.end(rawErrorResponse(405, { error: 'METHOD_NOT_ALLOWED', message: '…' }, requestId))
 * ```
 */
export function rawErrorResponse(status: number, body: ErrorBody, requestId?: string): string {
  const json = JSON.stringify(body)
  return [
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
    'content-type: application/json; charset=utf-8',
    `content-length: ${Buffer.byteLength(json)}`,
    'connection: close',
    ...(requestId === undefined ? [] : [`x-request-id: ${requestId}`]),
    '',
    json,
  ].join('\r\n')
}
