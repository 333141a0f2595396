import { createTestDatabase } from '@classroom/local-postgres'
import { recordingLogger } from '@classroom/test-kit'
import { sql } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest'
import { StatementCancellation, StreamInterruptedError } from '../src/index.js'
import { configFor, openDb, sleep } from './support.js'

let url: string
let admin: pg.Client

beforeAll(async () => {
  url = await createTestDatabase(inject('databaseUrl'), 'db_core_streaming')
  admin = new pg.Client({ connectionString: url })
  await admin.connect()
})

afterAll(async () => {
  await admin?.end()
})

type Db = ReturnType<typeof openDb>['db']

/** One connection, so that what the stream left behind is seen by the next statement. */
function onePool(env: Record<string, string> = {}) {
  const recorded = recordingLogger()
  const opened = openDb(
    configFor(url, { DB_POOL_SIZE: '1', DB_POOL_MAX_OVERFLOW: '0', ...env }),
    recorded.logger,
  )
  return { ...opened, lines: recorded.lines }
}

/** A stream of the numbers 1 to `count`, each made `delay` seconds after the one before. */
const numbers = (db: Db, count: number, delay = 0) =>
  db
    .selectFrom(sql<{ g: number }>`generate_series(1, ${count})`.as('g'))
    .select([sql<number>`g`.as('n'), sql`pg_sleep(${delay})`.as('slept')])

const backendPid = sql<{ pid: number }>`select pg_backend_pid() as pid`

/** The state the server reports for `pid`. */
async function stateOf(pid: number): Promise<string | undefined> {
  const { rows } = await admin.query('select state from pg_stat_activity where pid = $1', [pid])
  return rows[0]?.state
}

