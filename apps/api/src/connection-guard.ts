// Keeps idle sockets from starving real users: caps open connections and closes silent idle ones.
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'

/**
 * Caps the server's open connections at `maxConnections`: past it, a new connection closes the
 * oldest one with no request being answered (one that never sent a byte first), so a flood of idle
 * sockets cannot lock real clients out; only when every connection is busy is the new one refused.
 * And a socket silent past the server's timeout (`connectionTimeout`, or `keepAliveTimeout` after
 * an answer) is closed only when none of its requests is being answered: the database's own
 * timeouts bound a slow answer, which is not cut for its silence.
 *
 * ```ts
 * guardConnections(app.server, 900)
 * ```
 */
export function guardConnections(server: Server, maxConnections: number): void {
  // Insertion order is age order: the first idle one found is the oldest.
  const open = new Set<Socket>()
  const answering = new Map<Socket, number>()
  const busy = (socket: Socket) => answering.has(socket)

  server.on('request', ({ socket }: IncomingMessage, response: ServerResponse) => {
    answering.set(socket, (answering.get(socket) ?? 0) + 1)
    response.once('close', () => {
      const left = (answering.get(socket) ?? 1) - 1
      if (left > 0) answering.set(socket, left)
      else answering.delete(socket)
    })
  })

  server.on('connection', (socket: Socket) => {
    open.add(socket)
    socket.once('close', () => {
      open.delete(socket)
      answering.delete(socket)
    })
    if (open.size > maxConnections) (oldestIdle(open, busy, socket) ?? socket).destroy()
  })

  // With a listener here Node no longer destroys a timed-out socket itself: a busy one is kept.
  server.on('timeout', (socket: Socket) => {
    if (!busy(socket)) socket.destroy()
  })
}

function oldestIdle(
  open: Set<Socket>,
  busy: (socket: Socket) => boolean,
  newcomer: Socket,
): Socket | undefined {
  let idle: Socket | undefined
  for (const socket of open) {
    if (socket === newcomer || busy(socket)) continue
    if (socket.bytesRead === 0) return socket
    idle ??= socket
  }
  return idle
}
