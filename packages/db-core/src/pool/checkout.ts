// The checkout: one deadline over queueing, connecting, pre-pings and retries past dead connections,
// and what a failure means in db-core's terms.
import { performance } from 'node:perf_hooks'
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import { context } from '@opentelemetry/api'
import type pg from 'pg'
import type { PoolSettings, TlsSettings } from '../config/settings.js'
import { isCapacityRefusal, isConnectionError } from '../connection-errors.js'
import {
  DatabaseAuthError,
  DatabaseTlsError,
  DatabaseUnavailableError,
  PoolOverloadedError,
  PoolTimeoutError,
} from '../errors.js'
import type { DbLogger } from '../logging/db-logger.js'
import { queueTimeout, translateAcquireError, unavailableFor } from './acquire-errors.js'
import type { DatabaseAvailability } from './availability.js'
import type { CapacityGate } from './capacity-gate.js'
import type { ConnectionRegistry } from './connection-registry.js'
import { HostRefusedError } from './host-selection.js'
import type { LeakDetector } from './leak-detector.js'
import type { LoopWatch } from './loop-watch.js'
import type { MonitoredClient } from './monitored-client.js'
import type { PoolCounters } from './pool-stats.js'
import type { PoolTelemetry } from './pool-telemetry.js'
import { CheckoutSpan, type PoolTracing } from './pool-tracing.js'
import { needsPing, ping } from './pre-ping.js'
import { type CheckoutQueue, DIAL_TURN } from './queue/checkout-queue.js'
import { currentDeadline } from './queue/deadline-scope.js'
import type { PgPoolCallback, PgPoolStore } from './queue/pg-pool-adapter.js'
import type { QueueMonitor } from './queue-monitor.js'
import { socketClosed } from './socket-state.js'
import type { WriteRefusals } from './write-refusals.js'

// The "error" a retired connection is released with: pg-pool closes a client released with one.
const RECYCLED = new Error('connection recycled')

// The "error" a connection the server already closed is released with.
const SERVER_CLOSED = new Error('connection closed by the server')

// The "error" a connection whose server refused a write as read-only is released with.
const READ_ONLY_SERVER = new Error('the server no longer accepts writes')

/** The instants (`performance.now()`) a checkout's wait is bounded by. */
interface CheckoutBounds {
  /** When it gives up: the pool's deadline or the caller's, the sooner. */
  readonly deadline: number
  readonly poolDeadline: number
  /** The caller's own ({@link withDeadline}), when it gave one. */
  readonly callers: number | undefined
  /**
   * The deadline is sooner than the acquire timeout, so pg-pool's connect timer no longer bounds
   * a new connection alone.
   */
  readonly short: boolean
}

/** How a checkout ends: with a connection, or with what to throw. */
export type CheckoutDone = (error: unknown, client?: pg.PoolClient) => void

/** The pool's parts a checkout reads and reports to. */
export interface CheckoutContext {
  readonly settings: PoolSettings
  readonly tls: TlsSettings
  readonly counters: PoolCounters
  readonly logger: DbLogger
  readonly registry: ConnectionRegistry
  readonly writeRefusals: WriteRefusals
  readonly availability: DatabaseAvailability
  readonly capacity: CapacityGate
  readonly loopWatch: LoopWatch
  readonly queueMonitor: QueueMonitor
  readonly telemetry: PoolTelemetry
  readonly tracing: PoolTracing
  readonly leakDetector: LeakDetector | undefined
  readonly onAcquire: ((waitMs: number) => void) | undefined
  /** pg-pool's connections: the idle ones to hand over, room to open more. */
  readonly store: PgPoolStore
  /** The one wait queue, when neither is there. */
  readonly queue: CheckoutQueue
}

/** What pg-pool answered to a checkout's first request, made outside {@link Checkouts.#run}. */
type FirstAttempt = { readonly startedAt: number } & (
  | { readonly client: pg.PoolClient; readonly error?: undefined }
  | { readonly client?: undefined; readonly error: unknown }
)

/**
 * Checks out connections for the pool: waits for a free or new one, pre-pings it when it has been
 * idle (or when the pool lost a connection since it last proved alive), retires it past its
 * lifetime, passes over dead and read-only ones, and waits for an unreachable database through the
 * one reconnect loop, all within one acquire deadline that ends in {@link PoolTimeoutError} (pool
 * full) or {@link DatabaseUnavailableError} (database unreachable).
 */
export class Checkouts {
  readonly #ctx: CheckoutContext

  constructor(ctx: CheckoutContext) {
    this.#ctx = ctx
  }

