import { performance } from 'node:perf_hooks'
import { type ConnectionUrl, type DatabaseHost, formatHost } from '../config/connection-url.js'
import { redactSecrets } from '../logging/redact.js'
import type { RoleRequirement } from './server-role.js'

// A refused host is passed over by new connections this long, then tried again in its turn: long
// enough that a burst of new connections does not knock on a dead host each, short enough that a
// preferred host that is back is used within a second. One that took long to refuse (a timeout) is
// passed over for twice what it cost, so that it costs at most a third of the time.
const REFUSAL_MEMORY_MS = 1000

// SQLSTATE 08001, sqlclient_unable_to_establish_sqlconnection: a connection that never became one.
const UNABLE_TO_CONNECT = '08001'

/** One connection attempt: the host it goes to, and what that server must be. */
export interface HostAttempt {
  readonly host: DatabaseHost
  readonly requirement: RoleRequirement
  /** When it began, in `performance.now()` time. */
  readonly startedAt: number
  /** The connection string naming only this host, for node-postgres. */
  readonly connectionString: string
}

/** One host did not qualify; the pool tries the next one at once. */
export class HostRefusedError extends Error {
  readonly code = UNABLE_TO_CONNECT
  readonly host: DatabaseHost

  constructor(host: DatabaseHost, reason: string, options?: ErrorOptions) {
    super(`${formatHost(host)} ${reason}`, options)
    this.name = 'HostRefusedError'
    this.host = host
  }
}

/** Every host of the URL was tried and none qualified: the message names each and why. */
export class NoHostAcceptedError extends Error {
  readonly code = UNABLE_TO_CONNECT
  /** One line per host: its address and why it was refused. */
  readonly refusals: readonly string[]

  constructor(wanted: string, refusals: readonly string[]) {
    super(`no server ${wanted}: ${refusals.join('; ')}`)
    this.name = 'NoHostAcceptedError'
    this.refusals = refusals
  }
}

interface Refusal {
  readonly reason: string
  /** Refused for what it is, not for failing to answer: prefer-standby's second pass takes it. */
  readonly forRole: boolean
  /** Until when new connections pass it over. */
  readonly until: number
}

/**
 * libpq's host selection over a pool's connections: each new connection goes to the first host of
 * the URL in order that has not just refused, and must be what `target_session_attrs` asks for.
 * A host that refuses (unreachable, or the wrong kind of server) is passed over by the next
 * attempts, which go on at once to the next host; when every host has refused, the attempt fails
 * with a {@link NoHostAcceptedError} naming each, and the next one starts over from the first.
 * `prefer-standby` walks the hosts for a standby first, then again for any server.
 *
 * ```ts
 * const url = parseConnectionUrl('postgres://app:secret@db1,db2/app?target_session_attrs=read-write')
 * if (url.ok) {
 *   const selection = new HostSelection(url)
 *   const attempt = selection.next() // connect to attempt.connectionString; if db1 is a standby:
 *   const error = selection.refused(attempt, 'is a standby (read-only), not read-write', { forRole: true })
 * }
 * ```
 */
export class HostSelection {
  readonly #url: ConnectionUrl
  readonly #refused = new Map<string, Refusal>()
  /** prefer-standby's second pass: no standby answered, any server will do. */
  #fallback = false

  constructor(url: ConnectionUrl) {
    this.#url = url
  }

  /** What every connection of the pool must stay (what a pre-ping checks); `any` for prefer-standby. */
  get requirement(): RoleRequirement {
    const attrs = this.#url.targetSessionAttrs
    return attrs === 'prefer-standby' ? 'any' : attrs
  }

  /** The host the next connection attempt goes to. */
  next(now = performance.now()): HostAttempt {
    this.#forgetOld(now)
    const hosts = this.#url.hosts
    const host = hosts.find((candidate) => !this.#refused.has(formatHost(candidate))) ?? hosts[0]!
    const attrs = this.#url.targetSessionAttrs
    const requirement = attrs === 'prefer-standby' ? (this.#fallback ? 'any' : 'standby') : attrs
    return { host, requirement, startedAt: now, connectionString: this.#url.forHost(host) }
  }

  /**
   * Records that `attempt`'s host refused, and returns what the attempt fails with: a
   * {@link HostRefusedError} while other hosts remain to be tried, else a {@link NoHostAcceptedError}
   * (with a single host and no role asked for, the connection's own error, as node-postgres gives it).
   */
  refused(
    attempt: HostAttempt,
    reason: string,
    { forRole, cause }: { forRole: boolean; cause?: unknown },
    now = performance.now(),
  ): Error {
    const key = formatHost(attempt.host)
    const memoryMs = Math.max(REFUSAL_MEMORY_MS, 2 * (now - attempt.startedAt))
    this.#refused.set(key, { reason, forRole, until: now + memoryMs })
    if (this.#untried()) return new HostRefusedError(attempt.host, reason, { cause })
    if (this.#url.targetSessionAttrs === 'prefer-standby' && !this.#fallback) {
      this.#fallback = true
      for (const [host, refusal] of this.#refused) if (refusal.forRole) this.#refused.delete(host)
      if (this.#untried()) return new HostRefusedError(attempt.host, reason, { cause })
    }
    const hosts = this.#url.hosts
    const error =
      hosts.length === 1 && !forRole && cause instanceof Error
        ? cause
        : new NoHostAcceptedError(
            this.#wanted(),
            hosts.map((host) => {
              const refusal = this.#refused.get(formatHost(host))
              return `${formatHost(host)} ${refusal?.reason ?? 'was not tried'}`
            }),
          )
    this.#refused.clear()
    this.#fallback = false
    return error
  }

  #untried(): boolean {
    return this.#url.hosts.some((host) => !this.#refused.has(formatHost(host)))
  }

  #forgetOld(now: number): void {
    for (const [host, refusal] of this.#refused) {
      if (now >= refusal.until) this.#refused.delete(host)
    }
    if (this.#refused.size === 0) this.#fallback = false
  }

  #wanted(): string {
    const attrs = this.#url.targetSessionAttrs
    return attrs === 'any' ? 'answered' : `qualified for target_session_attrs=${attrs}`
  }
}

/** How a failed connection attempt is named among the refusals: its error, without secrets. */
export function unreachableReason(error: unknown): string {
  return `failed to connect: ${redactSecrets(error instanceof Error ? error.message : String(error))}`
}

// One host's share of a checkout when the URL names several and sets no connect_timeout.
const MULTI_HOST_CONNECT_TIMEOUT_MS = 5000

/**
 * How long one host may take to accept a connection: libpq's `connect_timeout` when the URL gives
 * one. Without it, a single host keeps the checkout's whole deadline, as before; with several, each
 * gets {@link MULTI_HOST_CONNECT_TIMEOUT_MS}, so that a dead first host that drops packets (a crashed
 * VM, a partition) costs seconds before the next is tried, not the whole acquire timeout.
 */
export function hostConnectTimeoutMs(url: ConnectionUrl): number | undefined {
  if (url.connectTimeoutMs !== undefined || url.hosts.length === 1) return url.connectTimeoutMs
  return MULTI_HOST_CONNECT_TIMEOUT_MS
}
