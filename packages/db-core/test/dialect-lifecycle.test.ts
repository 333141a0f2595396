import { spawn } from 'node:child_process'
import { recordingLogger } from '@classroom/test-kit'
import { Kysely, sql } from 'kysely'
import pg from 'pg'
import { describe, expect, inject, it } from 'vitest'
import { InstrumentedPool, InstrumentedPostgresDialect } from '../src/index.js'

const url = inject('databaseUrl')
const FIXTURE = new URL('./fixtures/kysely-lifecycle.mjs', import.meta.url).pathname

/** What the fixture made and ended, once it exited by itself; `'still running'` after `waitMs`. */
function runScenario(scenario: string, waitMs: number): Promise<unknown> {
  const child = spawn(process.execPath, [FIXTURE, url, scenario], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk
  })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill()
      resolve('still running')
    }, waitMs)
    child.once('exit', (code) => {
      clearTimeout(timer)
      if (code === 0) resolve(JSON.parse(out))
      else reject(new Error(`the fixture exited with ${code}`))
    })
  })
}

const newPool = () => new InstrumentedPool({ connectionString: url, logger: recordingLogger().logger })

describe("InstrumentedPostgresDialect's lifecycle: Kysely's PostgresDialect's", () => {
  it('new Kysely then db.destroy() with no query makes no pool, and the process exits by itself', async () => {
    await expect(runScenario('options, no query', 10_000)).resolves.toEqual({ made: 0, ended: [] })
    await expect(runScenario('factory, no query', 10_000)).resolves.toEqual({ made: 0, ended: [] })
    const dialect = new InstrumentedPostgresDialect({ connectionString: url })
    await new Kysely({ dialect }).destroy()
    expect(() => dialect.pool).toThrow(/no pool yet: a Kysely instance makes it when it first connects/)
  })

  it('db.destroy() ends the pool of an instance that connected without a query; the process exits', async () => {
    await expect(runScenario('factory, a checkout without a query', 10_000)).resolves.toEqual({
      made: 1,
      ended: [true],
    })
  })

  it('one dialect from a factory serves two Kysely instances, each destroy ending its own pool', async () => {
    const pools: InstrumentedPool[] = []
    const dialect = new InstrumentedPostgresDialect({
      pool: async () => {
        pools.push(newPool())
        return pools.at(-1)!
      },
    })
    const first = new Kysely({ dialect })
    const second = new Kysely({ dialect })
    await sql`select 1`.execute(first)
    await sql`select 1`.execute(second)
    expect(pools).toHaveLength(2)
    expect(dialect.pool).toBe(pools[1])
    await first.destroy()
    expect(pools[0]!.ending).toBe(true)
    expect(pools[0]!.totalCount).toBe(0)
    await expect(sql<{ one: number }>`select 1 as one`.execute(second)).resolves.toMatchObject({
      rows: [{ one: 1 }],
    })
    await second.destroy()
    expect(pools[1]!.ending).toBe(true)
    await expect(runScenario('factory, both queried', 10_000)).resolves.toEqual({
      made: 2,
      ended: [true, true],
    })
  })

  it('db.destroy() after the app ended the pool itself resolves (the pool refuses a second end(), Kysely is not told twice)', async () => {
    const pool = newPool()
    const db = new Kysely({ dialect: new InstrumentedPostgresDialect({ pool }) })
    await sql`select 1`.execute(db)
    await pool.end()
    await expect(pool.end()).rejects.toThrow('Called end on pool more than once')
    await expect(db.destroy()).resolves.toBeUndefined()
  })

  it('a pool handed over and only used directly is the caller to end: the process stays alive', async () => {
    // The check above can fail: a pool left open keeps its process running.
    await expect(runScenario('given pool, used directly', 2_000)).resolves.toBe('still running')
  })

  it('refuses a pg.Pool, a pool with settings beside it, and a factory that makes no InstrumentedPool', async () => {
    const plain = new pg.Pool({ connectionString: url })
    expect(() => new InstrumentedPostgresDialect({ pool: plain as unknown as InstrumentedPool })).toThrow(
      'InstrumentedPostgresDialect takes an InstrumentedPool, not a BoundPool',
    )
    await plain.end()
    const pool = newPool()
    expect(
      () => new InstrumentedPostgresDialect({ pool, connectionString: url } as { pool: InstrumentedPool }),
    ).toThrow('takes a pool or its settings, not both: connectionString belong')
    await pool.end()
    const db = new Kysely({
      dialect: new InstrumentedPostgresDialect({ pool: () => plain as unknown as InstrumentedPool }),
    })
    await expect(sql`select 1`.execute(db)).rejects.toThrow(
      "InstrumentedPostgresDialect's pool factory returned a BoundPool, not an InstrumentedPool",
    )
    await db.destroy()
  })
})
