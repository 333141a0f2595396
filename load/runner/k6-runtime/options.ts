import { parseDuration } from './durations.js'
import { K6ScriptError } from './errors.js'

/** The executors the built-in engine runs; any other fails at load time. */
export const SUPPORTED_EXECUTORS = ['constant-vus', 'per-vu-iterations', 'shared-iterations'] as const
export type ExecutorName = (typeof SUPPORTED_EXECUTORS)[number]

/** One scenario of `options`, with k6's defaults filled in and durations in milliseconds. */
export interface Scenario {
  readonly name: string
  readonly executor: ExecutorName
  readonly vus: number
  /** constant-vus: how long new iterations start. */
  readonly durationMs: number
  /** per-vu-iterations: per VU; shared-iterations: in all. */
  readonly iterations: number
  readonly startTimeMs: number
  readonly gracefulStopMs: number
  /** The executor's own time limit: `duration` or `maxDuration`. */
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
const TEN_MINUTES_MS = 600_000

type RawOptions = Record<string, unknown>

/**
 * Reads a script's exported `options`: its scenarios (or the `vus`/`duration`/`iterations`
 * shorthand, as k6 turns it into one `default` scenario), thresholds and the few settings the
 * engine honours. Anything it would have to ignore silently fails here, naming it.
 *
 * ```ts
 * const { scenarios, thresholds } = readOptions(module.options ?? {})
 * ```
 */
export function readOptions(raw: RawOptions): RunOptions {
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

/** k6's shorthand: `vus` + `duration` is constant-vus; `iterations` (with or without vus) is shared-iterations. */
function shorthandScenario(raw: RawOptions): Scenario {
  const vus = (raw.vus as number | undefined) ?? 1
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

function readScenario(name: string, s: RawOptions): Scenario {
  const executor = s.executor as string
  if (!(SUPPORTED_EXECUTORS as readonly string[]).includes(executor))
    throw new K6ScriptError(
      `scenario "${name}" uses the ${JSON.stringify(executor)} executor, which does not run here (supported: ${SUPPORTED_EXECUTORS.join(', ')})`,
    )
  const where = `scenario "${name}"`
  const vus = (s.vus as number | undefined) ?? 1
  if (!Number.isInteger(vus) || vus < 1)
    throw new K6ScriptError(`${where}: vus is a whole number ≥ 1, not ${vus}`)
  const durationMs =
    executor === 'constant-vus' ? parseDuration(s.duration as string, `${where}'s duration`) : TEN_MINUTES_MS
  const maxDurationMs =
    executor === 'constant-vus'
      ? durationMs
      : parseDuration((s.maxDuration as string | undefined) ?? '10m', `${where}'s maxDuration`)
  const iterations = (s.iterations as number | undefined) ?? 1
  if (executor !== 'constant-vus' && (!Number.isInteger(iterations) || iterations < 1))
    throw new K6ScriptError(`${where}: iterations is a whole number ≥ 1, not ${iterations}`)
  return {
    name,
    executor: executor as ExecutorName,
    vus,
    durationMs,
    iterations,
    startTimeMs: parseDuration((s.startTime as string | undefined) ?? '0s', `${where}'s startTime`),
    gracefulStopMs: parseDuration((s.gracefulStop as string | undefined) ?? '30s', `${where}'s gracefulStop`),
    maxDurationMs,
    tags: (s.tags ?? {}) as Record<string, string>,
    exec: (s.exec as string | undefined) ?? 'default',
  }
}

/**
 * The VUs the scenarios need at once, as k6 sizes its pool: a scenario holds its VUs from its
 * start until its time limit plus its graceful stop, so back-to-back scenarios do not share them.
 */
export function maxVUs(scenarios: readonly Scenario[]): number {
  const edges = scenarios.flatMap((s) => [
    { at: s.startTimeMs, delta: s.vus },
    { at: s.startTimeMs + s.maxDurationMs + s.gracefulStopMs, delta: -s.vus },
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
