// The overload drill's summary section: its table on the terminal, goodput and queue delay drawn in the report.
import { chart, PALETTE } from '../report-html.js'
import { fixedWidth, type RunSummary } from '../run-summary.js'

const ms = (value: number | null | undefined) =>
  value === null || value === undefined ? '–' : `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`

/** The capacity, then one row per phase, then the recovery and the generator's drops. */
export function overloadLines(summary: RunSummary): string[] {
  const o = summary.overload
  if (!o) return []
  const pool = Object.entries(o.pool)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ')
  const measured =
    o.capacitySource === 'given'
      ? 'given (--capacity)'
      : `measured: ${o.probe?.served} answers to ${o.probe?.users} closed-loop users in ${o.probe?.seconds} s`
  const rows = [
    [
      'phase',
      'offered/s',
      'arrivals',
      'dropped',
      'good/s',
      'good/capacity',
      'p50',
      'p99',
      'refused',
      'late',
      'to refusal p50',
    ],
    ...o.phases.map((p) => [
      p.phase,
      `${p.offeredPerSecond} (${p.multiple}x)`,
      String(p.arrivals),
      String(p.dropped),
      p.goodputPerSecond.toFixed(1),
      p.goodputRatio.toFixed(3),
      ms(p.answerMs?.p50),
      ms(p.answerMs?.p99),
      String(Object.values(p.refusedByCode).reduce((sum, n) => sum + n, 0)),
      String(p.late),
      ms(p.refusalMedianMs),
    ]),
  ]
  const lines = [
    '',
    `overload: capacity ${o.capacity.toFixed(1)} requests/s (${measured}); deadline ${o.deadlineMs} ms; ` +
      `${o.latencyMs} ms per exchange with PostgreSQL; ${pool}`,
    ...fixedWidth(rows),
  ]
  for (const p of o.phases) {
    const codes = Object.entries(p.refusedByCode)
    if (codes.length > 0)
      lines.push(`  ${p.phase} refused: ${codes.map(([code, n]) => `${code} ${n}`).join(', ')}`)
  }
  lines.push(
    `  recovery: ${o.recoveryMs === null ? 'no after phase' : `the last caller not served within its deadline arrived ${Math.round(o.recoveryMs)} ms after the load fell`}`,
  )
  const dropped = o.phases.reduce((sum, p) => sum + p.dropped, 0)
  if (dropped > 0)
    lines.push(
      `  the load generator dropped ${dropped} arrivals (all ${o.maxVus} VUs busy): the offered load was not all sent; raise --max-vus`,
    )
  return lines
}

/** Goodput per second against capacity, and the pool's queue delay, over the run. */
export function overloadCharts(summary: RunSummary): string[] {
  const o = summary.overload
  if (!o) return []
  const seconds = summary.timeline.length
  const markers = summary.phases.map((phase) => ({ x: phase.startSeconds, label: phase.name }))
  const at = (second: number) => second + 0.5
  const source =
    o.queueDelay.source === 'db_client_connection_queue_delay_seconds'
      ? 'the pool’s queue delay'
      : 'checkout wait (this api exports no queue-delay histogram)'
  return [
    chart(
      'Goodput: callers answered within their deadline, per second of arrival',
      'req/s',
      seconds,
      markers,
      [
        { name: 'good', color: PALETTE[2]!, points: o.goodputTimeline.map((p) => [at(p.second), p.good]) },
        {
          name: 'refused',
          color: PALETTE[3]!,
          points: o.goodputTimeline.map((p) => [at(p.second), p.refused]),
        },
        {
          name: 'late (deadline passed)',
          color: PALETTE[1]!,
          points: o.goodputTimeline.map((p) => [at(p.second), p.late]),
        },
        {
          name: 'capacity',
          color: PALETTE[7]!,
          points: [
            [0, o.capacity],
            [seconds, o.capacity],
          ],
        },
      ],
    ),
    chart(`Queue delay between scrapes: ${source}`, 'ms', seconds, markers, [
      { name: 'p50', color: PALETTE[0]!, points: o.queueDelay.points.map((p) => [p.at / 1000, p.p50Ms]) },
      { name: 'p99', color: PALETTE[1]!, points: o.queueDelay.points.map((p) => [p.at / 1000, p.p99Ms]) },
    ]),
  ]
}
