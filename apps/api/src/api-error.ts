/** Every error code the api answers with, for clients that switch on them, and the status each comes with. */
export const API_ERROR_STATUSES = {
  VALIDATION_FAILED: 400,
  MALFORMED_JSON: 400,
  MALFORMED_URL: 400,
  MALFORMED_REQUEST: 400,
  INVALID_READ_POSITION: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CLASSROOM_NOT_FOUND: 404,
  STUDENT_NOT_FOUND: 404,
  ENROLLMENT_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  REQUEST_TIMEOUT: 408,
  CLASSROOM_FULL: 409,
  ALREADY_ENROLLED: 409,
  EMAIL_TAKEN: 409,
  BODY_TOO_LARGE: 413,
  URL_TOO_LONG: 414,
  UNSUPPORTED_MEDIA_TYPE: 415,
  EXPECTATION_FAILED: 417,
  IDEMPOTENCY_KEY_REUSED: 422,
  HEADERS_TOO_LARGE: 431,
  INTERNAL_ERROR: 500,
  POOL_TIMEOUT: 503,
  POOL_OVERLOADED: 503,
  DATABASE_UNAVAILABLE: 503,
  DATABASE_AT_CAPACITY: 503,
} as const

export type ApiErrorCode = keyof typeof API_ERROR_STATUSES

/** The one JSON error body every route answers with. */
export interface ErrorBody {
  error: ApiErrorCode
  message: string
  /** The offending input, for validation errors, e.g. `body.capacity`. */
  field?: string
  /** Quoted on 500s so a report can be matched to the logs. */
  requestId?: string
}

/**
 * An expected failure with its HTTP status, thrown by route handlers and turned into an
 * {@link ErrorBody} by the error handler.
 *
 * ```ts
 * throw new ApiError(404, 'CLASSROOM_NOT_FOUND', `classroom ${id} does not exist`)
 * throw new ApiError(400, 'VALIDATION_FAILED', 'querystring.cursor is not a cursor', 'querystring.cursor')
 * ```
 */
export class ApiError extends Error {
  readonly statusCode: number
  readonly code: ApiErrorCode
  /** The offending input, as in {@link ErrorBody.field}. */
  readonly field: string | undefined
  /** Headers the answer carries (a 401's `WWW-Authenticate`). */
  readonly headers: Readonly<Record<string, string>>

  constructor(
    statusCode: number,
    code: ApiErrorCode,
    message: string,
    field?: string,
    headers: Readonly<Record<string, string>> = {},
  ) {
    super(message)
    this.name = 'ApiError'
    this.statusCode = statusCode
    this.code = code
    this.field = field
    this.headers = headers
  }
}
