import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Exchange } from '../runner/k6-runtime/http-bridge.js'
import { runScript } from '../runner/k6-runtime/run-script.js'
import { fixture, type LocalServer, startLocalServer } from './local-server.js'

// The executors as k6 documents them, played by the built-in engine against a local HTTP server:
// when VUs start and stop, when iterations start, what is dropped.
let server: LocalServer

beforeAll(async () => {
  server = await startLocalServer((request, response) => {
    if (request.url === '/slow') setTimeout(() => response.end('late'), 300)
    else response.end('ok')
  })
})

afterAll(() => server.close())

/** Runs a fixture; its exchanges (times from the scenarios' start), its stdout and its warnings. */
async function play(name: string, env: Record<string, string> = {}) {
  const exchanges: (Exchange & { at: number })[] = []
  let startedAt = 0
  let stdout = ''
  const warnings: string[] = []
  const run = await runScript({
    script: fixture(name),
    env: { BASE_URL: server.baseUrl, ...env },
    onStart: (at) => {
      startedAt = at
    },
    onExchange: (exchange) => exchanges.push({ ...exchange, at: exchange.startedAt - startedAt }),
    onConsole: (level, text) => {
      if (level === 'warn') warnings.push(text)
    },
    stdout: (text) => {
      stdout += text
    },
  })
  return { run, exchanges, stdout, warnings }
}

const vusBetween = (exchanges: readonly (Exchange & { at: number })[], from: number, to: number) =>
  new Set(exchanges.filter((e) => e.at >= from && e.at < to).map((e) => e.vuId)).size

describe('ramping-vus', () => {
  it('ramps VUs along its stages: none before the line reaches 1, all 4 on the plateau, none after the ramp down', async () => {
    const { run, exchanges } = await play('ramping-vus.js')
    expect(run.exitCode).toBe(0)
    // 0 → 4 over 1 s: the first VU joins at 250 ms.
    expect(exchanges.filter((e) => e.at < 200)).toEqual([])
    expect(vusBetween(exchanges, 1100, 1400)).toBe(4)
    // 4 → 0 over 1.5–2 s, gracefulRampDown 0: nothing starts after 2 s.
    expect(exchanges.filter((e) => e.at > 2050)).toEqual([])
    expect(run.summary.metrics.vus_max!.values.value).toBe(4)
    expect(run.summary.state.testRunDurationMs).toBeGreaterThanOrEqual(2000)
  })
})

describe('constant-arrival-rate', () => {
  it('starts rate × duration iterations, evenly spaced, each with its own exec.scenario.iterationInTest', async () => {
    const { run, exchanges, stdout } = await play('arrival-rate.js')
    expect(run.exitCode).toBe(0)
    expect(JSON.parse(stdout)).toEqual({ iterations: 40, dropped: 0 })
    const numbers = exchanges.map((e) => Number(e.call.tags.iteration)).sort((a, b) => a - b)
    expect(numbers).toEqual(Array.from({ length: 40 }, (_, i) => i))
    // 20/s: one start every 50 ms (k6 spaces them), whatever the answers take.
    const starts = exchanges.map((e) => e.at).sort((a, b) => a - b)
    expect(starts[0]).toBeLessThan(30)
    expect(starts[39]).toBeGreaterThan(1900)
    expect(starts[39]).toBeLessThan(2000)
  })

  it('drops the iterations no VU is free for, counts them in dropped_iterations and warns once', async () => {
    const { run, stdout, warnings } = await play('arrival-rate.js', {
      PATH: '/slow',
      DURATION: '1s',
      PRE: '1',
      MAX: '2',
    })
    expect(run.exitCode).toBe(0)
    const { iterations, dropped } = JSON.parse(stdout) as { iterations: number; dropped: number }
    // 2 VUs, 300 ms per call: about 8 of the 20 starts find a VU.
    expect(iterations + dropped).toBe(20)
    expect(dropped).toBeGreaterThanOrEqual(10)
    expect(warnings.filter((w) => w.startsWith('Insufficient VUs, reached 2 active VUs'))).toHaveLength(1)
  })
})

describe('ramping-arrival-rate', () => {
  it('starts the iterations under its rate line: 0 → 20/s over 1 s (10), then 20/s for 1 s (20)', async () => {
    const { run, stdout, exchanges } = await play('arrival-rate.js', { KIND: 'ramping' })
    expect(run.exitCode).toBe(0)
    expect(JSON.parse(stdout)).toEqual({ iterations: 30, dropped: 0 })
    const firstSecond = exchanges.filter((e) => e.at < 1000).length
    expect(firstSecond).toBe(10)
  })
})

describe("a scenario's exec and startTime", () => {
  it('runs the named function from its start time, tagged with its scenario and its tags', async () => {
    const { run, exchanges } = await play('two-scenarios.js')
    expect(run.exitCode).toBe(0)
    const first = exchanges.filter((e) => e.call.tags.scenario === 'first')
    const second = exchanges.filter((e) => e.call.tags.scenario === 'second')
    expect(first.map((e) => new URL(e.call.url).pathname)).toEqual(['/', '/', '/'])
    expect(second.length).toBeGreaterThan(0)
    expect(
      second.every((e) => new URL(e.call.url).pathname === '/later' && e.call.tags.kind === 'late'),
    ).toBe(true)
    expect(Math.min(...second.map((e) => e.at))).toBeGreaterThanOrEqual(500)
  })
})

describe('exec.test.abort()', () => {
  it.each(['ramping-vus', 'constant-arrival-rate', 'constant-vus'])(
    'ends a %s run at once with 108, a scenario not yet started included',
    async (kind) => {
      const startedAt = performance.now()
      const { run } = await play('aborting.js', { KIND: kind })
      expect(run.exitCode).toBe(108)
      // The executors and the later scenario would otherwise wait for their 30 s alarms.
      expect(performance.now() - startedAt).toBeLessThan(15_000)
    },
  )
})
