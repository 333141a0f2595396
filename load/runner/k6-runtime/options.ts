// A script's `options` as the built-in engine reads them: scenarios per executor, thresholds, settings.
import { parseDuration } from './durations.js'
import { K6ScriptError } from './errors.js'

/** The executors the built-in engine runs; any other fails at load time. */
export const SUPPORTED_EXECUTORS = [
  'constant-vus',
  'ramping-vus',
  'per-vu-iterations',
  'shared-iterations',
  'constant-arrival-rate',
  'ramping-arrival-rate',
] as const
export type ExecutorName = (typeof SUPPORTED_EXECUTORS)[number]

/** One stage of a ramping executor: reach `target` (VUs, or iterations per time unit) over `durationMs`. */
export interface Stage {
  readonly durationMs: number
  readonly target: number
}

/** One scenario of `options`, with k6's defaults filled in and durations in milliseconds. */
export interface Scenario {
  readonly name: string
  readonly executor: ExecutorName
  /** constant-vus, per-vu-iterations, shared-iterations: the VUs that loop. */
  readonly vus: number
  /** per-vu-iterations: per VU; shared-iterations: in all. */
  readonly iterations: number
  /** ramping-vus: the VUs at its start; then `stages` of VU targets. */
  readonly startVUs: number
  /**
   * ramping-vus: VU targets. Arrival-rate executors: iteration rates per millisecond (a
   * constant-arrival-rate is one stage at its rate, starting at it).
   */
  readonly stages: readonly Stage[]
  /** Arrival-rate executors: the rate at the start, per millisecond. */
  readonly startRate: number
  readonly preAllocatedVUs: number
  /** The VUs the scenario holds at most (all of them initialised before the test starts). */
  readonly maxVUs: number
  readonly startTimeMs: number
  readonly gracefulStopMs: number
  /** ramping-vus: how long a VU ramped down may finish its iteration. */
  readonly gracefulRampDownMs: number
  /** The executor's own time limit: `duration`, the stages' sum or `maxDuration`. */
  readonly maxDurationMs: number
  readonly tags: Readonly<Record<string, string>>
  /** The exported function each iteration calls. */
  readonly exec: string
}

/** A script's `options` as far as the built-in engine reads them. */
export interface RunOptions {
  readonly scenarios: readonly Scenario[]
  /** Keys in k6's syntax (`http_req_duration{phase:window}`) to their expressions. */
  readonly thresholds: Readonly<Record<string, readonly ThresholdSource[]>>
  readonly summaryTrendStats: readonly string[]
  readonly setupTimeoutMs: number
  readonly teardownTimeoutMs: number
  readonly tags: Readonly<Record<string, string>>
}

export type ThresholdSource =
  | string
  | { readonly threshold: string; readonly abortOnFail?: boolean; readonly delayAbortEval?: string }

const DEFAULT_TREND_STATS = ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)']

type RawOptions = Record<string, unknown>

const COMMON_KEYS = ['executor', 'startTime', 'gracefulStop', 'exec', 'env', 'tags']
/** The options each executor takes (k6's), beside the common ones. */
const EXECUTOR_KEYS: Record<ExecutorName, readonly string[]> = {
  'constant-vus': ['vus', 'duration'],
  'ramping-vus': ['startVUs', 'stages', 'gracefulRampDown'],
  'per-vu-iterations': ['vus', 'iterations', 'maxDuration'],
  'shared-iterations': ['vus', 'iterations', 'maxDuration'],
  'constant-arrival-rate': ['rate', 'timeUnit', 'duration', 'preAllocatedVUs', 'maxVUs'],
  'ramping-arrival-rate': ['startRate', 'timeUnit', 'stages', 'preAllocatedVUs', 'maxVUs'],
}
/** The options the engine honours; any other fails at load time rather than being ignored. */
const KNOWN_OPTIONS = new Set([
  'scenarios',
  'vus',
  'duration',
  'iterations',
  'stages',
  'thresholds',
  'summaryTrendStats',
  'setupTimeout',
  'teardownTimeout',
  'tags',
])

