import { parseDuration } from './durations.js'
import { K6ScriptError } from './errors.js'
import type { MetricRegistry, Tags } from './metric-registry.js'
import { percentOf, type Sink, STATS_BY_TYPE } from './metric-sinks.js'
import type { ThresholdSource } from './options.js'

type Operator = '<' | '<=' | '>' | '>=' | '==' | '===' | '!='

/** One threshold expression of one (sub)metric, ready to evaluate. */
export interface Threshold {
  /** The metric as the script names it: `http_req_duration{phase:window}`. */
  readonly key: string
  /** The expression as written: `p(99)<2000`. */
  readonly expression: string
  readonly stat: string
  readonly operator: Operator
  readonly value: number
  readonly abortOnFail: boolean
  readonly delayAbortEvalMs: number
  readonly sink: Sink
}

export interface ThresholdOutcome {
  readonly threshold: Threshold
  readonly actual: number
  readonly ok: boolean
}

const EXPRESSION =
  /^\s*(count|rate|value|avg|min|max|med|p\(\d+(?:\.\d+)?\))\s*(<=|>=|===|==|!=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$/

/**
 * Parses `options.thresholds` in k6's syntax and attaches each to its metric (or to the submetric
 * its tags select). A threshold on an unknown metric, a malformed expression or an aggregation the
 * metric's type lacks fails at load time, as in k6.
 *
 * ```ts
 * prepareThresholds(registry, { 'http_req_duration{phase:window}': ['p(99)<2000'] })
 * ```
 */
export function prepareThresholds(
  registry: MetricRegistry,
  sources: Readonly<Record<string, readonly ThresholdSource[]>>,
): Threshold[] {
  return Object.entries(sources).flatMap(([key, list]) => {
    const { name, selector } = parseKey(key)
    const metric = registry.get(name)
    if (!metric)
      throw new K6ScriptError(
        `threshold on "${key}": no metric "${name}" (built-in, or a custom metric the script declares in its init code)`,
      )
    const sink =
      Object.keys(selector).length === 0 ? metric.sink : registry.submetric(metric, key, selector).sink
    return (Array.isArray(list) ? list : [list]).map((source) => {
      const spec = typeof source === 'string' ? { threshold: source } : source
      const match = EXPRESSION.exec(spec.threshold)
      if (!match)
        throw new K6ScriptError(
          `threshold "${key}: ${spec.threshold}" is not an expression such as "p(95)<500", "rate<0.01" or "count==0"`,
        )
      const stat = match[1]!
      const allowed = STATS_BY_TYPE[metric.type]
      if (!allowed.includes(percentOf(stat) === undefined ? stat : 'p(N)'))
        throw new K6ScriptError(
          `threshold "${key}: ${spec.threshold}": a ${metric.type} metric takes ${allowed.join(', ')}, not ${stat}`,
        )
      return {
        key,
        expression: spec.threshold,
        stat,
        operator: match[2] as Operator,
        value: Number(match[3]),
        abortOnFail: spec.abortOnFail === true,
        delayAbortEvalMs: spec.delayAbortEval
          ? parseDuration(spec.delayAbortEval, `${key}'s delayAbortEval`)
          : 0,
        sink,
      }
    })
  })
}

/** `http_req_duration{phase:window,name:seed}` → the metric's name and the tags selected. */
function parseKey(key: string): { name: string; selector: Tags } {
  const match = /^([^{]+)(?:\{(.*)\})?$/.exec(key.trim())
  if (!match) throw new K6ScriptError(`threshold key "${key}" is not "metric" or "metric{tag:value}"`)
  const selector: Record<string, string> = {}
  for (const pair of (match[2] ?? '').split(',').filter((p) => p.trim() !== '')) {
    const colon = pair.indexOf(':')
    if (colon < 0) throw new K6ScriptError(`threshold key "${key}": "${pair}" is not tag:value`)
    selector[pair.slice(0, colon).trim()] = pair
      .slice(colon + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
  }
  return { name: match[1]!.trim(), selector }
}

/** The threshold's aggregation now, and whether the expression holds. */
export function evaluateThreshold(threshold: Threshold, testDurationMs: number): ThresholdOutcome {
  const actual = threshold.sink.stat(threshold.stat, testDurationMs) ?? 0
  const v = threshold.value
  const ok = {
    '<': actual < v,
    '<=': actual <= v,
    '>': actual > v,
    '>=': actual >= v,
    '==': actual === v,
    '===': actual === v,
    '!=': actual !== v,
  }[threshold.operator]
  return { threshold, actual, ok }
}
