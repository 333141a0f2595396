// The adaptive queue policy against a real server: a burst queues in order, a standing queue sheds.
import { recordingLogger } from '@classroom/test-kit'
import { sql } from 'kysely'
import { afterEach, describe, expect, inject, it } from 'vitest'
import {
  createIdempotencyKeysTable,
  type InstrumentedPool,
  idempotentTransaction,
  PoolOverloadedError,
  PoolTimeoutError,
  withDeadline,
} from '../src/index.js'
import { configError, configFor, openDb, openPool, sleep } from './support.js'

const url = inject('databaseUrl')
const pools: InstrumentedPool[] = []

function pool(overrides: Record<string, string>, logger = recordingLogger().logger): InstrumentedPool {
  const created = openPool(configFor(url, { DB_POOL_MAX_OVERFLOW: '0', ...overrides }), logger)
  pools.push(created)
  return created
}

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => (p.ending ? undefined : p.end())))
})

const hold = (p: InstrumentedPool, ms: number) => p.query('select pg_sleep($1)', [ms / 1000])

/** Settles to what `promise` did, for assertions on refusals among many. */
const outcome = (promise: Promise<unknown>) =>
  promise.then(
    () => 'served' as const,
    (error: unknown) => error,
  )

describe('the adaptive queue policy (DB_POOL_QUEUE_POLICY=adaptive, the default)', () => {
  it('queues a short burst in arrival order and serves every caller, with no overload', async () => {
    const p = pool({ DB_POOL_SIZE: '2', DB_POOL_QUEUE_INTERVAL_MS: '2000' })
    await Promise.all([hold(p, 1), hold(p, 1)])
    const order: number[] = []
    await Promise.all(
      Array.from({ length: 12 }, (_, index) =>
        p.connect().then(async (client) => {
          order.push(index)
          await client.query('select pg_sleep(0.02)')
          client.release()
        }),
      ),
    )
    expect(order).toEqual([...order].sort((a, b) => a - b))
    expect(p.stats()).toMatchObject({
      overloads: 0,
      overloadRefusals: 0,
      acquireTimeouts: 0,
      overloaded: false,
    })
  })

  it('turns overloaded when the queue stands for the interval: it refuses what it cannot serve within the target, serves the newest first, and says when it starts and ends', async () => {
    const { logger, lines } = recordingLogger()
    const p = pool(
      { DB_POOL_SIZE: '1', DB_POOL_QUEUE_TARGET_MS: '40', DB_POOL_QUEUE_INTERVAL_MS: '100' },
      logger,
    )
    const held = await p.connect()
    const early = outcome(p.connect())
    // Nothing released for the interval: overloaded, and the early waiter (older than the target by
    // then) is refused long before the 30 s acquire timeout.
    const refused = await early
    expect(refused).toBeInstanceOf(PoolOverloadedError)
    expect(refused).toMatchObject({
      code: 'POOL_OVERLOADED',
      details: { reason: 'overloaded', queueLength: 1 },
    })
    expect((refused as PoolOverloadedError).details.waitedMs).toBeGreaterThanOrEqual(100)
    expect((refused as PoolOverloadedError).message).toMatch(/^pool overloaded: no connection came free/)
    const start = lines.filter((line) => line.message.startsWith('database pool overloaded'))
    expect(start).toHaveLength(1)
    expect(start[0]).toMatchObject({ level: 'warn', waiting: 1, targetMs: 40, intervalMs: 100 })
    // Refused, it left the queue empty: the overload is over until the queue stands again.
    expect(p.stats()).toMatchObject({ overloaded: false, overloads: 1, overloadRefusals: 1, waiting: 0 })
    expect(lines.filter((line) => line.message.startsWith('database pool overload ended'))).toHaveLength(1)

    // Callers keep coming (one every 5 ms), none served: the queue stands, overloaded again, and
    // each is refused once older than the target instead of at its deadline.
    const arrivals: Promise<unknown>[] = []
    const stream = setInterval(
      () => arrivals.push(outcome(p.connect().then((client) => client.release()))),
      5,
    )
    await expect.poll(() => p.stats().overloaded, { interval: 5 }).toBe(true)
    await sleep(100)
    clearInterval(stream)
    // Overloaded, the newest waiter is served first.
    const served: string[] = []
    const older = p.connect().then((client) => {
      served.push('older')
      client.release()
    })
    await sleep(2)
    const newer = p.connect().then((client) => {
      served.push('newer')
      client.release()
    })
    await sleep(2)
    held.release()
    await Promise.allSettled([older, newer, ...arrivals])
    expect(served).toEqual(['newer', 'older'])
    const settled = await Promise.all(arrivals)
    const overloaded = settled.filter(
      (result) => result instanceof PoolOverloadedError,
    ) as PoolOverloadedError[]
    expect(overloaded.length).toBeGreaterThan(0)
    for (const error of overloaded) expect(error.details.waitedMs).toBeLessThan(5000)
    expect(settled.every((result) => result === 'served' || result instanceof PoolOverloadedError)).toBe(true)
    // The queue emptied: the overload is over, said once more.
    expect(p.stats()).toMatchObject({ overloaded: false, overloads: 2, waiting: 0 })
    const ends = lines.filter((line) => line.message.startsWith('database pool overload ended'))
    expect(ends).toHaveLength(2)
    expect(ends[1]).toMatchObject({ level: 'info' })
    expect(ends[1]!.overloadedMs).toBeGreaterThan(0)
  })

  it('refuses at once, with the wait it expected, a caller whose deadline is shorter than the wait ahead of it', async () => {
    const p = pool({ DB_POOL_SIZE: '1', DB_POOL_QUEUE_INTERVAL_MS: '60000' })
    // The recent hold time the estimate reads: 50 ms a checkout.
    for (let i = 0; i < 3; i++) await hold(p, 50)
    const held = await p.connect()
    const queued = Array.from({ length: 4 }, () => outcome(p.connect().then((client) => client.release())))
    await sleep(5)
    let activeAtRefusal: number | undefined
    const error = await withDeadline(100, () => p.connect()).catch((e: unknown) => {
      activeAtRefusal = p.stats().active
      return e
    })
    expect(error).toBeInstanceOf(PoolOverloadedError)
    const details = (error as PoolOverloadedError).details
    expect(details).toMatchObject({ reason: 'expected-wait', waitedMs: 0, queueLength: 5 })
    // 4 ahead x about 50 ms / 1 connection, against about 100 ms left.
    expect(details.expectedWaitMs).toBeGreaterThan(150)
    expect(details.remainingMs).toBeLessThanOrEqual(100)
    // Told while the holder still held its connection: at once, not after a wait.
    expect(activeAtRefusal).toBe(1)
    held.release()
    expect(await Promise.all(queued)).toEqual(['served', 'served', 'served', 'served'])
    // A caller with time enough queues as usual.
    await expect(withDeadline(5000, () => hold(p, 1))).resolves.toBeDefined()
  })

  it("never waits past the caller's deadline: PoolTimeoutError at withDeadline, not at the acquire timeout", async () => {
    const p = pool({ DB_POOL_SIZE: '1', DB_POOL_QUEUE_POLICY: 'fifo' })
    const held = await p.connect()
    const error = await withDeadline(150, () => p.connect()).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PoolTimeoutError)
    expect((error as PoolTimeoutError).details.timeoutMs).toBeLessThanOrEqual(150)
    expect((error as PoolTimeoutError).details.waitedMs).toBeLessThan(5000)
    expect(p.stats()).toMatchObject({ waiting: 0, acquireTimeouts: 1 })
    held.release()
    // An inner scope only shortens the deadline.
    const nested = await withDeadline(100, () =>
      withDeadline(60_000, async () => {
        const again = await p.connect()
        const late = p.connect().catch((e: unknown) => e)
        const result = await late
        again.release()
        return result
      }),
    )
    expect(nested).toBeInstanceOf(PoolTimeoutError)
  })

  it('lets a thousand abandoned waiters go at once, and the next release serves the next caller', async () => {
    const controller = new AbortController()
    const { signal } = controller
    const db = openDb(
      configFor(url, { DB_POOL_SIZE: '1', DB_POOL_MAX_OVERFLOW: '0', DB_POOL_QUEUE_POLICY: 'fifo' }),
    )
    try {
      const dbHeld = await db.pool.connect()
      const abandoned = Array.from({ length: 1000 }, () =>
        db.db
          .selectNoFrom((eb) => eb.lit(1).as('one'))
          .execute({ signal })
          .catch((e: unknown) => e),
      )
      await expect.poll(() => db.pool.waitingCount).toBe(1000)
      controller.abort(new Error('gone'))
      expect(db.pool.waitingCount).toBe(0)
      expect(await Promise.all(abandoned)).toHaveLength(1000)
      const next = db.pool.connect()
      dbHeld.release()
      ;(await next).release()
      expect(db.pool.stats()).toMatchObject({ waiting: 0, acquireTimeouts: 0 })
    } finally {
      await db.close()
    }
  })

  it('never retries an overload refusal: a Kysely read and an idempotent write fail with it once, nothing written', async () => {
    const {
      db,
      pool: p,
      close,
    } = openDb<{ notes: { body: string } }>(
      configFor(url, { DB_POOL_SIZE: '1', DB_POOL_MAX_OVERFLOW: '0', DB_POOL_QUEUE_INTERVAL_MS: '60000' }),
    )
    try {
      await createIdempotencyKeysTable(db as never)
      await sql`create table if not exists notes (body text)`.execute(db)
      for (let i = 0; i < 3; i++) await sql`select pg_sleep(0.05)`.execute(db)
      const held = await p.connect()
      const queued = Array.from({ length: 2 }, () => p.connect().then((client) => client.release()))
      await expect.poll(() => p.waitingCount).toBe(2)
      const read = await withDeadline(20, () => db.selectFrom('notes').selectAll().execute()).catch(
        (e: unknown) => e,
      )
      expect(read).toBeInstanceOf(PoolOverloadedError)
      let ran = false
      const write = await withDeadline(20, () =>
        idempotentTransaction(db, { key: 'overloaded-write', fingerprint: 'f' }, async (trx) => {
          ran = true
          await trx.insertInto('notes').values({ body: 'never' }).execute()
          return { status: 201 }
        }),
      ).catch((e: unknown) => e)
      expect(write).toBeInstanceOf(PoolOverloadedError)
      expect(ran).toBe(false)
      expect(p.stats()).toMatchObject({ readRetries: 0, expectedWaitRefusals: 2, overloadRefusals: 0 })
      held.release()
      await Promise.all(queued)
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from notes`.execute(db)
      expect(rows).toEqual([{ n: 0 }])
    } finally {
      await close()
    }
  })

  it('DB_POOL_QUEUE_POLICY=fifo: a standing queue is waited out in arrival order, nothing refused early', async () => {
    const p = pool({ DB_POOL_SIZE: '1', DB_POOL_QUEUE_POLICY: 'fifo', DB_POOL_QUEUE_INTERVAL_MS: '50' })
    const held = await p.connect()
    const order: number[] = []
    const waiters = Array.from({ length: 3 }, (_, index) =>
      p.connect().then((client) => {
        order.push(index)
        client.release()
      }),
    )
    await sleep(300)
    expect(p.stats()).toMatchObject({ overloaded: false, waiting: 3 })
    held.release()
    await Promise.all(waiters)
    expect(order).toEqual([0, 1, 2])
    expect(p.stats()).toMatchObject({ overloads: 0, overloadRefusals: 0 })
  })
})

describe('its settings', () => {
  it('refuses a policy it does not know and a target or interval below 1 ms, naming each', () => {
    const error = configError(() =>
      configFor(url, {
        DB_POOL_QUEUE_POLICY: 'lifo',
        DB_POOL_QUEUE_TARGET_MS: '0',
        DB_POOL_QUEUE_INTERVAL_MS: 'soon',
      }),
    )
    const named = Object.fromEntries(error.issues.map((issue) => [issue.name, issue.expected]))
    expect(named.DB_POOL_QUEUE_POLICY).toMatch(/adaptive, fifo/)
    expect(Object.keys(named)).toEqual(
      expect.arrayContaining([
        'DB_POOL_QUEUE_POLICY',
        'DB_POOL_QUEUE_TARGET_MS',
        'DB_POOL_QUEUE_INTERVAL_MS',
      ]),
    )
  })

  it('withDeadline refuses a timeout that is not a number of milliseconds ≥ 0', () => {
    expect(() => withDeadline(-1, () => 0)).toThrow(/timeoutMs must be a number ≥ 0, got -1/)
    expect(() => withDeadline(Number.NaN, () => 0)).toThrow(RangeError)
  })
})
