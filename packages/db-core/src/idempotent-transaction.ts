import { setTimeout as sleep } from 'node:timers/promises'
import { type Kysely, sql, type Transaction } from 'kysely'
import { isConnectionError, isReadOnlyError } from './connection-errors.js'
import { IdempotencyKeyReusedError } from './errors.js'

/** The key, what it stands for, and where keys are kept. */
export interface IdempotencyOptions {
  /** The caller's `Idempotency-Key`, or one made for this request: at most 255 characters. */
  readonly key: string
  /** What the key stands for (method, path, body, as a hash): the same key with another is refused. */
  readonly fingerprint: string
  /**
   * The key was made for this request (a random UUID, say): no other request can hold it, so it is
   * stored with the response in one statement after the work instead of claimed before it, a round
   * trip less. Leave it off for a key a client sent. Default `false`.
   */
  readonly fresh?: boolean
  /** The table made by {@link createIdempotencyKeysTable} in the app's migration. Default `idempotency_keys`. */
  readonly table?: string
  /**
   * How long to keep running the transaction again while its connection is lost (a restart, a
   * failover) or its server refuses writes as read-only (a standby, during a failover); the
   * pool's own ride-through bounds each attempt's checkout. Default 10 000 ms.
   */
  readonly retryWithinMs?: number
}

/** The answer, and how it came about. */
export interface IdempotentOutcome<R> {
  /** The work's response; replayed, as JSON gives it back (a `Date` comes back as its ISO string). */
  readonly response: R
  /** Answered from the stored key: the work ran before (this request's first try, or an earlier request). */
  readonly replayed: boolean
  /** Transactions started: 1 unless a lost connection made it run again. */
  readonly attempts: number
}

const DEFAULT_TABLE = 'idempotency_keys'
const DEFAULT_RETRY_WITHIN_MS = 10_000
// A write refused by a read-only server waits this long before it is sent again: the pool is
// finding a primary (a failover), and nothing tells when one will answer.
const READ_ONLY_PAUSE_MS = 100
// Between two tries at the stored key when the look-up itself lost its connection.
const LOOKUP_PAUSE_MS = 50

interface StoredKey {
  fingerprint: string
  response: unknown
}

/**
 * Runs a write transaction at most once per idempotency key, the way Stripe and the IETF
 * `Idempotency-Key` draft do: the key is claimed (inserted) first, in the same transaction as the
 * work, and stored with the work's response, so the key commits exactly when the write does. A key
 * already committed is answered from its stored response (`replayed`), never written twice; one
 * claimed by a concurrent transaction waits for it. When the transaction fails on a lost connection
 * and the caller cannot know whether it committed, the key is looked up on a fresh connection:
 * committed, its response is returned; not, the transaction runs again. Work that throws (a
 * statement or business error) rolls back with its key, so a retry runs it afresh. The response is
 * stored as `jsonb`: keep it to JSON values.
 *
 * ```ts
 * const { response, replayed } = await idempotentTransaction(
 *   db,
 *   { key: 'f3b7c1d2-order-42', fingerprint: 'POST /orders 9c56cc51' },
 *   async (trx) => {
 *     await sql`insert into orders (id) values (42)`.execute(trx)
 *     return { status: 201, body: { id: 42 } }
 *   },
 * )
 * ```
 */
export async function idempotentTransaction<DB, R>(
  db: Kysely<DB>,
  options: IdempotencyOptions,
  work: (trx: Transaction<DB>) => Promise<R>,
): Promise<IdempotentOutcome<R>> {
  const table = sql.table(options.table ?? DEFAULT_TABLE)
  const { key, fingerprint } = options
  const giveUpAt = performance.now() + (options.retryWithinMs ?? DEFAULT_RETRY_WITHIN_MS)
  const replay = (stored: StoredKey, attempts: number): IdempotentOutcome<R> => {
    if (stored.fingerprint !== fingerprint) throw new IdempotencyKeyReusedError(key)
    return { response: stored.response as R, replayed: true, attempts }
  }
  for (let attempts = 1; ; attempts++) {
    try {
      return await db.transaction().execute(async (trx) => {
        if (options.fresh) {
          const response = await work(trx)
          await sql`insert into ${table} (key, fingerprint, response)
            values (${key}, ${fingerprint}, ${JSON.stringify(response)}::jsonb)`.execute(trx)
          return { response, replayed: false, attempts }
        }
        // Claiming first: a concurrent holder of the key makes this wait until it commits or rolls back.
        const claimed = await sql`insert into ${table} (key, fingerprint) values (${key}, ${fingerprint})
          on conflict (key) do nothing returning key`.execute(trx)
        // The conflicting insert waited for the key's transaction to commit: the row is there.
        if (claimed.rows.length === 0) return replay((await storedKey(trx, table, key))!, attempts)
        const response = await work(trx)
        await sql`update ${table} set response = ${JSON.stringify(response)}::jsonb where key = ${key}`.execute(
          trx,
        )
        return { response, replayed: false, attempts }
      })
    } catch (error) {
      const remainingMs = giveUpAt - performance.now()
      // Refused as read-only, the write did not happen: send it again once a primary may answer.
      if (isReadOnlyError(error) && remainingMs > 0) {
        await sleep(Math.min(READ_ONLY_PAUSE_MS, remainingMs))
        continue
      }
      if (!isConnectionError(error) || remainingMs <= 0) throw error
      // Committed or not? Ask on a fresh connection (the pool waits out a restart for it).
      const stored = await storedKeyBefore(db, table, key, giveUpAt, error)
      if (stored) return replay(stored, attempts)
    }
  }
}

