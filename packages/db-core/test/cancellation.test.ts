import { performance } from 'node:perf_hooks'
import { type BouncedCluster, createTestDatabase, startBouncedCluster } from '@classroom/local-postgres'
import { CompiledQuery, sql } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { InstrumentedPostgresDialect, StatementCancellation } from '../src/index.js'
import { configFor, openDb, sleep } from './support.js'

let url: string
let bounced: BouncedCluster

beforeAll(async () => {
  url = await createTestDatabase(inject('databaseUrl'), 'db_core_cancellation')
  bounced = await startBouncedCluster({ database: 'cancellation', poolSize: 4 })
})

afterAll(async () => {
  await bounced?.destroy()
})

/** What the server runs for `pid` now: its state and query. */
async function activity(
  serverUrl: string,
  pid: number,
): Promise<{ state: string; query: string } | undefined> {
  const admin = new pg.Client({ connectionString: serverUrl })
  await admin.connect()
  try {
    const { rows } = await admin.query('select state, query from pg_stat_activity where pid = $1', [pid])
    return rows[0]
  } finally {
    await admin.end()
  }
}

const backendPid = sql<{ pid: number }>`select pg_backend_pid() as pid`

describe.each([
  ['directly', () => ({ url, server: url, env: {} })],
  [
    'through PgBouncer (where pg_cancel_backend would name its made-up pid)',
    () => ({
      url: bounced.bouncer.connectionString(),
      server: bounced.cluster.connectionString('cancellation'),
      env: { DB_PGBOUNCER: 'true' },
    }),
  ],
] as const)('Kysely\'s "cancel query", %s', (_how, target) => {
  it('cancels one statement of a pool exhausted by long ones within a second, and its connection serves again', async () => {
    const { url: poolUrl, server, env } = target()
    const { db, close } = openDb(configFor(poolUrl, { DB_POOL_SIZE: '2', DB_POOL_MAX_OVERFLOW: '0', ...env }))
    try {
      const keep = new AbortController()
      const cancel = new AbortController()
      const long = (signal: AbortSignal) =>
        sql`select pg_backend_pid() as pid, pg_sleep(30)`
          .execute(db, { signal, inflightQueryAbortStrategy: 'cancel query' } as never)
          .catch((error: unknown) => error)
      const kept = long(keep.signal)
      const cancelled = long(cancel.signal)
      await sleep(300)
      const busy = await serverPids(server)
      expect(busy).toHaveLength(2)
      const abortedAt = performance.now()
      cancel.abort(new Error('the client went away'))
      expect(await cancelled).toMatchObject({ message: 'the client went away' })
      // Server side: one of the two sleeps ended within a second, the other runs on.
      await expect
        .poll(async () => (await serverPids(server)).length, { timeout: 1000, interval: 50 })
        .toBe(1)
      expect(performance.now() - abortedAt).toBeLessThan(1000)
      // Its connection came back healthy: the pool (one still busy) serves from it.
      const { rows } = await backendPid.execute(db)
      expect(rows).toHaveLength(1)
      keep.abort(new Error('done'))
      await kept
    } finally {
      await close()
    }
  })
})

/** Backends running `pg_sleep` on the server. */
async function serverPids(serverUrl: string): Promise<number[]> {
  const admin = new pg.Client({ connectionString: serverUrl })
  await admin.connect()
  try {
    const { rows } = await admin.query<{ pid: number }>(
      "select pid from pg_stat_activity where query like '%pg_sleep(30)%' and state = 'active' and pid <> pg_backend_pid()",
    )
    return rows.map((row) => row.pid)
  } finally {
    await admin.end()
  }
}

