// The overload drill's figures from its records: goodput per phase against capacity, latency of
// the answers, time to refusal, recovery after the load falls, and the drill's verdicts on them.

import { arrivalRates } from '../shared/overload.js'
import type { ArrivalPlan, Phase, PhaseName } from '../shared/scenarios.js'
import { type Bucket, quantileBetween } from './histogram.js'
import type { ApiSample } from './metrics-sampler.js'
import { percentile, type RequestRecord, type ThresholdResult } from './results.js'

/** The drill's own targets (the issue's, by default): each a flag. */
export interface OverloadTargets {
  /** Goodput of each overload phase, as a share of capacity: at least this. */
  readonly minGoodput: number
  /** p99 of the answers given within the deadline, in each overload phase: at most this. */
  readonly maxP99Ms: number
  /** Median time a refused caller waited to learn it, in each overload phase: at most this. */
  readonly maxRefusalMs: number
  /** From the load falling to the last caller not answered within its deadline: at most this. */
  readonly maxRecoveryMs: number
}

export const OVERLOAD_TARGETS: OverloadTargets = {
  minGoodput: 0.9,
  maxP99Ms: 100,
  maxRefusalMs: 100,
  maxRecoveryMs: 1000,
}

/** One phase of the overload drill, as its callers saw it. */
export interface OverloadPhaseFigures {
  readonly phase: PhaseName
  readonly multiple: number
  readonly offeredPerSecond: number
  /** Callers that arrived (requests sent). */
  readonly arrivals: number
  /** Arrivals the plan had that the load generator could not send (no free VU): its own limit, not the api's. */
  readonly dropped: number
  /** Answered as expected within the deadline. */
  readonly good: number
  readonly goodputPerSecond: number
  /** Goodput over capacity. */
  readonly goodputRatio: number
  /** p50 / p99 of the good answers; `null` when none. */
  readonly answerMs: { readonly p50: number; readonly p99: number } | null
  /** Refused by the api (`POOL_OVERLOADED`, `POOL_TIMEOUT`, `DATABASE_UNAVAILABLE`), by code. */
  readonly refusedByCode: Readonly<Record<string, number>>
  /** Gave up at their deadline with no answer. */
  readonly late: number
  /** Anything else: a 500, another 4xx, a network error. */
  readonly unexpected: number
  /** Median time the refused and the late waited to learn they would not be served; `null` when none. */
  readonly refusalMedianMs: number | null
}

/** The overload drill's section of the summary. */
export interface OverloadSummary {
  readonly capacity: number
  /** `probe`: measured by the closed-loop probe before the load; `given`: `--capacity`. */
  readonly capacitySource: 'probe' | 'given'
  readonly probe?: { readonly users: number; readonly seconds: number; readonly served: number }
  readonly deadlineMs: number
  /** The latency proxy's delay per exchange between the api and PostgreSQL. */
  readonly latencyMs: number
  readonly maxVus: number
  /** The api's pool settings the drill ran with. */
  readonly pool: Readonly<Record<string, string>>
  readonly targets: OverloadTargets
  readonly phases: readonly OverloadPhaseFigures[]
  /**
   * From the after phase's start to the arrival of its last caller not answered within its
   * deadline (0: none was); `null` without an after phase.
   */
  readonly recoveryMs: number | null
  /** Per second of arrival: callers answered within the deadline, refused, late. */
  readonly goodputTimeline: readonly {
    readonly second: number
    readonly good: number
    readonly refused: number
    readonly late: number
  }[]
  /**
   * Queue delay between consecutive scrapes (p50 / p99, ms): the pool's queue-delay histogram, or
   * on an api without one, its checkout wait.
   */
  readonly queueDelay: {
    readonly source: 'db_client_connection_queue_delay_seconds' | 'db_pool_acquire_seconds'
    readonly points: readonly { readonly at: number; readonly p50Ms: number; readonly p99Ms: number }[]
  }
}

/**
 * The most of a phase's planned arrivals the load generator may fail to send (all its VUs busy)
 * for the phase to stand for an open model: past it, callers waited on a closed loop's turn.
 */
export const MAX_DROPPED_SHARE = 0.01

const REFUSALS: ReadonlySet<string> = new Set(['overloaded', 'pool-limit', 'unavailable'])

/**
 * Each phase's figures against the plan's capacity and deadline, the recovery after the load
 * falls, and the queue delay from the api's scrapes.
 *
 * ```ts
 * const figures = overloadFigures(records, plan.phases, plan.arrival!, samples)
 * ```
 */
