// The guard on a checkout's way back: a session still in use is never handed to the next caller.
import type pg from 'pg'

/** pg-pool's `release` of one checkout, or whatever replaced it. */
export type Release = (error?: boolean | Error) => void

/**
 * The `release` of one connection, made once for its whole life: pg-pool sets a fresh `release`
 * on every checkout, which the connection hands here ({@link poolRelease}) instead of becoming its
 * `release`, so no function is made per checkout. A session released inside a transaction, open or
 * failed, or with a query still running is destroyed, never handed to the next caller, whose
 * autocommit writes would otherwise join a transaction nobody commits. Two field reads on the way
 * back; Kysely, which releases only after COMMIT or ROLLBACK, pays nothing more. `onUnsafe` hears
 * of each such release, with what still held the session, before it is destroyed; `onReturned` of
 * every release, once pg-pool has taken the connection back.
 */
export class ReleaseGuard {
  /** What pg-pool set as the connection's `release` at its last checkout. */
  poolRelease: Release | undefined
  /** The connection's `release`, the same function at every checkout. */
  readonly release: Release

  constructor(client: pg.ClientBase, onUnsafe: (unsafe: string) => void, onReturned: () => void) {
    this.release = (error) => {
      const release = this.poolRelease as Release
      const unsafe = error ? undefined : sessionInUse(client)
      if (unsafe) onUnsafe(unsafe)
      release.call(client, unsafe ? new Error(`connection released ${unsafe}`) : error)
      // Back in pg-pool's idle list (or on its way out): the pool's queue may be served from it now.
      onReturned()
    }
  }
}

/** What still holds a session a caller released, or `undefined` when it is idle and safe to reuse. */
function sessionInUse(client: pg.ClientBase): string | undefined {
  const internals = client as unknown as {
    _ending: boolean
    _queryable: boolean
    _getActiveQuery(): unknown
    _queryQueue: unknown[]
  }
  // Closing (destroyed at shutdown) or closed already (a statement that timed out, a lost socket):
  // pg-pool drops it, nobody will be handed it.
  if (internals._ending || !internals._queryable) return undefined
  // The status of the last ReadyForQuery (node-postgres 8.21+).
  const status = client.getTransactionStatus()
  if (status === 'T') return 'inside an open transaction'
  if (status === 'E') return 'inside a failed transaction'
  if (internals._getActiveQuery() || internals._queryQueue.length > 0) return 'with a query in flight'
  return undefined
}
