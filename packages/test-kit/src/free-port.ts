import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'

// Below the kernel's ephemeral range, clients' own source ports never land on our servers' ports.
const LOWEST_PORT = 20_000
const TRIES = 50

/**
 * A TCP port on 127.0.0.1 that nothing listens on right now, chosen below the kernel's ephemeral
 * port range (`/proc/sys/net/ipv4/ip_local_port_range`): a server there can never be hit by a
 * client's own outgoing port, so a client retrying a stopped server cannot connect its socket to
 * itself (TCP simultaneous open). Falls back to a port the kernel picks.
 *
 * ```ts
 * const port = await findFreePort()
 * ```
 */
export async function findFreePort(): Promise<number> {
  const [ephemeralStart] = ephemeralRange()
  for (let i = 0; i < TRIES && ephemeralStart > LOWEST_PORT; i++) {
    const port = LOWEST_PORT + Math.floor(Math.random() * (ephemeralStart - LOWEST_PORT))
    if (await listenable(port)) return port
  }
  return listenable(0) as Promise<number>
}

// Closed ports come from below the free ports' range: no test server is ever started there.
const LOWEST_CLOSED_PORT = 10_000

/**
 * A TCP port on 127.0.0.1 that nothing listens on, for a test that needs connections refused: taken
 * below {@link findFreePort}'s range, where no test starts a server, so a server that another test
 * file starts meanwhile cannot take it and answer (a free port could be handed to both).
 *
 * ```ts
 * const url = `postgres://app:x@127.0.0.1:${await findClosedPort()}/app` // ECONNREFUSED
 * ```
 */
export async function findClosedPort(): Promise<number> {
  for (let i = 0; i < TRIES; i++) {
    const port = LOWEST_CLOSED_PORT + Math.floor(Math.random() * (LOWEST_PORT - LOWEST_CLOSED_PORT))
    if (await listenable(port)) return port
  }
  throw new Error(`no closed port found in ${LOWEST_CLOSED_PORT}–${LOWEST_PORT - 1} after ${TRIES} tries`)
}

/**
 * Whether nothing listens on `port` of 127.0.0.1 right now (a server there, or on every address,
 * keeps it from being bound).
 *
 * ```ts
 * if (!(await portIsFree(5432))) throw new Error('port 5432 is taken')
 * ```
 */
export async function portIsFree(port: number): Promise<boolean> {
  return (await listenable(port)) !== false
}

function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number)
    if (low && high) return [low, high]
  } catch {
    // Not Linux: the IANA range.
  }
  return [49_152, 65_535]
}

/** Listens on `port` (0: any) for a moment; resolves to the port, or `false` when it is taken. */
function listenable(port: number): Promise<number | false> {
  return new Promise((resolve) => {
    const server = createServer()
    server.unref()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(address && typeof address === 'object' ? address.port : false))
    })
  })
}