export function overloadFigures(
  records: readonly RequestRecord[],
  phases: readonly Phase[],
  arrival: ArrivalPlan,
  samples: readonly ApiSample[],
): Pick<OverloadSummary, 'phases' | 'recoveryMs' | 'goodputTimeline' | 'queueDelay'> {
  const good = (r: RequestRecord) => r.outcome === 'ok' && r.durationMs <= arrival.deadlineMs
  const rates = arrivalRates(arrival)
  const figures = phases.map((phase, i): OverloadPhaseFigures => {
    const own = records.filter((r) => r.phase === phase.name)
    const served = own.filter(good)
    const answered = served.map((r) => r.durationMs).sort((a, b) => a - b)
    const refusedByCode: Record<string, number> = {}
    const waits: number[] = []
    let late = 0
    let unexpected = 0
    for (const r of own) {
      if (REFUSALS.has(r.outcome)) {
        const code = r.errorCode ?? `HTTP_${r.status}`
        refusedByCode[code] = (refusedByCode[code] ?? 0) + 1
        waits.push(r.durationMs)
      } else if (r.outcome === 'late' || (r.outcome === 'ok' && !good(r))) {
        late++
        waits.push(r.durationMs)
      } else if (r.outcome === 'unexpected') unexpected++
    }
    waits.sort((a, b) => a - b)
    const offered = rates[i]!
    return {
      phase: phase.name,
      multiple: arrival.multiples[i]!,
      offeredPerSecond: offered,
      arrivals: own.length,
      dropped: Math.max(0, Math.round(offered * phase.durationSeconds) - own.length),
      good: served.length,
      goodputPerSecond: served.length / phase.durationSeconds,
      goodputRatio: served.length / phase.durationSeconds / arrival.capacity,
      answerMs: answered.length ? { p50: percentile(answered, 50), p99: percentile(answered, 99) } : null,
      refusedByCode,
      late,
      unexpected,
      refusalMedianMs: waits.length ? percentile(waits, 50) : null,
    }
  })
  const after = phases.find((p) => p.name === 'after')
  const lastBad = after
    ? records
        .filter((r) => r.phase === 'after' && !good(r))
        .reduce((latest, r) => Math.max(latest, r.at - after.startSeconds * 1000), 0)
    : null
  const seconds = Math.ceil(phases.reduce((end, p) => Math.max(end, p.startSeconds + p.durationSeconds), 0))
  const timeline = Array.from({ length: seconds }, (_, second) => ({ second, good: 0, refused: 0, late: 0 }))
  for (const r of records) {
    const point = timeline[Math.min(seconds - 1, Math.floor(r.at / 1000))]
    if (!point) continue
    if (good(r)) point.good++
    else if (REFUSALS.has(r.outcome)) point.refused++
    else point.late++
  }
  return { phases: figures, recoveryMs: lastBad, goodputTimeline: timeline, queueDelay: queueDelay(samples) }
}

/** p50 and p99 of the queue delay between consecutive scrapes, from the richest histogram the api has. */
function queueDelay(samples: readonly ApiSample[]): OverloadSummary['queueDelay'] {
  const own = samples.some((s) => s.queueDelayBuckets.length > 0)
  const buckets = (s: ApiSample): readonly Bucket[] => (own ? s.queueDelayBuckets : s.acquireBuckets)
  const points: { at: number; p50Ms: number; p99Ms: number }[] = []
  for (let i = 1; i < samples.length; i++) {
    const [before, after] = [buckets(samples[i - 1]!), buckets(samples[i]!)]
    const p50 = quantileBetween(before, after, 0.5)
    const p99 = quantileBetween(before, after, 0.99)
    if (p50 !== null && p99 !== null)
      points.push({ at: samples[i]!.at, p50Ms: p50 * 1000, p99Ms: p99 * 1000 })
  }
  return { source: own ? 'db_client_connection_queue_delay_seconds' : 'db_pool_acquire_seconds', points }
}

/**
 * The drill's verdicts: in every phase, the load generator sent what the plan offered (at most
 * {@link MAX_DROPPED_SHARE} dropped); in each overload phase (offered above capacity) goodput, the answers' p99
 * and the median time to refusal against the targets; in the phases at or below capacity, every
 * caller answered within its deadline, but in the after phase, whose verdict is its recovery.
 *
 * ```ts
 * overloadVerdicts(figures, OVERLOAD_TARGETS).filter((v) => !v.passed)
 * ```
 */
export function overloadVerdicts(
  figures: Pick<OverloadSummary, 'phases' | 'recoveryMs'>,
  targets: OverloadTargets,
): ThresholdResult[] {
  const verdicts: ThresholdResult[] = []
  for (const p of figures.phases) {
    // A phase whose arrivals the generator could not send was a closed loop, not the load planned.
    const dropped = p.dropped / Math.max(1, p.arrivals + p.dropped)
    verdicts.push({
      threshold: `arrivals{phase:${p.phase}}: dropped share<=${MAX_DROPPED_SHARE}`,
      actual: dropped,
      passed: dropped <= MAX_DROPPED_SHARE,
    })
    if (p.multiple > 1) {
      verdicts.push(
        {
          threshold: `goodput{phase:${p.phase}}: capacity share>=${targets.minGoodput}`,
          actual: p.goodputRatio,
          passed: p.goodputRatio >= targets.minGoodput,
        },
        {
          threshold: `answers{phase:${p.phase}}: p(99)<=${targets.maxP99Ms}`,
          actual: p.answerMs?.p99 ?? Number.POSITIVE_INFINITY,
          passed: p.answerMs !== null && p.answerMs.p99 <= targets.maxP99Ms,
        },
        {
          threshold: `time_to_refusal{phase:${p.phase}}: p(50)<=${targets.maxRefusalMs}`,
          actual: p.refusalMedianMs ?? 0,
          passed: (p.refusalMedianMs ?? 0) <= targets.maxRefusalMs,
        },
      )
    } else if (p.phase !== 'after') {
      const share = p.arrivals === 0 ? 0 : p.good / p.arrivals
      verdicts.push({ threshold: `answered{phase:${p.phase}}: rate==1`, actual: share, passed: share === 1 })
    }
  }
  if (figures.recoveryMs !== null)
    verdicts.push({
      threshold: `recovery{phase:after}: ms<=${targets.maxRecoveryMs}`,
      actual: figures.recoveryMs,
      passed: figures.recoveryMs <= targets.maxRecoveryMs,
    })
  return verdicts
}
