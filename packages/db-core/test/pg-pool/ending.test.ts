// pg-pool's own contract (node-postgres packages/pg-pool/test/ending.js), on db-core's pool.
import { describe, expect, inject, it } from 'vitest'
import { configFor, openPool } from '../support.js'

const pool = () =>
  openPool(configFor(inject('databaseUrl'), { DB_POOL_SIZE: '2', DB_POOL_MAX_OVERFLOW: '8' }))

describe('ending a pool, as pg-pool does', () => {
  it('ends without being used, calling its callback once, with no error', async () => {
    const calls: unknown[][] = []
    await new Promise<void>((resolve) =>
      pool().end((...args: unknown[]) => {
        calls.push(args)
        resolve()
      }),
    )
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(calls).toEqual([[]])
  })

  it('ends with a promise, after being used', async () => {
    const p = pool()
    const { rows } = await p.query<{ name: string }>('select $1::text as name', ['brianc'])
    expect(rows[0]?.name).toBe('brianc')
    await expect(p.end()).resolves.toBeUndefined()
    expect(p.totalCount).toBe(0)
  })

  it('lets queries already sent finish', async () => {
    const p = pool()
    const queries = Array.from({ length: 20 }, (_, i) => p.query('select $1::text as name', [`n${i}`]))
    await p.end()
    const results = await Promise.all(queries)
    expect(results.map((r) => r.rows[0].name)).toEqual(Array.from({ length: 20 }, (_, i) => `n${i}`))
  })

  it("an end() while ending shares the first one's outcome (pg-pool rejects it: a deliberate difference); after it, end() is refused as pg-pool refuses it", async () => {
    const p = pool()
    await p.query('select 1')
    const first = p.end()
    await expect(p.end()).resolves.toBeUndefined()
    await first
    await expect(p.end()).rejects.toThrow('Called end on pool more than once')
    const called = await new Promise<unknown[]>((resolve) => p.end((...args: unknown[]) => resolve(args)))
    expect((called[0] as Error).message).toBe('Called end on pool more than once')
    await expect(p.endWithin(100)).resolves.toBe(true)
  })

  it('refuses connect and query after end, by promise and by callback alike', async () => {
    const p = pool()
    await p.end()
    await expect(p.connect()).rejects.toThrow('Cannot use a pool after calling end on the pool')
    await expect(p.query('select 1')).rejects.toThrow('Cannot use a pool after calling end on the pool')
    const viaCallback = await new Promise<unknown>((resolve) =>
      p.query('select 1', (error) => resolve(error)),
    )
    expect(viaCallback).toBeInstanceOf(Error)
    const viaConnect = await new Promise<unknown>((resolve) => p.connect((error) => resolve(error)))
    expect(viaConnect).toBeInstanceOf(Error)
  })
})
