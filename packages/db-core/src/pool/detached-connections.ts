// Connections outside the pool, made as the pool makes its own: for probes that must not take a
// pooled connection from real work (the reconnect loop, health checks).
import type pg from 'pg'
import { DatabaseAuthError } from '../errors.js'
import { HostRefusedError } from './host-selection.js'

// A reconnect probe gives up on a server that accepts TCP but does not answer after this long.
const PROBE_TIMEOUT_MS = 2000
const noop = () => undefined

/**
 * Opens one connection with the pool's own `Client` class and options (host selection and
 * `target_session_attrs`, TLS, the password of each login, session settings), bounded by
 * `timeoutMs`. Hosts are tried in turn until one qualifies or all have refused; a refused login
 * fails at once with `DatabaseAuthError`. The caller ends it.
 */
export async function connectDetached(
  Client: new (config: pg.ClientConfig) => pg.Client,
  options: pg.PoolConfig,
  timeoutMs: number,
): Promise<pg.Client> {
  for (;;) {
    // Its error listener is the monitored client's own, there from birth: a later death is no crash.
    const client = new Client({ ...options, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs })
    try {
      await client.connect()
      return client
    } catch (error) {
      await client.end().catch(noop)
      if (!(error instanceof HostRefusedError)) throw error
    }
  }
}

/**
 * The reconnect loop's probe: one detached connection, closed at once. A server that answered and
 * asked for a password is back (checkouts will say why they fail): that counts as reachable.
 */
export async function probe(open: (timeoutMs: number) => Promise<pg.Client>, acquireTimeoutMs: number) {
  try {
    const client = await open(Math.min(acquireTimeoutMs, PROBE_TIMEOUT_MS))
    await client.end().catch(noop)
  } catch (error) {
    if (!(error instanceof DatabaseAuthError)) throw error
  }
}
