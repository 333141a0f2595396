import { LocalPostgres } from '@classroom/local-postgres'
import { recordingLogger } from '@classroom/test-kit'
import { Kysely, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  currentReadPosition,
  InstrumentedPostgresDialect,
  loadDbConfig,
  onPrimary,
  withReadPosition,
} from '../src/index.js'
import { until } from './support.js'

interface Database {
  notes: { id: number; body: string }
}

let primary: LocalPostgres
let standby: LocalPostgres

beforeAll(async () => {
  primary = await LocalPostgres.temporary()
  await primary.query('create table notes (id int primary key, body text not null)')
  standby = await primary.startStandby()
}, 120_000)

afterAll(async () => {
  await standby?.destroy()
  await primary?.destroy()
})

/** Kysely over the primary with the standby as its one replica, once the replica is polled healthy. */
async function openRouted(env: Record<string, string> = {}) {
  const { logger, lines } = recordingLogger()
  const dialect = new InstrumentedPostgresDialect({
    ...loadDbConfig({
      DATABASE_URL: primary.connectionString('postgres'),
      DATABASE_READ_URLS: standby.connectionString('postgres'),
      DB_REPLICA_POLL_MS: '50',
      ...env,
    }),
    logger,
  })
  const db = new Kysely<Database>({ dialect })
  // The first statement makes the pools and starts the polls.
  await sql`select 1`.execute(db)
  await until('the replica to be polled healthy', () =>
    dialect.routing!.stats().replicas.every((replica) => replica.state === 'healthy'),
  )
  return { db, dialect, lines }
}

/** The port of the server that ran the statement, as a Kysely read. */
const portOf = (db: Kysely<Database>) =>
  db.selectNoFrom(sql<number>`inet_server_port()`.as('port')).executeTakeFirstOrThrow()

describe('read replicas: where each kind of statement goes', () => {
  it('Kysely reads outside a transaction (execute and stream) go to the replica; writes, write CTEs, raw SQL, transactions and db.connection() to the primary', async () => {
    const { db, dialect } = await openRouted()
    try {
      expect((await portOf(db)).port).toBe(standby.port)
      const streamed = []
      for await (const row of db.selectNoFrom(sql<number>`inet_server_port()`.as('port')).stream()) {
        streamed.push(row.port)
      }
      expect(streamed).toEqual([standby.port])

      const inserted = await db
        .insertInto('notes')
        .values({ id: 1, body: 'one' })
        .returning(sql<number>`inet_server_port()`.as('port'))
        .executeTakeFirstOrThrow()
      expect(inserted.port).toBe(primary.port)
      const updated = await db
        .updateTable('notes')
        .set({ body: 'uno' })
        .where('id', '=', 1)
        .returning(sql<number>`inet_server_port()`.as('port'))
        .executeTakeFirstOrThrow()
      expect(updated.port).toBe(primary.port)
      // A SELECT whose CTE writes is a write.
      const viaCte = await db
        .with('added', (q) => q.insertInto('notes').values({ id: 2, body: 'two' }).returning('id'))
        .selectFrom('added')
        .select(sql<number>`inet_server_port()`.as('port'))
        .executeTakeFirstOrThrow()
      expect(viaCte.port).toBe(primary.port)
      // A standby refuses row locks: a locking SELECT is no replica read.
      for (const locking of [
        db.selectFrom('notes').select(sql<number>`inet_server_port()`.as('port')).forUpdate(),
        db.selectFrom('notes').select(sql<number>`inet_server_port()`.as('port')).forShare().skipLocked(),
      ]) {
        expect((await locking.executeTakeFirstOrThrow()).port).toBe(primary.port)
      }
      const deleted = await db
        .deleteFrom('notes')
        .where('id', '=', 2)
        .returning(sql<number>`inet_server_port()`.as('port'))
        .executeTakeFirstOrThrow()
      expect(deleted.port).toBe(primary.port)

      const raw = await sql<{ port: number }>`select inet_server_port() as port`.execute(db)
      expect(raw.rows[0]!.port).toBe(primary.port)
      expect(await db.transaction().execute(async (trx) => (await portOf(trx)).port)).toBe(primary.port)
      const controlled = await db.startTransaction().execute()
      expect((await portOf(controlled)).port).toBe(primary.port)
      await controlled.commit().execute()
      // db.connection(): a session, whose statements all run on one server, the primary.
      const session = await db
        .connection()
        .execute(async (conn) => [(await portOf(conn)).port, (await portOf(conn)).port])
      expect(session).toEqual([primary.port, primary.port])

      const { readsByTarget, primaryFallbacks } = dialect.routing!.stats()
      expect(readsByTarget).toEqual({ primary: 0, replica1: 2 })
      expect(primaryFallbacks).toEqual({ forced: 0, behind_position: 0, no_healthy_replica: 0 })
    } finally {
      await db.destroy()
    }
  })

  it('db.connection() with a signal: its first read may run on the replica, every later statement on the primary', async () => {
    const { db } = await openRouted()
    try {
      const signal = new AbortController().signal
      const ports = await db
        .connection()
        .execute(async (conn) => [(await portOf(conn)).port, (await portOf(conn)).port], { signal })
      expect(ports).toEqual([standby.port, primary.port])
    } finally {
      await db.destroy()
    }
  })

  it('onPrimary sends reads in its scope to the primary, counted as forced', async () => {
    const { db, dialect } = await openRouted()
    try {
      expect((await onPrimary(() => portOf(db))).port).toBe(primary.port)
      const ports = await onPrimary(async () => [(await portOf(db)).port, (await portOf(db)).port])
      expect(ports).toEqual([primary.port, primary.port])
      expect((await portOf(db)).port).toBe(standby.port)
      expect(dialect.routing!.stats().primaryFallbacks.forced).toBe(3)
      expect(dialect.routing!.stats().readsByTarget).toEqual({ primary: 3, replica1: 1 })
    } finally {
      await db.destroy()
    }
  })

  it('db.destroy() ends the primary pool, every replica pool and the polls', async () => {
    const { db, dialect } = await openRouted()
    const polls = () =>
      standby.query<{ n: number }>(
        "select count(*)::int as n from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()",
      )
    expect((await polls())[0]!.n).toBeGreaterThan(0)
    await db.destroy()
    expect(dialect.pool.ended).toBe(true)
    await until('every connection to the standby to close', async () => (await polls())[0]!.n === 0)
  })
})

