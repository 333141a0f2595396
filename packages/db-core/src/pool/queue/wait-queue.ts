// The checkout's wait queue: a list ordered by deadline, entered and left in O(1).

/** One checkout waiting for a connection. */
export interface Waiter {
  /** When it entered the queue (`performance.now()`): its queue delay runs from here. */
  readonly queuedAt: number
  /** When its wait ends, the pool's acquire deadline or the caller's, whichever comes first. */
  readonly deadline: number
  /** Whether {@link deadline} is the caller's own, sooner than the pool's. */
  readonly callerDeadline: boolean
  prev: Waiter | undefined
  next: Waiter | undefined
  /** Still in the queue: neither served, refused nor gone. */
  queued: boolean
}

/**
 * Waiters in deadline order, the soonest at the head: a doubly linked list whose links live on the
 * waiters themselves, so entering (at the tail, where a new checkout's deadline belongs) and leaving
 * (wherever it stands) take no scan and no allocation. A waiter whose deadline is sooner than those
 * behind it (a caller's short deadline, a retry) walks back from the tail past the later ones only.
 * With one acquire timeout for all, deadline order is arrival order: the head is the oldest waiter,
 * the tail the newest.
 *
 * ```ts
 * const queue = new WaitQueue()
 * const waiter = { queuedAt: 0, deadline: 30_000, callerDeadline: false, prev: undefined, next: undefined, queued: false }
 * queue.enter(waiter)
 * queue.leave(waiter)
 * ```
 */
export class WaitQueue {
  #head: Waiter | undefined
  #tail: Waiter | undefined
  #length = 0

  get length(): number {
    return this.#length
  }

  /** The waiter whose deadline comes first: the oldest, with one timeout for all. */
  get head(): Waiter | undefined {
    return this.#head
  }

  /** The waiter whose deadline comes last: the newest, with one timeout for all. */
  get tail(): Waiter | undefined {
    return this.#tail
  }

  enter(waiter: Waiter): void {
    let after = this.#tail
    while (after && after.deadline > waiter.deadline) after = after.prev
    waiter.prev = after
    waiter.next = after ? after.next : this.#head
    if (waiter.next) waiter.next.prev = waiter
    else this.#tail = waiter
    if (after) after.next = waiter
    else this.#head = waiter
    waiter.queued = true
    this.#length++
  }

  /** Takes `waiter` out, wherever it stands; nothing when it already left. */
  leave(waiter: Waiter): void {
    if (!waiter.queued) return
    if (waiter.prev) waiter.prev.next = waiter.next
    else this.#head = waiter.next
    if (waiter.next) waiter.next.prev = waiter.prev
    else this.#tail = waiter.prev
    waiter.prev = undefined
    waiter.next = undefined
    waiter.queued = false
    this.#length--
  }
}
