// The run as one offline HTML page: verdict, tables (phases, request names, thresholds) and charts with the run's moments marked.
import { DRILLS } from './drills/index.js'
import type { ApiSample } from './metrics-sampler.js'
import type { PhaseSummary } from './results.js'
import { formatSummaryTable, type RunSummary, tableRows } from './run-summary.js'

interface Series {
  readonly name: string
  readonly color: string
  readonly points: readonly (readonly [number, number])[]
}

interface Marker {
  readonly x: number
  readonly label: string
}

const MB = 1024 * 1024
export const PALETTE = [
  '#2563eb',
  '#dc2626',
  '#16a34a',
  '#d97706',
  '#7c3aed',
  '#0891b2',
  '#db2777',
  '#4b5563',
]
const WIDTH = 860
const HEIGHT = 220
const PAD = { left: 56, right: 16, top: 16, bottom: 28 }

/** Where the phases begin, and the drill's instants (a restart, a kill, a standby stopped), to draw on every chart. */
function runMarkers(summary: RunSummary): Marker[] {
  const phases = summary.phases.map((phase) => ({ x: phase.startSeconds, label: phase.name }))
  return [...phases, ...(DRILLS[summary.scenario].markers?.(summary) ?? [])]
}

/** Where the memory trends start, once a run is long enough to have them. */
function trendMarker(summary: RunSummary): Marker[] {
  const { trend } = summary.process
  return trend.rssMbPer10Min === null ? [] : [{ x: trend.fromSeconds, label: 'trend from' }]
}

/**
 * A self-contained HTML report: the verdict, the phases and each request name as tables (count,
 * failures by code, p50/p95/p99), the thresholds passed or failed, the terminal summary, and
 * timeline charts as inline SVG with the phases' starts and the fault's instants marked on each.
 * No script, no external resource: it opens offline.
 */
