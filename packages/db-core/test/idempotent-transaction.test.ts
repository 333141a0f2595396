import { createTestDatabase, FaultProxy } from '@classroom/local-postgres'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import {
  createIdempotencyKeysTable,
  IdempotencyKeyReusedError,
  idempotentTransaction,
  isConnectionError,
  isReadOnlyError,
  purgeIdempotencyKeys,
} from '../src/index.js'
import { configFor, openDb } from './support.js'

interface Schema {
  notes: { id: number; note: string }
}

let url: string
let proxy: FaultProxy

beforeAll(async () => {
  url = await createTestDatabase(inject('databaseUrl'), 'db_core_idempotency')
  const { db, close } = openDb(configFor(url))
  await createIdempotencyKeysTable(db)
  await sql`create table notes (id serial primary key, note text not null)`.execute(db)
  await close()
  const { hostname, port } = new URL(url)
  proxy = await FaultProxy.start({ host: hostname, port: Number(port) })
})

afterAll(async () => {
  await proxy?.close()
})

const addNote =
  (note: string) =>
  async (trx: Parameters<Parameters<typeof idempotentTransaction<Schema, { id: number }>>[2]>[0]) => {
    const row = await trx
      .insertInto('notes')
      .values({ note } as never)
      .returning('id')
      .executeTakeFirstOrThrow()
    return { id: row.id }
  }

async function count(note: string): Promise<number> {
  const { db, close } = openDb<Schema>(configFor(url))
  try {
    const rows = await db.selectFrom('notes').select('id').where('note', '=', note).execute()
    return rows.length
  } finally {
    await close()
  }
}

