/**
 * The overload drill's plan, shared by its k6 script and the runner: callers arriving at a fixed
 * rate (an open model) at fractions and multiples of the capacity the stack was measured to serve,
 * each giving up after its deadline. Type imports only: k6 and Node resolve modules differently.
 */
import type { ArrivalPlan, PhaseName, RequestMix, ScenarioPlan, Threshold } from './scenarios.js'

/** One overload phase: `multiple` × capacity offered for `seconds`. */
export interface OverloadStage {
  readonly multiple: number
  readonly seconds: number
}

/** The phases and the callers of an overload drill; every field has the drill's default. */
export interface OverloadSettings {
  /** Requests per second the stack serves (measured by the probe, or given). */
  readonly capacity: number
  /** The load before and after the overload, as a multiple of capacity (default 0.5). */
  readonly base?: number
  readonly beforeSeconds?: number
  /** The overload phases, in order (default 2x for 20 s, then 5x for 10 s). */
  readonly overload?: readonly OverloadStage[]
  readonly afterSeconds?: number
  /** Each caller's deadline: it gives up on an answer not in by then (default 1000 ms). */
  readonly deadlineMs?: number
  /** The most callers in flight at once (one VU each); arrivals past it are dropped and counted. */
  readonly maxVus?: number
}

export const OVERLOAD_DEFAULTS = {
  base: 0.5,
  beforeSeconds: 10,
  overload: [
    { multiple: 2, seconds: 20 },
    { multiple: 5, seconds: 10 },
  ],
  afterSeconds: 10,
  deadlineMs: 1000,
  maxVus: 100,
} as const satisfies Required<Omit<OverloadSettings, 'capacity'>>

/** The callers' requests: reads of a classroom, and new students (writes the ledger checks). */
export const OVERLOAD_MIX: RequestMix = [
  { name: 'getClassroom', weight: 80 },
  { name: 'createStudent', weight: 20 },
]

/** The name of a phase offering `multiple` × capacity: `2x`, `1.2x`. */
export function overloadPhaseName(multiple: number): PhaseName {
  return `${multiple}x`
}

/**
 * Reads `2x20,5x10` (multiple × seconds, comma separated) as overload stages; throws naming the
 * part that is not of that form.
 *
 * ```ts
 * parseOverloadStages('1.2x10,2x20') // [{ multiple: 1.2, seconds: 10 }, { multiple: 2, seconds: 20 }]
 * ```
 */
export function parseOverloadStages(text: string): OverloadStage[] {
  const stages = text.split(',').map((part) => {
    const match = /^(\d+(?:\.\d+)?)x(\d+)$/.exec(part.trim())
    const multiple = Number(match?.[1])
    const seconds = Number(match?.[2])
    if (!match || multiple <= 0 || seconds < 1)
      throw new Error(
        `overload stage "${part}" is MULTIPLExSECONDS, a multiple of capacity > 0 and whole seconds ≥ 1, e.g. 2x20`,
      )
    return { multiple, seconds }
  })
  const names = stages.map((s) => overloadPhaseName(s.multiple))
  const twice = names.find((name, i) => names.indexOf(name) !== i)
  if (twice) throw new Error(`overload stage ${twice} is given twice: each multiple names one phase`)
  return stages
}

/** The stages as `parseOverloadStages` reads them. */
export function formatOverloadStages(stages: readonly OverloadStage[]): string {
  return stages.map((s) => `${s.multiple}x${s.seconds}`).join(',')
}

/**
 * Before (`base` × capacity), each overload stage, after (`base` again); no k6 threshold but
 * `unexpected_responses` (a 500, another 4xx, a network error): goodput, latency, time to refusal
 * and recovery are the runner's verdicts, from the capacity and the deadline.
 *
 * ```ts
 * overloadPlan({ capacity: 120 }).arrival?.multiples // [0.5, 2, 5, 0.5]
 * ```
 */
export function overloadPlan(settings: OverloadSettings): ScenarioPlan {
  const { capacity, base, beforeSeconds, overload, afterSeconds, deadlineMs, maxVus } = {
    ...OVERLOAD_DEFAULTS,
    ...settings,
  }
  if (!(capacity > 0)) throw new Error(`the overload drill needs a capacity > 0 requests/s, not ${capacity}`)
  const lengths = [
    { name: 'before' as PhaseName, multiple: base, seconds: beforeSeconds },
    ...overload.map((s) => ({
      name: overloadPhaseName(s.multiple),
      multiple: s.multiple,
      seconds: s.seconds,
    })),
    { name: 'after' as PhaseName, multiple: base, seconds: afterSeconds },
  ]
  let start = 0
  const phases = lengths.map(({ name, seconds }) => {
    const phase = { name, startSeconds: start, durationSeconds: seconds }
    start += seconds
    return phase
  })
  const unexpected: Threshold = { metric: 'unexpected_responses', stat: 'count', op: '==', value: 0 }
  return {
    name: 'overload',
    users: maxVus,
    phases,
    thresholds: [unexpected],
    arrival: { capacity, multiples: lengths.map((l) => l.multiple), deadlineMs, maxVus },
  }
}

/** Arrivals per second of each phase: at least one. */
export function arrivalRates(arrival: ArrivalPlan): number[] {
  return arrival.multiples.map((m) => Math.max(1, Math.round(m * arrival.capacity)))
}

/**
 * The plan as one k6 `ramping-arrival-rate` scenario whose rate steps at each phase (a stage of
 * 0 s jumps): one scenario, so its VUs serve every phase (back-to-back `constant-arrival-rate`
 * scenarios would each hold their own VUs through their graceful stop), each iteration one caller.
 */
export function overloadScenario(plan: ScenarioPlan) {
  const arrival = plan.arrival!
  const rates = arrivalRates(arrival)
  const stages = plan.phases.flatMap((phase, i) => [
    ...(i === 0 ? [] : [{ duration: '0s', target: rates[i]! }]),
    { duration: `${phase.durationSeconds}s`, target: rates[i]! },
  ])
  return {
    executor: 'ramping-arrival-rate',
    startRate: rates[0]!,
    timeUnit: '1s',
    stages,
    preAllocatedVUs: arrival.maxVus,
    maxVUs: arrival.maxVus,
    // A caller in flight at the end is answered or gives up within its deadline.
    gracefulStop: `${Math.ceil(arrival.deadlineMs / 1000) + 1}s`,
  }
}

/** The probe's closed loop: `users` callers without think time for `seconds`, after one second of warm-up. */
export function probePlan(users: number, seconds: number): ScenarioPlan {
  return {
    name: 'overload',
    users,
    phases: [
      { name: 'warmup', startSeconds: 0, durationSeconds: 1 },
      { name: 'probe', startSeconds: 1, durationSeconds: seconds },
    ],
    thresholds: [],
  }
}
