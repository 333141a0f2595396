import { FaultProxy, LocalPostgres } from '@classroom/local-postgres'
import { recordingLogger } from '@classroom/test-kit'
import { Kysely, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InstrumentedPostgresDialect, loadDbConfig } from '../src/index.js'
import { sleep, until } from './support.js'

interface Database {
  ticks: { id: number }
}

let primary: LocalPostgres
let standby: LocalPostgres

beforeAll(async () => {
  primary = await LocalPostgres.temporary()
  await primary.query('create table ticks (id serial primary key)')
  standby = await primary.startStandby()
}, 120_000)

afterAll(async () => {
  await standby?.destroy()
  await primary?.destroy()
})

/** Kysely over the primary with `replicas` as read URLs, polled every 50 ms. */
async function openRouted(replicas: LocalPostgres[] | string, env: Record<string, string> = {}) {
  const { logger, lines } = recordingLogger()
  const dialect = new InstrumentedPostgresDialect({
    ...loadDbConfig({
      DATABASE_URL: primary.connectionString('postgres'),
      DATABASE_READ_URLS:
        typeof replicas === 'string'
          ? replicas
          : replicas.map((r) => r.connectionString('postgres')).join(','),
      DB_REPLICA_POLL_MS: '50',
      ...env,
    }),
    logger,
  })
  const db = new Kysely<Database>({ dialect })
  await sql`select 1`.execute(db)
  const state = () => dialect.routing!.stats().replicas[0]!.state
  const transitions = () =>
    lines.filter((l) => l.message === 'replica left' || l.message === 'replica returned')
  return { db, dialect, state, transitions }
}

const portOf = async (db: Kysely<Database>) =>
  (await db.selectNoFrom(sql<number>`inet_server_port()`.as('port')).executeTakeFirstOrThrow()).port