/**
 * Reads a script's exported `options`: its scenarios (or the `vus`/`duration`/`iterations`/`stages`
 * shorthand, as k6 turns it into one `default` scenario), thresholds and the few settings the
 * engine honours. Anything it would have to ignore silently fails here, naming it.
 *
 * ```ts
 * const { scenarios, thresholds } = readOptions(module.options ?? {})
 * ```
 */
export function readOptions(raw: RawOptions): RunOptions {
  for (const key of Object.keys(raw))
    if (!KNOWN_OPTIONS.has(key))
      throw new K6ScriptError(
        `options.${key} does not run here (the built-in engine reads ${[...KNOWN_OPTIONS].join(', ')})`,
      )
  const scenarios = raw.scenarios
    ? Object.entries(raw.scenarios as Record<string, RawOptions>).map(([name, s]) => readScenario(name, s))
    : [shorthandScenario(raw)]
  if (scenarios.length === 0)
    throw new K6ScriptError('options.scenarios is empty: name at least one scenario')
  return {
    scenarios,
    thresholds: (raw.thresholds ?? {}) as Record<string, ThresholdSource[]>,
    summaryTrendStats: (raw.summaryTrendStats as string[] | undefined) ?? DEFAULT_TREND_STATS,
    setupTimeoutMs: parseDuration((raw.setupTimeout as string | undefined) ?? '60s', 'options.setupTimeout'),
    teardownTimeoutMs: parseDuration(
      (raw.teardownTimeout as string | undefined) ?? '60s',
      'options.teardownTimeout',
    ),
    tags: (raw.tags ?? {}) as Record<string, string>,
  }
}

/**
 * k6's shorthand: `stages` is ramping-vus (from `vus`); `vus` + `duration` is constant-vus;
 * `iterations` (with or without vus) is shared-iterations.
 */
function shorthandScenario(raw: RawOptions): Scenario {
  const vus = (raw.vus as number | undefined) ?? 1
  if (raw.stages !== undefined)
    return readScenario('default', { executor: 'ramping-vus', startVUs: vus, stages: raw.stages })
  if (raw.iterations !== undefined || raw.duration === undefined) {
    return readScenario('default', {
      executor: 'shared-iterations',
      vus,
      iterations: raw.iterations ?? 1,
      ...(raw.duration !== undefined && { maxDuration: raw.duration }),
    })
  }
  return readScenario('default', { executor: 'constant-vus', vus, duration: raw.duration })
}

/** Reads the fields of one scenario, refusing what it cannot honour. */
class ScenarioReader {
  constructor(
    readonly where: string,
    private readonly raw: RawOptions,
  ) {}

  count(key: string, fallback: number | undefined, min: number): number {
    const value = this.raw[key] ?? fallback
    if (value === undefined) throw new K6ScriptError(`${this.where}: ${key} is required`)
    if (!Number.isInteger(value) || (value as number) < min)
      throw new K6ScriptError(
        `${this.where}: ${key} is a whole number ≥ ${min}, not ${JSON.stringify(value)}`,
      )
    return value as number
  }

  duration(key: string, fallback: string | undefined): number {
    const value = this.raw[key] ?? fallback
    if (value === undefined) throw new K6ScriptError(`${this.where}: ${key} is required`)
    return parseDuration(value as string, `${this.where}'s ${key}`)
  }

  stages(): Stage[] {
    const stages = this.raw.stages
    if (!Array.isArray(stages) || stages.length === 0)
      throw new K6ScriptError(`${this.where}: stages is a non-empty array of { duration, target }`)
    return stages.map((stage: unknown, i) => {
      const { duration, target } = (stage ?? {}) as { duration?: unknown; target?: unknown }
      if (!Number.isInteger(target) || (target as number) < 0)
        throw new K6ScriptError(
          `${this.where}: stages[${i}].target is a whole number ≥ 0, not ${JSON.stringify(target)}`,
        )
      return {
        durationMs: parseDuration(duration as string, `${this.where}'s stages[${i}].duration`),
        target: target as number,
      }
    })
  }
}

