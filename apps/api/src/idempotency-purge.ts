import { type DbLogger, purgeIdempotencyKeys, withSessionSettings } from '@classroom/db-core'
import type { Kysely } from 'kysely'

// At most this long between purges; a shorter retention purges as often as it expires keys.
const LONGEST_INTERVAL_MS = 3_600_000
const PURGE_SETTINGS = { 'app.role': 'system' }

/**
 * Deletes idempotency keys past their retention now and then on an interval (unref'd: it never
 * keeps the process alive), in batches that skip rows a write holds, so it never slows the write
 * path. A failed purge is logged and tried again at the next interval. Returns the stop function.
 *
 * ```ts
 * const stop = startIdempotencyPurge(db, { retentionMs: 86_400_000, logger })
 * ```
 */
export function startIdempotencyPurge<DB>(
  db: Kysely<DB>,
  { retentionMs, logger }: { readonly retentionMs: number; readonly logger: DbLogger },
): () => void {
  // One purge at a time: a slow one is not stacked on by the next interval.
  let purging = false
  const purge = () => {
    if (purging) return
    purging = true
    // Every school's keys: the one role row-level security lets past them (app.role = 'system').
    void withSessionSettings(PURGE_SETTINGS, () => purgeIdempotencyKeys(db, { olderThanMs: retentionMs }))
      .then(
        (purged) => {
          if (purged > 0) logger.info('expired idempotency keys purged', { purged, retentionMs })
        },
        (error: unknown) =>
          logger.warn('purging expired idempotency keys failed; trying again later', {
            error: error instanceof Error ? error.message : String(error),
          }),
      )
      .finally(() => {
        purging = false
      })
  }
  purge()
  const timer = setInterval(purge, Math.min(retentionMs, LONGEST_INTERVAL_MS)).unref()
  return () => clearInterval(timer)
}