describe('streaming through the dialect', () => {
  it('streams every row through a cursor, chunkSize at a time, and gives the connection back', async () => {
    const { db, pool, close } = onePool()
    try {
      const rows = []
      for await (const row of numbers(db, 10).stream(3)) {
        rows.push(row.n)
        // While it streams, the one connection is checked out: the stream holds it.
        expect(pool.stats().active).toBe(1)
      }
      expect(rows).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
      expect(pool.stats()).toMatchObject({ active: 0, acquisitions: 1 })
      await expect(numbers(db, 1).stream(0).next()).rejects.toThrow(
        "a stream's chunkSize must be a positive integer, got 0",
      )
      expect(pool.stats().active).toBe(0)
    } finally {
      await close()
    }
  })

  it('releases its connection at once when the reader stops early, its portal closed', async () => {
    const { db, pool, close } = onePool()
    try {
      for await (const row of numbers(db, 1000).stream(1)) {
        expect(row.n).toBe(1)
        break
      }
      expect(pool.stats().active).toBe(0)
      const stream = numbers(db, 1000).stream(10)
      await stream.next()
      await stream.return?.()
      expect(pool.stats()).toMatchObject({ active: 0, unsafeReleases: 0 })
      // The same (only) connection: no cursor or portal is left open in its session.
      const { rows } = await sql<{ open: number }>`select count(*)::int as open from pg_cursors`.execute(db)
      expect(rows).toEqual([{ open: 0 }])
    } finally {
      await close()
    }
  })

  it('runs longer than DB_QUERY_TIMEOUT_MS: each read is bounded on its own, not the whole stream', async () => {
    const { db, close } = onePool({ DB_QUERY_TIMEOUT_MS: '400' })
    try {
      const rows = []
      // Four reads of 200 ms each: 800 ms in all, twice the timeout.
      for await (const row of numbers(db, 4, 0.2).stream(1)) rows.push(row.n)
      expect(rows).toEqual([1, 2, 3, 4])
    } finally {
      await close()
    }
  })

  it('names the code that opened a stream held past DB_POOL_LEAK_WARN_MS', async () => {
    const { db, close, lines } = onePool({ DB_POOL_LEAK_WARN_MS: '200' })
    try {
      const stream = numbers(db, 100).stream(10)
      await stream.next()
      await sleep(1500)
      await stream.return?.()
      const leak = lines.find((line) => line.message.startsWith('database connection held longer'))
      expect(leak).toBeDefined()
      expect(String(leak!.acquiredAt)).toMatch(/streaming\.test\.ts/)
    } finally {
      await close()
    }
  })

  it.each([
    ['an abort signal', () => new AbortController()],
    ['a StatementCancellation', () => new StatementCancellation()],
  ] as const)(
    '%s cancels the read in flight on the server, and Kysely prints nothing',
    async (_how, make) => {
      const { db, pool, close } = onePool()
      const printed = vi.spyOn(console, 'error')
      try {
        const { rows } = await backendPid.execute(db)
        const pid = rows[0]!.pid
        const canceller = make()
        const signal = canceller.signal
        const startedAt = performance.now()
        const reading = (async () => {
          for await (const _ of numbers(db, 20, 0.5).stream({ chunkSize: 20, signal })) {
            // The first read takes ten seconds: nothing arrives before the abort.
          }
        })()
        await sleep(300)
        expect(await stateOf(pid)).toBe('active')
        if (canceller instanceof AbortController) canceller.abort(new Error('the reader left'))
        else canceller.cancel()
        await expect(reading).rejects.toThrow(/the reader left|the query was cancelled/)
        await vi.waitFor(async () => expect(await stateOf(pid)).toBe('idle'), { timeout: 2000 })
        await vi.waitFor(() => expect(pool.stats().active).toBe(0), { timeout: 2000 })
        expect(performance.now() - startedAt).toBeLessThan(3000)
        await expect(backendPid.execute(db)).resolves.toMatchObject({ rows: [{ pid }] })
        expect(printed).not.toHaveBeenCalled()
      } finally {
        printed.mockRestore()
        await close()
      }
    },
  )

  it("fails on a statement error mid-stream with the reader's stack, and its connection serves on", async () => {
    const { db, pool, close } = onePool()
    try {
      const { rows } = await backendPid.execute(db)
      const seen: number[] = []
      const failure = await (async () => {
        for await (const row of db
          .selectFrom(sql<{ g: number }>`generate_series(1, 10)`.as('g'))
          .select(sql<number>`10 / (5 - g)`.as('n'))
          .stream(2)) {
          seen.push(row.n)
        }
      })().catch((error: unknown) => error)
      expect(failure).toMatchObject({ code: '22012' })
      expect(String((failure as Error).stack)).toContain('streaming.test.ts')
      expect(seen).toEqual([2, 3, 5, 10])
      expect(pool.stats()).toMatchObject({ active: 0, unsafeReleases: 0 })
      await expect(backendPid.execute(db)).resolves.toEqual({ rows })
    } finally {
      await close()
    }
  })

  it('ends with StreamInterruptedError when its connection is lost mid-stream, never run again', async () => {
    const { db, pool, close } = onePool()
    try {
      const { rows } = await backendPid.execute(db)
      const pid = rows[0]!.pid
      const seen: number[] = []
      const outcome = await (async () => {
        for await (const row of numbers(db, 100000).stream(100)) {
          seen.push(row.n)
          if (seen.length === 150) await admin.query('select pg_terminate_backend($1)', [pid])
        }
      })().catch((error: unknown) => error)
      expect(outcome).toBeInstanceOf(StreamInterruptedError)
      expect(outcome).toMatchObject({ code: 'STREAM_INTERRUPTED', rowsStreamed: 200 })
      expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => i + 1))
      expect(pool.stats()).toMatchObject({ active: 0, readRetries: 0 })
      // The lost connection was destroyed; a new one serves.
      const after = await backendPid.execute(db)
      expect(after.rows[0]!.pid).not.toBe(pid)
    } finally {
      await close()
    }
  })
})
