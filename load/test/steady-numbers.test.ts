import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SummaryData } from '../runner/k6-runtime/summary.js'
import { type LoadResult, runLoad } from '../runner/run-load.js'
import type { RunSummary } from '../runner/run-summary.js'
import { REQUEST_MIX } from '../shared/scenarios.js'

// One short `pnpm load steady` (5 s warm-up, 5 s judged, 50 users) on the embedded PostgreSQL and
// the built api: it passes on an idle api, and its table, summary.json, k6's summary and its
// thresholds give the same figure for the same requests; its report shows phases and names.
let resultsDir: string
let result: LoadResult
let summary: RunSummary
let k6Summary: SummaryData
let report: string

beforeAll(async () => {
  resultsDir = await mkdtemp(path.join(tmpdir(), 'load-steady-'))
  result = await runLoad({
    scenario: 'steady',
    engine: 'node',
    durationSeconds: 5,
    phases: { before: 1, window: 2, after: 1 },
    mode: 'fast',
    downSeconds: 0,
    resultsDir,
    databaseUrl: undefined,
    restartCommand: undefined,
  })
  summary = JSON.parse(await readFile(path.join(result.runDir, 'summary.json'), 'utf8')) as RunSummary
  k6Summary = JSON.parse(await readFile(path.join(result.runDir, 'k6-summary.json'), 'utf8')) as SummaryData
  report = await readFile(path.join(result.runDir, 'report.html'), 'utf8')
}, 120_000)

afterAll(async () => {
  await rm(resultsDir, { recursive: true, force: true })
})

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
const threshold = (name: string) => summary.thresholds.find((t) => t.threshold === name)!

describe('pnpm load steady --duration 5', () => {
  it('passes on an idle api: the warm-up stage is shown, never judged', () => {
    // On a machine other work keeps busy, latency grows with it: the per-second timeline says whether.
    const why = JSON.stringify(summary.timeline.map((p) => [p.second, p.requests, Math.round(p.p95Ms)]))
    expect(
      summary.thresholds.filter((t) => !t.passed),
      why,
    ).toEqual([])
    expect(result.exitCode).toBe(0)
    expect(summary.perPhase.map((p) => p.phase)).toEqual(['warmup', 'steady'])
    expect(summary.perPhase[0]!.requests).toBeGreaterThan(0)
    expect(summary.thresholds.every((t) => t.threshold.includes('{phase:steady}'))).toBe(true)
  })

  it("gives the same p95 and p99 of the steady phase in summary.json, the thresholds and k6's summary", () => {
    const steady = summary.perPhase.find((p) => p.phase === 'steady')!
    const k6 = k6Summary.metrics['http_req_duration{phase:steady}']!.values
    expect(steady.latencyMs.p95).toBeGreaterThan(0)
    expect(threshold('http_req_duration{phase:steady}: p(95)<250').actual).toBe(steady.latencyMs.p95)
    expect(k6['p(95)']).toBe(steady.latencyMs.p95)
    expect(threshold('http_req_duration{phase:steady}: p(99)<500').actual).toBe(steady.latencyMs.p99)
    expect(k6['p(99)']).toBe(steady.latencyMs.p99)
  })

  it("counts the same requests: setup's seeding apart, and k6's http_reqs = setup + the phases", () => {
    // 20 classrooms and 300 students, each created once (no 503 on an idle api).
    expect(summary.setup).toMatchObject({ phase: 'setup', requests: 320, failed: 0 })
    const load = summary.perPhase.reduce((sum, p) => sum + p.requests, 0)
    expect(summary.overall.requests).toBe(load)
    expect(k6Summary.metrics.http_reqs!.values.count).toBe(summary.setup.requests + load)
    expect(summary.perName.reduce((sum, n) => sum + n.requests, 0)).toBe(load)
  })

  it('gives no memory trend for 10 s of load: not enough data, and says so', () => {
    expect(summary.process.trend.rssMbPer10Min).toBeNull()
    expect(report).toContain('not enough data')
  })

  it('report.html draws the phases on every chart and tables each request name, p50/p95/p99 and the thresholds with their verdicts', () => {
    const charts = report.split('<svg').slice(1)
    expect(charts).toHaveLength(6)
    for (const svg of charts) {
      expect(svg).toContain('>warmup</text>')
      expect(svg).toContain('>steady</text>')
    }
    expect(report).toContain('<span><i style="background:#d97706"></i>p95</span>')
    for (const { name } of REQUEST_MIX.filter(
      (r) => r.name !== 'unenroll' || summary.perName.some((n) => n.name === 'unenroll'),
    ))
      expect(report).toMatch(new RegExp(`<tr><td>${name}</td><td>\\d+</td>`))
    const steady = summary.perPhase.find((p) => p.phase === 'steady')!
    expect(report).toContain(`<tr><td>setup</td><td>320</td>`)
    expect(report).toContain(`<tr><td>steady</td><td>${steady.requests}</td>`)
    expect(report).toContain('<th>p50</th><th>p95</th><th>p99</th>')
    expect(report).toContain('<tr><td>http_req_duration{phase:steady}: p(95)&lt;250</td>')
    // Each threshold once, with its own verdict.
    for (const t of summary.thresholds)
      expect(report).toMatch(
        new RegExp(
          `<tr><td>${escapeRegExp(t.threshold.replace('<', '&lt;'))}</td><td>[\\d.]+</td><td class="${t.passed ? 'pass">✓ pass' : 'fail">✗ fail'}</td></tr>`,
        ),
      )
    expect(report.match(/<td class="(pass|fail)">/g)).toHaveLength(summary.thresholds.length)
  })
})