  /**
   * A checkout under a checkout span when traces are recorded: its steps run with tracing
   * suppressed, and `done` back in the caller's context (pg-pool may call back from the context of
   * whoever released the connection).
   */
  start(caller: Error | undefined, signal: AbortSignal | undefined, done: CheckoutDone): void {
    const span = this.#ctx.tracing.startCheckout()
    if (!span) {
      this.#first(caller, signal, done)
      return
    }
    const finish = context.bind(context.active(), (error: unknown, client?: pg.PoolClient) => {
      span.end(client ? undefined : error, client)
      done(error, client)
    })
    context.with(span.internal, () => this.#first(caller, signal, finish, span))
  }

  /**
   * A connection proven alive: any connection not opened for this very call is pinged whatever its
   * idle time, and an unreachable database is waited for at most `unavailableWaitMs`. For retries
   * after a lost connection, when others in the pool may have been dropped by the server a moment
   * ago without pg having noticed yet. The whole checkout is bounded by that wait (or
   * `unavailableWaitMs` of the settings, when longer), not the acquire timeout: a read run again
   * after its statement timed out on a silent server must not wait a second, longer deadline.
   */
  verified(caller: Error | undefined, unavailableWaitMs: number): Promise<pg.PoolClient> {
    const boundMs = Math.max(unavailableWaitMs, this.#ctx.settings.unavailableWaitMs)
    return this.#ctx.tracing.traceCheckout(() =>
      this.#run(caller, true, unavailableWaitMs, undefined, undefined, boundMs),
    )
  }

  /**
   * A checkout's first step without a promise of its own: with nobody queued ahead, an idle
   * connection is taken from pg-pool synchronously (or a new one opened, bounded by pg-pool's connect
   * timer), and one that needs nothing more (not closed by the server, not to be retired or
   * discarded, no pre-ping due, a loop that was not held up, a database not known down) is handed
   * out in that callback. Anything else, waiting included, continues in {@link #run}, from the
   * connection or error pg-pool gave.
   */
  #first(
    caller: Error | undefined,
    signal: AbortSignal | undefined,
    done: CheckoutDone,
    span?: CheckoutSpan,
  ) {
    const ctx = this.#ctx
    const slow = (first?: FirstAttempt) => {
      this.#run(caller, false, ctx.settings.unavailableWaitMs, signal, first).then(
        (client) => done(undefined, client),
        done,
      )
    }
    const startedAt = performance.now()
    const { store } = ctx
    const idle = store.idle
    if (
      signal?.aborted ||
      ctx.queue.length > 0 ||
      (ctx.loopWatch.stalled(startedAt) && idle > 0) ||
      (ctx.availability.suspect && idle === 0) ||
      (idle === 0 && store.open >= ctx.capacity.limit)
    ) {
      slow()
      return
    }
    let left = false
    const onAbort = () => {
      left = true
      slow({ startedAt, error: signal?.reason })
    }
    const given: PgPoolCallback = (error, client) => {
      signal?.removeEventListener('abort', onAbort)
      if (left) {
        // The caller left while its connection was being opened: it goes straight back.
        client?.release()
        return
      }
      if (error || !client) return slow({ startedAt, error })
      // One clock read for the connection's checks and its hand-out.
      const now = performance.now()
      if (this.#readyAsIs(client, now)) done(undefined, this.#handOut(client, startedAt, caller, now))
      else slow({ startedAt, client })
    }
    // Traced, the rest of the checkout stays in its own context, whoever's release answers it.
    const ask = span ? context.bind(span.internal, given) : given
    if (idle > 0) {
      store.take(ask)
      return
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      store.dial(ask)
    } catch (error) {
      // Thrown before pg-pool started anything (a Client that cannot be made): passed on as it is.
      signal?.removeEventListener('abort', onAbort)
      done(this.#failed(error))
      return
    }
    ctx.queueMonitor.check()
  }

  /** Whether a connection pg-pool just gave (`now`) can be handed out with no further step. */
  #readyAsIs(client: pg.PoolClient, now: number): boolean {
    if ((client as unknown as MonitoredClient).refusalPending) return false
    const { registry, settings } = this.#ctx
    const state = registry.stateOf(client)
    return (
      !(state.checkouts > 1 && socketClosed(client)) &&
      state.removal !== 'read-only' &&
      now < state.retireAt &&
      !needsPing(state, settings, now, false, registry.suspectBefore)
    )
  }