describe('read replicas: read-your-writes', () => {
  it('a write then a read in one scope sees its row while the standby has stopped replaying; outside the scope the read is stale', async () => {
    const { db, dialect } = await openRouted()
    await standby.query('select pg_wal_replay_pause()')
    try {
      const token = await withReadPosition(undefined, async () => {
        expect(currentReadPosition()).toBeUndefined()
        await db.insertInto('notes').values({ id: 10, body: 'mine' }).execute()
        const position = currentReadPosition()
        expect(position).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/)
        const row = await db.selectFrom('notes').select('body').where('id', '=', 10).executeTakeFirst()
        expect(row?.body).toBe('mine')
        return position!
      })
      expect(dialect.routing!.stats().primaryFallbacks.behind_position).toBe(1)
      // Without the scope the read goes to the paused standby and misses the write: the test can fail.
      expect(
        await db.selectFrom('notes').select('body').where('id', '=', 10).executeTakeFirst(),
      ).toBeUndefined()
      // The token carries the position to a later request.
      const later = await withReadPosition(token, () =>
        db.selectFrom('notes').select('body').where('id', '=', 10).executeTakeFirst(),
      )
      expect(later?.body).toBe('mine')

      await standby.query('select pg_wal_replay_resume()')
      await until('the replica to replay the write', async () => {
        const [replica] = dialect.routing!.stats().replicas
        return (
          replica!.replayPosition !== null &&
          (await standby.query('select 1 from notes where id = 10')).length === 1
        )
      })
      await until('a poll after the replay', async () => {
        const before = dialect.routing!.stats().readsByTarget.replica1!
        await withReadPosition(token, () =>
          db.selectFrom('notes').select('body').where('id', '=', 10).execute(),
        )
        return dialect.routing!.stats().readsByTarget.replica1! > before
      })
    } finally {
      await standby.query('select pg_wal_replay_resume()').catch(() => undefined)
      await db.destroy()
    }
  })

  it('a read whose position is newer than the last poll asks the standby at checkout: served there once replayed, else on the primary', async () => {
    // One poll at start, none after: only the check at checkout can see the standby replay the writes.
    const { db, dialect } = await openRouted({ DB_REPLICA_POLL_MS: '600000' })
    const stats = () => dialect.routing!.stats()
    const read = (id: number) => db.selectFrom('notes').select('body').where('id', '=', id).executeTakeFirst()
    try {
      await withReadPosition(undefined, async () => {
        await db.insertInto('notes').values({ id: 13, body: 'replayed' }).execute()
        await standby.waitForReplay()
        const before = stats()
        expect((await read(13))?.body).toBe('replayed')
        expect(stats().readsByTarget.replica1).toBe(before.readsByTarget.replica1! + 1)
        expect(stats().primaryFallbacks.behind_position).toBe(before.primaryFallbacks.behind_position)
        // What the standby said is kept: the next read at that position needs no question.
        expect(stats().replicas[0]!.replayPosition).not.toBe(before.replicas[0]!.replayPosition)

        await standby.query('select pg_wal_replay_pause()')
        await db.insertInto('notes').values({ id: 14, body: 'not replayed' }).execute()
        expect((await read(14))?.body).toBe('not replayed')
        expect(stats().primaryFallbacks.behind_position).toBe(before.primaryFallbacks.behind_position + 1)
      })
    } finally {
      await standby.query('select pg_wal_replay_resume()')
      await db.destroy()
    }
  })

  it('a transaction committed in a scope advances its position; DB_READ_YOUR_WRITES=false ignores positions', async () => {
    const { db, dialect } = await openRouted({ DB_READ_YOUR_WRITES: 'false' })
    await standby.query('select pg_wal_replay_pause()')
    try {
      await withReadPosition(undefined, async () => {
        await db
          .transaction()
          .execute((trx) => trx.insertInto('notes').values({ id: 11, body: 'tx' }).execute())
        // Read-your-writes off: no position taken, the read goes to the paused standby and is stale.
        expect(currentReadPosition()).toBeUndefined()
        expect(
          await db.selectFrom('notes').where('id', '=', 11).selectAll().executeTakeFirst(),
        ).toBeUndefined()
      })
      expect(dialect.routing!.stats().readsByTarget.replica1).toBe(1)
    } finally {
      await db.destroy()
    }
    const on = await openRouted()
    try {
      await withReadPosition(undefined, async () => {
        await on.db
          .transaction()
          .execute((trx) => trx.insertInto('notes').values({ id: 12, body: 'tx' }).execute())
        expect(currentReadPosition()).toBeDefined()
        const row = await on.db.selectFrom('notes').where('id', '=', 12).selectAll().executeTakeFirst()
        expect(row?.body).toBe('tx')
      })
    } finally {
      await standby.query('select pg_wal_replay_resume()')
      await on.db.destroy()
    }
  })
})
