// One wait in pg-pool's queue for a connection, bounded by what is left of a checkout's deadline and
// left at once when the caller aborts.
import { performance } from 'node:perf_hooks'
import type pg from 'pg'
import { queueTimeout } from './acquire-errors.js'
import type { QueueMonitor } from './queue-monitor.js'

const ACQUIRE_DEADLINE = Symbol('acquire deadline')

/** pg-pool's own checkout, with a callback. */
export type PgPoolConnect = (
  callback: (error: Error | undefined, client: pg.PoolClient | undefined) => void,
) => void

/**
 * Asks pg-pool for a connection and waits until `deadline` (a `performance.now()` instant). With
 * `pgPoolBounds`, pg-pool's own timer bounds the wait (`connectionTimeoutMillis` is the whole acquire
 * timeout, for queueing and connecting alike); otherwise (a retry, a shorter bound) a timer of its own
 * does, and a connection pg-pool hands over late goes straight back. Fails with pg-pool's error, the
 * queue's timeout, or the abort's reason, untranslated.
 */
export async function acquireBefore(
  acquire: PgPoolConnect,
  deadline: number,
  pgPoolBounds: boolean,
  signal: AbortSignal | undefined,
  queueMonitor: QueueMonitor,
): Promise<pg.PoolClient> {
  const remaining = deadline - performance.now()
  if (remaining <= 0) throw queueTimeout()
  const pending = new Promise<pg.PoolClient>((resolve, reject) =>
    acquire((error, client) => (client ? resolve(client) : reject(error))),
  )
  const bounded = signal ? leaveOnAbort(pending, signal) : pending
  queueMonitor.check()
  if (pgPoolBounds) return bounded
  let timer: NodeJS.Timeout | undefined
  const expiry = new Promise<typeof ACQUIRE_DEADLINE>((resolve) => {
    timer = setTimeout(resolve, remaining, ACQUIRE_DEADLINE)
  })
  try {
    const winner = await Promise.race([bounded, expiry])
    if (winner !== ACQUIRE_DEADLINE) return winner
    // The queued request lives on inside pg-pool: hand its connection straight back when it comes.
    bounded.then(
      (late) => late.release(),
      () => undefined,
    )
    throw queueTimeout()
  } finally {
    clearTimeout(timer)
  }
}

/**
 * `pending`, or the abort's reason as soon as `signal` aborts: the caller leaves the queue at once,
 * and the connection pg-pool hands its queued request later goes straight back.
 */
function leaveOnAbort(pending: Promise<pg.PoolClient>, signal: AbortSignal): Promise<pg.PoolClient> {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    pending.then(
      (client) => {
        signal.removeEventListener('abort', onAbort)
        if (signal.aborted) client.release()
        else resolve(client)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}
