// The guard on a checkout's way back: a session still in use is never handed to the next caller.
import type pg from 'pg'

/**
 * Wraps `client.release` (pg-pool sets a fresh one on every checkout): a session released inside a
 * transaction, open or failed, or with a query still running is destroyed, never handed to the
 * next caller, whose autocommit writes would otherwise join a transaction nobody commits. Two
 * field reads on the way back; Kysely, which releases only after COMMIT or ROLLBACK, pays nothing more.
 * `onUnsafe` hears of each such release, with what still held the session.
 */
export function guardRelease(client: pg.PoolClient, onUnsafe: (unsafe: string) => void): void {
  const release = client.release
  client.release = (error?: boolean | Error) => {
    const unsafe = error ? undefined : sessionInUse(client)
    if (!unsafe) return release.call(client, error)
    onUnsafe(unsafe)
    return release.call(client, new Error(`connection released ${unsafe}`))
  }
}

/** What still holds a session a caller released, or `undefined` when it is idle and safe to reuse. */
function sessionInUse(client: pg.PoolClient): string | undefined {
  const internals = client as unknown as {
    _getActiveQuery(): unknown
    _queryQueue: unknown[]
    _queryable: boolean
  }
  // Closed already (a statement that timed out, a lost socket): pg-pool drops it, nothing to guard.
  if (!internals._queryable) return undefined
  // The status of the last ReadyForQuery (node-postgres 8.21+).
  const status = client.getTransactionStatus()
  if (status === 'T') return 'inside an open transaction'
  if (status === 'E') return 'inside a failed transaction'
  if (internals._getActiveQuery() || internals._queryQueue.length > 0) return 'with a query in flight'
  return undefined
}
