import { type Kysely, sql } from 'kysely'

/** Where today's rows go: every classroom and student made before schools existed. */
export const DEFAULT_SCHOOL = 'Default school'

// A row's school when a statement leaves it out: the request's, from the transaction's settings, else
// the default school (a caller without a principal: row-level security, next, refuses it to the serving role).
const requestSchool = sql`coalesce(nullif(current_setting('app.school_id', true), '')::integer, default_school_id())`

/**
 * Schools own everything: classrooms and students belong to one, teachers and school admins (users)
 * too, and a classroom may have its teacher. Composite keys make an enrollment, and a classroom's
 * teacher, impossible across schools. Rows from before go to one default school, and so does a row
 * inserted without a school by a caller with no `app.school_id` (a superuser's script).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('schools')
    .addColumn('id', 'integer', (col) => col.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('name', 'text', (col) => col.notNull().unique())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute()

  await db.schema
    .createTable('users')
    .addColumn('id', 'integer', (col) => col.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('school_id', 'integer', (col) => col.notNull().references('schools.id'))
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('email', 'text', (col) => col.notNull().unique())
    .addColumn('role', 'text', (col) => col.notNull().check(sql`role in ('teacher', 'school_admin')`))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('users_id_school_id_key', ['id', 'school_id'])
    .execute()

  await sql`insert into schools (name) values (${sql.lit(DEFAULT_SCHOOL)})`.execute(db)
  await sql`create function default_school_id() returns integer language sql stable
    as $$ select id from schools where name = ${sql.lit(DEFAULT_SCHOOL)} $$`.execute(db)

  for (const table of ['classrooms', 'students', 'enrollments'] as const) {
    await db.schema
      .alterTable(table)
      .addColumn('school_id', 'integer', (col) => col.references('schools.id'))
      .execute()
  }
  await sql`update classrooms set school_id = (select id from schools where name = ${DEFAULT_SCHOOL})`.execute(
    db,
  )
  await sql`update students set school_id = (select id from schools where name = ${DEFAULT_SCHOOL})`.execute(
    db,
  )
  await sql`update enrollments set school_id = (select id from schools where name = ${DEFAULT_SCHOOL})`.execute(
    db,
  )
  for (const table of ['classrooms', 'students', 'enrollments'] as const) {
    await sql`alter table ${sql.table(table)} alter column school_id set not null,
      alter column school_id set default ${requestSchool}`.execute(db)
    await db.schema.createIndex(`${table}_school_id_idx`).on(table).column('school_id').execute()
  }

  await db.schema
    .alterTable('classrooms')
    .addColumn('teacher_id', 'integer', (col) =>
      col.defaultTo(sql`case when current_setting('app.role', true) = 'teacher'
        then nullif(current_setting('app.user_id', true), '')::integer end`),
    )
    .execute()
  await db.schema
    .alterTable('classrooms')
    .addUniqueConstraint('classrooms_id_school_id_key', ['id', 'school_id'])
    .execute()
  await db.schema
    .alterTable('classrooms')
    .addForeignKeyConstraint('classrooms_teacher_same_school', ['teacher_id', 'school_id'], 'users', [
      'id',
      'school_id',
    ])
    .execute()

  // An e-mail names one student in a school: unique per school, so a taken address says nothing of another school's.
  await db.schema.alterTable('students').dropConstraint('students_email_key').execute()
  await db.schema
    .alterTable('students')
    .addUniqueConstraint('students_school_id_email_key', ['school_id', 'email'])
    .execute()
  await db.schema
    .alterTable('students')
    .addUniqueConstraint('students_id_school_id_key', ['id', 'school_id'])
    .execute()

  // Classroom and student of one enrollment in one school, the enrollment's.
  await db.schema
    .alterTable('enrollments')
    .addForeignKeyConstraint(
      'enrollments_classroom_same_school',
      ['classroom_id', 'school_id'],
      'classrooms',
      ['id', 'school_id'],
      (fk) => fk.onDelete('cascade'),
    )
    .execute()
  await db.schema
    .alterTable('enrollments')
    .addForeignKeyConstraint(
      'enrollments_student_same_school',
      ['student_id', 'school_id'],
      'students',
      ['id', 'school_id'],
      (fk) => fk.onDelete('cascade'),
    )
    .execute()
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('enrollments').dropColumn('school_id').execute()
  await db.schema.alterTable('students').dropConstraint('students_id_school_id_key').execute()
  await db.schema.alterTable('students').dropConstraint('students_school_id_email_key').execute()
  await db.schema.alterTable('students').dropColumn('school_id').execute()
  await db.schema.alterTable('students').addUniqueConstraint('students_email_key', ['email']).execute()
  await db.schema.alterTable('classrooms').dropColumn('teacher_id').execute()
  await db.schema.alterTable('classrooms').dropConstraint('classrooms_id_school_id_key').execute()
  await db.schema.alterTable('classrooms').dropColumn('school_id').execute()
  await db.schema.dropTable('users').execute()
  await sql`drop function default_school_id()`.execute(db)
  await db.schema.dropTable('schools').execute()
}