describe('aborting', () => {
  it('a checkout waiting in the queue leaves it at once when its signal aborts', async () => {
    const { db, pool, close } = openDb(configFor(url, { DB_POOL_SIZE: '1', DB_POOL_MAX_OVERFLOW: '0' }))
    try {
      const held = await pool.connect()
      const abort = new AbortController()
      const waiting = backendPid
        .execute(db, { signal: abort.signal } as never)
        .catch((error: unknown) => error)
      await sleep(100)
      const abortedAt = performance.now()
      abort.abort(new Error('gave up waiting'))
      expect(await waiting).toMatchObject({ message: 'gave up waiting' })
      expect(performance.now() - abortedAt).toBeLessThan(100)
      held.release()
      // The connection the abandoned request was due goes straight back: the pool serves on.
      await expect(backendPid.execute(db)).resolves.toMatchObject({ rows: [{ pid: expect.any(Number) }] })
      expect(pool.stats()).toMatchObject({ active: 0, idle: 1 })
    } finally {
      await close()
    }
  })

  it('a cancel or kill asked for after its statement ended touches nothing: the session serves on', async () => {
    const dialect = new InstrumentedPostgresDialect(
      configFor(url, { DB_POOL_SIZE: '1', DB_POOL_MAX_OVERFLOW: '0' }),
    )
    const driver = dialect.createDriver()
    // As Kysely does before any checkout: the driver takes its pool here.
    await driver.init()
    const connection = await driver.acquireConnection()
    try {
      const { rows } = await connection.executeQuery<{ pid: number }>(
        CompiledQuery.raw('select pg_backend_pid() as pid'),
      )
      const pid = rows[0]!.pid
      await connection.cancelQuery?.(undefined as never)
      await connection.killSession?.(undefined as never)
      await expect(connection.executeQuery(CompiledQuery.raw('select pg_sleep(0.2)'))).resolves.toBeDefined()
      // The same session, not terminated.
      expect((await activity(url, pid))?.state).toBe('idle')
    } finally {
      await driver.releaseConnection(connection)
      await driver.destroy()
    }
  })

  it.each([
    ['ignore query', 'runs on to its end on the server', 'active'],
    ['kill session', 'ends with its session, and the pool opens another', undefined],
  ] as const)('"%s": the statement %s', async (strategy, _what, serverState) => {
    const { db, close } = openDb(configFor(url, { DB_POOL_SIZE: '1', DB_POOL_MAX_OVERFLOW: '1' }))
    try {
      const abort = new AbortController()
      const { rows } = await backendPid.execute(db)
      const pid = rows[0]!.pid
      const running = sql`select pg_sleep(1)`
        .execute(db, { signal: abort.signal, inflightQueryAbortStrategy: strategy } as never)
        .catch((error: unknown) => error)
      await sleep(200)
      abort.abort(new Error('stop'))
      expect(await running).toMatchObject({ message: 'stop' })
      await sleep(200)
      expect((await activity(url, pid))?.state).toBe(serverState)
      await expect(backendPid.execute(db)).resolves.toMatchObject({ rows: [{ pid: expect.any(Number) }] })
    } finally {
      await close()
    }
  })
})

describe('StatementCancellation: a query cancelled without an AbortSignal', () => {
  const onePool = () => openDb(configFor(url, { DB_POOL_SIZE: '1', DB_POOL_MAX_OVERFLOW: '0' }))

  it('while it runs: its statement ends on the server at once, and its connection serves on', async () => {
    const { db, close } = onePool()
    try {
      const pid = (await backendPid.execute(db)).rows[0]!.pid
      const cancellation = new StatementCancellation()
      const running = sql`select pg_sleep(30)`
        .execute(db, cancellation.options)
        .catch((error: unknown) => error)
      await expect
        .poll(async () => (await activity(url, pid))?.state, { timeout: 2000, interval: 20 })
        .toBe('active')
      cancellation.cancel()
      expect(await running).toMatchObject({ code: '57014' })
      expect((await activity(url, pid))?.state).toBe('idle')
      expect((await backendPid.execute(db)).rows[0]!.pid).toBe(pid)
    } finally {
      await close()
    }
  })

  it('while it waits for a connection: it leaves the queue at once, and the connection it is served goes straight back', async () => {
    const { db, pool, close } = onePool()
    try {
      const held = await pool.connect()
      const cancellation = new StatementCancellation()
      const waiting = sql`select 1`.execute(db, cancellation.options).catch((error: unknown) => error)
      await sleep(50)
      cancellation.cancel()
      expect(await waiting).toMatchObject({ message: 'the query was cancelled', code: '57014' })
      held.release()
      await expect(backendPid.execute(db)).resolves.toMatchObject({ rows: [{ pid: expect.any(Number) }] })
      expect(pool.stats()).toMatchObject({ active: 0, idle: 1 })
      // Cancelled for good: the same options run nothing more.
      await expect(sql`select 1`.execute(db, cancellation.options)).rejects.toMatchObject({ code: '57014' })
    } finally {
      await close()
    }
  })

  it("after its query ended: nothing, and not the connection's next statement", async () => {
    const { db, close } = onePool()
    try {
      const cancellation = new StatementCancellation()
      await sql`select 1`.execute(db, cancellation.options)
      const next = sql`select pg_sleep(0.3)`.execute(db)
      await sleep(100)
      cancellation.cancel()
      await expect(next).resolves.toBeDefined()
    } finally {
      await close()
    }
  })
})