export function renderReport(summary: RunSummary): string {
  // Per-second buckets are drawn at their centres, so nothing seems to happen before it did.
  const seconds = summary.timeline.length
  const markers = runMarkers(summary)
  const codes = [...new Set(summary.timeline.flatMap((p) => Object.keys(p.errorsByCode)))].sort()
  const charts = [
    chart('Requests per second', 'req/s', seconds, markers, [
      {
        name: 'requests',
        color: PALETTE[0]!,
        points: summary.timeline.map((p) => [p.second + 0.5, p.requests]),
      },
    ]),
    chart(
      'Errors per second, by code',
      'errors/s',
      seconds,
      markers,
      codes.map((code, i) => ({
        name: code,
        color: PALETTE[(i + 1) % PALETTE.length]!,
        points: summary.timeline.map((p) => [p.second + 0.5, p.errorsByCode[code] ?? 0] as const),
      })),
    ),
    chart('Latency', 'ms', seconds, markers, [
      { name: 'p50', color: PALETTE[0]!, points: summary.timeline.map((p) => [p.second + 0.5, p.p50Ms]) },
      { name: 'p95', color: PALETTE[3]!, points: summary.timeline.map((p) => [p.second + 0.5, p.p95Ms]) },
      { name: 'p99', color: PALETTE[1]!, points: summary.timeline.map((p) => [p.second + 0.5, p.p99Ms]) },
    ]),
    ...(DRILLS[summary.scenario].charts?.(summary) ?? []),
    chart('Database pool', 'connections', seconds, markers, [
      sampled(summary, 'total connections', PALETTE[2]!, (s) => s.total),
      sampled(summary, 'waiting requests', PALETTE[3]!, (s) => s.waiting),
    ]),
    chart(
      'The api process: memory',
      'MB',
      seconds,
      [...markers, ...trendMarker(summary)],
      [
        sampled(summary, 'RSS', PALETTE[4]!, (s) => s.rssBytes / MB),
        sampled(summary, 'V8 heap committed', PALETTE[7]!, (s) => s.heapTotalBytes / MB),
        sampled(summary, 'V8 heap used', PALETTE[5]!, (s) => s.heapUsedBytes / MB),
        sampled(summary, 'heap after GC (live)', PALETTE[2]!, (s) => s.heapAfterGcBytes / MB),
      ],
    ),
    chart('The api process: event-loop lag, p99 of each second', 'ms', seconds, markers, [
      sampled(summary, 'lag p99', PALETTE[6]!, (s) => s.loopLagP99Seconds * 1000),
    ]),
  ]
  const title = `${summary.scenario} load run, ${summary.startedAt}`
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 900px; color: #111827; }
  h1 { font-size: 20px; } h2 { font-size: 15px; margin: 24px 0 4px; }
  pre { background: #f3f4f6; padding: 12px; overflow-x: auto; font-size: 12px; }
  .verdict { font-weight: 600; color: ${summary.passed ? '#15803d' : '#b91c1c'}; }
  .legend span { margin-right: 14px; font-size: 12px; } .legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
  svg { display: block; }
  table { border-collapse: collapse; font-size: 12px; margin: 4px 0 12px; }
  th, td { padding: 3px 8px; border-bottom: 1px solid #e5e7eb; text-align: right; }
  th:first-child, td:first-child { text-align: left; }
  .pass { color: #15803d; } .fail { color: #b91c1c; font-weight: 600; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="verdict">${summary.passed ? 'PASSED' : 'FAILED'}: ${summary.environment.users} users, engine ${summary.engine}, ${escapeHtml(summary.environment.database)}, ${summary.environment.cpus} CPUs, Node ${escapeHtml(summary.environment.node)}</p>
<h2>Phases (setup's seeding apart, judged by no threshold)</h2>
${figuresTable(
  'phase',
  [summary.setup, ...summary.perPhase, summary.overall].map((r) => [r.phase, r]),
)}
<h2>Requests by name (the load's phases together)</h2>
${figuresTable(
  'request',
  summary.perName.map((r) => [r.name, r]),
)}
<h2>Thresholds</h2>
${thresholdsTable(summary)}
${charts.join('\n')}
<h2>The terminal summary</h2>
<pre>${escapeHtml(formatSummaryTable(summary))}</pre>
</body>
</html>
`
}

/** A phase or request-name table, with a failures-by-code column. */
function figuresTable(first: string, rows: readonly (readonly [string, PhaseSummary])[]): string {
  const [header, ...body] = tableRows(first, rows)
  const codes = (r: PhaseSummary) =>
    Object.entries(r.failedByCode)
      .map(([code, n]) => `${code} ${n}`)
      .join(', ') || '–'
  const cells = (row: readonly string[], tag: 'th' | 'td') =>
    row.map((c) => `<${tag}>${escapeHtml(c)}</${tag}>`).join('')
  return `<table><tr>${cells([...header!, 'failures by code'], 'th')}</tr>${body
    .map((row, i) => `<tr>${cells([...row, codes(rows[i]![1])], 'td')}</tr>`)
    .join('')}</table>`
}

function thresholdsTable(summary: RunSummary): string {
  const rows = summary.thresholds
    .map(
      (t) =>
        `<tr><td>${escapeHtml(t.threshold)}</td><td>${Number.isInteger(t.actual) ? t.actual : t.actual.toFixed(4)}</td><td class="${t.passed ? 'pass">✓ pass' : 'fail">✗ fail'}</td></tr>`,
    )
    .join('')
  return `<table><tr><th>threshold</th><th>actual</th><th>verdict</th></tr>${rows}</table>`
}

/** One series of the api's once-a-second scrapes, seconds skipped where the scrape did not tell. */
function sampled(
  summary: RunSummary,
  name: string,
  color: string,
  value: (sample: ApiSample) => number,
): Series {
  return {
    name,
    color,
    points: summary.apiSamples
      .map((sample) => [sample.at / 1000, value(sample)] as const)
      .filter(([, y]) => Number.isFinite(y)),
  }
}

/** A line chart as inline SVG, the markers dashed across it. */
export function chart(
  title: string,
  unit: string,
  seconds: number,
  markers: readonly Marker[],
  series: readonly Series[],
): string {
  const xMax = Math.max(1, seconds)
  const yMax = niceCeiling(Math.max(1, ...series.flatMap((s) => s.points.map(([, y]) => y))))
  const x = (v: number) => PAD.left + (v / xMax) * (WIDTH - PAD.left - PAD.right)
  const y = (v: number) => HEIGHT - PAD.bottom - (v / yMax) * (HEIGHT - PAD.top - PAD.bottom)
  const grid = [0, 0.25, 0.5, 0.75, 1]
    .map((f) => {
      const value = yMax * f
      return `<line x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${y(value)}" y2="${y(value)}" stroke="#e5e7eb"/><text x="${PAD.left - 6}" y="${y(value) + 4}" text-anchor="end" font-size="11" fill="#6b7280">${formatTick(value)}</text>`
    })
    .join('')
  const xTicks = Array.from({ length: 6 }, (_, i) => (xMax * i) / 5)
    .map(
      (v) =>
        `<text x="${x(v)}" y="${HEIGHT - 8}" text-anchor="middle" font-size="11" fill="#6b7280">${Math.round(v)} s</text>`,
    )
    .join('')
  const lines = series
    .filter((s) => s.points.length > 0)
    .map(
      (s) =>
        `<polyline fill="none" stroke="${s.color}" stroke-width="1.6" points="${s.points.map(([px, py]) => `${x(px).toFixed(1)},${y(py).toFixed(1)}`).join(' ')}"/>`,
    )
    .join('')
  // Labels step down so markers close together stay readable.
  const marks = markers
    .map(
      (m, i) =>
        `<line x1="${x(m.x)}" x2="${x(m.x)}" y1="${PAD.top}" y2="${HEIGHT - PAD.bottom}" stroke="#111827" stroke-dasharray="4 3"/><text x="${x(m.x) + 4}" y="${PAD.top + 10 + 12 * (i % 3)}" font-size="11">${escapeHtml(m.label)}</text>`,
    )
    .join('')
  const legend = series
    .map((s) => `<span><i style="background:${s.color}"></i>${escapeHtml(s.name)}</span>`)
    .join('')
  return `<h2>${escapeHtml(title)} (${escapeHtml(unit)})</h2>
<div class="legend">${legend || '<span>none</span>'}</div>
<svg width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeHtml(title)}">${grid}${xTicks}${lines}${marks}</svg>`
}

function niceCeiling(value: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(value))
  for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * magnitude) return step * magnitude
  return 10 * magnitude
}

function formatTick(value: number): string {
  return value >= 100 ? String(Math.round(value)) : String(Number(value.toFixed(1)))
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}
