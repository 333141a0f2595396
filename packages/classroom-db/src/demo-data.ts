import { type Kysely, sql } from 'kysely'
import type { Database, StaffRole } from './schema.js'

/** The demo set: two schools, each with its admin, its teachers (each owning classrooms) and students. */
export const DEMO_SCHOOLS = [
  {
    name: 'Northside High',
    domain: 'northside.example.edu',
    staff: [
      { name: 'Ada Admin', role: 'school_admin' },
      { name: 'Tom Teacher', role: 'teacher' },
      { name: 'Tess Teacher', role: 'teacher' },
    ],
    classrooms: [
      { name: 'Algebra I', capacity: 30, teacher: 1 },
      { name: 'World History', capacity: 25, teacher: 1 },
      { name: 'Chemistry Lab', capacity: 12, teacher: 2 },
    ],
  },
  {
    name: 'Southside Academy',
    domain: 'southside.example.edu',
    staff: [
      { name: 'Sam Admin', role: 'school_admin' },
      { name: 'Sue Teacher', role: 'teacher' },
    ],
    classrooms: [
      { name: 'Creative Writing', capacity: 18, teacher: 1 },
      { name: 'Computer Science 101', capacity: 40, teacher: 1 },
    ],
  },
] as const satisfies readonly {
  name: string
  domain: string
  staff: readonly { name: string; role: StaffRole }[]
  classrooms: readonly { name: string; capacity: number; teacher: number }[]
}[]

/** Students per demo school. */
const STUDENTS_PER_SCHOOL = 10

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
 * Loads the demo data set into an empty database: two schools ({@link DEMO_SCHOOLS}), each with a
 * school admin, teachers owning its classrooms, ten students and some enrollments. Idempotent: a
 * database that has any classroom or a demo school is left alone, and concurrent starts are serialised by
 * an advisory lock. Run it as a role that row-level security does not restrict (the tables' owner):
 * every row names its school itself.
 *
 * ```ts
 * const seeded = await seedDemoData(db)
 * ```
 */
export async function seedDemoData(db: Kysely<Database>): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext('classroom-engine demo data'))`.execute(trx)
    const classroom = await trx.selectFrom('classrooms').select('id').limit(1).executeTakeFirst()
    const school = await trx
      .selectFrom('schools')
      .select('id')
      .where(
        'name',
        'in',
        DEMO_SCHOOLS.map((demo) => demo.name),
      )
      .executeTakeFirst()
    if (classroom || school) return false
    for (const demo of DEMO_SCHOOLS) {
      const { id: school_id } = await trx
        .insertInto('schools')
        .values({ name: demo.name })
        .returning('id')
        .executeTakeFirstOrThrow()
      const staff = await trx
        .insertInto('users')
        .values(
          demo.staff.map((person) => ({
            school_id,
            name: person.name,
            role: person.role,
            email: `${person.name.toLowerCase().replace(' ', '.')}@${demo.domain}`,
          })),
        )
        .returning('id')
        .execute()
      const classrooms = await trx
        .insertInto('classrooms')
        .values(
          demo.classrooms.map((room) => ({
            school_id,
            name: room.name,
            capacity: room.capacity,
            teacher_id: staff[room.teacher]?.id ?? null,
          })),
        )
        .returning('id')
        .execute()
      const students = await trx
        .insertInto('students')
        .values(
          Array.from({ length: STUDENTS_PER_SCHOOL }, (_, i) => ({
            school_id,
            name: `${FIRST_NAMES[i % FIRST_NAMES.length]} Demo ${i + 1}`,
            email: `demo.student${i + 1}@${demo.domain}`,
          })),
        )
        .returning('id')
        .execute()
      const enrollments = students.flatMap((student, i) =>
        classrooms
          .filter((_, c) => (i + c) % 3 === 0)
          .map((room) => ({ school_id, classroom_id: room.id, student_id: student.id })),
      )
      if (enrollments.length > 0) await trx.insertInto('enrollments').values(enrollments).execute()
    }
    return true
  })
}
