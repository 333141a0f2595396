// Which replica a read goes to, and the counts of where reads went.
import type { Replica, ReplicaStatus } from './replica.js'
import type { RoutingContext } from './routing-scope.js'

/**
 * Why a read that could have gone to a replica went to the primary: `forced` (inside
 * `onPrimary`), `behind_position` (healthy replicas, none of them replayed up to the scope's
 * position yet), `no_healthy_replica` (every replica down, lagging or promoted).
 */
export type FallbackReason = 'forced' | 'behind_position' | 'no_healthy_replica'

/**
 * Where a read goes: a replica, with the position it must first be asked to have replayed when its
 * last poll is behind the read's scope (`confirm`), or `undefined` for the primary.
 */
export type ReadChoice = { readonly replica: Replica; readonly confirm: bigint | undefined } | undefined

/** What `dialect.routing.stats()` returns: counts since the dialect's Kysely instance connected. */
export interface RoutingStats {
  /** Reads sent to each target: `primary` and each replica's name. A read retried elsewhere counts twice. */
  readonly readsByTarget: Record<string, number>
  /** Reads that went to the primary instead of a replica, by reason. */
  readonly primaryFallbacks: Record<FallbackReason, number>
  readonly replicas: readonly ReplicaStatus[]
}

/**
 * The routing of one Kysely instance's reads over its replicas: `dialect.routing` (see the
 * README's "Read replicas").
 *
 * ```ts
 * const dialect = new InstrumentedPostgresDialect(loadDbConfig())
 * const kysely = new Kysely<Record<string, never>>({ dialect })
 * await kysely.selectNoFrom((eb) => eb.lit(1).as('one')).execute()
 * const stats = dialect.routing?.stats()
 * stats?.readsByTarget // { primary: 1, replica1: 0 }: no replica polled yet
 * ```
 */
export class ReadRouting {
  readonly #replicas: readonly Replica[]
  readonly #readYourWrites: boolean
  /** Round-robin: where the next search starts. */
  #next = 0
  readonly #reads: Record<string, number>
  readonly #fallbacks: Record<FallbackReason, number> = {
    forced: 0,
    behind_position: 0,
    no_healthy_replica: 0,
  }

  constructor(replicas: readonly Replica[], readYourWrites: boolean) {
    this.#replicas = replicas
    this.#readYourWrites = readYourWrites
    this.#reads = Object.fromEntries([['primary', 0], ...replicas.map((r) => [r.name, 0])])
  }

  /**
   * The replica a read in `context` goes to, round-robin over the healthy ones that have replayed
   * the context's position (when read-your-writes is on) by their last poll; when every healthy one
   * is behind it by its poll, the next of them with the position to confirm at checkout (a poll is
   * up to `pollMs` old, a standby a millisecond behind); `undefined` for the primary, counted with
   * its reason. A confirmed read is counted by {@link served} or {@link behind}.
   */
  choose(context: RoutingContext | undefined): ReadChoice {
    if (context?.primary) return this.#primary('forced')
    const position = this.#readYourWrites ? context?.consistency?.lsn : undefined
    const replicas = this.#replicas
    let unconfirmed: number | undefined
    for (let i = 0; i < replicas.length; i++) {
      const index = (this.#next + i) % replicas.length
      const replica = replicas[index]!
      if (!replica.healthy) continue
      // The last polled replay position: the replica has replayed at least this much by now.
      if (position !== undefined && !(replica.replay! >= position)) {
        unconfirmed ??= index
        continue
      }
      this.#next = index + 1
      this.#reads[replica.name]!++
      return { replica, confirm: undefined }
    }
    if (unconfirmed === undefined) return this.#primary('no_healthy_replica')
    this.#next = unconfirmed + 1
    return { replica: replicas[unconfirmed]!, confirm: position }
  }

  /** A replica confirmed at checkout that it had replayed the read's position: the read is its. */
  served(replica: Replica): void {
    this.#reads[replica.name]!++
  }

  /** A replica asked at checkout had not replayed the read's position: the read goes to the primary. */
  behind(): void {
    this.#primary('behind_position')
  }

  stats(): RoutingStats {
    return {
      readsByTarget: { ...this.#reads },
      primaryFallbacks: { ...this.#fallbacks },
      replicas: this.#replicas.map((replica) => replica.status()),
    }
  }

  #primary(reason: FallbackReason): undefined {
    this.#reads.primary!++
    this.#fallbacks[reason]++
    return undefined
  }
}
