// Reads and drops what is left of a refused request's body, so the answer sent after it is not lost to a reset.
import type { IncomingMessage } from 'node:http'

/**
 * Resolves once the rest of `request`'s body has arrived (and been dropped) or the request is gone.
 * A socket closed with unread bytes in it resets, and the reset discards the answer its client had
 * not read yet: a 413 sent while a large upload still flows is lost so. Bounded by the server's
 * request timeout, which ends a body that never finishes.
 *
 * ```ts
 * await restOfBodyDropped(request.raw)
 * reply.code(413).send(body)
 * ```
 */
export function restOfBodyDropped(request: IncomingMessage): Promise<void> {
  if (request.complete || request.destroyed) return Promise.resolve()
  return new Promise((resolve) => {
    request.once('end', resolve)
    request.once('close', resolve)
    // Flowing with no 'data' listener: each chunk is read and dropped.
    request.resume()
  })
}
