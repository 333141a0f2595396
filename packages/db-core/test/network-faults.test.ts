import { execFileSync } from 'node:child_process'
import { FaultProxy, LocalPostgres } from '@classroom/local-postgres'
import { recordingLogger } from '@classroom/test-kit'
import { sql } from 'kysely'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { DatabaseUnavailableError, type InstrumentedPool, isConnectionError } from '../src/index.js'
import { configFor, openDb, openPool, sleep } from './support.js'

// Faults between the pool and the server, provoked for real: a proxy that freezes or cuts TCP.
let cluster: LocalPostgres
let proxy: FaultProxy
const pools: InstrumentedPool[] = []

beforeAll(async () => {
  cluster = await LocalPostgres.temporary()
  proxy = await FaultProxy.start({ host: '127.0.0.1', port: cluster.port })
})

afterEach(async () => {
  proxy.unfreeze()
  await Promise.all(pools.splice(0).map((p) => (p.ending ? undefined : p.end())))
})

afterAll(async () => {
  await proxy.close()
  await cluster.destroy()
})

function pool(
  overrides: Record<string, string>,
  through: 'proxy' | 'direct' = 'proxy',
  logger = recordingLogger().logger,
) {
  const url = through === 'proxy' ? proxy.rewrite(cluster.connectionString()) : cluster.connectionString()
  const created = openPool(configFor(url, overrides), logger)
  pools.push(created)
  return created
}

async function warm(p: InstrumentedPool, count: number): Promise<void> {
  const clients = await Promise.all(Array.from({ length: count }, () => p.connect()))
  for (const client of clients) client.release()
}

describe('a network that goes silent', () => {
  it('pre-ping discards frozen connections and the pool reconnects once the network answers again', async () => {
    const p = pool({ DB_POOL_SIZE: '3', DB_POOL_PRE_PING_IDLE_MS: '50', DB_POOL_PRE_PING_TIMEOUT_MS: '200' })
    await warm(p, 3)
    await sleep(100)
    proxy.freeze()
    const query = p.query<{ one: number }>('select 1 as one')
    await sleep(800) // three pings time out (600 ms), then a new connection waits on the frozen network
    proxy.unfreeze()
    expect((await query).rows).toEqual([{ one: 1 }])
    expect(p.stats()).toMatchObject({ prePings: 3, prePingFailures: 3, acquireTimeouts: 0 })
  })

  it('gives up on a running query after DB_QUERY_TIMEOUT_MS and drops its connection', async () => {
    const p = pool({ DB_POOL_SIZE: '1', DB_POOL_PRE_PING: 'false', DB_QUERY_TIMEOUT_MS: '300' })
    await p.query('select 1')
    proxy.freeze()
    const startedAt = performance.now()
    const error = await p.query('select 1').catch((e: unknown) => e)
    const elapsed = performance.now() - startedAt
    proxy.unfreeze()
    expect((error as Error).message).toBe('Query read timeout')
    expect(isConnectionError(error)).toBe(true)
    expect(elapsed).toBeGreaterThanOrEqual(290)
    expect(elapsed).toBeLessThan(5000)
    await expect(p.query('select 2 as two')).resolves.toMatchObject({ rows: [{ two: 2 }] })
    expect(p.stats().connectionsCreated).toBe(2)
  })

  it('fails a transaction whose statement times out on a frozen server after one DB_QUERY_TIMEOUT_MS: its ROLLBACK never waits behind the timed-out statement', async () => {
    const url = proxy.rewrite(cluster.connectionString())
    const {
      db,
      pool: p,
      close,
    } = openDb(configFor(url, { DB_POOL_SIZE: '1', DB_POOL_PRE_PING: 'false', DB_QUERY_TIMEOUT_MS: '1000' }))
    try {
      await sql`create table if not exists frozen_writes (id int)`.execute(db)
      let startedAt = 0
      const error = await db
        .transaction()
        .execute(async (trx) => {
          proxy.freeze()
          startedAt = performance.now()
          await sql`insert into frozen_writes values (1)`.execute(trx)
        })
        .catch((e: unknown) => e)
      const elapsed = performance.now() - startedAt
      expect(isConnectionError(error)).toBe(true)
      // The insert waits 1 s; a ROLLBACK queued behind it would wait another second.
      expect(elapsed).toBeLessThan(1600)
      // The connection that timed out was closed at once, not kept with its statement still active.
      expect(p.stats().total).toBe(0)
      proxy.unfreeze()
      // Nothing was applied: the session that held the open transaction is gone.
      await expect(
        sql<{ n: number }>`select count(*)::int as n from frozen_writes`.execute(db),
      ).resolves.toMatchObject({
        rows: [{ n: 0 }],
      })
    } finally {
      proxy.unfreeze()
      await close()
    }
  })

  it('answers a read whose statement times out on a silent server within DB_QUERY_TIMEOUT_MS plus DB_POOL_UNAVAILABLE_WAIT_MS: its retry never waits a second acquire deadline', async () => {
    const url = proxy.rewrite(cluster.connectionString())
    const {
      db,
      pool: p,
      close,
    } = openDb<{ pg_class: { relname: string } }>(
      configFor(url, {
        DB_POOL_SIZE: '1',
        DB_POOL_PRE_PING: 'false',
        DB_QUERY_TIMEOUT_MS: '1000',
        DB_POOL_TIMEOUT_SECONDS: '8',
        DB_POOL_UNAVAILABLE_WAIT_MS: '1000',
        DB_READ_RETRY_WAIT_MS: '1000',
      }),
    )
    try {
      await sql`select 1`.execute(db)
      proxy.freeze()
      const startedAt = performance.now()
      const error = await db
        .selectFrom('pg_class')
        .select('relname')
        .limit(1)
        .execute()
        .catch((e: unknown) => e)
      const elapsed = performance.now() - startedAt
      expect(error).toBeInstanceOf(DatabaseUnavailableError)
      expect((error as Error).message).toContain('within 1 s')
      expect(p.stats().readRetries).toBe(1)
      // 1 s for the statement, at most 1 s for the retry's checkout; the acquire deadline is 8 s.
      expect(elapsed).toBeLessThan(4000)
    } finally {
      proxy.unfreeze()
      await close()
    }
  })

  it('recovers with no error when every connection is reset', async () => {
    const p = pool({ DB_POOL_SIZE: '3' })
    await warm(p, 3)
    proxy.cut()
    await sleep(50)
    await expect(p.query('select 1 as one')).resolves.toMatchObject({ rows: [{ one: 1 }] })
    expect(p.stats().connectionErrors).toBe(3)
  })
})

