import type { MetricRegistry } from './metric-registry.js'
import { percentOf } from './metric-sinks.js'
import type { ThresholdOutcome } from './thresholds.js'

/** k6's `handleSummary` data, the parts the built-in engine fills. */
export interface SummaryData {
  readonly root_group: {
    readonly name: ''
    readonly path: ''
    readonly id: string
    readonly groups: []
    readonly checks: readonly { name: string; path: string; id: string; passes: number; fails: number }[]
  }
  readonly options: {
    readonly summaryTrendStats: readonly string[]
    readonly summaryTimeUnit: ''
    readonly noColor: boolean
  }
  readonly state: {
    readonly isStdOutTTY: boolean
    readonly isStdErrTTY: boolean
    readonly testRunDurationMs: number
  }
  readonly metrics: Record<string, SummaryMetric>
  readonly setup_data?: unknown
}

export interface SummaryMetric {
  readonly type: string
  readonly contains: string
  readonly values: Record<string, number>
  readonly thresholds?: Record<string, { ok: boolean }>
}

/** Passes and fails of each named check, in the order they were first seen. */
export class CheckTally {
  private readonly counts = new Map<string, { passes: number; fails: number }>()

  add(name: string, passed: boolean): void {
    let count = this.counts.get(name)
    if (!count) {
      count = { passes: 0, fails: 0 }
      this.counts.set(name, count)
    }
    if (passed) count.passes++
    else count.fails++
  }

  list() {
    return [...this.counts].map(([name, c]) => ({ name, path: `::${name}`, id: name, ...c }))
  }
}

/**
 * The summary k6 hands `handleSummary`: every metric that got a sample (and every submetric a
 * threshold names) with its `values`, threshold verdicts, checks by name and the run's length.
 * Trends report `summaryTrendStats` and each percentile a threshold names.
 */
export function summaryData(input: {
  registry: MetricRegistry
  outcomes: readonly ThresholdOutcome[]
  checks: CheckTally
  summaryTrendStats: readonly string[]
  testRunDurationMs: number
  setupData: unknown
}): SummaryData {
  const { registry, outcomes, testRunDurationMs } = input
  const verdicts = new Map<string, Record<string, { ok: boolean }>>()
  const thresholdStats = new Map<string, Set<string>>()
  for (const { threshold, ok } of outcomes) {
    verdicts.set(threshold.key, { ...verdicts.get(threshold.key), [threshold.expression]: { ok } })
    const name = threshold.key.replace(/\{.*$/, '')
    if (percentOf(threshold.stat) !== undefined)
      thresholdStats.set(name, new Set([...(thresholdStats.get(name) ?? []), threshold.stat]))
  }
  const metrics: Record<string, SummaryMetric> = {}
  for (const metric of registry.all()) {
    const stats = [...new Set([...input.summaryTrendStats, ...(thresholdStats.get(metric.name) ?? [])])]
    const entry = (sink: typeof metric.sink, key: string): SummaryMetric => ({
      type: metric.type,
      contains: metric.contains,
      values: sink.values(stats, testRunDurationMs),
      ...(verdicts.has(key) && { thresholds: verdicts.get(key)! }),
    })
    if (metric.sink.samples > 0 || verdicts.has(metric.name))
      metrics[metric.name] = entry(metric.sink, metric.name)
    for (const sub of metric.submetrics) metrics[sub.key] = entry(sub.sink, sub.key)
  }
  return {
    root_group: {
      name: '',
      path: '',
      id: 'd41d8cd98f00b204e9800998ecf8427e',
      groups: [],
      checks: input.checks.list(),
    },
    options: { summaryTrendStats: input.summaryTrendStats, summaryTimeUnit: '', noColor: false },
    state: {
      isStdOutTTY: process.stdout.isTTY === true,
      isStdErrTTY: process.stderr.isTTY === true,
      testRunDurationMs,
    },
    metrics,
    ...(input.setupData !== undefined && { setup_data: input.setupData }),
  }
}

/** k6's end-of-test text: checks, then each metric's values, thresholds marked ✓ or ✗. */
export function textSummary(data: SummaryData): string {
  const lines: string[] = []
  const checks = data.root_group.checks
  for (const c of checks)
    lines.push(
      `     ${c.fails === 0 ? '✓' : '✗'} ${c.name}${c.fails === 0 ? '' : `\n      ↳  ${Math.round((100 * c.passes) / (c.passes + c.fails))}% — ✓ ${c.passes} / ✗ ${c.fails}`}`,
    )
  if (checks.length > 0) lines.push('')
  const names = Object.keys(data.metrics).sort()
  const width = Math.max(...names.map((n) => n.length), 10) + 3
  for (const name of names) {
    const metric = data.metrics[name]!
    const marks = Object.values(metric.thresholds ?? {})
    const mark = marks.length === 0 ? ' ' : marks.every((t) => t.ok) ? '✓' : '✗'
    const values = Object.entries(metric.values)
      .map(([k, v]) => `${k}=${format(v, metric, k)}`)
      .join(' ')
    lines.push(`   ${mark} ${`${name}`.padEnd(width, '.')}: ${values}`)
  }
  return `${lines.join('\n')}\n`
}

function format(value: number, metric: SummaryMetric, key: string): string {
  if (metric.type === 'rate' && key === 'rate') return `${(value * 100).toFixed(2)}%`
  if (metric.contains === 'time')
    return value >= 1000 ? `${(value / 1000).toFixed(2)}s` : `${value.toFixed(2)}ms`
  return Number.isInteger(value) ? String(value) : value.toFixed(4)
}
