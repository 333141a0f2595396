// How each executor drives its VUs over time: closed loops (fixed or ramping VUs) and open arrival rates.
import { performance } from 'node:perf_hooks'
import { EXIT_CODES } from './errors.js'
import type { MetricRegistry } from './metric-registry.js'
import type { Scenario } from './options.js'
import { type Alarms, alarmAt, type TestState } from './run-state.js'
import { iterationStartMs, vuSteps } from './schedules.js'
import type { VuHandle } from './vu-handle.js'

/** What a scenario's executor needs from the run: the clock, setup's data, the metrics, the VUs busy. */
export interface PlayContext {
  /** `performance.now()` when the scenarios started. */
  readonly startedAt: number
  readonly setupJson: string | null
  /** `options.tags`, on every sample. */
  readonly tags: Readonly<Record<string, string>>
  readonly registry: MetricRegistry
  readonly test: TestState
  /** VUs running a command now (the `vus` gauge); stopped when the test aborts. */
  readonly busy: Set<VuHandle>
  /** Alarms fired at once when the test aborts. */
  readonly alarms: Alarms
  warn(text: string): void
}

/** Plays one scenario on the VUs it holds; resolves once none of them runs any more. */
export function playScenario(
  scenario: Scenario,
  vus: readonly VuHandle[],
  context: PlayContext,
): Promise<void> {
  const player = new ScenarioPlayer(scenario, context)
  switch (scenario.executor) {
    case 'ramping-vus':
      return player.ramp(vus)
    case 'constant-arrival-rate':
    case 'ramping-arrival-rate':
      return player.arrive(vus)
    default:
      return player.loop(vus)
  }
}

class ScenarioPlayer {
  readonly #scenario: Scenario
  readonly #context: PlayContext
  readonly #begin: number
  /** On the clock testRunDurationMs is measured by, so the run is never shorter than planned. */
  readonly #deadline: number
  /** One Int32 all the scenario's VUs claim iteration numbers from (`exec.scenario.iterationInTest`). */
  readonly #counter = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT)

  constructor(scenario: Scenario, context: PlayContext) {
    this.#scenario = scenario
    this.#context = context
    this.#begin = context.startedAt + scenario.startTimeMs
    this.#deadline = this.#begin + scenario.maxDurationMs
  }

  /** constant-vus, per-vu-iterations, shared-iterations: every VU loops until its count or the deadline. */
  loop(vus: readonly VuHandle[]): Promise<void> {
    const { executor, iterations } = this.#scenario
    const runs = vus.map((vu) =>
      this.#run(vu, executor === 'per-vu-iterations' ? iterations : Number.POSITIVE_INFINITY),
    )
    return this.#settle(runs, vus)
  }

  /** ramping-vus: VUs started and released (after their iteration, or gracefulRampDown) on the stages' line. */
  ramp(vus: readonly VuHandle[]): Promise<void> {
    const idle = [...vus]
    const active: VuHandle[] = []
    const runs: Promise<void>[] = []
    let target = 0
    const apply = () => {
      if (this.#context.test.aborted) return
      while (active.length < target && idle.length > 0 && performance.now() < this.#deadline) {
        const vu = idle.shift()!
        active.push(vu)
        runs.push(
          this.#run(vu, Number.POSITIVE_INFINITY).then(() => {
            const at = active.indexOf(vu)
            if (at >= 0) active.splice(at, 1)
            idle.push(vu)
            apply()
          }),
        )
      }
      // The VUs started last leave first, each finishing its iteration within gracefulRampDown.
      while (active.length > target) {
        const vu = active.pop()!
        vu.release()
        this.#alarm(performance.now() + this.#scenario.gracefulRampDownMs, () => {
          if (this.#context.busy.has(vu)) vu.stop()
        })
      }
    }
    for (const step of vuSteps(this.#scenario.startVUs, this.#scenario.stages))
      this.#alarm(this.#begin + step.atMs, () => {
        target = step.count
        apply()
      })
    return new Promise((resolve) =>
      this.#alarm(this.#deadline, () => void this.#settle(runs, vus).then(resolve)),
    )
  }

  /**
   * Arrival rates: iteration `i` starts at its time on a free VU (preAllocatedVUs first, then up to
   * maxVUs); with none free it is dropped and counted in `dropped_iterations`, as k6 does.
   */
  arrive(vus: readonly VuHandle[]): Promise<void> {
    const { preAllocatedVUs, maxVUs, startRate, stages, name } = this.#scenario
    const idle = vus.slice(0, preAllocatedVUs).reverse()
    const spare = vus.slice(preAllocatedVUs, maxVUs)
    const runs: Promise<void>[] = []
    let warned = false
    let next = 0
    const tick = () => {
      const now = performance.now()
      for (;;) {
        if (this.#context.test.aborted) return
        const at = this.#begin + iterationStartMs(startRate, stages, next)
        if (at >= this.#deadline) return
        if (at > now) return this.#alarm(at, tick)
        next++
        const vu = idle.pop() ?? spare.shift()
        if (vu) {
          runs.push(this.#run(vu, 1).then(() => void idle.push(vu)))
          continue
        }
        this.#context.registry.add('dropped_iterations', 1, { ...this.#tags(), scenario: name })
        if (!warned)
          this.#context.warn(
            `Insufficient VUs, reached ${maxVUs} active VUs and cannot initialize more  executor=${this.#scenario.executor} scenario=${name}`,
          )
        warned = true
      }
    }
    tick()
    return new Promise((resolve) =>
      this.#alarm(this.#deadline, () => void this.#settle(runs, vus).then(resolve)),
    )
  }

  #tags(): Record<string, string> {
    return { ...this.#context.tags, ...this.#scenario.tags }
  }

  #alarm(at: number, fire: () => void): void {
    this.#context.alarms.at(at, fire)
  }

  /** Waits for the runs, stopping what still runs once the graceful stop is over. */
  async #settle(runs: readonly Promise<void>[], vus: readonly VuHandle[]): Promise<void> {
    const hardStop = alarmAt(this.#deadline + this.#scenario.gracefulStopMs, () => {
      for (const vu of vus) if (this.#context.busy.has(vu)) vu.stop()
    })
    await Promise.all(runs)
    hardStop.cancel()
  }

  /**
   * One VU's iterations of the scenario, until `iterations`, the deadline, a release or a stop.
   * Never rejects: a VU that fails (its worker died) aborts the test with k6's 107.
   */
  async #run(vu: VuHandle, iterations: number): Promise<void> {
    const { busy, test, setupJson } = this.#context
    const { name, executor, exec } = this.#scenario
    busy.add(vu)
    try {
      await vu.command({
        t: 'run',
        data: setupJson,
        scenario: {
          name,
          executor,
          exec,
          tags: this.#tags(),
          msLeft: this.#deadline - performance.now(),
          startedAt: Date.now() - (performance.now() - this.#begin),
          iterations,
          counter: this.#counter,
          sharedTotal: executor === 'shared-iterations' ? this.#scenario.iterations : null,
        },
      })
    } catch (error) {
      test.abort(EXIT_CODES.scriptError, `scenario "${name}": ${(error as Error).message}`)
    } finally {
      busy.delete(vu)
      vu.resume()
      if (test.aborted) vu.stop()
    }
  }
}
