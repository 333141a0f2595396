import { InstrumentedPostgresDialect, loadDbConfig } from '@classroom/db-core'
import { createTestDatabase } from '@classroom/local-postgres'
import type {} from '@classroom/local-postgres/vitest-global-setup'
import { recordingLogger } from '@classroom/test-kit'
import { Kysely, sql } from 'kysely'
import { Migrator } from 'kysely/migration'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { type Database, DEFAULT_SCHOOL, DEMO_SCHOOLS, migrateToLatest, seedDemoData } from '../src/index.js'
import { migrations } from '../src/migrations/index.js'

const opened: Kysely<Database>[] = []

async function freshDb(name: string): Promise<Kysely<Database>> {
  const url = await createTestDatabase(inject('databaseUrl'), name)
  const db = new Kysely<Database>({
    dialect: new InstrumentedPostgresDialect({
      ...loadDbConfig({ DATABASE_URL: url, DB_POOL_SIZE: '2' }),
      logger: recordingLogger().logger,
    }),
  })
  opened.push(db)
  return db
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((db) => db.destroy()))
})

describe('the tenancy migration', () => {
  it('moves the classrooms, students and enrollments made before schools into the default school', async () => {
    const db = await freshDb('classroom_db_tenancy_move')
    const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } })
    expect((await migrator.migrateTo('0002-idempotency-keys')).error).toBeUndefined()
    await sql`insert into classrooms (name, capacity) values ('Old room', 3);
      insert into students (name, email) values ('Old student', 'old@example.edu');
      insert into enrollments (classroom_id, student_id) select c.id, s.id from classrooms c, students s`.execute(
      db,
    )
    expect(await migrateToLatest(db)).toEqual(['0003-schools-and-owners', '0004-row-level-security'])
    const schools = await db.selectFrom('schools').select(['id', 'name']).execute()
    expect(schools).toHaveLength(1)
    expect(schools).toEqual([{ id: expect.any(Number), name: DEFAULT_SCHOOL }])
    const id = schools[0]?.id
    for (const table of ['classrooms', 'students', 'enrollments'] as const) {
      expect(await db.selectFrom(table).select('school_id').execute()).toEqual([{ school_id: id }])
    }
  })

  it('puts a row inserted without a school and without app.school_id into the default school, else the setting’s', async () => {
    const db = await freshDb('classroom_db_tenancy_default')
    await migrateToLatest(db)
    const [{ id: fallback } = { id: 0 }] = await db.selectFrom('schools').select('id').execute()
    const other = await db
      .insertInto('schools')
      .values({ name: 'Other' })
      .returning('id')
      .executeTakeFirstOrThrow()
    const plain = await db
      .insertInto('classrooms')
      .values({ name: 'Plain', capacity: 1 })
      .returning('school_id')
      .executeTakeFirstOrThrow()
    expect(plain.school_id).toBe(fallback)
    const set = await db.transaction().execute(async (trx) => {
      await sql`select set_config('app.school_id', ${String(other.id)}, true)`.execute(trx)
      return trx
        .insertInto('classrooms')
        .values({ name: 'Set', capacity: 1 })
        .returning('school_id')
        .executeTakeFirstOrThrow()
    })
    expect(set.school_id).toBe(other.id)
  })

  it('refuses an enrollment across schools, and a classroom taught by another school’s teacher', async () => {
    const db = await freshDb('classroom_db_tenancy_cross')
    await migrateToLatest(db)
    expect(await seedDemoData(db)).toBe(true)
    const [north, south] = await db
      .selectFrom('schools')
      .select('id')
      .where('name', '<>', DEFAULT_SCHOOL)
      .orderBy('id')
      .execute()
    const room = await db
      .selectFrom('classrooms')
      .select('id')
      .where('school_id', '=', north!.id)
      .executeTakeFirstOrThrow()
    const student = await db
      .selectFrom('students')
      .select('id')
      .where('school_id', '=', south!.id)
      .executeTakeFirstOrThrow()
    const southTeacher = await db
      .selectFrom('users')
      .select('id')
      .where('school_id', '=', south!.id)
      .executeTakeFirstOrThrow()
    for (const school_id of [north!.id, south!.id]) {
      await expect(
        db
          .insertInto('enrollments')
          .values({ school_id, classroom_id: room.id, student_id: student.id })
          .execute(),
      ).rejects.toMatchObject({ code: '23503' })
    }
    await expect(
      db.updateTable('classrooms').set({ teacher_id: southTeacher.id }).where('id', '=', room.id).execute(),
    ).rejects.toMatchObject({ code: '23503' })
  })

  it('seeds two schools with their staff, classrooms and students, once', async () => {
    const db = await freshDb('classroom_db_tenancy_seed')
    await migrateToLatest(db)
    expect(await seedDemoData(db)).toBe(true)
    expect(await seedDemoData(db)).toBe(false)
    const counts = await sql<{ name: string; staff: number; classrooms: number; students: number }>`
      select s.name,
        (select count(*)::int from users u where u.school_id = s.id) as staff,
        (select count(*)::int from classrooms c where c.school_id = s.id) as classrooms,
        (select count(*)::int from students t where t.school_id = s.id) as students
      from schools s where s.name <> ${DEFAULT_SCHOOL} order by s.id`.execute(db)
    expect(counts.rows).toEqual(
      DEMO_SCHOOLS.map((school) => ({
        name: school.name,
        staff: school.staff.length,
        classrooms: school.classrooms.length,
        students: 10,
      })),
    )
    const unowned = await db.selectFrom('classrooms').select('id').where('teacher_id', 'is', null).execute()
    expect(unowned).toEqual([])
  })
})
