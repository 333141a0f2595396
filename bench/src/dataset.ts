import { type Database, migrateToLatest } from '@classroom/classroom-db'
import { createLogger, InstrumentedPostgresDialect } from '@classroom/db-core'
import { Kysely, sql } from 'kysely'
import { CLASSROOM_ROWS, COUNTER_ROWS } from './workloads.js'

/**
 * The classroom schema (its migrations) with 10 000 classrooms, 2 000 students enrolled in five
 * classrooms each, and the transaction workload's counters.
 */
export async function createDataset(databaseUrl: string): Promise<void> {
  const db = new Kysely<Database>({
    dialect: new InstrumentedPostgresDialect({
      connectionString: databaseUrl,
      logger: createLogger({ silent: true }),
    }),
  })
  try {
    await migrateToLatest(db)
    await sql`insert into classrooms (name, capacity) select 'Room ' || g, 30 from generate_series(1, ${CLASSROOM_ROWS}) g`.execute(
      db,
    )
    await sql`insert into students (name, email) select 'Student ' || g, 'student' || g || '@bench.test' from generate_series(1, 2000) g`.execute(
      db,
    )
    await sql`insert into enrollments (classroom_id, student_id)
              select ((s * 7 + k * 1999) % ${CLASSROOM_ROWS}) + 1, s from generate_series(1, 2000) s, generate_series(1, 5) k
              on conflict do nothing`.execute(db)
    await sql`create table bench_counters (id int primary key, n bigint not null default 0)`.execute(db)
    await sql`insert into bench_counters (id) select g from generate_series(1, ${COUNTER_ROWS}) g`.execute(db)
    await sql`create table bench_events (id bigint generated always as identity primary key, counter_id int not null, at timestamptz not null default now())`.execute(
      db,
    )
    await sql`analyze`.execute(db)
  } finally {
    await db.destroy()
  }
}
