/** Every error code the api answers with, for clients that switch on them. */
export type ApiErrorCode =
  | 'VALIDATION_FAILED'
  | 'MALFORMED_JSON'
  | 'MALFORMED_URL'
  | 'MALFORMED_REQUEST'
  | 'URL_TOO_LONG'
  | 'HEADERS_TOO_LARGE'
  | 'BODY_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'EXPECTATION_FAILED'
  | 'REQUEST_TIMEOUT'
  | 'METHOD_NOT_ALLOWED'
  | 'NOT_FOUND'
  | 'CLASSROOM_NOT_FOUND'
  | 'STUDENT_NOT_FOUND'
  | 'ENROLLMENT_NOT_FOUND'
  | 'CLASSROOM_FULL'
  | 'ALREADY_ENROLLED'
  | 'EMAIL_TAKEN'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'POOL_TIMEOUT'
  | 'DATABASE_UNAVAILABLE'
  | 'INTERNAL_ERROR'

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

  constructor(statusCode: number, code: ApiErrorCode, message: string, field?: string) {
    super(message)
    this.name = 'ApiError'
    this.statusCode = statusCode
    this.code = code
    this.field = field
  }
}
