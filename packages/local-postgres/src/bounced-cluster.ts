import { LocalPgBouncer } from './local-pgbouncer.js'
import { LocalPostgres } from './local-postgres.js'

/** A throwaway server with one database, reached through PgBouncer in transaction mode. */
export interface BouncedCluster {
  readonly cluster: LocalPostgres
  readonly bouncer: LocalPgBouncer
  /** Stops PgBouncer, then the server, and removes the server's files. */
  destroy(): Promise<void>
}

/**
 * Starts a temporary cluster with `database` and PgBouncer (transaction mode, `poolSize` server
 * connections) in front of it: what tests of replicas behind PgBouncer start from.
 *
 * ```ts
 * const bounced = await startBouncedCluster({ database: 'classroom', poolSize: 10 })
 * try { await use(bounced.bouncer.connectionString()) } finally { await bounced.destroy() }
 * ```
 */
export async function startBouncedCluster(options: {
  readonly database: string
  readonly poolSize: number
}): Promise<BouncedCluster> {
  const cluster = await LocalPostgres.temporary()
  try {
    await cluster.createDatabase(options.database)
    const bouncer = await LocalPgBouncer.start({
      serverUrl: cluster.connectionString(),
      database: options.database,
      poolSize: options.poolSize,
    })
    return {
      cluster,
      bouncer,
      destroy: async () => {
        await bouncer.destroy()
        await cluster.destroy()
      },
    }
  } catch (error) {
    await cluster.destroy()
    throw error
  }
}
