// The read routing's Prometheus series: reads per target, fallbacks to the primary, each replica's lag, position and state.
import type { FallbackReason, ReadRouting, ReplicaStatus } from '@classroom/db-core'
import { Counter, Gauge } from 'prom-client'
import type { ApiMetrics } from './metrics.js'

const FALLBACK_REASONS: readonly FallbackReason[] = ['forced', 'behind_position', 'no_healthy_replica']

/**
 * Adds the read routing's series to the registry, read from `routing.stats()` at scrape time
 * (nothing runs per request for them). Without replicas there is no routing, and none of these.
 *
 * ```ts
 * if (dialect.routing) registerReplicaMetrics(metrics, dialect.routing)
 * ```
 */
export function registerReplicaMetrics({ registry }: ApiMetrics, routing: ReadRouting): void {
  new Counter({
    name: 'db_reads_total',
    help: 'Reads sent to each target: the primary or a replica by name.',
    labelNames: ['target'],
    registers: [registry],
    collect() {
      const stats = routing.stats()
      this.reset()
      // Every target from the first scrape, a replica that has served nothing yet at 0.
      for (const target of ['primary', ...stats.replicas.map((replica) => replica.name)])
        this.inc({ target }, stats.readsByTarget[target] ?? 0)
    },
  })
  new Counter({
    name: 'db_read_primary_fallbacks_total',
    help: 'Reads that wanted a replica and went to the primary, by reason: forced (onPrimary), behind_position (no replica had replayed the read position), no_healthy_replica.',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      const { primaryFallbacks } = routing.stats()
      this.reset()
      for (const reason of FALLBACK_REASONS) this.inc({ reason }, primaryFallbacks[reason] ?? 0)
    },
  })
  const perReplica: ReadonlyArray<[string, string, (replica: ReplicaStatus) => number | null]> = [
    [
      'db_replica_lag_seconds',
      'How far the replica is behind the primary, in seconds (absent while unknown).',
      (replica) => (replica.lagMs === null ? null : replica.lagMs / 1000),
    ],
    [
      'db_replica_replay_lsn_bytes',
      'The WAL position the replica has replayed up to, as a byte offset (pg_last_wal_replay_lsn()).',
      (replica) => (replica.replayPosition === null ? null : lsnBytes(replica.replayPosition)),
    ],
    [
      'db_replica_up',
      '1 while the replica serves reads (healthy); 0 while it is left out (down, lagging, promoted).',
      (replica) => (replica.state === 'healthy' ? 1 : 0),
    ],
  ]
  for (const [name, help, read] of perReplica) {
    new Gauge({
      name,
      help,
      labelNames: ['replica'],
      registers: [registry],
      collect() {
        this.reset()
        for (const replica of routing.stats().replicas) {
          const value = read(replica)
          if (value !== null) this.set({ replica: replica.name }, value)
        }
      },
    })
  }
}

/** A PostgreSQL LSN (`16/B374D848`) as its byte offset in the WAL: exact as a double below 2^53. */
export function lsnBytes(lsn: string): number {
  const [high = '0', low = '0'] = lsn.split('/')
  return Number.parseInt(high, 16) * 2 ** 32 + Number.parseInt(low, 16)
}
