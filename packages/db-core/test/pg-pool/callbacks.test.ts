// pg-pool's callback contract (packages/pg-pool/test/error-handling.js, index.js): every call form
// calls back exactly once, outside any promise chain, with errors delivered to the callback.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type pg from 'pg'
import { describe, expect, inject, it } from 'vitest'
import { configFor, openPool } from '../support.js'

const DIST = fileURLToPath(new URL('../../dist/index.js', import.meta.url))

/**
 * Runs `body` in a node process of its own with `pool` (db-core's, on the test database) in scope,
 * and reports how the process ended: an exception thrown in a callback must surface as an uncaught
 * exception, as with pg-pool, never as an unhandled rejection.
 */
function runIsolated(body: string): { status: number | null; stdout: string } {
  const script = `
    import { InstrumentedPool } from ${JSON.stringify(DIST)}
    const silent = { error() {}, warn() {}, info() {}, debug() {} }
    const pool = new InstrumentedPool({ connectionString: process.env.URL, logger: silent })
    process.on('unhandledRejection', (reason) => { console.log('unhandled rejection:', reason.message); process.exit(3) })
    process.on('uncaughtException', (error) => { console.log('uncaught exception:', error.message); process.exit(4) })
    ${body}
  `
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, URL: inject('databaseUrl') },
    timeout: 30_000,
  })
  return { status: run.status, stdout: run.stdout }
}

describe('callbacks, as pg-pool calls them', () => {
  it('a throw inside a connect callback is an uncaught exception, not an unhandled rejection', () => {
    const run = runIsolated(
      `pool.connect((err, client, done) => { done(); throw new Error('boom in connect') })`,
    )
    expect(run).toMatchObject({ status: 4, stdout: 'uncaught exception: boom in connect\n' })
  })

  it('a throw inside a query callback is an uncaught exception, not an unhandled rejection', () => {
    const run = runIsolated(`pool.query('select 1', () => { throw new Error('boom in query') })`)
    expect(run).toMatchObject({ status: 4, stdout: 'uncaught exception: boom in query\n' })
  })

  it('a throw inside an end callback is an uncaught exception, not an unhandled rejection', () => {
    const run = runIsolated(`pool.end(() => { throw new Error('boom in end') })`)
    expect(run).toMatchObject({ status: 4, stdout: 'uncaught exception: boom in end\n' })
  })

  it('connect(cb) and query(text, values, cb) call back exactly once, with the client and the result', async () => {
    const pool = openPool(configFor(inject('databaseUrl')))
    try {
      const connects: unknown[][] = []
      await new Promise<void>((resolve) =>
        pool.connect((error, client, done) => {
          connects.push([error, typeof client?.query, typeof done])
          done()
          resolve()
        }),
      )
      const queries: unknown[][] = []
      await new Promise<void>((resolve) =>
        pool.query('select $1::int as n', [7], (error: Error | undefined, result: pg.QueryResult) => {
          queries.push([error, result.rows])
          resolve()
        }),
      )
      await new Promise((resolve) => setTimeout(resolve, 20))
      expect(connects).toEqual([[undefined, 'function', 'function']])
      expect(queries).toEqual([[undefined, [{ n: 7 }]]])
    } finally {
      await pool.end()
    }
  })

  it('delivers a statement error to the query callback, and a function as the text as an error', async () => {
    const pool = openPool(configFor(inject('databaseUrl')))
    try {
      const error = await new Promise<unknown>((resolve) =>
        pool.query('select nonsense(', (err: Error) => resolve(err)),
      )
      expect(error).toMatchObject({ code: '42601' })
      const misuse = await new Promise<unknown>((resolve) =>
        (pool.query as unknown as (cb: (err: Error) => void) => void)((err) => resolve(err)),
      )
      expect(misuse).toBeInstanceOf(Error)
    } finally {
      await pool.end()
    }
  })
})
