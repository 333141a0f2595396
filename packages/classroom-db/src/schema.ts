import type { ColumnType, Generated, Selectable } from 'kysely'

/** The api's tables, as Kysely sees them. Changes go through a new migration in `migrations/`. */
export interface Database {
  schools: SchoolsTable
  users: UsersTable
  classrooms: ClassroomsTable
  students: StudentsTable
  enrollments: EnrollmentsTable
}

/**
 * A row's school: the request's (`app.school_id`, a transaction-local setting) when an insert leaves
 * it out; row-level security refuses any other.
 */
type SchoolColumn = ColumnType<number, number | undefined, never>

export interface SchoolsTable {
  id: Generated<number>
  name: string
  created_at: ColumnType<Date, never, never>
}

/** Who may sign in besides students: teachers and school admins, each of one school. */
export type StaffRole = 'teacher' | 'school_admin'

export interface UsersTable {
  id: Generated<number>
  school_id: number
  name: string
  email: string
  role: StaffRole
  created_at: ColumnType<Date, never, never>
}

export interface ClassroomsTable {
  id: Generated<number>
  school_id: SchoolColumn
  /** The teacher who owns it (a teacher's insert makes it theirs); null: only the school's admins manage it. */
  teacher_id: ColumnType<number | null, number | null | undefined, number | null>
  name: string
  capacity: number
  created_at: ColumnType<Date, never, never>
}

export interface StudentsTable {
  id: Generated<number>
  school_id: SchoolColumn
  name: string
  email: string
  created_at: ColumnType<Date, never, never>
}

export interface EnrollmentsTable {
  school_id: SchoolColumn
  classroom_id: number
  student_id: number
  created_at: ColumnType<Date, never, never>
}

export type Classroom = Selectable<ClassroomsTable>
export type Student = Selectable<StudentsTable>
export type School = Selectable<SchoolsTable>
export type User = Selectable<UsersTable>

/** Largest id a route accepts: ids are PostgreSQL `integer`s. */
export const MAX_ID = 2_147_483_647