describe('read replicas that fall behind, fail or are promoted', () => {
  it('a replica further behind than DB_REPLICA_MAX_LAG_MS is left out, and taken back once caught up', async () => {
    const { db, dialect, state, transitions } = await openRouted([standby], { DB_REPLICA_MAX_LAG_MS: '300' })
    let writing = true
    try {
      await until('the replica to be healthy', () => state() === 'healthy')
      expect(await portOf(db)).toBe(standby.port)
      await standby.query('select pg_wal_replay_pause()')
      // The primary moves on while the standby replays nothing.
      const writer = (async () => {
        while (writing) {
          await primary.query('insert into ticks default values')
          await sleep(20)
        }
      })()
      await until('the replica to be left out as lagging', () => state() === 'lagging')
      const [lagging] = dialect.routing!.stats().replicas
      expect(lagging!.lagMs).toBeGreaterThan(300)
      expect(await portOf(db)).toBe(primary.port)
      expect(dialect.routing!.stats().primaryFallbacks.no_healthy_replica).toBeGreaterThan(0)

      await standby.query('select pg_wal_replay_resume()')
      writing = false
      await writer
      await until('the replica to return', () => state() === 'healthy')
      expect(await portOf(db)).toBe(standby.port)
      expect(transitions()).toEqual([
        expect.objectContaining({
          level: 'warn',
          message: 'replica left',
          replica: 'replica1',
          state: 'lagging',
        }),
        expect.objectContaining({
          level: 'info',
          message: 'replica returned',
          replica: 'replica1',
          was: 'lagging',
        }),
      ])
      expect(transitions()[0]!.reason).toMatch(/ms behind the primary \(DB_REPLICA_MAX_LAG_MS is 300\)/)
    } finally {
      writing = false
      await standby.query('select pg_wal_replay_resume()').catch(() => undefined)
      await db.destroy()
    }
  })

  it('a replica that stops: a read in flight on it and the reads after it are answered by the primary, none fails; it returns when started', async () => {
    const { db, dialect, state, transitions } = await openRouted([standby])
    try {
      await until('the replica to be healthy', () => state() === 'healthy')
      const slow = db
        .selectNoFrom([sql<number>`inet_server_port()`.as('port'), sql`pg_sleep(3)`.as('slept')])
        .executeTakeFirstOrThrow()
      await until('the slow read to run on the standby', async () => {
        const running = await standby.query(
          "select 1 from pg_stat_activity where query like '%pg_sleep(3)%' and pid <> pg_backend_pid()",
        )
        return running.length > 0
      })
      const stopping = standby.stop('fast')
      // Reads sent while it stops and after: each one answered.
      const reads = await Promise.all(Array.from({ length: 20 }, () => portOf(db)))
      await stopping
      expect((await slow).port).toBe(primary.port)
      for (const port of reads) expect([standby.port, primary.port]).toContain(port)
      expect(await portOf(db)).toBe(primary.port)
      expect(state()).toBe('down')
      const { primaryFallbacks, readsByTarget } = dialect.routing!.stats()
      expect(primaryFallbacks.no_healthy_replica).toBeGreaterThan(0)
      expect(readsByTarget.replica1).toBeGreaterThan(0)

      await standby.start()
      await until('the replica to return', () => state() === 'healthy')
      expect(await portOf(db)).toBe(standby.port)
      expect(transitions().map((l) => [l.level, l.message, l.state])).toEqual([
        ['warn', 'replica left', 'down'],
        ['info', 'replica returned', undefined],
      ])
    } finally {
      if (!standby.running) await standby.start()
      await db.destroy()
    }
  })

  it.each([
    ['on', 'runs again on the primary, the replica left out until its next poll'],
    ['off', 'fails with its connection error'],
  ])('DB_READ_RETRY=%s: a read whose replica connection is terminated %s', async (retry) => {
    const { db, state, transitions } = await openRouted([standby], {
      DB_READ_RETRY: retry === 'on' ? 'true' : 'false',
    })
    try {
      await until('the replica to be healthy', () => state() === 'healthy')
      // Settled into a value at once: a rejection must not wait unhandled while the test looks.
      const slow = db
        .selectNoFrom([sql<number>`inet_server_port()`.as('port'), sql`pg_sleep(3)`.as('slept')])
        .executeTakeFirstOrThrow()
        .then(
          (row) => ({ port: row.port, error: undefined }),
          (error: unknown) => ({ port: undefined, error }),
        )
      const running =
        "select pid from pg_stat_activity where query like '%pg_sleep(3)%' and pid <> pg_backend_pid()"
      await until(
        'the slow read to run on the standby',
        async () => (await standby.query(running)).length > 0,
      )
      await standby.query(`select pg_terminate_backend(pid) from (${running}) as slow`)
      if (retry === 'on') {
        expect((await slow).port).toBe(primary.port)
        expect(transitions()[0]).toEqual(
          expect.objectContaining({
            message: 'replica left',
            state: 'down',
            reason: expect.stringMatching(/^a read lost its connection: terminating connection/),
          }),
        )
        await until('the replica to return', () => state() === 'healthy')
      } else {
        expect((await slow).error).toMatchObject({ code: '57P01' })
        expect(transitions()).toEqual([])
      }
    } finally {
      await db.destroy()
    }
  })

  it('a read (here a stream) sent to a replica that went down since its last poll falls back to the primary when its checkout fails', async () => {
    // One poll at start, the next a minute later: the stop below is not seen by any poll.
    const { db, dialect, state, transitions } = await openRouted([standby], { DB_REPLICA_POLL_MS: '60000' })
    try {
      await until('the first poll', () => state() === 'healthy')
      await standby.stop('fast')
      // A stream's checkout falls back as a read's does.
      const streamed = []
      for await (const row of db.selectNoFrom(sql<number>`inet_server_port()`.as('port')).stream()) {
        streamed.push(row.port)
      }
      expect(streamed).toEqual([primary.port])
      expect(state()).toBe('down')
      expect(await portOf(db)).toBe(primary.port)
      expect(transitions()).toEqual([
        expect.objectContaining({
          level: 'warn',
          message: 'replica left',
          replica: 'replica1',
          state: 'down',
        }),
      ])
      expect(transitions()[0]!.reason).toMatch(/^a checkout failed: /)
      expect(dialect.routing!.stats().readsByTarget).toEqual({ primary: 2, replica1: 1 })
      expect(dialect.routing!.stats().replicas[0]!.pool.acquireFailures).toBe(1)
    } finally {
      await standby.start()
      await db.destroy()
    }
  })

  it('a replica down at start fails nothing: reads go to the primary, and its leaving is logged once', async () => {
    const { db, dialect, state, transitions } = await openRouted('postgres://postgres@127.0.0.1:1/postgres')
    try {
      expect(await portOf(db)).toBe(primary.port)
      await until('the first poll', () => transitions().length > 0)
      await sleep(300)
      expect(state()).toBe('down')
      expect(await portOf(db)).toBe(primary.port)
      expect(transitions()).toEqual([
        expect.objectContaining({
          level: 'warn',
          message: 'replica left',
          replica: 'replica1',
          state: 'down',
        }),
      ])
      expect(transitions()[0]!.reason).toMatch(/its poll failed/)
      expect(dialect.routing!.stats().readsByTarget).toEqual({ primary: 2, replica1: 0 })
    } finally {
      await db.destroy()
    }
  })

  it('a replica that stops answering (frozen network) is left out when its poll times out, and returns when it answers', async () => {
    const proxy = await FaultProxy.start({ host: '127.0.0.1', port: standby.port })
    const { db, state, transitions } = await openRouted(proxy.rewrite(standby.connectionString('postgres')))
    try {
      await until('the replica to be healthy', () => state() === 'healthy')
      proxy.freeze()
      await until('the poll to time out', () => state() === 'down')
      expect(transitions()[0]!.reason).toMatch(/^its poll failed: /)
      expect(await portOf(db)).toBe(primary.port)
      proxy.unfreeze()
      await until('the replica to return', () => state() === 'healthy')
      expect(await portOf(db)).toBe(standby.port)
    } finally {
      proxy.unfreeze()
      await db.destroy()
      await proxy.close()
    }
  })

  it('a promoted replica is left out as promoted, and the other replica keeps serving reads', async () => {
    const doomed = await primary.startStandby()
    const { db, dialect, transitions } = await openRouted([standby, doomed])
    const states = () => dialect.routing!.stats().replicas.map((r) => r.state)
    try {
      await until('both replicas to be healthy', () => states().every((s) => s === 'healthy'))
      await doomed.promote()
      await until('the promoted replica to be left out', () => states()[1] === 'promoted')
      expect(states()).toEqual(['healthy', 'promoted'])
      const ports = await Promise.all(Array.from({ length: 6 }, () => portOf(db)))
      expect(new Set(ports)).toEqual(new Set([standby.port]))
      expect(transitions()).toEqual([
        expect.objectContaining({
          level: 'warn',
          message: 'replica left',
          replica: 'replica2',
          state: 'promoted',
        }),
      ])
    } finally {
      await db.destroy()
      await doomed.destroy()
    }
  })
})
