// withSessionSettings: every statement of the scope in a transaction whose settings left with its BEGIN.

import {
  type BouncedCluster,
  createTestDatabase,
  LocalPostgres,
  startBouncedCluster,
} from '@classroom/local-postgres'
import { recordingLogger } from '@classroom/test-kit'
import { Kysely, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import {
  InstrumentedPostgresDialect,
  loadDbConfig,
  SessionSettingsError,
  withSessionSettings,
} from '../src/index.js'
import { configFor, countExchanges, openDb, until } from './support.js'

interface Tables {
  marks: { owner: string; note: string }
}

let url: string

beforeAll(async () => {
  url = await createTestDatabase(inject('databaseUrl'), 'db_core_session_settings')
  const { db, close } = openDb(configFor(url))
  await sql`create table marks (owner text not null, note text not null)`.execute(db).finally(close)
})

function onePool(size = 1, target = url, env: Record<string, string> = {}) {
  const opened = openDb<Tables>(
    // FIFO: the interleaving tests queue 50 callers on a few connections on purpose, which the
    // adaptive policy would shed as overload (test/overload.test.ts); every caller must be served.
    configFor(target, {
      DB_POOL_SIZE: String(size),
      DB_POOL_MAX_OVERFLOW: '0',
      DB_POOL_QUEUE_POLICY: 'fifo',
      ...env,
    }),
  )
  return { ...opened, waits: countExchanges(opened.pool) }
}

const me = sql<{ me: string | null }>`select current_setting('app.user_id', true) as me`
const refusal = (reason: string) => expect.objectContaining({ code: 'SESSION_SETTINGS_REFUSED', reason })

describe('withSessionSettings', () => {
  it('sets them for a raw pool.query and a Kysely statement, each a transaction of its own in one write and one exchange, as without them', async () => {
    const { db, pool, waits, close } = onePool()
    try {
      await pool.query('select 1')
      const plain = { ...waits }
      await pool.query('select $1::int as one', [1])
      const bare = { count: waits.count - plain.count, writes: waits.writes - plain.writes }
      const before = { ...waits }
      const { rows, raw } = await withSessionSettings(
        { 'app.user_id': 'u1', 'app.role': 'teacher' },
        async () => ({
          raw: await pool.query<{ me: string; role: string; tx: string }>(
            "select current_setting('app.user_id') as me, current_setting('app.role') as role, (now() = statement_timestamp())::text as tx",
          ),
          rows: (await me.execute(db)).rows,
        }),
      )
      expect(raw.rows).toEqual([{ me: 'u1', role: 'teacher', tx: expect.any(String) }])
      expect(raw.command).toBe('SELECT')
      expect(rows).toEqual([{ me: 'u1' }])
      // Two statements: BEGIN, settings, statement and COMMIT in one write and one exchange each.
      expect({ count: waits.count - before.count, writes: waits.writes - before.writes }).toEqual({
        count: 2 * bare.count,
        writes: 2 * bare.writes,
      })
      // The same connection, after: nothing of them is left on it.
      expect((await pool.query("select current_setting('app.user_id', true) as me")).rows).toEqual([
        { me: '' },
      ])
      expect(pool.stats().unsafeReleases).toBe(0)
    } finally {
      await close()
    }
  })

  it('carries them behind a Kysely transaction’s BEGIN: three writes and three exchanges, as without them, every statement seeing them', async () => {
    const { db, waits, close } = onePool()
    try {
      await sql`select 1`.execute(db)
      const run = () =>
        db.transaction().execute(async (trx) => {
          await trx
            .insertInto('marks')
            .values({ owner: sql`coalesce(current_setting('app.user_id', true), '-')`, note: 'tx' } as never)
            .execute()
          const seen = await me.execute(trx)
          return seen.rows
        })
      const before = { ...waits }
      await run()
      const bare = { count: waits.count - before.count, writes: waits.writes - before.writes }
      const scoped = { ...waits }
      expect(await withSessionSettings({ 'app.user_id': 'u2' }, run)).toEqual([{ me: 'u2' }])
      expect({ count: waits.count - scoped.count, writes: waits.writes - scoped.writes }).toEqual(bare)
      expect(bare).toEqual({ count: 3, writes: 3 })
      const owners = await db.selectFrom('marks').select('owner').where('note', '=', 'tx').execute()
      expect(owners.map((row) => row.owner).sort()).toEqual(
        ['', 'u2'].map((o) => o || expect.any(String)).sort(),
      )
    } finally {
      await close()
    }
  })

  it('keeps each caller’s settings on its own statements: 400 interleaved over a pool of 2, raw and Kysely, none sees another’s', async () => {
    const { db, pool, close } = onePool(2)
    try {
      const seen = await Promise.all(
        Array.from({ length: 400 }, (_, i) =>
          withSessionSettings({ 'app.user_id': `user-${i % 50}` }, async () => {
            const raw = await pool.query<{ me: string }>("select current_setting('app.user_id') as me")
            const kysely = await db.transaction().execute(async (trx) => (await me.execute(trx)).rows[0]?.me)
            return [raw.rows[0]?.me, kysely, `user-${i % 50}`]
          }),
        ),
      )
      expect(seen.filter(([raw, kysely, mine]) => raw !== mine || kysely !== mine)).toEqual([])
      expect((await pool.query("select current_setting('app.user_id', true) as me")).rows).toEqual([
        { me: '' },
      ])
    } finally {
      await close()
    }
  })

  it('rolls back a failed statement’s own transaction before answering: its connection is idle and serves on', async () => {
    const { pool, close } = onePool()
    try {
      const client = await pool.connect()
      try {
        const outcome = await withSessionSettings({ 'app.user_id': 'u3' }, async () => {
          const failed = await client.query('select 1 / 0').catch((error: unknown) => error)
          const status = client.getTransactionStatus()
          const { rows } = await client.query<{ me: string }>("select current_setting('app.user_id') as me")
          return { failed, status, rows }
        })
        expect(outcome).toEqual({
          failed: expect.objectContaining({ code: '22012' }),
          status: 'I',
          rows: [{ me: 'u3' }],
        })
      } finally {
        client.release()
      }
      expect(pool.stats().unsafeReleases).toBe(0)
    } finally {
      await close()
    }
  })

  it('destroys a connection released with the scope’s transaction still open: the next checkout is another session, without the settings', async () => {
    const { pool, close } = onePool()
    try {
      const client = await pool.connect()
      const pid = await withSessionSettings({ 'app.user_id': 'u4' }, async () => {
        await client.query('begin')
        const { rows } = await client.query<{ pid: number; me: string }>(
          "select pg_backend_pid() as pid, current_setting('app.user_id') as me",
        )
        expect(rows[0]?.me).toBe('u4')
        return rows[0]?.pid
      })
      client.release()
      const next = await pool.query<{ pid: number; me: string }>(
        "select pg_backend_pid() as pid, current_setting('app.user_id', true) as me",
      )
      expect(next.rows[0]?.pid).not.toBe(pid)
      expect(next.rows[0]?.me ?? '').toBe('')
      expect(pool.stats().unsafeReleases).toBe(1)
    } finally {
      await close()
    }
  })

  it('refuses what cannot hold, with a typed reason, sending nothing', async () => {
    const { db, pool, close } = onePool()
    try {
      const scoped = <T>(fn: () => Promise<T>) =>
        withSessionSettings({ 'app.user_id': 'u5' }, () => fn().catch((error: unknown) => error))
      for (const text of [
        'set search_path = public',
        'SET SESSION AUTHORIZATION DEFAULT',
        'reset all',
        '/* x */ listen news',
        'discard all',
      ]) {
        expect(await scoped(() => pool.query(text))).toEqual(refusal('SESSION_STATEMENT'))
      }
      expect(await scoped(() => sql`set role none`.execute(db))).toEqual(refusal('SESSION_STATEMENT'))
      expect(await scoped(() => pool.query('select 1; select 2'))).toEqual(refusal('MULTIPLE_STATEMENTS'))
      // A stream outside a transaction outlives it; inside one it holds, with the settings.
      expect(
        await scoped(async () => {
          for await (const _ of db.selectFrom('marks').selectAll().stream()) void _
        }),
      ).toEqual(refusal('OUTSIDE_TRANSACTION'))
      const streamed = await withSessionSettings({ 'app.user_id': 'u5' }, () =>
        db.transaction().execute(async (trx) => {
          const rows = []
          for await (const row of trx
            .selectNoFrom(sql<string>`current_setting('app.user_id')`.as('me'))
            .stream())
            rows.push(row)
          return rows
        }),
      )
      expect(streamed).toEqual([{ me: 'u5' }])
      // A transaction begun outside the scope does not carry its settings.
      const client = await pool.connect()
      try {
        await client.query('begin')
        expect(await scoped(() => client.query('select 1'))).toEqual(refusal('FOREIGN_TRANSACTION'))
        await client.query('rollback')
        const first = client.query('select pg_sleep(0.05)')
        expect(await scoped(() => client.query('select 1'))).toEqual(refusal('PIPELINED'))
        await first
      } finally {
        client.release()
      }
      // A local SET is the transaction's: allowed.
      const local = await withSessionSettings({ 'app.user_id': 'u5' }, () =>
        db.transaction().execute(async (trx) => {
          await sql`set local statement_timeout = 1000`.execute(trx)
          return (await sql<{ t: string }>`show statement_timeout`.execute(trx)).rows
        }),
      )
      expect(local).toEqual([{ statement_timeout: '1s' }])
      expect(pool.stats().unsafeReleases).toBe(0)
    } finally {
      await close()
    }
  })

  it.each([
    [{}, 'none'],
    [{ user_id: '1' }, '"user_id"'],
    [{ 'app.x; drop': '1' }, '"app.x; drop"'],
    [{ 'app.id': 1 }, 'number for app.id'],
    [{ 'app.id': 'a\0b' }, 'a NUL character'],
  ])('refuses the settings %j, naming %s', (settings, named) => {
    const thrown = (() => {
      try {
        return withSessionSettings(settings as Record<string, string>, () => undefined)
      } catch (error) {
        return error
      }
    })()
    expect(thrown).toBeInstanceOf(SessionSettingsError)
    expect(thrown).toMatchObject({ reason: 'INVALID_SETTINGS', message: expect.stringContaining(named) })
  })

  it('adds an inner scope’s settings to the outer’s', async () => {
    const { pool, close } = onePool()
    try {
      const { rows } = await withSessionSettings({ 'app.user_id': 'outer', 'app.role': 'teacher' }, () =>
        withSessionSettings({ 'app.user_id': 'inner' }, () =>
          pool.query("select current_setting('app.user_id') as me, current_setting('app.role') as role"),
        ),
      )
      expect(rows).toEqual([{ me: 'inner', role: 'teacher' }])
    } finally {
      await close()
    }
  })
})

describe('withSessionSettings through PgBouncer in transaction mode', () => {
  let bounced: BouncedCluster

  beforeAll(async () => {
    bounced = await startBouncedCluster({ database: 'settings', poolSize: 2 })
  })

  afterAll(async () => {
    await bounced?.destroy()
  })

  it('gives 1 000 statements of 50 callers over 4 client connections and 2 server ones each its own settings', async () => {
    const { db, pool, close } = onePool(4, bounced.bouncer.connectionString(), { DB_PGBOUNCER: 'true' })
    try {
      const seen = await Promise.all(
        Array.from({ length: 500 }, (_, i) =>
          withSessionSettings({ 'app.user_id': `user-${i % 50}` }, async () => {
            const raw = await pool.query<{ me: string }>("select current_setting('app.user_id') as me")
            const kysely = await db.transaction().execute(async (trx) => {
              await sql`select pg_sleep(0)`.execute(trx)
              return (await me.execute(trx)).rows[0]?.me
            })
            return [raw.rows[0]?.me, kysely, `user-${i % 50}`]
          }),
        ),
      )
      expect(seen.filter(([raw, kysely, mine]) => raw !== mine || kysely !== mine)).toEqual([])
      const after = await Promise.all(Array.from({ length: 8 }, () => me.execute(db)))
      expect(after.flatMap((r) => r.rows.map((row) => row.me ?? ''))).toEqual(Array(8).fill(''))
    } finally {
      await close()
    }
  })
})

describe('withSessionSettings on a read replica', () => {
  let primary: LocalPostgres
  let standby: LocalPostgres

  beforeAll(async () => {
    primary = await LocalPostgres.temporary()
    standby = await primary.startStandby()
  }, 120_000)

  afterAll(async () => {
    await standby?.destroy()
    await primary?.destroy()
  })

  it('sets them on the standby’s transaction for a read routed there', async () => {
    const dialect = new InstrumentedPostgresDialect({
      ...loadDbConfig({
        DATABASE_URL: primary.connectionString('postgres'),
        DATABASE_READ_URLS: standby.connectionString('postgres'),
        DB_REPLICA_POLL_MS: '50',
      }),
      logger: recordingLogger().logger,
    })
    const db = new Kysely<Tables>({ dialect })
    try {
      await sql`select 1`.execute(db)
      await until('the replica to be polled healthy', () =>
        dialect.routing!.stats().replicas.every((replica) => replica.state === 'healthy'),
      )
      const row = await withSessionSettings({ 'app.user_id': 'reader' }, () =>
        db
          .selectNoFrom([
            sql<number>`inet_server_port()`.as('port'),
            sql<string>`current_setting('app.user_id')`.as('me'),
            sql<boolean>`pg_is_in_recovery()`.as('standby'),
          ])
          .executeTakeFirstOrThrow(),
      )
      expect(row).toEqual({ port: standby.port, me: 'reader', standby: true })
    } finally {
      await db.destroy()
    }
  })
})
