import { LocalPostgres } from '@classroom/local-postgres'
import { recordingLogger } from '@classroom/test-kit'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  DatabaseAtCapacityError,
  DatabaseUnavailableError,
  type InstrumentedPool,
  isCapacityRefusal,
} from '../src/index.js'
import { configFor, openPool, sleep } from './support.js'

// "Too many clients" (53300) is the server saying it is full, not down: the pool serves its callers
// from the connections it holds and tries one more at a time, never a storm of refused attempts.
const MAX_CONNECTIONS = 12
// Non-superusers get max_connections less the reserved slots: 9 here.
const RESERVED = 3
let cluster: LocalPostgres
const pools: InstrumentedPool[] = []
const clients: pg.Client[] = []

beforeAll(async () => {
  cluster = await LocalPostgres.temporary({
    settings: { max_connections: String(MAX_CONNECTIONS), superuser_reserved_connections: String(RESERVED) },
  })
  await cluster.query(`create role app login password 'app'`)
  await cluster.query(`create role nobody login password 'nobody' connection limit 0`)
})

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.end().catch(() => undefined)))
  await Promise.all(pools.splice(0).map((p) => (p.ending ? undefined : p.end())))
})

afterAll(async () => {
  await cluster?.destroy()
})

function urlOf(user: string): string {
  const url = new URL(cluster.connectionString())
  url.username = user
  url.password = user
  return url.toString()
}

function pool(user: string, overrides: Record<string, string> = {}) {
  const recorded = recordingLogger()
  const created = openPool(configFor(urlOf(user), overrides), recorded.logger)
  pools.push(created)
  return { pool: created, lines: recorded.lines }
}

/** `callers` concurrent loops of a short statement for `ms`: how many were served, and every failure. */
async function load(p: InstrumentedPool, callers: number, ms: number) {
  const until = performance.now() + ms
  let served = 0
  const failures: unknown[] = []
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (performance.now() < until) {
        try {
          await p.query('select pg_sleep(0.01)')
          served++
        } catch (error) {
          failures.push(error)
        }
      }
    }),
  )
  return { served, failures }
}

/** Opens `count` plain connections as `user`, held until the test ends (or `release()`). */
async function hold(user: string, count: number) {
  const held = await Promise.all(
    Array.from({ length: count }, async () => {
      const client = new pg.Client({ connectionString: urlOf(user) })
      await client.connect()
      clients.push(client)
      return client
    }),
  )
  return { release: () => Promise.all(held.map((client) => client.end())) }
}

describe('a server that refuses new connections for capacity (53300)', () => {
  it('max_connections below the pool size under 50 callers: every request served from the connections held, a few attempts, one warning', async () => {
    const hog = await hold('app', 4)
    // 50 callers on the 5 connections the server leaves: a standing queue of ~100 ms, which the
    // adaptive policy would shed (test/overload.test.ts); FIFO, to see every request served.
    const { pool: p, lines } = pool('app', {
      DB_POOL_SIZE: '20',
      DB_POOL_MAX_OVERFLOW: '40',
      DB_POOL_QUEUE_POLICY: 'fifo',
    })
    const loading = load(p, 50, 2500)
    // The first wave dials at once (every caller before the first refusal is back); from then on,
    // one attempt per backoff (50 ms doubling to 1 s): a few in two seconds, not one per caller.
    await sleep(500)
    const afterFirstWave = p.stats().connectAttempts
    const during = await loading
    expect(p.stats().connectAttempts - afterFirstWave).toBeLessThanOrEqual(8)
    expect(during.failures).toEqual([])
    expect(during.served).toBeGreaterThan(100)
    const stats = p.stats()
    expect(stats.total).toBeLessThanOrEqual(MAX_CONNECTIONS - RESERVED - 4)
    expect(stats.capacityRefusals).toBeGreaterThan(0)
    expect(stats.databaseAtCapacity).toBe(true)
    const warnings = lines.filter((line) => line.message.includes('refused a new connection for capacity'))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatchObject({ level: 'warn', serverMaxConnections: MAX_CONNECTIONS, code: '53300' })
    expect(warnings[0]!.connectionsHeld).toBeGreaterThan(0)

    // The hog leaves: the pool grows into the freed slots, one connection at a time, with no failure.
    const before = stats.connectionsCreated
    await hog.release()
    const after = await load(p, 50, 1500)
    expect(after.failures).toEqual([])
    expect(p.stats().connectionsCreated).toBeGreaterThan(before)
  })

  it('a role refused every connection (CONNECTION LIMIT 0): no connection held, a fast DatabaseAtCapacityError, a few attempts', async () => {
    const { pool: p } = pool('nobody', { DB_POOL_UNAVAILABLE_WAIT_MS: '500', DB_POOL_RECONNECT_MIN_MS: '50' })
    const startedAt = performance.now()
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => p.query('select 1')))
    const elapsed = performance.now() - startedAt
    const reasons = results.map((r) => (r.status === 'rejected' ? r.reason : r.value))
    expect(reasons.every((reason) => reason instanceof DatabaseAtCapacityError)).toBe(true)
    const error = reasons[0] as DatabaseAtCapacityError
    expect(error).toBeInstanceOf(DatabaseUnavailableError)
    expect(error.code).toBe('DATABASE_AT_CAPACITY')
    expect(error.causeCode).toBe('53300')
    expect(error.message).toMatch(/refused new connections for capacity .* the pool holds none/)
    expect(elapsed).toBeLessThan(5000)
    // The first wave, then the reconnect loop's probes: not one attempt per caller per retry.
    expect(p.stats().connectAttempts).toBeLessThanOrEqual(50 + 10)
  })

  it("isCapacityRefusal: the server's own 53300 and PgBouncer's max_client_conn, not an outage or a statement error", async () => {
    const refused = await new pg.Client({ connectionString: urlOf('nobody') })
      .connect()
      .catch((e: unknown) => e)
    expect(isCapacityRefusal(refused)).toBe(true)
    expect(isCapacityRefusal(new Error('no more connections allowed (max_client_conn)'))).toBe(true)
    const syntax = await cluster.query('selec 1').catch((e: unknown) => e)
    expect(isCapacityRefusal(syntax)).toBe(false)
    expect(
      isCapacityRefusal(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
    ).toBe(false)
  })
})
