import { LocalPostgres } from '@classroom/local-postgres'
import { type Generated, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isConnectionError } from '../src/index.js'
import { configFor, openDb, sleep } from './support.js'

interface Notes {
  notes: { id: Generated<number>; note: string }
  flag: { n: number }
}

// Terminates backends: a cluster of its own.
let cluster: LocalPostgres

beforeAll(async () => {
  cluster = await LocalPostgres.temporary()
  await cluster.query(`create table notes (id serial primary key, note text not null);
    insert into notes (note) values ('public');
    create schema other;
    create table other.notes (id serial primary key, note text not null);
    insert into other.notes (note) values ('other');
    create table flag (n int not null); insert into flag values (1)`)
})

afterAll(async () => {
  await cluster.destroy()
})

/** Terminates the backend running a statement that contains `marker`, once it is running. */
async function terminateRunning(marker: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const rows = await cluster.query<{ ok: boolean }>(
      `select pg_terminate_backend(pid) as ok from pg_stat_activity
       where query like $1 and pid <> pg_backend_pid()`,
      [`%${marker}%`],
    )
    if (rows.length > 0) return
    await sleep(10)
  }
  throw new Error(`no backend ran ${marker}`)
}

describe('what the read retry may run again', () => {
  it('does not retry a read inside db.connection() after the session was set up: it fails instead of reading another schema', async () => {
    const { db, pool, close } = openDb<Notes>(configFor(cluster.connectionString()))
    try {
      const outcome = await db
        .connection()
        .execute(async (conn) => {
          await sql`set search_path to other`.execute(conn)
          const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(conn)
          await cluster.query('select pg_terminate_backend($1)', [rows[0]!.pid])
          await sleep(100)
          return conn.selectFrom('notes').select('note').execute()
        })
        .catch((e: unknown) => e)
      // Run again on a new session, it would have answered [{ note: 'public' }] from the wrong schema.
      expect(isConnectionError(outcome)).toBe(true)
      expect(pool.stats().readRetries).toBe(0)
    } finally {
      await close()
    }
  })

  it('keeps the healthy connection of a retry that fails on its statement, not on its connection', async () => {
    await cluster.query('update flag set n = 1')
    const { db, pool, close } = openDb<Notes>(configFor(cluster.connectionString(), { DB_POOL_SIZE: '4' }))
    try {
      const read = db
        .selectFrom(sql`pg_sleep(0.3)`.as('s'))
        .select(sql<number>`1 / (select n from flag)`.as('ratio'))
        .execute()
        .catch((e: unknown) => e)
      await sleep(50)
      // The first run dies with its backend; the retry divides by zero: a statement error.
      await cluster.query('update flag set n = 0')
      await terminateRunning('pg_sleep(0.3)')
      const outcome = await read
      expect(outcome).toMatchObject({ code: '22012' })
      expect(pool.stats().readRetries).toBe(1)
      // Only the terminated connection was closed; the retry's went back to the pool.
      expect(pool.stats()).toMatchObject({ connectionsCreated: 2, connectionsRemoved: 1, total: 1, idle: 1 })
    } finally {
      await close()
    }
  })
})
