// PostgreSQL's CancelRequest: how the dialect stops a running statement without a pooled connection.
import { connect } from 'node:net'

// The CancelRequest code PostgreSQL's protocol reserves (1234 in the high half, 5678 in the low).
const CANCEL_REQUEST_CODE = 80877102
const CANCEL_REQUEST_LENGTH = 16

/** Where a session lives and the key its server gave it at connect (BackendKeyData). */
export interface CancelTarget {
  readonly host: string
  readonly port: number
  readonly processID: number
  readonly secretKey: number
}

/**
 * Asks the server to cancel whatever statement `target`'s session is running, as libpq's `PQcancel`
 * does: a CancelRequest with the session's backend key, on a connection of its own that the server
 * closes at once. It needs no pooled connection (a pool exhausted by long queries can still cancel
 * one), and through PgBouncer it reaches the right server session, where `pg_cancel_backend(pid)`
 * would name PgBouncer's made-up pid. Resolves once the server closed the request's connection, or
 * after `timeoutMs`; never rejects (a cancel is best effort: the statement may have just finished).
 *
 * ```ts
 * await sendCancelRequest({ host: '127.0.0.1', port: 5432, processID: 4242, secretKey: 123456789 })
 * ```
 */
export function sendCancelRequest(target: CancelTarget, timeoutMs = 2000): Promise<void> {
  const packet = Buffer.alloc(CANCEL_REQUEST_LENGTH)
  packet.writeInt32BE(CANCEL_REQUEST_LENGTH, 0)
  packet.writeInt32BE(CANCEL_REQUEST_CODE, 4)
  packet.writeInt32BE(target.processID, 8)
  packet.writeInt32BE(target.secretKey, 12)
  return new Promise((resolve) => {
    const socket = target.host.startsWith('/')
      ? connect(`${target.host}/.s.PGSQL.${target.port}`)
      : connect(target.port, target.host)
    const done = () => {
      clearTimeout(timer)
      socket.destroy()
      resolve()
    }
    const timer = setTimeout(done, timeoutMs)
    // Written, not ended: as libpq does, the request's connection is left for the server to close
    // (PgBouncer drops a cancel whose client has already hung up).
    socket.once('connect', () => socket.write(packet))
    socket.once('close', done)
    socket.once('error', done)
  })
}
