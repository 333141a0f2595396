// `pnpm start` on the embedded database: a key made for this run, and tokens for the demo people printed.
import { randomBytes } from 'node:crypto'
import type { Database } from '@classroom/classroom-db'
import type { DbLogger } from '@classroom/db-core'
import type { Kysely } from 'kysely'
import { mintToken } from './mint.js'
import type { Principal } from './principal.js'
import type { AuthSettings } from './verifier.js'

/** The audience development tokens carry, as `API_AUTH_AUDIENCE` defaults to. */
const AUDIENCE = 'classroom-api'

/** A key and a metrics token for this run only: nothing is stored, a restart makes new ones. */
export interface DevelopmentAuth {
  readonly settings: AuthSettings
  readonly secret: Uint8Array
  readonly metricsToken: string
}

export function developmentAuth(): DevelopmentAuth {
  const secret = new Uint8Array(randomBytes(32))
  return {
    settings: { key: { kind: 'secret', secret }, issuer: undefined, audience: AUDIENCE },
    secret,
    metricsToken: randomBytes(24).toString('hex'),
  }
}

/**
 * Logs a token for one school admin, teacher and student of each school in the database (the
 * demo data), valid 24 hours, and the metrics token: the quick start's one step. Never the key.
 *
 * ```ts
 * await logDevelopmentTokens(ownerDb, auth, logger)
 * ```
 */
export async function logDevelopmentTokens(
  db: Kysely<Database>,
  auth: DevelopmentAuth,
  logger: DbLogger,
): Promise<void> {
  const staff = await db
    .selectFrom('users')
    .innerJoin('schools', 'schools.id', 'users.school_id')
    .distinctOn(['users.school_id', 'users.role'])
    .select(['users.id', 'users.school_id', 'users.role', 'users.name', 'schools.name as school'])
    .orderBy('users.school_id')
    .orderBy('users.role')
    .orderBy('users.id')
    .execute()
  const students = await db
    .selectFrom('students')
    .innerJoin('schools', 'schools.id', 'students.school_id')
    .distinctOn('students.school_id')
    .select(['students.id', 'students.school_id', 'students.name', 'schools.name as school'])
    .orderBy('students.school_id')
    .orderBy('students.id')
    .execute()
  const people: { who: string; principal: Principal }[] = [
    ...staff.map((row) => ({
      who: `${row.name} (${row.role}, ${row.school})`,
      principal: { userId: row.id, schoolId: row.school_id, role: row.role },
    })),
    ...students.map((row) => ({
      who: `${row.name} (student, ${row.school})`,
      principal: { userId: row.id, schoolId: row.school_id, role: 'student' as const },
    })),
  ]
  const tokens = Object.fromEntries(
    await Promise.all(
      people.map(async ({ who, principal }) => [
        who,
        await mintToken(auth.secret, principal, { audience: AUDIENCE }),
      ]),
    ),
  )
  logger.info('development tokens (this run only, valid 24 h): curl -H "authorization: Bearer <token>" ...', {
    tokens,
    metricsToken: auth.metricsToken,
  })
}
