import type { Socket } from 'node:net'
import pg from 'pg'

/** What the pool learns of every connection attempt. */
export interface ConnectAttemptHooks {
  attempted(): void
  failed(error: Error): void
}

/**
 * The `Client` class the pool opens connections with: pg's own, counting every attempt and every
 * failure, and refusing a socket connected to itself. A client retrying a port inside the kernel's
 * ephemeral range while nothing listens there can be given that very port as its own source: TCP
 * simultaneous open then connects the socket to itself, and pg would wait for a server that is its
 * own echo. Such a socket is destroyed at once and the attempt fails as refused.
 */
export function monitoredClient(hooks: ConnectAttemptHooks): typeof pg.Client {
  return class MonitoredClient extends pg.Client {
    override connect(): Promise<pg.Client>
    override connect(callback: (err: Error) => void): void
    override connect(callback?: (err: Error) => void): Promise<pg.Client> | undefined {
      hooks.attempted()
      const stream = (this as unknown as { connection?: { stream?: Socket } }).connection?.stream
      stream?.once?.('connect', () => {
        if (isSelfConnected(stream)) stream.destroy(selfConnectError(stream))
      })
      if (callback) {
        super.connect((error: Error) => {
          if (error) hooks.failed(error)
          callback(error)
        })
        return undefined
      }
      return super.connect().catch((error: Error) => {
        hooks.failed(error)
        throw error
      })
    }
  }
}

function isSelfConnected(socket: Socket): boolean {
  return socket.localPort === socket.remotePort && socket.localAddress === socket.remoteAddress
}

function selfConnectError(socket: Socket): Error {
  return Object.assign(
    new Error(
      `connect ECONNREFUSED ${socket.remoteAddress}:${socket.remotePort}: the socket connected to itself (TCP simultaneous open: nothing listens there)`,
    ),
    { code: 'ECONNREFUSED' },
  )
}
