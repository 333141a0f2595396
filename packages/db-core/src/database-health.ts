import { performance } from 'node:perf_hooks'
import pg from 'pg'
import { redactSecrets } from './logging/redact.js'

/** The outcome of {@link checkDatabase}. */
export type DatabaseHealth = { ok: true; latencyMs: number } | { ok: false; latencyMs: number; error: string }

/**
 * Connects and runs `select 1` on a connection of its own, bounded by `timeoutMs` for connecting
 * and for the query. It bypasses the pool on purpose: a readiness probe must answer fast even
 * when every pooled connection is busy, and must not take one from real requests.
 *
 * ```ts
 * const health = await checkDatabase(config.connectionString, { timeoutMs: 1000 })
 * reply.code(health.ok ? 200 : 503)
 * ```
 */
export async function checkDatabase(
  connectionString: string,
  { timeoutMs }: { timeoutMs: number },
): Promise<DatabaseHealth> {
  const startedAt = performance.now()
  const client = new pg.Client({
    connectionString,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
  })
  // A probe connection that fails later must not crash the process.
  client.on('error', () => undefined)
  try {
    await client.connect()
    await client.query('select 1')
    return { ok: true, latencyMs: performance.now() - startedAt }
  } catch (error) {
    return {
      ok: false,
      latencyMs: performance.now() - startedAt,
      error: redactSecrets((error as Error).message),
    }
  } finally {
    await client.end().catch(() => undefined)
  }
}
