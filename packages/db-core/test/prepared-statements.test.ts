import { createTestDatabase } from '@classroom/local-postgres'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { InstrumentedPool } from '../src/index.js'
import { configFor, openDb, openPool, preparedStatementNames, sleep } from './support.js'

let url: string
const pools: InstrumentedPool[] = []

beforeAll(async () => {
  url = await createTestDatabase(inject('databaseUrl'), 'db_core_prepared')
})

afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()))
})

function pool(overrides: Record<string, string> = {}): InstrumentedPool {
  const created = openPool(configFor(url, { DB_POOL_SIZE: '1', DB_POOL_MAX_OVERFLOW: '0', ...overrides }))
  pools.push(created)
  return created
}

describe('prepared statements', () => {
  it('prepares a statement with parameters once per connection, under a name made from its text, for raw and Kysely queries', async () => {
    const p = pool()
    for (let i = 0; i < 3; i++) await p.query('select $1::int as n', [i])
    expect(await preparedStatementNames(p)).toEqual([expect.stringMatching(/^dbc_/)])
    const {
      db,
      pool: viaKysely,
      close,
    } = openDb<{ pg_class: { relname: string } }>(
      configFor(url, { DB_POOL_SIZE: '1', DB_POOL_MAX_OVERFLOW: '0' }),
    )
    try {
      for (let i = 0; i < 3; i++)
        await db
          .selectFrom('pg_class')
          .select('relname')
          .limit(i + 1)
          .execute()
      expect(await preparedStatementNames(viaKysely)).toHaveLength(1)
      // The same text has the same name on every connection.
      const compiled = db.selectFrom('pg_class').select('relname').limit(1).compile()
      await p.query(compiled.sql, [...compiled.parameters])
      const [kyselyName] = await preparedStatementNames(viaKysely)
      expect(await preparedStatementNames(p)).toContain(kyselyName)
    } finally {
      await close()
    }
  })

  it('keeps what a config object asks for (row mode, its values) and passes errors back with their caller, in every calling form', async () => {
    const p = pool()
    const client = await p.connect()
    try {
      const config = { text: 'select $1::int as n, $2::text as t', values: [1, 'a'], rowMode: 'array' }
      expect((await client.query(config)).rows).toEqual([[1, 'a']])
      // The caller's config object is left as it was: no statement name written into it.
      expect(config).not.toHaveProperty('name')
      const viaCallback = await new Promise((resolve, reject) =>
        client.query('select $1::int as n', [2], (error, result) =>
          error ? reject(error) : resolve(result.rows),
        ),
      )
      expect(viaCallback).toEqual([{ n: 2 }])
      const failed = await client.query('select $1::int / 0 as n', [3]).catch((error: Error) => error)
      expect(failed).toMatchObject({ code: '22012' })
      expect(String((failed as Error).stack)).toContain('prepared-statements.test.ts')
    } finally {
      client.release()
    }
    expect(await preparedStatementNames(p)).toHaveLength(3)
  })

  it('keeps at most DB_STATEMENT_CACHE_SIZE per connection, closing the least recently used', async () => {
    const p = pool({ DB_STATEMENT_CACHE_SIZE: '3' })
    for (let i = 0; i < 10; i++) await p.query(`select $1::int + ${i} as n`, [i])
    expect(await preparedStatementNames(p)).toHaveLength(3)
    await p.query('select $1::int + 0 as n', [1])
    expect((await p.query('select $1::int + 9 as n', [1])).rows).toEqual([{ n: 10 }])
    expect(await preparedStatementNames(p)).toHaveLength(3)
  })

  it('prepares nothing with DB_STATEMENT_CACHE_SIZE=0 or through PgBouncer, and runs several parameterless statements at once', async () => {
    for (const overrides of [{ DB_STATEMENT_CACHE_SIZE: '0' }, { DB_PGBOUNCER: 'true' }] as Record<
      string,
      string
    >[]) {
      const p = pool(overrides)
      await p.query('select $1::int as n', [1])
      expect(await preparedStatementNames(p)).toEqual([])
    }
    const results = (await pool().query('select 1 as a; select 2 as b')) as unknown as { rows: unknown[] }[]
    expect(results.map((r) => r.rows)).toEqual([[{ a: 1 }], [{ b: 2 }]])
  })

  it('prepares anew, and runs again, a statement the server no longer holds (26000 after DEALLOCATE ALL)', async () => {
    const p = pool()
    await p.query('select $1::int as n', [1])
    expect(await preparedStatementNames(p)).toHaveLength(1)
    await p.query('deallocate all')
    expect(await preparedStatementNames(p)).toEqual([])
    expect((await p.query('select $1::int as n', [2])).rows).toEqual([{ n: 2 }])
    expect(await preparedStatementNames(p)).toHaveLength(1)
    expect(p.stats().statementsPreparedAnew).toBe(1)
  })

  it('survives ALTER TABLE under concurrent load: statements whose result changed are prepared anew, none fails', async () => {
    const { db, pool: p, close } = openDb<{ altered: { id: number } }>(configFor(url))
    try {
      await sql`create table altered (id int primary key)`.execute(db)
      await sql`insert into altered select g from generate_series(1, 100) g`.execute(db)
      let failures = 0
      let runs = 0
      const until = performance.now() + 1500
      const user = async () => {
        while (performance.now() < until) {
          runs++
          await db
            .selectFrom('altered')
            .selectAll()
            .where('id', '=', 1 + (runs % 100))
            .execute()
            .catch(() => failures++)
        }
      }
      const load = Promise.all(Array.from({ length: 20 }, user))
      for (let i = 0; i < 3; i++) {
        await sleep(300)
        await sql.raw(`alter table altered add column c${i} int default ${i}`).execute(db)
      }
      await load
      expect(failures).toBe(0)
      expect(runs).toBeGreaterThan(100)
      expect(p.stats().statementsPreparedAnew).toBeGreaterThan(0)
    } finally {
      await close()
    }
  })

  it('inside a transaction reports the changed statement (the transaction is aborted), and prepares it anew after', async () => {
    const {
      db,
      pool: p,
      close,
    } = openDb<{ changing: { id: number } }>(configFor(url, { DB_POOL_SIZE: '1', DB_POOL_MAX_OVERFLOW: '0' }))
    try {
      await sql`create table changing (id int primary key)`.execute(db)
      await sql`insert into changing values (1)`.execute(db)
      const read = () => db.selectFrom('changing').selectAll().where('id', '=', 1)
      await read().execute()
      await sql`alter table changing add column note text default 'added'`.execute(db)
      const inTransaction = await db
        .transaction()
        .execute((trx) => trx.selectFrom('changing').selectAll().where('id', '=', 1).execute())
        .catch((e: unknown) => e)
      expect(inTransaction).toMatchObject({ code: '0A000' })
      expect(await read().execute()).toEqual([{ id: 1, note: 'added' }])
      expect(
        await db
          .transaction()
          .execute((trx) => trx.selectFrom('changing').selectAll().where('id', '=', 1).execute()),
      ).toEqual([{ id: 1, note: 'added' }])
      expect(p.stats().statementsPreparedAnew).toBe(0)
    } finally {
      await close()
    }
  })
})
