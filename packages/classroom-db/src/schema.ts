import type { ColumnType, Generated, Selectable } from 'kysely'

/** The api's tables, as Kysely sees them. Changes go through a new migration in `migrations/`. */
export interface Database {
  classrooms: ClassroomsTable
  students: StudentsTable
  enrollments: EnrollmentsTable
}

export interface ClassroomsTable {
  id: Generated<number>
  name: string
  capacity: number
  created_at: ColumnType<Date, never, never>
}

export interface StudentsTable {
  id: Generated<number>
  name: string
  email: string
  created_at: ColumnType<Date, never, never>
}

export interface EnrollmentsTable {
  classroom_id: number
  student_id: number
  created_at: ColumnType<Date, never, never>
}

export type Classroom = Selectable<ClassroomsTable>
export type Student = Selectable<StudentsTable>

/** Largest id a route accepts: ids are PostgreSQL `integer`s. */
export const MAX_ID = 2_147_483_647
