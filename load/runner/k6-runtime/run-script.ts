// `k6 run` on the built-in engine: the script loaded, its VUs started, setup, the scenarios, teardown, the verdicts.
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { EXIT_CODES, K6ScriptError } from './errors.js'
import { type PlayContext, playScenario } from './executors.js'
import { type Exchange, HttpBridge } from './http-bridge.js'
import { MetricRegistry } from './metric-registry.js'
import { maxVUs, type RunOptions, readOptions, type Scenario } from './options.js'
import type { Sample } from './protocol.js'
import { Alarms, TestState } from './run-state.js'
import { loadScript } from './script-loader.js'
import { CheckTally, type SummaryData, summaryData } from './summary.js'
import { textSummary } from './text-summary.js'
import { evaluateThreshold, prepareThresholds, type Threshold, type ThresholdOutcome } from './thresholds.js'
import { type Ready, VuError, VuHandle, type VuHooks } from './vu-handle.js'

export interface ScriptRunOptions {
  /** The k6 script (TypeScript or JavaScript). */
  readonly script: string
  /** `__ENV`, as `k6 run -e KEY=VALUE` gives it. */
  readonly env: Readonly<Record<string, string>>
  /** Called when the scenarios start (after setup()), with `performance.now()`. */
  readonly onStart?: (startedAt: number) => void
  /** Sees every HTTP exchange of the VUs (setup's and teardown's included). */
  readonly onExchange?: (exchange: Exchange) => void
  /** Where console output goes; stderr, k6-style, by default. */
  readonly onConsole?: (level: string, text: string, vuId: number) => void
  /** The directory handleSummary's file outputs are relative to; the process's by default. */
  readonly cwd?: string
  /** Where `stdout` of handleSummary (or the default summary) goes; process.stdout by default. */
  readonly stdout?: (text: string) => void
}

export interface ScriptRun {
  /** k6's: 0, 99 (a threshold breached), 107 (setup or teardown threw), 108 (`exec.test.abort()`). */
  readonly exitCode: number
  /** setup()'s result, as the VUs got it. */
  readonly setupData: unknown
  readonly thresholds: readonly ThresholdOutcome[]
  readonly summary: SummaryData
}

const ABORT_EVAL_MS = 2000
const VU_GAUGE_MS = 1000

/**
 * Runs a k6 script as `k6 run` does: init code in every VU, `setup()`, the scenarios' iterations
 * of the default (or `exec`) function per VU, `teardown()`, thresholds, then `handleSummary()`
 * (or k6's text summary). Each VU is a worker thread; its HTTP calls are made here.
 * Fails with {@link K6ScriptError} before any VU runs when the script is outside the supported subset.
 *
 * ```ts
 * const run = await runScript({ script: 'load/k6/steady.ts', env: { BASE_URL, DURATION: '5' } })
 * process.exitCode = run.exitCode
 * ```
 */