  /**
   * The checkout's state machine. `first`: what pg-pool already answered to a first request made by
   * {@link #first} (its loop and availability checks passed), continued from there.
   */
  async #run(
    caller: Error | undefined,
    alwaysPing: boolean,
    unavailableWaitMs: number,
    signal?: AbortSignal,
    first?: FirstAttempt,
    boundMs?: number,
  ): Promise<pg.PoolClient> {
    const ctx = this.#ctx
    const { availability, registry, counters } = ctx
    if (!first) signal?.throwIfAborted()
    const startedAt = first ? first.startedAt : performance.now()
    const { acquireTimeoutMs, prePingTimeoutMs } = ctx.settings
    // The caller's own deadline (withDeadline), when sooner, bounds every step as the pool's does.
    const callers = currentDeadline()
    const poolBoundMs = Math.min(acquireTimeoutMs, boundMs ?? acquireTimeoutMs)
    const deadlineMs = callers === undefined ? poolBoundMs : Math.min(poolBoundMs, callers - startedAt)
    const deadline = startedAt + deadlineMs
    const bounds = {
      deadline,
      poolDeadline: startedAt + poolBoundMs,
      callers,
      short: deadlineMs < acquireTimeoutMs,
    }
    const waitUntil = Math.min(deadline, startedAt + unavailableWaitMs)
    // After the loop was held up, read what the sockets hold before trusting an idle connection.
    if (!first && ctx.loopWatch.stalled(startedAt) && ctx.store.idle > 0) await ctx.loopWatch.settle()
    let waited = false
    let answered = first
    // The queue gave this checkout its turn to open a connection: it does not queue again for it.
    let turn = false
    const span = CheckoutSpan.current()
    for (;;) {
      // Whether this checkout's request is the one connection attempt a suspect database is given.
      let probing = false
      if (
        !answered &&
        availability.suspect &&
        ctx.store.idle === 0 &&
        (availability.down || ctx.store.open < ctx.capacity.limit)
      ) {
        probing = availability.claimAttempt()
        if (!probing) {
          // Wait for the attempt in flight, or the reconnect loop, instead of dialling too.
          const resumed = availability.wanted()
          if (!waited) counters.checkoutsWaitedForDatabase++
          waited = true
          // An open circuit fails at once, unless the loop had paused: then its first probe is awaited.
          if ((availability.circuitOpen() && !resumed) || !(await availability.waitForNews(waitUntil))) {
            // Through the event loop, not only promise callbacks: a caller that retries at once (no I/O
            // in between) would otherwise hold it, timers, sockets and the reconnect loop's probes too.
            await yieldToEventLoop()
            throw this.#failed(unavailableFor(availability, performance.now() - startedAt))
          }
          continue
        }
      }
      let client: pg.PoolClient
      try {
        if (answered) {
          const { client: given, error } = answered
          answered = undefined
          if (!given) throw this.#translate(error, startedAt)
          client = given
        } else {
          const got = await this.#connection(bounds, turn || probing, signal).catch((error: unknown) => {
            throw this.#translate(error, startedAt, deadlineMs)
          })
          turn = false
          if (got === DIAL_TURN) {
            turn = true
            continue
          }
          client = got
        }
      } catch (error) {
        // One host of several refused: the next is tried at once, as libpq does.
        if (error instanceof DatabaseUnavailableError && error.cause instanceof HostRefusedError) continue
        if (isCapacityRefusal(error)) {
          // Full, not down: wait in pg-pool's queue for a connection the pool holds (the gate keeps
          // pg-pool from dialling); with none held, wait for the reconnect loop as for an outage.
          if (ctx.capacity.connectionsHeld > 0 && performance.now() < deadline) continue
          availability.reportUnreachable(error)
          if (performance.now() < waitUntil && !availability.circuitOpen()) continue
          throw this.#failed(unavailableFor(availability, performance.now() - startedAt))
        }
        if (error instanceof DatabaseUnavailableError && isConnectionError(error.cause)) {
          availability.reportUnreachable(error.cause)
          if (performance.now() < waitUntil && !availability.circuitOpen()) continue
        }
        throw this.#failed(error)
      } finally {
        // After the verdict was reported (a connection opened, or reportUnreachable above).
        if (probing) availability.attemptSettled()
      }
      // A write it just had refused as read-only is still being answered: judge it on the whole answer.
      const refusal = (client as unknown as MonitoredClient).refusalPending
      if (refusal) await refusal
      const state = registry.stateOf(client)
      const now = performance.now()
      if (state.checkouts > 1 && socketClosed(client)) {
        // The server's close already arrived: never hand this one out.
        registry.lost(client, new Error('the server closed the connection while it was idle'))
        span?.discarded('closed by the server')
        client.release(SERVER_CLOSED)
        continue
      }
      if (state.removal === 'read-only') {
        span?.discarded('read-only')
        client.release(READ_ONLY_SERVER)
        continue
      }
      if (now >= state.retireAt) {
        // Past its (jittered) lifetime: retire it between uses, never mid-query, and take another.
        state.removal = 'recycle'
        counters.connectionsRecycled++
        span?.discarded('recycle')
        client.release(RECYCLED)
        continue
      }
      if (!needsPing(state, ctx.settings, now, alwaysPing, registry.suspectBefore)) {
        return this.#handOut(client, startedAt, caller, now)
      }
      counters.prePings++
      span?.prePinged()
      const failure = await ping(
        client,
        Math.min(prePingTimeoutMs, deadline - now),
        ctx.writeRefusals.pingRequirement(state),
      )
      if (!failure) {
        state.validatedAt = performance.now()
        return this.#handOut(client, startedAt, caller, state.validatedAt)
      }
      counters.prePingFailures++
      span?.discarded('pre-ping')
      state.removal = 'pre-ping'
      registry.suspectBefore = performance.now()
      ctx.logger.debug('discarded a connection that failed its pre-ping', {
        error: failure.message,
        idleMs: Math.round(performance.now() - state.lastReleasedAt),
      })
      client.release(failure)
    }
  }

  /**
   * One connection for the loop: an idle one or a new one when nobody waits ahead (or `ahead`: the
   * queue gave this checkout its turn, or it is the one attempt a suspect database is given);
   * otherwise a place in the queue until the sooner of the pool's deadline and the caller's.
   */
  async #connection(
    { deadline, poolDeadline, callers, short }: CheckoutBounds,
    ahead: boolean,
    signal: AbortSignal | undefined,
  ): Promise<pg.PoolClient | typeof DIAL_TURN> {
    signal?.throwIfAborted()
    const { store, queue, capacity, queueMonitor } = this.#ctx
    if (ahead || queue.length === 0) {
      if (store.idle > 0)
        return new Promise((resolve, reject) => store.take((e, c) => (c ? resolve(c) : reject(e))))
      if (store.open < capacity.limit) return this.#dial(signal, short ? deadline : undefined)
    }
    if (performance.now() >= deadline) throw queueTimeout()
    const waiting = queue.wait(poolDeadline, callers, signal)
    queueMonitor.check()
    try {
      return await waiting
    } catch (error) {
      // Refused without waiting: through the event loop, so a caller that retries at once cannot hold it.
      if (error instanceof PoolOverloadedError && error.details.waitedMs === 0) await yieldToEventLoop()
      throw error
    }
  }

  /** A new connection, left at once on abort (or at `deadline`, when given): a late one goes straight back. */
  #dial(signal: AbortSignal | undefined, deadline: number | undefined): Promise<pg.PoolClient> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      const leave = (error: unknown) => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        reject(error)
      }
      const onAbort = () => leave(signal?.reason)
      signal?.addEventListener('abort', onAbort, { once: true })
      if (deadline !== undefined)
        timer = setTimeout(() => leave(queueTimeout()), deadline - performance.now())
      this.#ctx.store.dial((error, client) => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        if (client) resolve(client)
        else reject(error)
        // A connection nobody waits for any more (resolve was a no-op) goes straight back.
        if (client && (signal?.aborted || (deadline !== undefined && performance.now() >= deadline)))
          client.release()
      })
    })
  }

  /** Hands `client` out at `now` (the caller's clock read): counted, tracked for leaks, its wait timed. */
  #handOut(client: pg.PoolClient, startedAt: number, caller: Error | undefined, now: number): pg.PoolClient {
    const ctx = this.#ctx
    ctx.counters.acquisitions++
    ctx.leakDetector?.track(client, caller)
    ctx.registry.stateOf(client).checkedOutAt = now
    ctx.telemetry.waited(now - startedAt)
    ctx.onAcquire?.(now - startedAt)
    return client
  }

  /** Counts a checkout's final failure by its kind, and returns it to be thrown. */
  #failed(error: unknown): unknown {
    const { counters, telemetry } = this.#ctx
    if (error instanceof PoolTimeoutError) {
      counters.acquireTimeouts++
      telemetry.timedOut()
    } else if (
      error instanceof DatabaseUnavailableError ||
      error instanceof DatabaseTlsError ||
      error instanceof DatabaseAuthError
    ) {
      counters.acquireFailures++
    }
    return error
  }

  #translate(error: unknown, startedAt: number, deadlineMs = this.#ctx.settings.acquireTimeoutMs): unknown {
    const { settings, tls, registry, queue, store, capacity } = this.#ctx
    return translateAcquireError(error, {
      settings,
      tls,
      deadlineMs,
      waitedMs: performance.now() - startedAt,
      // While the server is full, the pool's bound is what it holds.
      poolFull: registry.checkedOut.size >= capacity.limit,
      total: store.open,
      waiting: queue.length,
    })
  }
}
