import { MAX_ID } from '@classroom/classroom-db'
import { ApiError } from '../api-error.js'

/**
 * Keyset pagination cursors: opaque to clients, the last id seen underneath.
 *
 * ```ts
 * decodeCursor(encodeCursor(42)) // 42
 * ```
 */
export function encodeCursor(lastId: number): string {
  return Buffer.from(`id:${lastId}`).toString('base64url')
}

export function decodeCursor(cursor: string): number {
  const match = /^id:(\d{1,10})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'))
  const id = match ? Number(match[1]) : Number.NaN
  if (!(id >= 0 && id <= MAX_ID)) {
    throw new ApiError(
      400,
      'VALIDATION_FAILED',
      'querystring.cursor is not a cursor this api issued',
      'querystring.cursor',
    )
  }
  return id
}
