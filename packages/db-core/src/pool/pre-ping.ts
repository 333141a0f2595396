import type pg from 'pg'
import type { PoolSettings } from '../config/settings.js'
import type { ConnectionState } from './connection-state.js'
import { queryRole, type RoleRequirement, roleMismatch } from './server-role.js'

/**
 * Whether a checkout must ping this connection first: when it has been idle at least
 * `prePingIdleMs` (pgxpool's rule); when it has not proved alive since `suspectBefore`, the moment a
 * connection of the pool was last lost (SQLAlchemy's invalidation: one disconnect makes every older
 * connection suspect); or always when `always` is set. A connection opened for this very checkout
 * has just proven itself.
 */
export function needsPing(
  state: ConnectionState,
  settings: PoolSettings,
  now: number,
  always: boolean,
  suspectBefore: number,
): boolean {
  if (state.checkouts <= 1) return false
  if (always) return true
  if (!settings.prePing) return false
  return state.validatedAt < suspectBefore || now - state.lastReleasedAt >= settings.prePingIdleMs
}

/**
 * Runs `select 1` within `timeoutMs`, or, when the server must be of a kind (`read-write`, ...),
 * asks its role in the same single round trip: `select 1` passes on a standby. Resolves to the
 * failure, or `undefined` when the connection is alive and its server still qualifies.
 */
export async function ping(
  client: pg.PoolClient,
  timeoutMs: number,
  requirement: RoleRequirement = 'any',
): Promise<Error | undefined> {
  const bound = Math.max(1, Math.floor(timeoutMs))
  try {
    if (requirement === 'any') {
      // query_timeout is honoured per query by pg, though @types/pg does not declare it.
      await client.query({ text: 'select 1', query_timeout: bound } as pg.QueryConfig)
      return undefined
    }
    const mismatch = roleMismatch(requirement, await queryRole(client, bound))
    return mismatch === undefined ? undefined : new Error(`the server ${mismatch}`)
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error))
  }
}
