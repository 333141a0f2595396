import { InstrumentedPool } from '@classroom/db-core'

/** What `statements` distinct prepared statements cost one connection's backend. */
export interface StatementCacheMemory {
  readonly statements: number
  /** Statements the connection held prepared afterwards (the cache keeps at most its size). */
  readonly prepared: number
  /** The backend's memory (pg_backend_memory_contexts, all contexts) before and after, in bytes. */
  readonly backendBytesBefore: number
  readonly backendBytesAfter: number
}

/**
 * Runs `statements` distinct statements with parameters on one pooled connection (each prepared
 * once by db-core's statement cache) and reads the backend's memory before and after.
 *
 * ```ts
 * const memory = await measureStatementCache(databaseUrl, 200)
 * ```
 */
export async function measureStatementCache(
  databaseUrl: string,
  statements: number,
): Promise<StatementCacheMemory> {
  const pool = new InstrumentedPool({
    connectionString: databaseUrl,
    pool: { size: 1, maxOverflow: 0 },
    session: { statementCacheSize: Math.max(250, statements) },
    logger: { error() {}, warn() {}, info() {}, debug() {} },
  })
  const client = await pool.connect()
  try {
    const backendBytes = async () =>
      Number(
        (
          await client.query<{ bytes: string }>(
            'select sum(total_bytes) as bytes from pg_backend_memory_contexts',
          )
        ).rows[0]!.bytes,
      )
    // Warm the catalog caches first, so the difference is the statements' own.
    await client.query('select id, name, capacity from classrooms where id = $1 and capacity > $2', [1, -1])
    const backendBytesBefore = await backendBytes()
    for (let i = 0; i < statements; i++) {
      await client.query(
        `select id, name, capacity from classrooms where id = $1 and capacity > $2 + ${i}`,
        [1, -1],
      )
    }
    const backendBytesAfter = await backendBytes()
    const prepared = Number(
      (await client.query<{ n: string }>('select count(*) as n from pg_prepared_statements')).rows[0]!.n,
    )
    return { statements, prepared, backendBytesBefore, backendBytesAfter }
  } finally {
    client.release()
    await pool.end()
  }
}
