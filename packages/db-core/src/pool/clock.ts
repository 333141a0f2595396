import { performance } from 'node:perf_hooks'

/** An interval timer a {@link Clock} started. */
export interface ClockTimer {
  cancel(): void
}

/**
 * Time as the pool's monitors see it: a monotonic `now()` in milliseconds and repeating timers
 * that never keep the process alive. Injected so their logic is tested without real sleeps.
 *
 * ```ts
 * const timer = systemClock.every(1000, () => console.log(systemClock.now()))
 * timer.cancel()
 * ```
 */
export interface Clock {
  now(): number
  every(intervalMs: number, tick: () => void): ClockTimer
}

/** The real clock: `performance.now()` and unref'd `setInterval`. */
export const systemClock: Clock = {
  now: () => performance.now(),
  every(intervalMs, tick) {
    const timer = setInterval(tick, intervalMs).unref()
    return { cancel: () => clearInterval(timer) }
  },
}
