import { type Kysely, sql } from 'kysely'
import type pg from 'pg'
import type { Sql } from 'postgres'

/** The three SQL workloads every contender runs. */
export type WorkloadName = 'select-1' | 'indexed-read' | 'transaction'

export const WORKLOADS: readonly WorkloadName[] = ['select-1', 'indexed-read', 'transaction']

/** Rows in the tables the workloads touch (see dataset.ts). */
export const CLASSROOM_ROWS = 10_000
export const COUNTER_ROWS = 1_000

/** One operation of each workload, in a given client library. `id` is a random row id. */
export interface Driver {
  run(workload: WorkloadName, id: number): Promise<unknown>
  close(): Promise<void>
}

const INDEXED_READ = 'select id, name, capacity, created_at from classrooms where id = $1'
const UPDATE_COUNTER = 'update bench_counters set n = n + 1 where id = $1'
const INSERT_EVENT = 'insert into bench_events (counter_id) values ($1)'

/** node-postgres through a `pg.Pool` (bare, or db-core's instrumented subclass). */
export function pgDriver(pool: pg.Pool): Driver {
  return {
    async run(workload, id) {
      if (workload === 'select-1') return pool.query('select 1')
      if (workload === 'indexed-read') return pool.query(INDEXED_READ, [id])
      const client = await pool.connect()
      try {
        await client.query('begin')
        await client.query(UPDATE_COUNTER, [(id % COUNTER_ROWS) + 1])
        await client.query(INSERT_EVENT, [(id % COUNTER_ROWS) + 1])
        await client.query('commit')
      } catch (error) {
        await client.query('rollback').catch(() => undefined)
        throw error
      } finally {
        client.release()
      }
    },
    close: () => pool.end(),
  }
}

/** The tables the workloads touch, as Kysely sees them. */
export interface BenchDatabase {
  classrooms: { id: number; name: string; capacity: number; created_at: Date }
  bench_counters: { id: number; n: number }
  bench_events: { counter_id: number }
}

/** The same queries written with Kysely's builder: the builder's cost over raw pg. */
export function kyselyDriver(db: Kysely<BenchDatabase>, close: () => Promise<void>): Driver {
  return {
    async run(workload, id) {
      if (workload === 'select-1') return sql`select 1`.execute(db)
      if (workload === 'indexed-read') {
        return db
          .selectFrom('classrooms')
          .select(['id', 'name', 'capacity', 'created_at'])
          .where('id', '=', id)
          .executeTakeFirst()
      }
      const counter = (id % COUNTER_ROWS) + 1
      return db.transaction().execute(async (trx) => {
        await trx
          .updateTable('bench_counters')
          .set((eb) => ({ n: eb('n', '+', 1) }))
          .where('id', '=', counter)
          .execute()
        await trx.insertInto('bench_events').values({ counter_id: counter }).execute()
      })
    },
    close,
  }
}

/** postgres.js (it prepares statements by default; node-postgres sends unnamed ones). */
export function postgresJsDriver(client: Sql): Driver {
  return {
    async run(workload, id) {
      if (workload === 'select-1') return client`select 1`
      if (workload === 'indexed-read')
        return client`select id, name, capacity, created_at from classrooms where id = ${id}`
      const counter = (id % COUNTER_ROWS) + 1
      return client.begin(async (trx) => {
        await trx`update bench_counters set n = n + 1 where id = ${counter}`
        await trx`insert into bench_events (counter_id) values (${counter})`
      })
    },
    close: () => client.end(),
  }
}
