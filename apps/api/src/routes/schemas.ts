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