function readScenario(name: string, s: RawOptions): Scenario {
  const executor = s.executor as ExecutorName
  const where = `scenario "${name}"`
  if (!(SUPPORTED_EXECUTORS as readonly string[]).includes(executor))
    throw new K6ScriptError(
      `${where} uses the ${JSON.stringify(executor)} executor, which does not run here (supported: ${SUPPORTED_EXECUTORS.join(', ')})`,
    )
  for (const key of Object.keys(s))
    if (!COMMON_KEYS.includes(key) && !EXECUTOR_KEYS[executor].includes(key))
      throw new K6ScriptError(
        `${where}: ${executor} takes no option "${key}" (it takes ${[...EXECUTOR_KEYS[executor], ...COMMON_KEYS].join(', ')})`,
      )
  if (s.env !== undefined) throw new K6ScriptError(`${where}: a scenario's env does not run here; use -e`)
  const read = new ScenarioReader(where, s)
  const base = {
    name,
    executor,
    vus: 0,
    iterations: 0,
    startVUs: 0,
    stages: [] as Stage[],
    startRate: 0,
    preAllocatedVUs: 0,
    startTimeMs: read.duration('startTime', '0s'),
    gracefulStopMs: read.duration('gracefulStop', '30s'),
    gracefulRampDownMs: 0,
    tags: (s.tags ?? {}) as Record<string, string>,
    exec: (s.exec as string | undefined) ?? 'default',
  }
  switch (executor) {
    case 'constant-vus': {
      const vus = read.count('vus', 1, 1)
      return { ...base, vus, maxVUs: vus, maxDurationMs: read.duration('duration', undefined) }
    }
    case 'per-vu-iterations':
    case 'shared-iterations': {
      const vus = read.count('vus', 1, 1)
      const iterations = read.count('iterations', 1, 1)
      if (executor === 'shared-iterations' && iterations < vus)
        throw new K6ScriptError(
          `${where}: ${iterations} shared iterations cannot keep ${vus} VUs busy (k6 refuses iterations < vus)`,
        )
      return { ...base, vus, iterations, maxVUs: vus, maxDurationMs: read.duration('maxDuration', '10m') }
    }
    case 'ramping-vus': {
      const startVUs = read.count('startVUs', 1, 0)
      const stages = read.stages()
      const maxVUs = Math.max(startVUs, ...stages.map((stage) => stage.target))
      if (maxVUs === 0) throw new K6ScriptError(`${where}: startVUs or a stage's target must be above 0`)
      return {
        ...base,
        startVUs,
        stages,
        maxVUs,
        gracefulRampDownMs: read.duration('gracefulRampDown', '30s'),
        maxDurationMs: sum(stages),
      }
    }
    case 'constant-arrival-rate':
    case 'ramping-arrival-rate': {
      const perMs = 1 / read.duration('timeUnit', '1s')
      const preAllocatedVUs = read.count('preAllocatedVUs', undefined, 0)
      const maxVUs = read.count('maxVUs', preAllocatedVUs, Math.max(1, preAllocatedVUs))
      const stages =
        executor === 'constant-arrival-rate'
          ? [{ durationMs: read.duration('duration', undefined), target: read.count('rate', undefined, 1) }]
          : read.stages()
      const startRate =
        executor === 'constant-arrival-rate' ? stages[0]!.target : read.count('startRate', 0, 0)
      return {
        ...base,
        stages: stages.map((stage) => ({ durationMs: stage.durationMs, target: stage.target * perMs })),
        startRate: startRate * perMs,
        preAllocatedVUs,
        maxVUs,
        maxDurationMs: sum(stages),
      }
    }
  }
}

function sum(stages: readonly Stage[]): number {
  return stages.reduce((total, stage) => total + stage.durationMs, 0)
}

/**
 * The VUs the scenarios need at once, as k6 sizes its pool: a scenario holds its VUs from its
 * start until its time limit plus its graceful stop, so back-to-back scenarios do not share them.
 */
export function maxVUs(scenarios: readonly Scenario[]): number {
  const edges = scenarios.flatMap((s) => [
    { at: s.startTimeMs, delta: s.maxVUs },
    { at: s.startTimeMs + s.maxDurationMs + s.gracefulStopMs, delta: -s.maxVUs },
  ])
  // Releases before acquisitions at the same instant.
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta)
  let current = 0
  let peak = 0
  for (const edge of edges) {
    current += edge.delta
    peak = Math.max(peak, current)
  }
  return peak
}
