import type { PoolSettings } from '../config/settings.js'

/** Why db-core closed a connection, for the removal counters. */
export type RemovalReason = 'pre-ping' | 'error' | 'recycle' | 'read-only'

/** What the pool knows of one connection over its life. */
export interface ConnectionState {
  readonly createdAt: number
  /** When this connection retires at its next checkout: the lifetime less its own random jitter. */
  readonly retireAt: number
  lastReleasedAt: number
  /** When it last proved alive: opened, or a successful pre-ping. */
  validatedAt: number
  checkouts: number
  /** When the caller holding it now got it; `undefined` while it is in the pool. */
  checkedOutAt: number | undefined
  removal: RemovalReason | undefined
}

/** A new connection's state; its retirement is spread over the jitter so peers never retire together. */
export function newConnectionState(
  now: number,
  { recycleMs, recycleJitterMs }: PoolSettings,
): ConnectionState {
  return {
    createdAt: now,
    retireAt: recycleMs > 0 ? now + recycleMs - Math.random() * recycleJitterMs : Number.POSITIVE_INFINITY,
    lastReleasedAt: now,
    validatedAt: now,
    checkouts: 0,
    checkedOutAt: undefined,
    removal: undefined,
  }
}