export async function runScript(options: ScriptRunOptions): Promise<ScriptRun> {
  const loaded = await loadScript(options.script)
  const registry = new MetricRegistry()
  const checks = new CheckTally()
  const print = options.stdout ?? ((text: string) => process.stdout.write(text))
  const consoleLine = options.onConsole ?? printConsole(performance.now())
  const bridge = new HttpBridge(registry, options.onExchange)
  const test = new TestState()
  const shared: Record<string, readonly string[]> = {}
  const hooks: VuHooks = {
    bridge,
    onSamples: (samples) => ingest(registry, checks, samples, consoleLine),
    onMetric: (m) => registry.define(m.name, m.type, m.isTime ? 'time' : 'default'),
    onConsole: consoleLine,
    onAbort: (reason) => test.abort(EXIT_CODES.scriptAborted, `test aborted: ${reason}`),
    onShared: (name, items) => {
      shared[name] = items
    },
  }
  const env = { ...options.env }
  const vus: VuHandle[] = []
  try {
    // VU 0 runs the init code first: its options and metrics decide the rest.
    const lead = new VuHandle(0, loaded.url, env, hooks)
    vus.push(lead)
    const ready = await initOrExplain(lead)
    for (const m of ready.metrics) hooks.onMetric(m)
    const runOptions = readOptions(ready.options)
    for (const scenario of runOptions.scenarios)
      if (!ready.exports.includes(scenario.exec))
        throw new K6ScriptError(
          `scenario "${scenario.name}" runs ${scenario.exec === 'default' ? 'the default function' : `"${scenario.exec}"`}, which the script does not export`,
        )
    const thresholds = prepareThresholds(registry, runOptions.thresholds)
    const count = maxVUs(runOptions.scenarios)
    for (let id = 1; id <= count; id++) vus.push(new VuHandle(id, loaded.url, env, hooks, shared))
    await Promise.all(vus.slice(1).map(initOrExplain))
    registry.add('vus_max', count, {})

    let setupData: unknown
    let setupJson: string | null = null
    if (ready.exports.includes('setup')) {
      setupJson = (await withTimeout(lead.command({ t: 'setup' }), runOptions.setupTimeoutMs, 'setup()')) as
        | string
        | null
      setupData = setupJson === null ? undefined : JSON.parse(setupJson)
    }

    const startedAt = performance.now()
    options.onStart?.(startedAt)
    await playScenarios(runOptions, vus.slice(1), setupJson, registry, thresholds, startedAt, test, (text) =>
      consoleLine('warn', text, 0),
    )
    const testRunDurationMs = performance.now() - startedAt
    if (bridge.observerError) throw bridge.observerError

    if (ready.exports.includes('teardown'))
      await withTimeout(
        lead.command({ t: 'teardown', data: setupJson }),
        runOptions.teardownTimeoutMs,
        'teardown()',
      )

    const outcomes = thresholds.map((t) => evaluateThreshold(t, testRunDurationMs))
    const summary = summaryData({
      registry,
      outcomes,
      checks,
      summaryTrendStats: runOptions.summaryTrendStats,
      testRunDurationMs,
      setupData,
    })
    await writeSummary(lead, ready.exports.includes('handleSummary'), summary, {
      print,
      consoleLine,
      cwd: options.cwd ?? process.cwd(),
    })
    const exitCode =
      test.exitCode ?? (outcomes.every((o) => o.ok) ? EXIT_CODES.ok : EXIT_CODES.thresholdsFailed)
    if (test.reason) consoleLine('error', test.reason, 0)
    return { exitCode, setupData, thresholds: outcomes, summary }
  } finally {
    await Promise.all(vus.map((vu) => vu.terminate()))
    await bridge.close()
    await loaded.dispose()
  }
}

/**
 * A script's init code run in one VU, without setup or load: its `options`, the custom metrics it
 * declares and its exported functions (as `k6 inspect` shows them).
 *
 * ```ts
 * const { options } = await inspectScript('load/k6/steady.ts', { DURATION: '60' })
 * ```
 */
export async function inspectScript(
  script: string,
  env: Readonly<Record<string, string>>,
): Promise<Pick<Ready, 'options' | 'metrics' | 'exports'>> {
  const loaded = await loadScript(script)
  const registry = new MetricRegistry()
  const bridge = new HttpBridge(registry, undefined)
  const vu = new VuHandle(
    0,
    loaded.url,
    { ...env },
    {
      bridge,
      onSamples: () => undefined,
      onMetric: () => undefined,
      onConsole: printConsole(performance.now()),
      onAbort: () => undefined,
      onShared: () => undefined,
    },
  )
  try {
    const { options, metrics, exports } = await initOrExplain(vu)
    return { options, metrics, exports }
  } finally {
    await vu.terminate()
    await bridge.close()
    await loaded.dispose()
  }
}

/**
 * Starts each scenario at its start time on the VUs it holds (taken from the free ones, given back
 * when it ends) and resolves when every scenario ended; an abortOnFail threshold breached, or
 * `exec.test.abort()`, stops them all.
 */
