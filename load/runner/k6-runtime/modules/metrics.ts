// `k6/metrics` inside a VU of the built-in engine: custom metrics, aggregated in the main thread.
import type { MetricType } from '../metric-sinks.js'
import { vu } from '../vu-context.js'

abstract class CustomMetric {
  constructor(
    type: MetricType,
    readonly name: string,
    readonly isTime = false,
  ) {
    this.#declare(type)
  }

  /** Declares the metric; k6 allows that only in init code, so every VU has the same metrics. */
  #declare(type: MetricType): void {
    const context = vu()
    if (!context.inInit)
      throw new Error(
        `metric "${this.name}" is created outside the init code: k6 metrics are declared at the top level`,
      )
    const declaration = { name: this.name, type, isTime: this.isTime }
    context.declared.push(declaration)
    context.post({ t: 'metric', metric: declaration })
  }

  /** Adds one sample, with the VU's tags and `tags`. */
  add(value: number | boolean, tags?: Record<string, string>): void {
    const context = vu()
    const numeric = Number(value)
    if (Number.isNaN(numeric))
      throw new Error(`metric "${this.name}" was given ${String(value)}, not a number`)
    context.record(this.name, numeric, tags ? { ...context.tags(), ...tags } : context.tags())
  }
}

/** A k6 metric class of `type`: declared, in init code, as it is constructed. */
const metricClass = (type: MetricType) =>
  class extends CustomMetric {
    constructor(name: string, isTime?: boolean) {
      super(type, name, isTime)
    }
  }

/** A sum (k6 `Counter`). */
export const Counter = metricClass('counter')
/** The last value, with its min and max (k6 `Gauge`). */
export const Gauge = metricClass('gauge')
/** The share of non-zero values (k6 `Rate`). */
export const Rate = metricClass('rate')
/** Every value, for averages and percentiles (k6 `Trend`). */
export const Trend = metricClass('trend')
