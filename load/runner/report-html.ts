import type { ApiSample } from './metrics-sampler.js'
import { formatSummaryTable, type RunSummary } from './run-summary.js'

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
const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563']
const WIDTH = 860
const HEIGHT = 220
const PAD = { left: 56, right: 16, top: 16, bottom: 28 }

/**
 * A self-contained HTML report: the summary table and timeline charts as inline SVG, with the
 * restart marked. No script, no external resource: it opens offline.
 */
export function renderReport(summary: RunSummary): string {
  // Per-second buckets are drawn at their centres, so nothing seems to happen before it did.
  const seconds = summary.timeline.length
  const markers: Marker[] = summary.restart
    ? [
        { x: summary.restart.stoppedAtSeconds, label: 'restart' },
        { x: summary.restart.acceptingAtSeconds, label: 'accepting' },
      ]
    : summary.failover
      ? [
          { x: summary.failover.killedAtSeconds, label: 'primary killed' },
          { x: summary.failover.promotedAtSeconds, label: 'promoted' },
        ]
      : []
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
      { name: 'p99', color: PALETTE[1]!, points: summary.timeline.map((p) => [p.second + 0.5, p.p99Ms]) },
    ]),
    chart('Database pool', 'connections', seconds, markers, [
      sampled(summary, 'total connections', PALETTE[2]!, (s) => s.total),
      sampled(summary, 'waiting requests', PALETTE[3]!, (s) => s.waiting),
    ]),
    chart('The api process: memory', 'MB', seconds, markers, [
      sampled(summary, 'RSS', PALETTE[4]!, (s) => s.rssBytes / MB),
      sampled(summary, 'V8 heap used', PALETTE[5]!, (s) => s.heapUsedBytes / MB),
    ]),
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
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="verdict">${summary.passed ? 'PASSED' : 'FAILED'}: ${summary.environment.users} users, engine ${summary.engine}, ${escapeHtml(summary.environment.database)}, ${summary.environment.cpus} CPUs, Node ${escapeHtml(summary.environment.node)}</p>
<pre>${escapeHtml(formatSummaryTable(summary))}</pre>
${charts.join('\n')}
</body>
</html>
`
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

function chart(
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
  const marks = markers
    .map(
      (m) =>
        `<line x1="${x(m.x)}" x2="${x(m.x)}" y1="${PAD.top}" y2="${HEIGHT - PAD.bottom}" stroke="#111827" stroke-dasharray="4 3"/><text x="${x(m.x) + 4}" y="${PAD.top + 10}" font-size="11">${escapeHtml(m.label)}</text>`,
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
