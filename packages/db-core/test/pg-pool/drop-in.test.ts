// Where db-core's pool stands in for `new pg.Pool(options)`: the caller's Client class, a process
// that exits by itself, a listener's throw as pg-pool reports it. Process-level behaviour runs in a
// child Node process on the built package, as a user's script would.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { findClosedPort } from '@classroom/test-kit'
import pg from 'pg'
import { describe, expect, inject, it, vi } from 'vitest'
import { ConfigError, InstrumentedPool } from '../../src/index.js'
import { configFor } from '../support.js'

const run = promisify(execFile)
const DIST = new URL('../../dist/index.js', import.meta.url).href
const quiet = { error() {}, warn() {}, info() {}, debug() {} }

/** Runs `body` as an ES module in a fresh Node process (db-core's build as `InstrumentedPool`). */
async function script(body: string, timeoutMs = 20_000) {
  const source = `import { InstrumentedPool } from '${DIST}'\nconst quiet = { error() {}, warn() {}, info() {}, debug() {} }\n${body}`
  const startedAt = performance.now()
  const result = await run(process.execPath, ['--input-type=module', '-e', source], {
    timeout: timeoutMs,
    cwd: fileURLToPath(new URL('.', import.meta.url)),
  }).catch((error: { code?: number; stdout: string; stderr: string; killed?: boolean }) => error)
  return { ...result, ms: performance.now() - startedAt }
}

describe("pg.Pool's contract", () => {
  it('makes connections from the Client class given in options (a subclass of pg.Client), monitored as its own', async () => {
    class TaggedClient extends pg.Client {
      readonly tag = 'tagged'
    }
    const pool = new InstrumentedPool({
      ...configFor(inject('databaseUrl')),
      logger: quiet,
      clientConfig: { Client: TaggedClient },
    })
    try {
      const client = await pool.connect()
      expect(client).toBeInstanceOf(TaggedClient)
      expect((client as unknown as TaggedClient).tag).toBe('tagged')
      client.release()
      expect(pool.stats()).toMatchObject({ connectAttempts: 1, connectionsCreated: 1 })
    } finally {
      await pool.end()
    }
  })

  it('refuses a Client class that does not extend pg.Client, naming it and what is expected', () => {
    class NativeLikeClient {}
    const refuse = () =>
      new InstrumentedPool({
        ...configFor(inject('databaseUrl')),
        logger: quiet,
        clientConfig: { Client: NativeLikeClient as unknown as typeof pg.Client },
      })
    expect(refuse).toThrow(ConfigError)
    expect(refuse).toThrow(
      /clientConfig\.Client: got "NativeLikeClient"; expected pg's Client or a subclass of it/,
    )
  })

  it('size 0 keeps no connection once idle (pg-pool min: 0), and is refused with no overflow to open one', async () => {
    const pool = new InstrumentedPool({
      ...configFor(inject('databaseUrl'), {
        DB_POOL_SIZE: '0',
        DB_POOL_MAX_OVERFLOW: '5',
        DB_POOL_OVERFLOW_IDLE_MS: '100',
      }),
      logger: quiet,
    })
    try {
      await Promise.all(Array.from({ length: 3 }, () => pool.query('select pg_sleep(0.05)')))
      expect(pool.totalCount).toBe(3)
      await vi.waitFor(() => expect(pool.totalCount).toBe(0), { timeout: 3000, interval: 20 })
      await expect(pool.query('select 1 as one')).resolves.toMatchObject({ rows: [{ one: 1 }] })
    } finally {
      await pool.end()
    }
    expect(() => configFor(inject('databaseUrl'), { DB_POOL_SIZE: '0', DB_POOL_MAX_OVERFLOW: '0' })).toThrow(
      /DB_POOL_MAX_OVERFLOW: got "0"; expected at least 1 when DB_POOL_SIZE is 0/,
    )
  })

  it('a script whose only connection attempt failed exits by itself: no timer of the reconnect loop keeps it alive', async () => {
    const port = await findClosedPort()
    const result = await script(`
      const pool = new InstrumentedPool({ connectionString: 'postgres://app:x@127.0.0.1:${port}/app', logger: quiet })
      const error = await pool.query('select 1').catch((e) => e)
      console.log(error.code, pool.stats().databaseDown)
    `)
    expect(result).toMatchObject({ stdout: 'DATABASE_UNAVAILABLE true\n' })
    // Neither killed by the timeout nor failed: it ended on its own.
    expect((result as { code?: number }).code).toBeUndefined()
  })

  it("a throw in a 'connect' or 'acquire' listener is an uncaught exception, as with pg-pool, not an unhandled rejection", async () => {
    for (const event of ['connect', 'acquire']) {
      const result = await script(`
        process.on('uncaughtException', (error) => { console.log('uncaught', error.message); process.exit(0) })
        process.on('unhandledRejection', (error) => { console.log('unhandled rejection', error.message); process.exit(0) })
        const pool = new InstrumentedPool({ connectionString: ${JSON.stringify(inject('databaseUrl'))}, logger: quiet })
        pool.on('${event}', () => { throw new Error('listener threw on ${event}') })
        pool.query('select 1').catch(() => undefined)
      `)
      expect(result).toMatchObject({ stdout: `uncaught listener threw on ${event}\n` })
    }
  })
})
