import { recordingLogger } from '@classroom/test-kit'
import { sql } from 'kysely'
import { afterEach, beforeEach, describe, expect, inject, it, type MockInstance, vi } from 'vitest'
import { configFor, openDb, openPool, sleep, warm } from './support.js'

const url = inject('databaseUrl')
const ONE_CONNECTION = { DB_POOL_SIZE: '1', DB_POOL_MAX_OVERFLOW: '0' }

let printed: MockInstance<typeof console.error>

beforeEach(() => {
  printed = vi.spyOn(console, 'error')
})

afterEach(() => {
  printed.mockRestore()
})

describe('quiet aborts: a checkout Kysely gave up on ends without a word', () => {
  it('aborted before it starts: the caller gets the reason, and Kysely prints nothing', async () => {
    const { db, pool, close } = openDb(configFor(url, ONE_CONNECTION))
    try {
      await sql`select 1`.execute(db)
      const abort = new AbortController()
      // Kysely checks the signal, then reaches the driver a few ticks later: aborted by then.
      const query = sql`select 1`.execute(db, { signal: abort.signal })
      abort.abort(new Error('gone before the checkout'))
      await expect(query).rejects.toThrow('gone before the checkout')
      await sleep(100)
      expect(printed).not.toHaveBeenCalled()
      expect(pool.stats()).toMatchObject({ active: 0, waiting: 0 })
    } finally {
      await close()
    }
  })

  it('aborted while it waits in the queue: it leaves, the connection it would have had goes back, nothing printed', async () => {
    const { db, pool, close } = openDb(configFor(url, ONE_CONNECTION))
    try {
      const held = sql`select pg_sleep(0.3)`.execute(db)
      await vi.waitFor(() => expect(pool.stats().active).toBe(1))
      const abort = new AbortController()
      const query = sql`select 1`.execute(db, { signal: abort.signal })
      await vi.waitFor(() => expect(pool.stats().waiting).toBe(1))
      abort.abort(new Error('gone while waiting'))
      await expect(query).rejects.toThrow('gone while waiting')
      await held
      await vi.waitFor(() => expect(pool.stats()).toMatchObject({ active: 0, waiting: 0 }))
      await sleep(100)
      expect(printed).not.toHaveBeenCalled()
      await expect(sql`select 1`.execute(db)).resolves.toBeDefined()
    } finally {
      await close()
    }
  })
})

describe('quiet aborts: a statement Kysely gave up on ends without a word', () => {
  it.each([
    ['cancel query', false],
    ['kill session', true],
  ] as const)(
    '"%s": the read ends on the server, is not run again, and Kysely prints nothing',
    async (strategy, killed) => {
      const { db, pool, close } = openDb(configFor(url, ONE_CONNECTION))
      try {
        const before = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)).rows[0]!.pid
        const abort = new AbortController()
        const read = sql`select pg_sleep(5)`.execute(db, {
          signal: abort.signal,
          inflightQueryAbortStrategy: strategy,
        } as never)
        await sleep(200)
        abort.abort(new Error('the reader left'))
        await expect(read).rejects.toThrow('the reader left')
        await vi.waitFor(() => expect(pool.stats().active).toBe(0), { timeout: 3000 })
        await sleep(100)
        expect(printed).not.toHaveBeenCalled()
        expect(pool.stats().readRetries).toBe(0)
        const after = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)).rows[0]!.pid
        expect(after !== before).toBe(killed)
      } finally {
        await close()
      }
    },
  )
})

describe('the queue warning and idle connections', () => {
  const threshold = { DB_POOL_QUEUE_WARN_THRESHOLD: '10' }

  it('says nothing for a burst that idle connections serve: none of it waits', async () => {
    const { logger, lines } = recordingLogger()
    const pool = openPool(
      configFor(url, { DB_POOL_SIZE: '20', DB_POOL_MAX_OVERFLOW: '0', ...threshold }),
      logger,
    )
    try {
      await warm(pool, 20)
      // A checkout a moment ago: the next ones take the fast path, an idle connection each.
      await pool.query('select 1')
      // Eleven checkouts in one tick: each is handed an idle connection at once, none queued.
      const burst = Array.from({ length: 11 }, () => pool.connect())
      expect(pool.waitingCount).toBe(0)
      expect(pool.idleCount).toBe(9)
      for (const client of await Promise.all(burst)) client.release()
      expect(lines.filter((line) => line.message.includes('wait queue'))).toEqual([])
    } finally {
      await pool.end()
    }
  })

  it('warns once callers wait with no idle connection for them', async () => {
    const { logger, lines } = recordingLogger()
    const pool = openPool(
      configFor(url, { DB_POOL_SIZE: '2', DB_POOL_MAX_OVERFLOW: '0', ...threshold }),
      logger,
    )
    const held = await Promise.all([pool.connect(), pool.connect()])
    const waiting = Array.from({ length: 11 }, () => pool.connect())
    try {
      await vi.waitFor(() =>
        expect(lines.filter((line) => line.message.includes('wait queue above'))).toEqual([
          expect.objectContaining({ waiting: 11, idle: 0, threshold: 10 }),
        ]),
      )
    } finally {
      for (const client of held) client.release()
      await Promise.all(waiting.map((checkout) => checkout.then((client) => client.release())))
      await pool.end()
    }
  })
})
