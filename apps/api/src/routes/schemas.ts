import { MAX_ID } from '@classroom/classroom-db'

/** A row id in a path or body: a PostgreSQL `integer` above zero. */
export const idSchema = { type: 'integer', minimum: 1, maximum: MAX_ID } as const

/** A person's or a classroom's name. */
export const nameSchema = { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S' } as const

/** `/:id` path parameters. */
export const idParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: idSchema },
} as const

export interface IdParams {
  id: number
}

/**
 * The `Idempotency-Key` header every POST and DELETE accepts (IETF draft): 1 to 255 visible ASCII
 * characters. Sent again with the same request, it gets the first answer instead of a second write.
 */
export const idempotencyHeaders = {
  type: 'object',
  properties: { 'idempotency-key': { type: 'string', minLength: 1, maxLength: 255, pattern: '^[!-~]+$' } },
} as const
