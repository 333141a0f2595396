import type pg from 'pg'
import type { PoolSettings } from '../config/db-config.js'
import type { ConnectionState } from './connection-state.js'

/**
 * Whether a checkout must ping this connection first (pgxpool's rule): only when it has been idle
 * at least `prePingIdleMs`, or always when `always` is set. A connection opened for this very
 * checkout has just proven itself.
 */
export function needsPing(
  state: ConnectionState,
  settings: PoolSettings,
  now: number,
  always: boolean,
): boolean {
  if (state.checkouts <= 1) return false
  if (always) return true
  return settings.prePing && now - state.lastReleasedAt >= settings.prePingIdleMs
}

/** Runs `select 1` within `timeoutMs`; resolves to the failure, or `undefined` when alive. */
export async function ping(client: pg.PoolClient, timeoutMs: number): Promise<Error | undefined> {
  try {
    // query_timeout is honoured per query by pg, though @types/pg does not declare it.
    await client.query({
      text: 'select 1',
      query_timeout: Math.max(1, Math.floor(timeoutMs)),
    } as pg.QueryConfig)
    return undefined
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error))
  }
}
