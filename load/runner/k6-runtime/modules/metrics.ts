// `k6/metrics` inside a VU of the built-in engine: custom metrics, aggregated in the main thread.
import type { MetricType } from '../metric-sinks.js'
import { vu } from '../vu-context.js'

abstract class CustomMetric {
  protected abstract readonly type: MetricType

  constructor(
    readonly name: string,
    readonly isTime = false,
  ) {}

  /** Declares the metric; k6 allows that only in init code, so every VU has the same metrics. */
  protected declare(): void {
    const context = vu()
    if (!context.inInit)
      throw new Error(
        `metric "${this.name}" is created outside the init code: k6 metrics are declared at the top level`,
      )
    const declaration = { name: this.name, type: this.type, isTime: this.isTime }
    context.declared.push(declaration)
    context.post({ t: 'metric', metric: declaration })
  }

  /** Adds one sample, with the VU's tags and `tags`. */
  add(value: number | boolean, tags?: Record<string, string>): void {
    const context = vu()
    const numeric = typeof value === 'boolean' ? Number(value) : Number(value)
    if (Number.isNaN(numeric))
      throw new Error(`metric "${this.name}" was given ${String(value)}, not a number`)
    context.record(this.name, numeric, tags ? { ...context.tags(), ...tags } : context.tags())
  }
}

/** A sum (k6 `Counter`). */
export class Counter extends CustomMetric {
  protected readonly type = 'counter'
  constructor(name: string, isTime?: boolean) {
    super(name, isTime)
    this.declare()
  }
}

/** The last value, with its min and max (k6 `Gauge`). */
export class Gauge extends CustomMetric {
  protected readonly type = 'gauge'
  constructor(name: string, isTime?: boolean) {
    super(name, isTime)
    this.declare()
  }
}

/** The share of non-zero values (k6 `Rate`). */
export class Rate extends CustomMetric {
  protected readonly type = 'rate'
  constructor(name: string, isTime?: boolean) {
    super(name, isTime)
    this.declare()
  }
}

/** Every value, for averages and percentiles (k6 `Trend`). */
export class Trend extends CustomMetric {
  protected readonly type = 'trend'
  constructor(name: string, isTime?: boolean) {
    super(name, isTime)
    this.declare()
  }
}

export default { Counter, Gauge, Rate, Trend }
