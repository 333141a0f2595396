// The run's metrics in the main thread: built-in and custom, with the tagged submetrics thresholds name.
import { K6ScriptError } from './errors.js'
import { type MetricType, newSink, type Sink } from './metric-sinks.js'

export type Tags = Readonly<Record<string, string>>

/** A metric restricted to samples carrying some tags, as a threshold names it: `http_req_duration{phase:window}`. */
export interface Submetric {
  readonly key: string
  readonly selector: Tags
  readonly sink: Sink
}

export interface Metric {
  readonly name: string
  readonly type: MetricType
  /** `time` for durations in milliseconds, as k6 marks them. */
  readonly contains: 'default' | 'time'
  readonly sink: Sink
  readonly submetrics: Submetric[]
}

/** k6's built-in metrics that the built-in engine emits, with k6's names and types. */
const BUILT_IN: ReadonlyArray<readonly [string, MetricType, 'default' | 'time']> = [
  ['http_reqs', 'counter', 'default'],
  ['http_req_duration', 'trend', 'time'],
  ['http_req_failed', 'rate', 'default'],
  ['checks', 'rate', 'default'],
  ['iterations', 'counter', 'default'],
  ['dropped_iterations', 'counter', 'default'],
  ['iteration_duration', 'trend', 'time'],
  ['group_duration', 'trend', 'time'],
  ['vus', 'gauge', 'default'],
  ['vus_max', 'gauge', 'default'],
]

/** The run's metrics, in the main thread: every sample from the VUs and the HTTP bridge lands here. */
export class MetricRegistry {
  private readonly metrics = new Map<string, Metric>()

  constructor() {
    for (const [name, type, contains] of BUILT_IN) this.define(name, type, contains)
  }

  /** Declares a metric; declaring it again with the same type is a no-op, with another type an error. */
  define(name: string, type: MetricType, contains: 'default' | 'time' = 'default'): Metric {
    const existing = this.metrics.get(name)
    if (existing) {
      if (existing.type !== type)
        throw new K6ScriptError(
          `metric "${name}" is a ${existing.type}; it cannot also be declared a ${type}`,
        )
      return existing
    }
    if (!/^[a-zA-Z_][a-zA-Z0-9_]{0,127}$/.test(name))
      throw new K6ScriptError(
        `metric name "${name}" is not valid: letters, digits and underscores, starting with a letter or _`,
      )
    const metric: Metric = { name, type, contains, sink: newSink(type), submetrics: [] }
    this.metrics.set(name, metric)
    return metric
  }

  get(name: string): Metric | undefined {
    return this.metrics.get(name)
  }

  all(): Metric[] {
    return [...this.metrics.values()]
  }

  /** The submetric `key` of `metric` (created once), fed by every later sample whose tags match. */
  submetric(metric: Metric, key: string, selector: Tags): Submetric {
    const known = metric.submetrics.find((s) => s.key === key)
    if (known) return known
    const submetric = { key, selector, sink: newSink(metric.type) }
    metric.submetrics.push(submetric)
    return submetric
  }

  /** Adds one sample to a metric and to each of its submetrics whose tags it carries. */
  add(name: string, value: number, tags: Tags): void {
    const metric = this.metrics.get(name)
    if (!metric) throw new K6ScriptError(`a sample reached metric "${name}", which was never declared`)
    metric.sink.add(value)
    for (const sub of metric.submetrics) if (matches(tags, sub.selector)) sub.sink.add(value)
  }
}

function matches(tags: Tags, selector: Tags): boolean {
  for (const key in selector) if (tags[key] !== selector[key]) return false
  return true
}
