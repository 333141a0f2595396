// One interval for many deadlines: a checkout's wait is bounded without a timer of its own.
import { performance } from 'node:perf_hooks'

/** A deadline being watched: `expire` runs once `performance.now()` has passed `at`, unless settled first. */
export interface Deadline {
  readonly at: number
  readonly expire: () => void
}

/**
 * Deadlines checked by one unref'd interval, every `resolutionMs`, instead of a `setTimeout` each:
 * watching and settling one is a set insertion and deletion, where a timer is an allocation, a
 * timer-list insertion and a removal (about 1 µs a checkout). A deadline expires no earlier than
 * its instant and at most `resolutionMs` later. The interval runs only while a deadline is
 * watched, and never keeps the process alive.
 *
 * ```ts
 * const sweep = new DeadlineSweep(100)
 * const deadline = sweep.watch(performance.now() + 30_000, () => console.log('too late'))
 * sweep.settle(deadline)
 * ```
 */
export class DeadlineSweep {
  readonly #resolutionMs: number
  readonly #watched = new Set<Deadline>()
  #timer: NodeJS.Timeout | undefined

  constructor(resolutionMs: number) {
    this.#resolutionMs = resolutionMs
  }

  /** Watches `at` (a `performance.now()` instant): `expire` runs once it has passed. */
  watch(at: number, expire: () => void): Deadline {
    const deadline = { at, expire }
    this.#watched.add(deadline)
    this.#timer ??= setInterval(() => this.#sweep(), this.#resolutionMs).unref()
    return deadline
  }

  /** What the deadline bounded ended in time: it no longer expires. */
  settle(deadline: Deadline): void {
    this.#watched.delete(deadline)
  }

  #sweep(): void {
    const now = performance.now()
    for (const deadline of this.#watched) {
      if (deadline.at > now) continue
      this.#watched.delete(deadline)
      deadline.expire()
    }
    if (this.#watched.size === 0) {
      clearInterval(this.#timer)
      this.#timer = undefined
    }
  }
}