async function playScenarios(
  runOptions: RunOptions,
  pool: VuHandle[],
  setupJson: string | null,
  registry: MetricRegistry,
  thresholds: readonly Threshold[],
  startedAt: number,
  test: TestState,
  warn: (text: string) => void,
): Promise<void> {
  const free = [...pool]
  const context: PlayContext = {
    startedAt,
    setupJson,
    tags: runOptions.tags,
    registry,
    test,
    busy: new Set(),
    alarms: new Alarms(),
    warn,
  }
  const gauge = setInterval(() => registry.add('vus', context.busy.size, {}), VU_GAUGE_MS)
  const aborting = thresholds.filter((t) => t.abortOnFail)
  const abortCheck =
    aborting.length > 0
      ? setInterval(() => {
          const elapsed = performance.now() - startedAt
          for (const t of aborting) {
            if (elapsed < t.delayAbortEvalMs) continue
            if (!evaluateThreshold(t, elapsed).ok)
              test.abort(
                EXIT_CODES.thresholdsFailed,
                `threshold ${t.key}: ${t.expression} breached: the test stops (abortOnFail)`,
              )
          }
        }, ABORT_EVAL_MS)
      : undefined
  test.onAbort(() => {
    context.alarms.fireAll()
    for (const vu of context.busy) vu.stop()
  })
  const play = (scenario: Scenario): Promise<void> =>
    new Promise<void>((resolve) => {
      context.alarms.at(startedAt + scenario.startTimeMs, () => {
        if (test.aborted) return resolve()
        const vus = free.splice(0, scenario.maxVUs)
        void playScenario(scenario, vus, context).then(() => {
          free.push(...vus)
          free.sort((a, b) => a.id - b.id)
          resolve()
        })
      })
    })
  try {
    await Promise.all(runOptions.scenarios.map(play))
  } finally {
    clearInterval(gauge)
    clearInterval(abortCheck)
    registry.add('vus', 0, {})
  }
}

/** Waits for a VU's init code; an exception there is the script's fault, reported as at load time. */
async function initOrExplain(vu: VuHandle) {
  try {
    return await vu.ready
  } catch (error) {
    throw new K6ScriptError(`the script's init code failed in VU ${vu.id}: ${(error as Error).message}`)
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      promise.catch((error: unknown) => {
        throw error instanceof VuError ? new K6ScriptError(`${what} threw: ${error.message}`) : error
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new K6ScriptError(`${what} did not end within ${ms} ms`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** handleSummary()'s outputs (stdout, stderr, files), or k6's text summary without one. */
async function writeSummary(
  lead: VuHandle,
  handled: boolean,
  summary: SummaryData,
  {
    print,
    consoleLine,
    cwd,
  }: {
    print: (text: string) => void
    consoleLine: (level: string, text: string, vuId: number) => void
    cwd: string
  },
): Promise<void> {
  if (!handled) return print(textSummary(summary))
  let outputs: unknown
  try {
    outputs = await lead.command({ t: 'summary', data: summary })
  } catch (error) {
    // As k6: the error is logged and the default summary printed instead.
    consoleLine('error', `handleSummary() threw: ${(error as Error).message}`, 0)
    return print(textSummary(summary))
  }
  // As k6's summary wrapper: a handleSummary that returns nothing leaves k6's own summary in place.
  if (!outputs) return print(textSummary(summary))
  for (const [target, content] of Object.entries(outputs as Record<string, unknown>)) {
    if (typeof content !== 'string') {
      consoleLine('error', `handleSummary() returned a ${typeof content} for ${target}, not a string`, 0)
      continue
    }
    if (target === 'stdout') print(content)
    else if (target === 'stderr') process.stderr.write(content)
    else await writeFile(path.resolve(cwd, target), content)
  }
}

/** Adds a batch of a VU's samples to the metrics, tallying checks by name. */
function ingest(
  registry: MetricRegistry,
  checks: CheckTally,
  samples: readonly Sample[],
  consoleLine: (level: string, text: string, vuId: number) => void,
): void {
  for (const [name, value, tags] of samples) {
    if (name === 'checks') checks.add(tags.group ?? '', tags.check ?? '', value !== 0)
    if (name === 'group_duration') checks.seeGroup(tags.group ?? '')
    try {
      registry.add(name, value, tags)
    } catch (error) {
      consoleLine('error', (error as Error).message, 0)
    }
  }
}

/** k6's log lines on stderr: `INFO[0003] text  source=console`. */
function printConsole(origin: number) {
  return (level: string, text: string) => {
    const seconds = String(Math.floor((performance.now() - origin) / 1000)).padStart(4, '0')
    process.stderr.write(`${level.slice(0, 4).toUpperCase()}[${seconds}] ${text}  source=console\n`)
  }
}
