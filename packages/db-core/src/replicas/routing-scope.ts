// The caller's routing context: its read position (read-your-writes) and whether it wants the primary.
import { AsyncLocalStorage } from 'node:async_hooks'
import { lsnOf, lsnText, parseReadPosition } from './read-position.js'

/** A consistency scope: the WAL position its reads must see, raised by each of its writes. */
export interface ConsistencyScope {
  /** The furthest position seen so far: given, or of a commit in the scope. */
  lsn: bigint | undefined
  /** An enclosing scope: a write here advances it too. */
  readonly outer: ConsistencyScope | undefined
}

/** What routing reads of the caller's context. */
export interface RoutingContext {
  readonly consistency: ConsistencyScope | undefined
  /** Inside `onPrimary`: every query goes to the primary. */
  readonly primary: boolean
}

const contexts = new AsyncLocalStorage<RoutingContext>()

/** The routing context of the code running now, if it is in a scope. */
export function routingContext(): RoutingContext | undefined {
  return contexts.getStore()
}

/**
 * Runs `fn` in a consistency scope: its reads go to a replica that has replayed at least
 * `position` (and every write the scope commits meanwhile), else to the primary. `position` is a
 * token from {@link currentReadPosition}, checked as `parseReadPosition` checks it (an
 * `InvalidReadPositionError` otherwise); `undefined` starts with no position (a new session).
 * A scope inside another starts at the further of the two positions, and its writes advance both.
 * Works with every Kysely instance made from db-core's dialect.
 *
 * ```ts
 * import { Kysely } from 'kysely'
 *
 * const db = new Kysely<{ notes: { id: number; body: string } }>({
 *   dialect: new InstrumentedPostgresDialect(loadDbConfig()),
 * })
 * const token = await withReadPosition(undefined, async () => {
 *   await db.insertInto('notes').values({ id: 1, body: 'hello' }).execute()
 *   // A replica that has replayed the insert, or the primary.
 *   await db.selectFrom('notes').selectAll().where('id', '=', 1).executeTakeFirst()
 *   return currentReadPosition() // e.g. '0/3000148': hand it to the client
 * })
 * // Later, maybe in another process:
 * await withReadPosition(token, () => db.selectFrom('notes').selectAll().execute())
 * ```
 */
export function withReadPosition<T>(position: string | undefined, fn: () => T): T {
  const outer = contexts.getStore()
  const given = position === undefined ? undefined : lsnOf(parseReadPosition(position))
  const enclosing = outer?.consistency
  const lsn =
    enclosing?.lsn !== undefined && (given === undefined || enclosing.lsn > given) ? enclosing.lsn : given
  return contexts.run({ consistency: { lsn, outer: enclosing }, primary: outer?.primary ?? false }, fn)
}

/**
 * The position of the consistency scope running now (given, or advanced by its writes), as
 * PostgreSQL prints it (`16/B374D848`): the token to hand the client, so that its next request
 * (`withReadPosition(token, ...)`) reads its own writes. `undefined` outside a scope, or in one
 * with no position yet.
 *
 * ```ts
 * const position = currentReadPosition()
 * if (position) console.log(`Read-Position: ${position}`)
 * ```
 */
export function currentReadPosition(): string | undefined {
  const lsn = contexts.getStore()?.consistency?.lsn
  return lsn === undefined ? undefined : lsnText(lsn)
}

/**
 * Runs `fn` with every query on the primary, reads included: for one query
 * (`onPrimary(() => query.execute())`) or a whole scope. Writes in it still advance an enclosing
 * consistency scope.
 *
 * ```ts
 * const fresh = await onPrimary(() => db.selectFrom('notes').selectAll().execute())
 * ```
 */
export function onPrimary<T>(fn: () => T): T {
  const outer = contexts.getStore()
  return contexts.run({ consistency: outer?.consistency, primary: true }, fn)
}

/** A write in `scope` committed at `lsn`: the scope, and those around it, must now see it. */
export function advanceReadPosition(scope: ConsistencyScope, lsn: bigint): void {
  for (let current: ConsistencyScope | undefined = scope; current; current = current.outer) {
    if (current.lsn === undefined || lsn > current.lsn) current.lsn = lsn
  }
}
