// Who a request acts for: the verified token's claims, and the settings row-level security reads them from.
import { MAX_ID } from '@classroom/classroom-db'

/** What a token may be: a school's student, teacher or admin. */
export const ROLES = ['student', 'teacher', 'school_admin'] as const
export type Role = (typeof ROLES)[number]

/** The principal of a verified token: `sub` (a user id, or a student's id for a student), `school_id`, `role`. */
export interface Principal {
  readonly userId: number
  readonly schoolId: number
  readonly role: Role
}

/** Staff may create classrooms and students and manage enrollments; a student only reads its own. */
export const STAFF: readonly Role[] = ['teacher', 'school_admin']

/**
 * The principal a token's payload names, or why it names none: `sub` a positive integer as text,
 * `school_id` a positive integer, `role` one of {@link ROLES}.
 */
export function principalOf(payload: Readonly<Record<string, unknown>>): Principal | string {
  const { sub, school_id: school, role } = payload
  const userId = typeof sub === 'string' && /^[1-9][0-9]{0,9}$/.test(sub) ? Number(sub) : Number.NaN
  if (!(userId <= MAX_ID)) return 'the "sub" claim is not a user id (a positive integer, as text)'
  if (!Number.isSafeInteger(school) || (school as number) < 1 || (school as number) > MAX_ID)
    return 'the "school_id" claim is not a school id (a positive integer)'
  if (!ROLES.includes(role as Role)) return `the "role" claim is not one of ${ROLES.join(', ')}`
  return { userId, schoolId: school as number, role: role as Role }
}

/** The transaction-local settings the database's policies read (`current_setting('app.school_id', true)`...). */
export function sessionSettingsOf(principal: Principal): Record<string, string> {
  return {
    'app.school_id': String(principal.schoolId),
    'app.user_id': String(principal.userId),
    'app.role': principal.role,
  }
}
