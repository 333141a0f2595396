// k6's end-of-test text summary (its compact mode): thresholds with their values, checks, metrics by kind.
import type { SummaryData, SummaryGroup, SummaryMetric } from './summary.js'

/** The options of k6-summary's `textSummary`; colours are never used here. */
export interface TextSummaryOptions {
  readonly indent?: string
  readonly enableColors?: boolean
}

const EXECUTION = new Set([
  'iterations',
  'iteration_duration',
  'dropped_iterations',
  'group_duration',
  'vus',
  'vus_max',
])
const WIDTH = 35

/**
 * The summary k6 prints when a script has no handleSummary (and what `textSummary` of the
 * k6-summary jslib returns): ✓/✗ thresholds with the values they were judged on, checks totals and
 * each check in its group, then every metric by kind (HTTP, EXECUTION, CUSTOM) with its tagged
 * submetrics under it.
 *
 * ```ts
 * process.stdout.write(textSummary(data))
 * ```
 */
export function textSummary(data: SummaryData, { indent = ' ' }: TextSummaryOptions = {}): string {
  const lines: string[] = []
  const thresholds = Object.entries(data.metrics).filter(([, m]) => m.thresholds)
  if (thresholds.length > 0) {
    lines.push('█ THRESHOLDS', '')
    for (const [key, metric] of thresholds) {
      lines.push(`  ${key}`)
      for (const [expression, { ok }] of Object.entries(metric.thresholds!)) {
        const stat = /^\s*([a-z]+(?:\([\d.]+\))?)/.exec(expression)?.[1] ?? ''
        const value = metric.values[stat]
        lines.push(
          `  ${ok ? '✓' : '✗'} '${expression}'${value === undefined ? '' : ` ${stat}=${format(value, metric, stat)}`}`,
        )
      }
      lines.push('')
    }
    lines.push('')
  }
  lines.push('█ TOTAL RESULTS', '')
  const checks = allChecks(data.root_group)
  if (checks.total > 0) {
    const percent = (n: number) => `${((100 * n) / checks.total).toFixed(2)}%`
    const seconds = data.state.testRunDurationMs / 1000
    lines.push(
      metricLine('checks_total', `${checks.total}`.padEnd(7), `${(checks.total / seconds).toFixed(6)}/s`),
      metricLine(
        'checks_succeeded',
        percent(checks.passes).padEnd(7),
        `${checks.passes} out of ${checks.total}`,
      ),
      metricLine('checks_failed', percent(checks.fails).padEnd(7), `${checks.fails} out of ${checks.total}`),
      '',
    )
    groupLines(data.root_group, '  ', lines)
    lines.push('')
  }
  for (const [title, names] of kinds(data)) {
    lines.push(`  ${title}`)
    for (const name of names) {
      lines.push(metricLine(name, ...values(data.metrics[name]!)))
      for (const key of Object.keys(data.metrics)
        .filter((k) => k.startsWith(`${name}{`))
        .sort())
        lines.push(metricLine(`  { ${key.slice(name.length + 1, -1)} }`, ...values(data.metrics[key]!)))
    }
    lines.push('')
  }
  return `\n${lines.map((line) => (line === '' ? '' : `${indent}${line}`)).join('\n')}\n`
}

/** The metrics (not submetrics, not checks) by kind, each kind's names sorted. */
function kinds(data: SummaryData): [string, string[]][] {
  const names = Object.keys(data.metrics)
    .filter((name) => !name.includes('{') && name !== 'checks')
    .sort()
  const result: [string, string[]][] = [
    ['CUSTOM', names.filter((n) => !n.startsWith('http_') && !EXECUTION.has(n))],
    ['HTTP', names.filter((n) => n.startsWith('http_'))],
    ['EXECUTION', names.filter((n) => EXECUTION.has(n))],
  ]
  return result.filter(([, list]) => list.length > 0)
}

function allChecks(group: SummaryGroup): { total: number; passes: number; fails: number } {
  let passes = 0
  let fails = 0
  const walk = (g: SummaryGroup) => {
    for (const check of g.checks) {
      passes += check.passes
      fails += check.fails
    }
    for (const sub of g.groups) walk(sub)
  }
  walk(group)
  return { total: passes + fails, passes, fails }
}

/** A group's checks (✓, or ✗ with its share), then its subgroups as `█ name`, indented. */
function groupLines(group: SummaryGroup, pad: string, lines: string[]): void {
  for (const c of group.checks) {
    lines.push(`${pad}${c.fails === 0 ? '✓' : '✗'} ${c.name}`)
    if (c.fails > 0)
      lines.push(
        `${pad}  ↳  ${Math.floor((100 * c.passes) / (c.passes + c.fails))}% — ✓ ${c.passes} / ✗ ${c.fails}`,
      )
  }
  for (const sub of group.groups) {
    lines.push('', `${pad}█ ${sub.name}`, '')
    groupLines(sub, `${pad}  `, lines)
  }
}

function metricLine(name: string, ...parts: string[]): string {
  return `  ${`${name}`.padEnd(WIDTH, '.')}: ${parts.join(' ')}`.trimEnd()
}

/** A metric's values as k6 prints them: count and rate, rate and shares, gauge and its range, trend stats. */
function values(metric: SummaryMetric): string[] {
  const v = metric.values
  switch (metric.type) {
    case 'counter':
      return [format(v.count!, metric, 'count').padEnd(7), `${v.rate!.toFixed(6)}/s`]
    case 'rate':
      return [format(v.rate!, metric, 'rate').padEnd(7), `${v.passes} out of ${v.passes! + v.fails!}`]
    case 'gauge':
      return [String(v.value).padEnd(7), `min=${v.min}`, `max=${v.max}`]
    default:
      return Object.entries(v).map(([stat, value]) => `${stat}=${format(value, metric, stat)}`.padEnd(14))
  }
}

function format(value: number, metric: SummaryMetric, stat: string): string {
  if (metric.type === 'rate' && stat === 'rate') return `${(value * 100).toFixed(2)}%`
  if (metric.contains === 'time' && stat !== 'count')
    return value >= 1000 ? `${(value / 1000).toFixed(2)}s` : `${value.toFixed(2)}ms`
  return Number.isInteger(value) ? String(value) : value.toFixed(6)
}
