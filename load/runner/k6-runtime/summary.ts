// k6's handleSummary data: metrics with their values and verdicts, checks in their groups, the run's length.
import { createHash } from 'node:crypto'
import type { MetricRegistry } from './metric-registry.js'
import type { ThresholdOutcome } from './thresholds.js'

/** k6's `handleSummary` data, the parts the built-in engine fills. */
export interface SummaryData {
  readonly root_group: SummaryGroup
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

/** A group as k6's summary nests them: its checks and its subgroups; the root's name and path are ''. */
export interface SummaryGroup {
  readonly name: string
  readonly path: string
  readonly id: string
  readonly groups: SummaryGroup[]
  readonly checks: SummaryCheck[]
}

export interface SummaryCheck {
  readonly name: string
  readonly path: string
  readonly id: string
  readonly passes: number
  readonly fails: number
}

export interface SummaryMetric {
  readonly type: string
  readonly contains: string
  readonly values: Record<string, number>
  readonly thresholds?: Record<string, { ok: boolean }>
}

/** Passes and fails of each check in each group (`''`, `::name`), in the order they were first seen. */
export class CheckTally {
  readonly #groups = new Map<string, Map<string, { passes: number; fails: number }>>()

  add(group: string, name: string, passed: boolean): void {
    const checks = this.#group(group)
    let count = checks.get(name)
    if (!count) {
      count = { passes: 0, fails: 0 }
      checks.set(name, count)
    }
    if (passed) count.passes++
    else count.fails++
  }

  /** Notes a group that ran (its `group_duration`), so it shows even without checks. */
  seeGroup(group: string): void {
    this.#group(group)
  }

  /** The groups as a tree under the root, k6's `root_group`; ids are the md5 of the paths, as k6's. */
  tree(): SummaryGroup {
    const root = newGroup('', '')
    const byPath = new Map([['', root]])
    const groupAt = (path: string): SummaryGroup => {
      const known = byPath.get(path)
      if (known) return known
      const cut = path.lastIndexOf('::')
      const group = newGroup(path.slice(cut + 2), path)
      groupAt(path.slice(0, cut)).groups.push(group)
      byPath.set(path, group)
      return group
    }
    for (const [path, checks] of this.#groups)
      for (const [name, count] of checks) {
        const checkPath = `${path}::${name}`
        groupAt(path).checks.push({ name, path: checkPath, id: md5(checkPath), ...count })
      }
    for (const path of this.#groups.keys()) groupAt(path)
    return root
  }

  #group(group: string): Map<string, { passes: number; fails: number }> {
    let checks = this.#groups.get(group)
    if (!checks) {
      checks = new Map()
      this.#groups.set(group, checks)
    }
    return checks
  }
}

function newGroup(name: string, path: string): SummaryGroup {
  return { name, path, id: md5(path), groups: [], checks: [] }
}

function md5(text: string): string {
  return createHash('md5').update(text).digest('hex')
}

/**
 * The summary k6 hands `handleSummary`: every metric that got a sample (and every submetric a
 * threshold names) with its `values`, threshold verdicts, checks by name and the run's length.
 * Trends report `summaryTrendStats` and each aggregation a threshold names.
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
    root_group: input.checks.tree(),
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
