import { createTestDatabase } from '@classroom/local-postgres'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { InstrumentedPool } from '../src/index.js'
import { configFor, openPool, preparedStatementNames } from './support.js'

// Its own file: pg warns of a statement submitted while another runs once per process.
let url: string
const pools: InstrumentedPool[] = []
const warnings: string[] = []
const onWarning = (warning: Error) => warnings.push(warning.message)

beforeAll(async () => {
  url = await createTestDatabase(inject('databaseUrl'), 'db_core_statement_closing')
  process.on('warning', onWarning)
})

afterAll(async () => {
  process.off('warning', onWarning)
  await Promise.all(pools.map((p) => p.end()))
})

function pool(cacheSize: number): InstrumentedPool {
  const created = openPool(
    configFor(url, {
      DB_POOL_SIZE: '1',
      DB_POOL_MAX_OVERFLOW: '0',
      DB_STATEMENT_CACHE_SIZE: String(cacheSize),
    }),
  )
  pools.push(created)
  return created
}

/**
 * A read with a parameter, prepared on `p`'s connection, then re-planned: `table` gains a column,
 * so the server answers the prepared statement 0A000 until it is prepared anew. Returns its text.
 */
async function replannedRead(p: InstrumentedPool, table: string, column: string): Promise<string> {
  await p.query(`create table ${table} (id int primary key)`)
  await p.query(`insert into ${table} values (1)`)
  const read = `select * from ${table} where id = $1`
  await p.query(read, [1])
  await p.query(`alter table ${table} add column ${column}`)
  return read
}

describe('closing prepared statements', () => {
  it("closes evicted and re-planned statements in the next statement's own exchange: none is ever submitted while another runs (pg 9 refuses it)", async () => {
    const p = pool(2)
    const read = await replannedRead(p, 'replanned', 'note text default $$added$$')
    // 0A000 outside a transaction: closed and run again, from the failed statement's callback.
    expect((await p.query(read, [1])).rows).toEqual([{ id: 1, note: 'added' }])
    for (let i = 0; i < 6; i++) await p.query(`select $1::int + ${i} as n`, [i])
    await new Promise((resolve) => setImmediate(resolve))
    expect(p.stats().statementsPreparedAnew).toBe(1)
    expect(await preparedStatementNames(p)).toHaveLength(2)
    expect(warnings.filter((w) => w.includes('already executing a query'))).toEqual([])
  })

  it('closes a statement re-planned inside a transaction with the next statement, though that transaction is aborted', async () => {
    const p = pool(5)
    const read = await replannedRead(p, 'replanned_in_transaction', 'note text')
    const client = await p.connect()
    try {
      await client.query('begin')
      await expect(client.query(read, [1])).rejects.toMatchObject({ code: '0A000' })
      // Its Close goes out ahead of this statement, which the aborted transaction refuses.
      await expect(client.query('select $1::int as n', [1])).rejects.toMatchObject({ code: '25P02' })
      await client.query('rollback')
      // Prepared anew under the same name: the server no longer held the old one.
      expect((await client.query(read, [1])).rows).toEqual([{ id: 1, note: null }])
    } finally {
      client.release()
    }
  })

  it('evicts a statement whose preparation failed inside a transaction, which goes on (closing what the server lacks is no error)', async () => {
    const p = pool(1)
    const client = await p.connect()
    try {
      // The name is cached, but the server refused to prepare it: it holds nothing under it.
      await expect(client.query('selec $1::int', [1])).rejects.toMatchObject({ code: '42601' })
      await client.query('begin')
      expect((await client.query('select $1::int as n', [7])).rows).toEqual([{ n: 7 }])
      await client.query('commit')
    } finally {
      client.release()
    }
    expect(await preparedStatementNames(p)).toHaveLength(1)
  })
})
