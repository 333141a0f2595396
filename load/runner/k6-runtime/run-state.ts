// What every part of a running test shares: whether it was aborted (and why), and alarms on the monotonic clock.
import { performance } from 'node:perf_hooks'

/** Why the test stops early, if it does: an abortOnFail threshold (99) or `exec.test.abort()` (108). */
export class TestState {
  exitCode: number | undefined
  reason: string | undefined
  readonly #listeners: (() => void)[] = []

  abort(exitCode: number, reason: string): void {
    if (this.exitCode !== undefined) return
    this.exitCode = exitCode
    this.reason = reason
    for (const listener of this.#listeners) listener()
  }

  onAbort(listener: () => void): void {
    this.#listeners.push(listener)
  }

  get aborted(): boolean {
    return this.exitCode !== undefined
  }
}

export interface Alarm {
  cancel(): void
}

/**
 * The alarms a run's scenarios wait on. An abort fires every pending one at once, so whatever waits
 * on its alarm (a scenario's start, its deadline, the next arrival) settles and looks at the test's
 * state, instead of waiting forever for an alarm cancelled under it. Fired alarms are forgotten.
 */
export class Alarms {
  readonly #pending = new Map<Alarm, () => void>()

  /** `fire` once `performance.now()` has reached `at`, or at once when the test aborts first. */
  at(at: number, fire: () => void): void {
    const alarm = alarmAt(at, () => {
      this.#pending.delete(alarm)
      fire()
    })
    this.#pending.set(alarm, fire)
  }

  /** Fires every pending alarm now. */
  fireAll(): void {
    const pending = [...this.#pending]
    this.#pending.clear()
    for (const [alarm, fire] of pending) {
      alarm.cancel()
      fire()
    }
  }
}

/**
 * Calls `fire` once `performance.now()` has reached `at`, never before: Node's timers count whole
 * milliseconds from the event loop's cached time, so a `setTimeout` for the time left can fire up
 * to a millisecond early (a scenario's VUs stopped before its duration is up).
 */
export function alarmAt(at: number, fire: () => void): Alarm {
  let timer: NodeJS.Timeout
  const check = () => {
    const left = at - performance.now()
    if (left > 0) timer = setTimeout(check, Math.ceil(left))
    else fire()
  }
  timer = setTimeout(check, Math.max(0, Math.ceil(at - performance.now())))
  return { cancel: () => clearTimeout(timer) }
}
