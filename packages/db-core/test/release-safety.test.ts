import { createTestDatabase } from '@classroom/local-postgres'
import { recordingLogger } from '@classroom/test-kit'
import { sql } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { InstrumentedPool } from '../src/index.js'
import { configFor, openDb, openPool } from './support.js'

let url: string
let admin: pg.Client

beforeAll(async () => {
  url = await createTestDatabase(inject('databaseUrl'), 'db_core_release_safety')
  admin = new pg.Client({ connectionString: url })
  await admin.connect()
  await admin.query('create table if not exists writes (id serial primary key, note text not null)')
})

afterAll(async () => {
  await admin?.end()
})

const committed = async (note: string) =>
  Number((await admin.query('select count(*) as n from writes where note = $1', [note])).rows[0].n)

/** A pool of one connection, so that the next checkout gets the very session released before. */
function poolOfOne(): { pool: InstrumentedPool; lines: ReturnType<typeof recordingLogger>['lines'] } {
  const { logger, lines } = recordingLogger()
  const pool = openPool(configFor(url, { DB_POOL_SIZE: '1', DB_POOL_MAX_OVERFLOW: '0' }), logger)
  return { pool, lines }
}

const backend = async (pool: InstrumentedPool) =>
  (await pool.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid

describe('a connection released while its session is still busy', () => {
  it('inside an open transaction: destroyed, so the next callers’ autocommit writes all commit', async () => {
    const { pool, lines } = poolOfOne()
    try {
      const client = await pool.connect()
      await client.query('begin')
      await client.query('insert into writes (note) values ($1)', ['abandoned'])
      client.release() // an error path that forgot the ROLLBACK
      for (let i = 0; i < 40; i++) await pool.query('insert into writes (note) values ($1)', ['after-open'])
      expect(await committed('after-open')).toBe(40)
      expect(await committed('abandoned')).toBe(0)
      expect(pool.stats().unsafeReleases).toBe(1)
      const warning = lines.find((line) => line.level === 'warn')
      expect(warning?.message).toBe(
        'a connection released inside an open transaction was destroyed instead of reused',
      )
      // pool.connect() records the code that took the connection: the report names it.
      expect(String(warning?.acquiredAt)).toContain('release-safety.test.ts')
    } finally {
      await pool.end()
    }
  })

  it('inside a failed transaction: destroyed, the next caller gets a fresh session', async () => {
    const { pool } = poolOfOne()
    try {
      const before = await backend(pool)
      const client = await pool.connect()
      await client.query('begin')
      await client.query('select nonsense(').catch(() => undefined)
      client.release()
      expect(await backend(pool)).not.toBe(before)
      await pool.query('insert into writes (note) values ($1)', ['after-failed'])
      expect(await committed('after-failed')).toBe(1)
      expect(pool.stats().unsafeReleases).toBe(1)
    } finally {
      await pool.end()
    }
  })

  it('with a query in flight: destroyed, never handed to the next caller mid-query', async () => {
    const { pool } = poolOfOne()
    try {
      const before = await backend(pool)
      const client = await pool.connect()
      const running = client.query('select pg_sleep(0.3)').catch((error: unknown) => error)
      client.release()
      expect(await backend(pool)).not.toBe(before)
      expect(await running).toBeInstanceOf(Error)
      expect(pool.stats().unsafeReleases).toBe(1)
    } finally {
      await pool.end()
    }
  })

  it('from a Kysely db.connection() scope that began a transaction by hand and threw: destroyed too', async () => {
    const { logger } = recordingLogger()
    const { db, pool, close } = openDb(
      configFor(url, { DB_POOL_SIZE: '1', DB_POOL_MAX_OVERFLOW: '0' }),
      logger,
    )
    try {
      await db
        .connection()
        .execute(async (connection) => {
          await sql`begin`.execute(connection)
          await sql`insert into writes (note) values ('scoped-abandoned')`.execute(connection)
          throw new Error('an error path that forgot the ROLLBACK')
        })
        .catch(() => undefined)
      await sql`insert into writes (note) values ('after-scope')`.execute(db)
      expect(await committed('after-scope')).toBe(1)
      expect(await committed('scoped-abandoned')).toBe(0)
      expect(pool.stats().unsafeReleases).toBe(1)
    } finally {
      await close()
    }
  })

  it('idle after COMMIT or ROLLBACK: reused as it is, nothing counted', async () => {
    const { pool, lines } = poolOfOne()
    try {
      const before = await backend(pool)
      const client = await pool.connect()
      await client.query('begin')
      await client.query('insert into writes (note) values ($1)', ['kept'])
      await client.query('commit')
      client.release()
      const again = await pool.connect()
      await again.query('begin')
      await again.query('rollback')
      again.release()
      expect(await backend(pool)).toBe(before)
      expect(pool.stats().unsafeReleases).toBe(0)
      expect(lines.filter((line) => line.level === 'warn')).toEqual([])
    } finally {
      await pool.end()
    }
  })
  it('guards every checkout with one function made for the connection, none made per checkout', async () => {
    const { pool } = poolOfOne()
    try {
      const first = await pool.connect()
      const guard = first.release
      first.release()
      const second = await pool.connect()
      expect(second).toBe(first)
      expect(second.release).toBe(guard)
      // Still pg-pool's release underneath: a second release of one checkout throws, as with pg-pool.
      second.release()
      expect(() => second.release()).toThrow('Release called on client which has already been released')
    } finally {
      await pool.end()
    }
  })
})