describe('idempotentTransaction', () => {
  it('writes once per key: the same key again answers the stored response', async () => {
    const { db, close } = openDb<Schema>(configFor(url))
    try {
      const options = { key: 'same-twice', fingerprint: 'POST /notes a' }
      const first = await idempotentTransaction(db, options, addNote('same-twice'))
      const second = await idempotentTransaction(db, options, addNote('same-twice'))
      expect(first).toMatchObject({ replayed: false, attempts: 1 })
      expect(second).toEqual({ response: first.response, replayed: true, attempts: 1 })
      expect(await count('same-twice')).toBe(1)
    } finally {
      await close()
    }
  })

  it('refuses a key reused for another request, writing nothing', async () => {
    const { db, close } = openDb<Schema>(configFor(url))
    try {
      await idempotentTransaction(db, { key: 'reused', fingerprint: 'POST /notes a' }, addNote('reused-a'))
      const error = await idempotentTransaction(
        db,
        { key: 'reused', fingerprint: 'POST /notes b' },
        addNote('reused-b'),
      ).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(IdempotencyKeyReusedError)
      expect(error).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', key: 'reused' })
      expect(await count('reused-b')).toBe(0)
    } finally {
      await close()
    }
  })

  it('lets concurrent requests with one key write once and answer alike', async () => {
    const { db, close } = openDb<Schema>(configFor(url))
    try {
      const options = { key: 'concurrent', fingerprint: 'POST /notes c' }
      const outcomes = await Promise.all(
        Array.from({ length: 10 }, () => idempotentTransaction(db, options, addNote('concurrent'))),
      )
      expect(new Set(outcomes.map((o) => JSON.stringify(o.response))).size).toBe(1)
      expect(outcomes.filter((o) => !o.replayed)).toHaveLength(1)
      expect(await count('concurrent')).toBe(1)
    } finally {
      await close()
    }
  })

  it.each([
    ['claimed first (a key a client sent)', false],
    ['stored after the work (a key made for the request)', true],
  ])('answers a lost commit reply from the stored key, %s', async (_, fresh) => {
    const { db, close } = openDb<Schema>(configFor(proxy.rewrite(url)))
    try {
      const note = `lost-reply-${fresh}`
      const struck = proxy.loseReplyTo(/commit/i)
      const outcome = await idempotentTransaction(
        db,
        { key: note, fresh, fingerprint: 'POST /notes g' },
        addNote(note),
      )
      await struck
      expect(outcome).toMatchObject({ replayed: true, attempts: 1 })
      expect(await count(note)).toBe(1)
    } finally {
      await close()
    }
  })

  it('asks again when the question "did it commit?" loses its own connection, and answers from the key', async () => {
    const { db, close } = openDb<Schema>(configFor(proxy.rewrite(url)))
    try {
      const note = 'lost-reply-and-lookup'
      const struck = proxy.loseReplyTo(/commit/i)
      // Armed as the commit's reply is lost: the look-up that follows loses its reply too.
      const lookupStruck = struck.then(() => proxy.loseReplyTo(/select fingerprint, response/i))
      const outcome = await idempotentTransaction(
        db,
        { key: note, fingerprint: 'POST /notes i' },
        addNote(note),
      )
      await lookupStruck
      expect(outcome).toMatchObject({ replayed: true, attempts: 1 })
      expect(await count(note)).toBe(1)
    } finally {
      await close()
    }
  })

  it('sends again a write a read-only server refused (nothing was written): one row', async () => {
    const { db, close } = openDb<Schema>(configFor(url))
    try {
      let runs = 0
      const outcome = await idempotentTransaction(
        db,
        { key: 'read-only-once', fingerprint: 'POST /notes j' },
        async (trx) => {
          // A real 25006 from the server, the first time only, as a standby answers until a promotion.
          if (++runs === 1) await sql`set transaction read only`.execute(trx)
          return addNote('read-only-once')(trx)
        },
      )
      expect(outcome).toMatchObject({ replayed: false, attempts: 2 })
      expect(await count('read-only-once')).toBe(1)
    } finally {
      await close()
    }
  })

  it('reports a write refused as read-only once retryWithinMs has run out, writing nothing', async () => {
    const { db, close } = openDb<Schema>(configFor(url))
    try {
      const outcome = await idempotentTransaction(
        db,
        { key: 'read-only-always', fingerprint: 'POST /notes k', retryWithinMs: 300 },
        async (trx) => {
          await sql`set transaction read only`.execute(trx)
          return addNote('read-only-always')(trx)
        },
      ).catch((e: unknown) => e)
      expect(isReadOnlyError(outcome)).toBe(true)
      expect(await count('read-only-always')).toBe(0)
    } finally {
      await close()
    }
  })

  it('runs again a transaction whose connection died before it committed: one row', async () => {
    const { db, close } = openDb<Schema>(configFor(url))
    try {
      let runs = 0
      const outcome = await idempotentTransaction(
        db,
        { key: 'died', fingerprint: 'POST /notes e' },
        async (trx) => {
          runs++
          const written = await addNote('died')(trx)
          if (runs === 1) {
            const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx)
            await sql`select pg_terminate_backend(${rows[0]!.pid})`.execute(db)
          }
          return written
        },
      )
      expect(outcome).toMatchObject({ replayed: false, attempts: 2 })
      expect(await count('died')).toBe(1)
    } finally {
      await close()
    }
  })

  it('reports the lost connection, writing nothing, once retryWithinMs has run out', async () => {
    const { db, close } = openDb<Schema>(configFor(url))
    try {
      const outcome = await idempotentTransaction(
        db,
        { key: 'no-time-left', fingerprint: 'POST /notes h', retryWithinMs: 0 },
        async (trx) => {
          await addNote('no-time-left')(trx)
          const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx)
          await sql`select pg_terminate_backend(${rows[0]!.pid})`.execute(db)
          return addNote('no-time-left')(trx)
        },
      ).catch((e: unknown) => e)
      expect(isConnectionError(outcome)).toBe(true)
      expect(await count('no-time-left')).toBe(0)
    } finally {
      await close()
    }
  })

  it('answers a write on a frozen server within retryWithinMs: the look-up of its key never waits a checkout deadline more', async () => {
    const { db, close } = openDb<Schema>(
      configFor(proxy.rewrite(url), {
        DB_POOL_SIZE: '1',
        DB_POOL_PRE_PING: 'false',
        DB_QUERY_TIMEOUT_MS: '500',
        DB_POOL_TIMEOUT_SECONDS: '10',
      }),
    )
    try {
      await sql`select 1`.execute(db)
      let startedAt = 0
      const outcome = await idempotentTransaction(
        db,
        { key: 'frozen', fingerprint: 'POST /notes frozen', retryWithinMs: 1500 },
        async (trx) => {
          proxy.freeze()
          startedAt = performance.now()
          return addNote('frozen')(trx)
        },
      ).catch((e: unknown) => e)
      const elapsed = performance.now() - startedAt
      proxy.unfreeze()
      // The transaction's own lost connection, not the look-up's abort: its outcome stays unknown.
      expect(isConnectionError(outcome)).toBe(true)
      // 1.5 s at most (counted from before BEGIN); a look-up waiting its checkout deadline would take 10 s more.
      expect(elapsed).toBeLessThan(4000)
      expect(await count('frozen')).toBe(0)
    } finally {
      proxy.unfreeze()
      await close()
    }
  })

  it('rolls the key back with work that throws, so a retry runs afresh', async () => {
    const { db, close } = openDb<Schema>(configFor(url))
    try {
      const options = { key: 'threw', fingerprint: 'POST /notes f' }
      await expect(
        idempotentTransaction(db, options, async (trx) => {
          await addNote('threw')(trx)
          throw new Error('business rule broken')
        }),
      ).rejects.toThrow('business rule broken')
      expect(await count('threw')).toBe(0)
      await expect(idempotentTransaction(db, options, addNote('threw'))).resolves.toMatchObject({
        replayed: false,
      })
      expect(await count('threw')).toBe(1)
    } finally {
      await close()
    }
  })

  it('purges only keys older than the retention, in batches', async () => {
    const { db, close } = openDb<Schema>(configFor(url))
    try {
      await sql`insert into idempotency_keys (key, fingerprint, created_at)
        select 'old-' || g, 'x', now() - interval '2 days' from generate_series(1, 25) g`.execute(db)
      await idempotentTransaction(db, { key: 'fresh', fingerprint: 'x' }, async () => ({ id: 0 }))
      const purged = await purgeIdempotencyKeys(db, { olderThanMs: 24 * 3600_000, batchSize: 10 })
      expect(purged).toBe(25)
      const left = await sql<{
        key: string
      }>`select key from idempotency_keys where key like 'old-%' or key = 'fresh'`.execute(db)
      expect(left.rows).toEqual([{ key: 'fresh' }])
    } finally {
      await close()
    }
  })
})
