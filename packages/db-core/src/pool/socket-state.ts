import type { Duplex } from 'node:stream'
import type pg from 'pg'

/**
 * Whether the server already closed this connection as far as its socket knows: the peer's FIN (or
 * a reset) has been read, while pg may not have noticed yet (it waits for the socket's `close`,
 * which comes a loop turn or two later). A read of two flags, no round trip.
 */
export function socketClosed(client: pg.PoolClient): boolean {
  const stream = (client as unknown as { connection?: { stream?: Duplex } }).connection?.stream
  return stream !== undefined && (stream.destroyed || !stream.readable || !stream.writable)
}
