import type { Clock, ClockTimer } from '../src/pool/clock.js'

interface Timer {
  readonly intervalMs: number
  next: number
  readonly tick: () => void
}

/** A clock that moves only when told, running due timers in order: monitor logic without sleeps. */
export class ManualClock implements Clock {
  #now = 0
  readonly #timers = new Set<Timer>()

  now(): number {
    return this.#now
  }

  every(intervalMs: number, tick: () => void): ClockTimer {
    const timer: Timer = { intervalMs, next: this.#now + intervalMs, tick }
    this.#timers.add(timer)
    return { cancel: () => this.#timers.delete(timer) }
  }

  /** Timers still running. */
  get timers(): number {
    return this.#timers.size
  }

  advance(ms: number): void {
    const target = this.#now + ms
    for (;;) {
      const due = [...this.#timers].filter((t) => t.next <= target).sort((a, b) => a.next - b.next)[0]
      if (!due) break
      this.#now = due.next
      due.next += due.intervalMs
      due.tick()
    }
    this.#now = target
  }
}
