import { MAX_ID } from '@classroom/classroom-db'
import { _, type Ajv, type KeywordCxt } from 'ajv'

// Text PostgreSQL cannot store: a NUL (refused by `text` and `jsonb`) or half of a surrogate pair
// (not Unicode: UTF-8 encoding would silently turn it into U+FFFD). In `u` mode a whole pair is one
// code point, so the class only matches the halves that stand alone.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the NUL is what is looked for
const UNSTORABLE_TEXT = /[\u0000\uD800-\uDFFF]/u

/**
 * Adds the api's own keywords. `storableText: true` refuses a string holding a NUL character or an
 * unpaired surrogate. `finite: true` refuses ±Infinity: with `coerceTypes`, Ajv turns a path or query
 * value of `Infinity` or `1e400` into a number that passes `type: 'integer'` and skips
 * `minimum`/`maximum` (they only check finite numbers), and PostgreSQL then refuses it. Both fail
 * with a message naming the field like any other rule.
 *
 * ```ts
 * addApiKeywords(new Ajv())
 * ```
 */
export function addApiKeywords(ajv: Ajv): Ajv {
  return ajv
    .addKeyword({
      keyword: 'storableText',
      type: 'string',
      schemaType: 'boolean',
      error: { message: 'must not contain NUL characters or unpaired surrogates' },
      code(cxt: KeywordCxt) {
        if (cxt.schema !== true) return
        const unstorable = cxt.gen.scopeValue('pattern', { ref: UNSTORABLE_TEXT })
        cxt.fail(_`${unstorable}.test(${cxt.data})`)
      },
    })
    .addKeyword({
      // No `type`: Ajv runs number keywords only on finite numbers, which is what must be caught here.
      keyword: 'finite',
      schemaType: 'boolean',
      error: { message: 'must be a finite number' },
      code(cxt: KeywordCxt) {
        if (cxt.schema !== true) return
        cxt.fail(_`typeof ${cxt.data} == "number" && !isFinite(${cxt.data})`)
      },
    })
}

/** A row id in a path or body: a PostgreSQL `integer` above zero. */
export const idSchema = { type: 'integer', minimum: 1, maximum: MAX_ID, finite: true } as const

/** A person's or a classroom's name. */
export const nameSchema = {
  type: 'string',
  minLength: 1,
  maxLength: 200,
  pattern: '\\S',
  storableText: true,
} as const

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
