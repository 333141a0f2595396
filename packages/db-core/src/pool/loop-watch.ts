import { performance } from 'node:perf_hooks'

// A loop that has not turned for this long may hold socket news unread (a FIN, a 57P01).
const STALL_MS = 20

/**
 * Notices an event loop that was held up (synchronous work, a long GC pause, CPU throttling, a
 * frozen process) and lets it read its sockets before an idle connection is handed out. Sockets are
 * read only in the loop's poll phase: while the process was busy, the server's closes and
 * termination messages wait there unread, and the pool would hand out connections the server
 * already closed. In steady state it costs one `setImmediate` per loop turn with checkouts.
 */
export class LoopWatch {
  #lastTurnAt = performance.now()
  #markPending = false

  readonly #mark = () => {
    this.#markPending = false
    this.#lastTurnAt = performance.now()
  }

  /** Whether no loop turn was seen for longer than a loop turn should take. */
  stalled(now: number): boolean {
    const stalled = now - this.#lastTurnAt > STALL_MS
    if (!this.#markPending) {
      this.#markPending = true
      setImmediate(this.#mark)
    }
    return stalled
  }

  /**
   * Resolves once the loop has been through its poll phase twice: what had arrived on the sockets is
   * read. Twice, because libuv stops reading a socket after a short read (a server's last message)
   * and sees the FIN behind it only at the next poll.
   */
  settle(): Promise<void> {
    // The first hop may land in this turn's check phase, before any poll; each later one follows a poll.
    return new Promise((resolve) => setImmediate(() => setImmediate(() => setImmediate(resolve))))
  }
}
