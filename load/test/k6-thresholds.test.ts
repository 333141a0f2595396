import { describe, expect, it } from 'vitest'
import { K6ScriptError } from '../runner/k6-runtime/errors.js'
import { MetricRegistry } from '../runner/k6-runtime/metric-registry.js'
import { evaluateThreshold, prepareThresholds } from '../runner/k6-runtime/thresholds.js'
import { k6Options, restartPlan, steadyPlan } from '../shared/scenarios.js'

/** The registry with the drills' custom metrics, as the scripts' init code declares them. */
function registry(): MetricRegistry {
  const metrics = new MetricRegistry()
  for (const name of ['pool_limit_errors', 'unexpected_responses', 'server_errors'])
    metrics.define(name, 'counter')
  return metrics
}

/** One answered request as the engine records it: k6's built-in HTTP metrics, tagged. */
function answer(metrics: MetricRegistry, tags: Record<string, string>, { failed = false, ms = 5 } = {}) {
  metrics.add('http_reqs', 1, tags)
  metrics.add('http_req_duration', ms, tags)
  metrics.add('http_req_failed', failed ? 1 : 0, tags)
}

const broken = (metrics: MetricRegistry, thresholds: Record<string, readonly string[]>, ms = 10_000) =>
  prepareThresholds(metrics, thresholds)
    .map((t) => evaluateThreshold(t, ms))
    .filter((o) => !o.ok)
    .map((o) => `${o.threshold.key}: ${o.threshold.expression}`)

describe('thresholds in k6 syntax', () => {
  it('passes a clean steady run and fails one with a single pool-limit error', () => {
    const { thresholds } = k6Options(steadyPlan(60))
    const metrics = registry()
    // Prepared before any sample, as a run prepares them: a tagged submetric sees the samples after it.
    expect(broken(metrics, thresholds)).toEqual([])
    for (let i = 0; i < 2000; i++) answer(metrics, { phase: 'steady' })
    expect(broken(metrics, thresholds)).toEqual([])
    answer(metrics, { phase: 'steady' }, { failed: true })
    metrics.add('pool_limit_errors', 1, { phase: 'steady' })
    metrics.add('server_errors', 1, { phase: 'steady' })
    expect(broken(metrics, thresholds)).toEqual([
      'server_errors{phase:steady}: count==0',
      'pool_limit_errors{phase:steady}: count==0',
    ])
  })

  it("judges a steady run on its steady phase only: the warm-up's and setup's slow answers are not its", () => {
    const { thresholds } = k6Options(steadyPlan(60))
    const metrics = registry()
    expect(broken(metrics, thresholds)).toEqual([])
    for (let i = 0; i < 200; i++) answer(metrics, { phase: 'steady' })
    for (let i = 0; i < 50; i++) answer(metrics, { phase: 'warmup' }, { ms: 900 })
    for (let i = 0; i < 50; i++) answer(metrics, { group: '::setup' }, { ms: 900 })
    expect(broken(metrics, thresholds)).toEqual([])
    for (let i = 0; i < 50; i++) answer(metrics, { phase: 'steady' }, { ms: 900 })
    expect(broken(metrics, thresholds)).toEqual([
      'http_req_duration{phase:steady}: p(95)<250',
      'http_req_duration{phase:steady}: p(99)<500',
    ])
  })

  it('judges each restart phase on its own samples, through tagged submetrics', () => {
    const { thresholds } = k6Options(restartPlan())
    const metrics = registry()
    const prepared = prepareThresholds(metrics, thresholds)
    answer(metrics, { phase: 'before' })
    answer(metrics, { phase: 'window' }, { failed: true })
    answer(metrics, { phase: 'after' })
    expect(
      prepared.filter((t) => !evaluateThreshold(t, 1000).ok).map((t) => `${t.key}: ${t.expression}`),
    ).toEqual(['http_req_failed{phase:window}: rate==0'])
  })

  it('computes percentiles as k6 does, interpolating between ranks', () => {
    const metrics = registry()
    const [p99] = prepareThresholds(metrics, { http_req_duration: ['p(99)<500'] })
    for (let i = 1; i <= 100; i++) answer(metrics, {}, { ms: i * 10 })
    // Rank 0.99 × 99 = 98.01: 990 + 0.01 × 10.
    expect(evaluateThreshold(p99!, 1000)).toMatchObject({ actual: 990.1, ok: false })
  })

  it.each([
    [{ nope: ['count==0'] }, 'threshold on "nope": no metric "nope"'],
    [{ http_req_duration: ['p95<1'] }, 'is not an expression such as "p(95)<500"'],
    [{ http_req_failed: ['count==0'] }, 'a rate metric takes rate, not count'],
    [{ 'http_reqs{phase}': ['count>0'] }, '"phase" is not tag:value'],
  ])('refuses %j at load time', (thresholds, message) => {
    expect(() => prepareThresholds(registry(), thresholds)).toThrow(K6ScriptError)
    expect(() => prepareThresholds(registry(), thresholds)).toThrow(message)
  })
})
