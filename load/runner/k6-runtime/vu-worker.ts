// The entry of each VU's worker thread: imports the script (its init code), then runs what the main thread asks.
import { format } from 'node:util'
import { workerData } from 'node:worker_threads'
import type { Command, ScenarioRun, VuWorkerData } from './protocol.js'
import { IterationInterrupted, TestAborted, vu } from './vu-context.js'

type ScriptModule = Record<string, unknown> & { options?: unknown }

const data = workerData as VuWorkerData
const context = vu()
const globals = globalThis as Record<string, unknown>
globals.__ENV = data.env
globals.__VU = data.vuId
globals.__ITER = 0
// console goes to the main thread, which prints it as k6 does and never interleaves it mid-line.
const say =
  (level: 'info' | 'warn' | 'error' | 'debug') =>
  (...values: unknown[]) =>
    context.post({ t: 'console', level, text: format(...values) })
globals.console = {
  log: say('info'),
  info: say('info'),
  warn: say('warn'),
  error: say('error'),
  debug: say('debug'),
}

let script: ScriptModule
try {
  script = (await import(data.scriptUrl)) as ScriptModule
  context.options = script.options ?? {}
  context.inInit = false
  context.post({
    t: 'ready',
    metrics: context.declared,
    exports: Object.keys(script).filter((name) => typeof script[name] === 'function'),
    options: (script.options ?? {}) as Record<string, unknown>,
  })
} catch (error) {
  context.post({ t: 'failed', error: describe(error), samples: [] })
  throw error
}

data.port.on('message', (command: Command) => {
  try {
    const result = handle(command)
    context.post({ t: 'done', result, samples: context.takeSamples() })
  } catch (error) {
    context.post({ t: 'failed', error: describe(error), samples: context.takeSamples() })
  }
})

function handle(command: Command): unknown {
  switch (command.t) {
    case 'setup': {
      const result = inGroup('::setup', () => callExport('setup'))
      // k6 hands setup()'s result to the VUs as JSON.
      return result === undefined ? null : JSON.stringify(result)
    }
    case 'teardown':
      inGroup('::teardown', () => callExport('teardown', parse(command.data)))
      return undefined
    case 'summary':
      return callExport('handleSummary', command.data)
    case 'run':
      runScenario(command.scenario, parse(command.data))
      return undefined
  }
}

function callExport(name: string, ...args: unknown[]): unknown {
  const fn = script[name]
  return typeof fn === 'function' ? (fn as (...a: unknown[]) => unknown)(...args) : undefined
}

/** setup() and teardown() run in groups of their own, as k6 tags their samples. */
function inGroup<T>(group: string, fn: () => T): T {
  context.group = group
  context.retag()
  try {
    return fn()
  } finally {
    context.group = ''
    context.retag()
  }
}

function parse(json: string | null): unknown {
  return json === null ? undefined : JSON.parse(json)
}

/** Iterations of the scenario's function until its deadline, its iteration count, or a stop. */
function runScenario(scenario: ScenarioRun, setupData: unknown): void {
  const fn = script[scenario.exec]
  if (typeof fn !== 'function')
    throw new Error(
      `scenario "${scenario.name}" runs "${scenario.exec}", which the script does not export as a function`,
    )
  context.scenario = scenario
  if (context.lastScenario !== scenario.name) context.iterationInScenario = 0
  context.lastScenario = scenario.name
  context.retag()
  const counter = new Int32Array(scenario.counter)
  const deadline = performance.now() + scenario.msLeft
  try {
    for (let own = 0; own < scenario.iterations; own++) {
      if (performance.now() >= deadline || context.stopped() || context.released()) return
      const claimed = Atomics.add(counter, 0, 1)
      if (scenario.sharedTotal !== null && claimed >= scenario.sharedTotal) return
      context.iterationInTest = claimed
      globals.__ITER = context.iterationInScenario
      const started = performance.now()
      try {
        fn(setupData)
      } catch (error) {
        if (error instanceof IterationInterrupted || error instanceof TestAborted) return
        // k6 logs the exception and counts the iteration; the VU goes on with the next one.
        context.post({ t: 'console', level: 'error', text: describe(error) })
      }
      context.record('iteration_duration', performance.now() - started)
      context.record('iterations', 1)
      context.iterationInScenario++
      context.iterationInInstance++
      context.flushIfDue()
    }
  } finally {
    context.scenario = null
    context.retag()
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error)
}
