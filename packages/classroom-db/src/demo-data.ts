import { type Kysely, sql } from 'kysely'
import type { Database } from './schema.js'

const CLASSROOMS = [
  { name: 'Algebra I', capacity: 30 },
  { name: 'World History', capacity: 25 },
  { name: 'Chemistry Lab', capacity: 12 },
  { name: 'Creative Writing', capacity: 18 },
  { name: 'Computer Science 101', capacity: 40 },
]

const FIRST_NAMES = [
  'Ada',
  'Grace',
  'Alan',
  'Edsger',
  'Barbara',
  'Donald',
  'Frances',
  'Ken',
  'Margaret',
  'Dennis',
]

/**
 * Loads a small demo data set into an empty database: five classrooms, twenty students, some
 * enrollments. Idempotent: a database that has any classroom is left alone, and concurrent
 * starts are serialised by an advisory lock.
 *
 * ```ts
 * const seeded = await seedDemoData(db)
 * ```
 */
export async function seedDemoData(db: Kysely<Database>): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext('classroom-engine demo data'))`.execute(trx)
    const existing = await trx.selectFrom('classrooms').select('id').limit(1).executeTakeFirst()
    if (existing) return false
    const classrooms = await trx.insertInto('classrooms').values(CLASSROOMS).returning('id').execute()
    const students = await trx
      .insertInto('students')
      .values(
        Array.from({ length: 20 }, (_, i) => ({
          name: `${FIRST_NAMES[i % FIRST_NAMES.length]} Demo ${i + 1}`,
          email: `demo.student${i + 1}@example.edu`,
        })),
      )
      .onConflict((oc) => oc.column('email').doNothing())
      .returning('id')
      .execute()
    const enrollments = students.flatMap((student, i) =>
      classrooms
        .filter((_, c) => (i + c) % 3 === 0)
        .map((classroom) => ({ classroom_id: classroom.id, student_id: student.id })),
    )
    if (enrollments.length > 0) await trx.insertInto('enrollments').values(enrollments).execute()
    return true
  })
}