describe('limits every connection carries', () => {
  it('sets statement_timeout server side: a slow statement is cancelled (57014)', async () => {
    const p = pool({ DB_STATEMENT_TIMEOUT_MS: '200' }, 'direct')
    expect((await p.query('show statement_timeout')).rows).toEqual([{ statement_timeout: '200ms' }])
    await expect(p.query('select pg_sleep(2)')).rejects.toMatchObject({ code: '57014' })
    await expect(p.query('select 1 as one')).resolves.toMatchObject({ rows: [{ one: 1 }] })
  })

  it('sets idle_in_transaction_session_timeout: a forgotten transaction is ended by the server without crashing us', async () => {
    const p = pool({ DB_POOL_SIZE: '1', DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: '200' }, 'direct')
    const client = await p.connect()
    expect((await client.query('show idle_in_transaction_session_timeout')).rows).toEqual([
      { idle_in_transaction_session_timeout: '200ms' },
    ])
    await client.query('begin')
    await sleep(500)
    await expect(client.query('select 1')).rejects.toThrow()
    client.release()
    await expect(p.query('select 1 as one')).resolves.toMatchObject({ rows: [{ one: 1 }] })
    expect(p.stats().connectionErrors).toBe(1)
  })

  it.each([
    ['7000', true],
    ['0', false],
  ])('DB_KEEPALIVE_INITIAL_DELAY_MS=%s: TCP keepalive on the socket is %s', async (delay, on) => {
    const p = pool({ DB_POOL_SIZE: '1', DB_KEEPALIVE_INITIAL_DELAY_MS: delay }, 'direct')
    await p.query('select 1')
    // The kernel's own view of our socket: ss lists a keepalive timer when SO_KEEPALIVE is set.
    const sockets = execFileSync('ss', ['-tno', 'state', 'established', `( dport = :${cluster.port} )`], {
      encoding: 'utf8',
    })
    expect(sockets.includes('timer:(keepalive')).toBe(on)
  })
})

describe('leak detection', () => {
  it('reports a connection held past DB_POOL_LEAK_WARN_MS once, with the stack of the code that took it', async () => {
    const { logger, lines } = recordingLogger()
    const p = pool({ DB_POOL_LEAK_WARN_MS: '200' }, 'direct', logger)
    const quick = await p.connect()
    quick.release()
    async function forgetfulReportGenerator() {
      return p.connect()
    }
    const leaked = await forgetfulReportGenerator()
    try {
      await sleep(600)
      const warnings = lines.filter((l) => l.level === 'warn')
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toMatchObject({
        message: 'database connection held longer than DB_POOL_LEAK_WARN_MS: possible leak',
        thresholdMs: 200,
        acquiredAt: expect.stringContaining('forgetfulReportGenerator'),
      })
      expect(p.stats().leaksDetected).toBe(1)
    } finally {
      leaked.release()
    }
    expect(lines.at(-1)).toMatchObject({
      message: 'a connection reported as leaked was returned to the pool',
    })
  })

  it('names the code that began a Kysely transaction held past DB_POOL_LEAK_WARN_MS', async () => {
    const { logger, lines } = recordingLogger()
    const { db, close } = openDb(
      configFor(cluster.connectionString(), { DB_POOL_LEAK_WARN_MS: '200' }),
      logger,
    )
    async function slowReconciliation() {
      await db.transaction().execute(async (trx) => {
        await sql`select 1`.execute(trx)
        await sleep(600)
      })
    }
    try {
      await slowReconciliation()
      const leaks = lines.filter(
        (l) => l.message === 'database connection held longer than DB_POOL_LEAK_WARN_MS: possible leak',
      )
      expect(leaks).toHaveLength(1)
      expect(leaks[0]!.acquiredAt).toEqual(expect.stringContaining('slowReconciliation'))
    } finally {
      await close()
    }
  })

  it('tracks checkouts that release themselves by time alone: no stack taken, and the report says so', async () => {
    const { logger, lines } = recordingLogger()
    const p = pool({ DB_POOL_LEAK_WARN_MS: '100' }, 'direct', logger)
    await p.query('select pg_sleep(0.4)')
    const leaks = lines.filter(
      (l) => l.message === 'database connection held longer than DB_POOL_LEAK_WARN_MS: possible leak',
    )
    expect(leaks).toHaveLength(1)
    expect(leaks[0]!.acquiredAt).toMatch(/^not recorded: a single statement/)
  })
})