/**
 * The key's stored row, asked again while the question itself is cut off (a server shutting down
 * ends connections one by one): running the work again without the answer could write it twice.
 * Every ask, its checkout included, ends by `giveUpAt`: a silent server must not hold the write for a
 * checkout deadline more. Out of time, the outcome stays unknown and `failure` (the transaction's
 * own lost connection) is what the caller gets.
 */
async function storedKeyBefore<DB>(
  db: Kysely<DB>,
  table: ReturnType<typeof sql.table>,
  key: string,
  giveUpAt: number,
  failure: unknown,
): Promise<StoredKey | undefined> {
  for (;;) {
    const deadline = AbortSignal.timeout(Math.max(1, Math.ceil(giveUpAt - performance.now())))
    try {
      return await storedKey(db, table, key, deadline)
    } catch (error) {
      const remainingMs = giveUpAt - performance.now()
      if (deadline.aborted || remainingMs <= 0) throw failure
      if (!isConnectionError(error)) throw error
      // The pool paces a database that is down; this pause paces one that refuses at once.
      await sleep(Math.min(LOOKUP_PAUSE_MS, remainingMs))
    }
  }
}

/** The key's stored row, looked up in the transaction or on a fresh connection of `db`. */
async function storedKey<DB>(
  executor: Kysely<DB>,
  table: ReturnType<typeof sql.table>,
  key: string,
  signal?: AbortSignal,
): Promise<StoredKey | undefined> {
  const { rows } =
    await sql<StoredKey>`select fingerprint, response from ${table} where key = ${key}`.execute(
      executor,
      signal && { signal },
    )
  return rows[0]
}

/**
 * Makes the table {@link idempotentTransaction} keeps keys in, for an app's migration: the key,
 * what it stands for, the stored response and when it was claimed (indexed, for the purge).
 *
 * ```ts
 * async function up(db: Kysely<unknown>): Promise<void> {
 *   await createIdempotencyKeysTable(db)
 * }
 * const migration = { up } // a Kysely Migration
 * ```
 */
export async function createIdempotencyKeysTable(db: Kysely<unknown>, table = DEFAULT_TABLE): Promise<void> {
  await db.schema
    .createTable(table)
    .addColumn('key', 'varchar(255)', (c) => c.primaryKey())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('response', 'jsonb')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()
  await db.schema.createIndex(`${table}_created_at`).on(table).column('created_at').execute()
}

/**
 * Deletes keys older than `olderThanMs`, in batches that skip rows a transaction holds (so it never
 * waits on, or blocks, the write path), until none is left. Returns how many it deleted.
 *
 * ```ts
 * const purged = await purgeIdempotencyKeys(db, { olderThanMs: 24 * 3600_000 })
 * ```
 */
export async function purgeIdempotencyKeys<DB>(
  db: Kysely<DB>,
  options: { readonly olderThanMs: number; readonly table?: string; readonly batchSize?: number },
): Promise<number> {
  const table = sql.table(options.table ?? DEFAULT_TABLE)
  const batchSize = options.batchSize ?? 1000
  let purged = 0
  for (;;) {
    const result = await sql`delete from ${table} where key in (
        select key from ${table} where created_at < now() - make_interval(secs => ${options.olderThanMs / 1000})
        limit ${batchSize} for update skip locked)`.execute(db)
    const deleted = Number(result.numAffectedRows ?? 0)
    purged += deleted
    if (deleted < batchSize) return purged
  }
}
