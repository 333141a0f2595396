import type { Migration } from 'kysely/migration'
import * as classroomsStudentsEnrollments from './0001-classrooms-students-enrollments.js'
import * as idempotencyKeys from './0002-idempotency-keys.js'
import * as schoolsAndOwners from './0003-schools-and-owners.js'
import * as rowLevelSecurity from './0004-row-level-security.js'

/**
 * Every migration, in order. A static list rather than a folder scan: it survives bundling and
 * needs no file-system paths at run time. Add new ones at the end; never edit an applied one.
 */
export const migrations: Record<string, Migration> = {
  '0001-classrooms-students-enrollments': classroomsStudentsEnrollments,
  '0002-idempotency-keys': idempotencyKeys,
  '0003-schools-and-owners': schoolsAndOwners,
  '0004-row-level-security': rowLevelSecurity,
}
