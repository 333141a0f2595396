import { performance } from 'node:perf_hooks'
import type pg from 'pg'
import { redactSecrets } from './logging/redact.js'
import type { InstrumentedPool } from './pool/instrumented-pool.js'
import { Client as PgClient } from './pool/pg-module.js'

/** The outcome of {@link checkDatabase}. */
export type DatabaseHealth = { ok: true; latencyMs: number } | { ok: false; latencyMs: number; error: string }

/**
 * Connects and runs `select 1` on a connection of its own, bounded by `timeoutMs` for connecting
 * and for the query. It bypasses the pool on purpose: a readiness probe must answer fast even
 * when every pooled connection is busy, and must not take one from real requests. Given the pool,
 * it connects exactly as the pool does (its hosts and `target_session_attrs`, TLS settings), so
 * it answers for what requests will meet; given a connection string, as node-postgres does.
 *
 * ```ts
 * const health = await checkDatabase(pool, { timeoutMs: 1000 })
 * reply.code(health.ok ? 200 : 503)
 * ```
 */
export async function checkDatabase(
  source: InstrumentedPool | string,
  { timeoutMs }: { timeoutMs: number },
): Promise<DatabaseHealth> {
  const startedAt = performance.now()
  let client: pg.Client | undefined
  try {
    client =
      typeof source === 'string'
        ? await connectPlain(source, timeoutMs)
        : await source.connectDetached(timeoutMs)
    await client.query('select 1')
    return { ok: true, latencyMs: performance.now() - startedAt }
  } catch (error) {
    return {
      ok: false,
      latencyMs: performance.now() - startedAt,
      error: redactSecrets((error as Error).message),
    }
  } finally {
    await client?.end().catch(() => undefined)
  }
}

async function connectPlain(connectionString: string, timeoutMs: number): Promise<pg.Client> {
  const client = new PgClient({
    connectionString,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
  })
  // A probe connection that fails later must not crash the process.
  client.on('error', () => undefined)
  try {
    await client.connect()
    return client
  } catch (error) {
    await client.end().catch(() => undefined)
    throw error
  }
}
