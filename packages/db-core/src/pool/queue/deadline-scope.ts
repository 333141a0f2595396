// A caller's deadline for every checkout made inside a scope: how an HTTP request's budget reaches the pool.
import { AsyncLocalStorage } from 'node:async_hooks'
import { performance } from 'node:perf_hooks'

const deadlines = new AsyncLocalStorage<number>()

/**
 * Runs `fn` with a deadline `timeoutMs` from now for every checkout made inside it, raw
 * `pool.query` and Kysely alike, at any depth of calls and awaits: a checkout never waits past it
 * (it fails with `PoolTimeoutError`), and under `DB_POOL_QUEUE_POLICY=adaptive` one whose wait
 * ahead is longer than what is left of it is refused at once with `PoolOverloadedError`, so the
 * caller learns in milliseconds what it would otherwise learn when its client has given up. An
 * inner scope can only shorten the deadline. Statements already running are not cut by it (the
 * server's `statement_timeout` bounds those).
 *
 * ```ts
 * await withDeadline(2000, () => db.selectFrom('classrooms').selectAll().execute())
 * ```
 */
export function withDeadline<T>(timeoutMs: number, fn: () => T): T {
  if (!(timeoutMs >= 0))
    throw new RangeError(`withDeadline: timeoutMs must be a number ≥ 0, got ${timeoutMs}`)
  const at = performance.now() + timeoutMs
  const outer = deadlines.getStore()
  return deadlines.run(outer !== undefined && outer < at ? outer : at, fn)
}

/** The deadline (a `performance.now()` instant) of the code running now, if it is in a scope. */
export function currentDeadline(): number | undefined {
  return deadlines.getStore()
}
