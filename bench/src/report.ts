import type { StatementCacheMemory } from './statement-cache-memory.js'
/** One contender's measurement in one round. */
export interface Measurement {
  readonly round: number
  /** A SQL workload, or `http`. */
  readonly group: string
  readonly contender: string
  readonly label: string
  readonly opsPerSecond: number
  readonly p50Ms: number | null
  readonly p99Ms: number | null
  readonly latencyAverageMs?: number
  readonly peakRssMb: number | null
  readonly errors: number
}

export interface BenchRun {
  readonly date: string
  readonly command: string
  readonly machine: string
  readonly options: { rounds: number; seconds: number; warmupSeconds: number; concurrency: number }
  readonly pgbenchSkipped: string | undefined
  readonly measurements: readonly Measurement[]
  readonly statementCache?: StatementCacheMemory
}

/** The contender every ratio in a group is taken against, measured in the same round. */
const BASELINE: Record<string, string> = { http: 'http-minimal' }
const DEFAULT_BASELINE = 'pg-pool'

/**
 * Issue 12's targets: median over rounds of a contender's throughput over a reference's, both
 * measured in the same round.
 */
const TARGETS: ReadonlyArray<{
  contender: string
  reference: string
  groups: readonly string[]
  atLeast: number
}> = [
  { contender: 'db-core-defaults', reference: 'pg-pool', groups: ['select-1', 'transaction'], atLeast: 0.97 },
  { contender: 'db-core-defaults', reference: 'pg-pool', groups: ['indexed-read'], atLeast: 1.6 },
  {
    contender: 'kysely-db-core',
    reference: 'kysely-pg-pool',
    groups: ['select-1', 'indexed-read', 'transaction'],
    atLeast: 0.97,
  },
  { contender: 'kysely-db-core', reference: 'kysely-pg-pool', groups: ['indexed-read'], atLeast: 1.5 },
  {
    contender: 'kysely-db-core',
    reference: 'kysely-postgres-js',
    groups: ['select-1', 'indexed-read', 'transaction'],
    atLeast: 1,
  },
  { contender: 'http-api', reference: 'http-minimal', groups: ['http'], atLeast: 0.95 },
]

const GROUP_TITLES: Record<string, string> = {
  'select-1': '`SELECT 1`',
  'indexed-read': 'Indexed read (`classrooms` by primary key, 10 000 rows)',
  transaction: 'Small transaction (`UPDATE` a counter + `INSERT` an event)',
  http: 'HTTP `GET /classrooms/:id`',
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Ratios of a contender to its group's baseline, paired round by round. */
export function ratios(
  measurements: readonly Measurement[],
  group: string,
  contender: string,
  baseline = BASELINE[group] ?? DEFAULT_BASELINE,
): number[] {
  const out: number[] = []
  for (const m of measurements.filter((x) => x.group === group && x.contender === contender)) {
    const base = measurements.find(
      (x) => x.group === group && x.contender === baseline && x.round === m.round,
    )
    if (base && base.opsPerSecond > 0) out.push(m.opsPerSecond / base.opsPerSecond)
  }
  return out
}

/** The run as markdown: one table per workload, then the targets. */
export function formatReport(run: BenchRun): string {
  const lines = [
    `# Benchmark run ${run.date}`,
    '',
    `- command: \`${run.command}\``,
    `- machine: ${run.machine}`,
    `- ${run.options.concurrency} concurrent callers, ${run.options.rounds} round(s) of ${run.options.seconds} s (after ${run.options.warmupSeconds} s warm-up), contenders interleaved and rotated each round, each in a fresh process`,
    '- ratio: throughput over the baseline measured in the same round; min / median / max over rounds',
    '- peak RSS: of the process running the contender (for HTTP rows, the server)',
  ]
  if (run.pgbenchSkipped) lines.push(`- pgbench row skipped: ${run.pgbenchSkipped}`)
  const groups = [...new Set(run.measurements.map((m) => m.group))]
  for (const group of groups) {
    const baseline = BASELINE[group] ?? DEFAULT_BASELINE
    lines.push('', `## ${GROUP_TITLES[group] ?? group}`, '')
    lines.push(
      `| contender | ops/s (median) | p50 ms | p99 ms | ratio to ${baseline} (min / median / max) | peak RSS MB | errors |`,
    )
    lines.push('|---|---:|---:|---:|---|---:|---:|')
    const contenders = [...new Set(run.measurements.filter((m) => m.group === group).map((m) => m.contender))]
    for (const contender of contenders) {
      const rows = run.measurements.filter((m) => m.group === group && m.contender === contender)
      const r = ratios(run.measurements, group, contender)
      const numbers = (pick: (m: Measurement) => number | null) =>
        rows.map(pick).filter((v): v is number => v !== null)
      const p50 = numbers((m) => m.p50Ms)
      const p99 = numbers((m) => m.p99Ms)
      const avg = numbers((m) => m.latencyAverageMs ?? null)
      const rss = numbers((m) => m.peakRssMb)
      lines.push(
        `| ${rows[0]!.label} | ${Math.round(median(rows.map((m) => m.opsPerSecond)))} | ${p50.length ? median(p50).toFixed(2) : `avg ${avg.length ? median(avg).toFixed(2) : '–'}`} | ${p99.length ? median(p99).toFixed(2) : '–'} | ${
          r.length
            ? `${Math.min(...r).toFixed(3)} / **${median(r).toFixed(3)}** / ${Math.max(...r).toFixed(3)}`
            : '–'
        } | ${rss.length ? Math.max(...rss) : '–'} | ${rows.reduce((sum, m) => sum + m.errors, 0)} |`,
      )
    }
  }
  if (run.statementCache) {
    const m = run.statementCache
    const perStatement = (m.backendBytesAfter - m.backendBytesBefore) / m.statements
    lines.push(
      '',
      '## Statement cache memory',
      '',
      `${m.statements} distinct statements with parameters on one connection (${m.prepared} held prepared): the backend's memory went from ` +
        `${(m.backendBytesBefore / 1048576).toFixed(1)} MB to ${(m.backendBytesAfter / 1048576).toFixed(1)} MB ` +
        `(${(perStatement / 1024).toFixed(1)} KB a statement, pg_backend_memory_contexts).`,
    )
  }
  lines.push(
    '',
    '## Targets (median over rounds of the ratio to the reference measured in the same round)',
    '',
  )
  for (const target of TARGETS) {
    for (const group of target.groups) {
      const r = ratios(run.measurements, group, target.contender, target.reference)
      if (r.length === 0) continue
      const value = median(r)
      lines.push(
        `- ${value >= target.atLeast ? '✓' : '✗'} ${target.contender} / ${target.reference}, ${group}: ${value.toFixed(3)} (rounds ${Math.min(...r).toFixed(3)}–${Math.max(...r).toFixed(3)}; target ≥ ${target.atLeast})`,
      )
    }
  }
  return lines.join('\n')
}
