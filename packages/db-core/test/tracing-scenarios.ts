// What a trace through db-core must show, under whichever instrumentation the test file loaded
// first (fixtures/tracing-with-*.ts): one checkout span per checkout, one span per user query,
// both under the caller's span, and nothing of the pool's own work.
import { LocalPostgres } from '@classroom/local-postgres'
import { context, ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api'
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { type Generated, sql } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parentOf, spansOf } from './fixtures/tracing-sdk.js'
import { configFor, openDb, openPool, sleep, warm } from './support.js'

const DB_CORE_SCOPE = '@classroom/db-core'
const PG_SCOPE = '@opentelemetry/instrumentation-pg'

interface Notes {
  notes: { id: Generated<number>; note: string }
}

/** Runs `work` under a span of its own (an HTTP request's, say) and returns that trace's spans. */
async function traced(
  work: () => Promise<unknown>,
): Promise<{ request: ReadableSpan; spans: ReadableSpan[] }> {
  const tracer = trace.getTracer('db-core-tracing-test')
  const traceId = await tracer.startActiveSpan('request', async (span) => {
    try {
      await work()
    } finally {
      span.end()
    }
    return span.spanContext().traceId
  })
  const spans = spansOf(traceId)
  const request = spans.find((span) => span.name === 'request')
  if (!request) throw new Error('the request span was not exported')
  return { request, spans }
}

const checkouts = (spans: ReadableSpan[]) => spans.filter((span) => span.name === 'pg-pool.connect')
const queries = (spans: ReadableSpan[]) => spans.filter((span) => span.name.startsWith('pg.query'))
const textOf = (span: ReadableSpan) => span.attributes['db.query.text']
const childrenOf = (parent: ReadableSpan, spans: ReadableSpan[]) =>
  spans.filter((span) => parentOf(span) === parent.spanContext().spanId)

export function describePoolTracing(instrumentation: string): void {
  // Frozen and terminated backends: a cluster of this file's own.
  let cluster: LocalPostgres

  beforeAll(async () => {
    cluster = await LocalPostgres.temporary()
    await cluster.query('create table notes (id serial primary key, note text not null)')
  })

  afterAll(async () => {
    await cluster?.destroy()
  })

  /**
   * Terminates the backend running a statement whose text contains `fragment` (none of `spared`), once
   * one runs, outside the caller's trace; returns its pid.
   */
  async function terminateRunning(fragment: string, spared: number[] = []): Promise<number> {
    for (let tries = 0; tries < 100; tries++) {
      const [killed] = await context.with(ROOT_CONTEXT, () =>
        cluster.query<{ pid: number }>(
          `select pid, pg_terminate_backend(pid) from pg_stat_activity
            where query like '%' || $1 || '%' and state = 'active' and pid <> pg_backend_pid()
              and pid <> all($2::int[])`,
          [fragment, spared],
        ),
      )
      if (killed) return killed.pid
      await sleep(20)
    }
    throw new Error(`no statement containing ${fragment} ran`)
  }

  describe(`tracing with ${instrumentation}`, () => {
    it('instrumentation-pg is live here: a bare pg.Pool shows its checkout and its query', async () => {
      const bare = new pg.Pool({ connectionString: cluster.connectionString(), max: 1 })
      try {
        const { spans } = await traced(() => bare.query('select 41 + 1 as answer'))
        expect(checkouts(spans).map((span) => span.instrumentationScope.name)).toEqual([PG_SCOPE])
        expect(queries(spans).map(textOf)).toEqual(['select 41 + 1 as answer'])
      } finally {
        await bare.end()
      }
    })

    it('a Kysely read: one db-core checkout span and one query span, both children of the caller', async () => {
      const { db, close } = openDb<Notes>(configFor(cluster.connectionString()))
      try {
        const { request, spans } = await traced(() =>
          db.selectFrom('notes').select('note').where('id', '=', 1).execute(),
        )
        const [checkout, ...moreCheckouts] = checkouts(spans)
        expect(moreCheckouts).toEqual([])
        expect(checkout?.instrumentationScope.name).toBe(DB_CORE_SCOPE)
        const url = new URL(cluster.connectionString())
        expect(checkout?.attributes).toMatchObject({
          'db.system.name': 'postgresql',
          'db.namespace': url.pathname.slice(1),
          'server.address': url.hostname,
          'server.port': Number(url.port),
        })
        expect(queries(spans).map(textOf)).toEqual(['select "note" from "notes" where "id" = $1'])
        // Prepared under a name derived from its text, it is still named by its operation.
        expect(queries(spans)[0]!.name).toBe(`pg.query:SELECT ${url.pathname.slice(1)}`)
        expect(
          childrenOf(request, spans)
            .map((span) => span.name)
            .sort(),
        ).toEqual(['pg-pool.connect', queries(spans)[0]!.name].sort())
        expect(spans).toHaveLength(3)
      } finally {
        await close()
      }
    })

    it('a checkout that pre-pinged and passed over dead connections is one span, and its pre-pings are no query spans', async () => {
      const { db, pool, close } = openDb(
        configFor(cluster.connectionString(), {
          DB_POOL_SIZE: '3',
          DB_POOL_PRE_PING_IDLE_MS: '100',
          DB_POOL_PRE_PING_TIMEOUT_MS: '300',
        }),
      )
      try {
        const frozen = await warm(pool, 3)
        await sleep(150)
        // SIGSTOP: the sockets stay open and unanswered, the silent death pre-ping exists for.
        for (const pid of frozen) process.kill(pid, 'SIGSTOP')
        let traceOf: Awaited<ReturnType<typeof traced>>
        try {
          traceOf = await traced(() => sql`select 'after the pre-pings' as note`.execute(db))
        } finally {
          for (const pid of frozen) process.kill(pid, 'SIGCONT')
        }
        const { request, spans } = traceOf
        expect(pool.stats().prePingFailures).toBe(3)
        const [checkout, ...more] = checkouts(spans)
        expect(more).toEqual([])
        expect(parentOf(checkout!)).toBe(request.spanContext().spanId)
        expect(checkout!.attributes).toMatchObject({
          'db_core.checkout.pre_pings': 3,
          'db_core.checkout.connections_discarded': 3,
        })
        expect(checkout!.events.map((event) => event.attributes?.['db_core.discard.reason'])).toEqual([
          'pre-ping',
          'pre-ping',
          'pre-ping',
        ])
        expect(queries(spans).map(textOf)).toEqual([`select 'after the pre-pings' as note`])
        // Nor does the new connection it opened show (no pg.connect, no net or dns span).
        expect(spans.map((span) => span.name).sort()).toEqual(
          ['pg-pool.connect', queries(spans)[0]!.name, 'request'].sort(),
        )
      } finally {
        await close()
      }
    })

    it('a transaction through Kysely: one checkout, its statements (the first one carrying BEGIN, no span of its own) and COMMIT, each under the caller', async () => {
      const { db, close } = openDb<Notes>(configFor(cluster.connectionString()))
      try {
        const { request, spans } = await traced(() =>
          db.transaction().execute(async (trx) => {
            await trx.insertInto('notes').values({ note: 'traced' }).execute()
            await trx.selectFrom('notes').select('id').where('note', '=', 'traced').execute()
          }),
        )
        expect(checkouts(spans)).toHaveLength(1)
        // BEGIN goes out in the same exchange as the first statement, inside its span.
        expect(queries(spans).map(textOf)).toEqual([
          'insert into "notes" ("note") values ($1)',
          'select "id" from "notes" where "note" = $1',
          'commit',
        ])
        for (const span of [...checkouts(spans), ...queries(spans)])
          expect(parentOf(span)).toBe(request.spanContext().spanId)
      } finally {
        await close()
      }
    })

    it('a queued checkout answered by another trace’s release stays in its own trace (promise and callback)', async () => {
      const pool = openPool(
        configFor(cluster.connectionString(), { DB_POOL_SIZE: '1', DB_POOL_MAX_OVERFLOW: '0' }),
      )
      try {
        const held = await pool.connect()
        const promised = traced(async () => {
          const client = await pool.connect()
          try {
            await client.query('select 1 as promised')
          } finally {
            client.release()
          }
        })
        const called = traced(
          () =>
            new Promise<void>((resolve, reject) =>
              pool.query('select 1 as called_back', (error: Error | undefined) =>
                error ? reject(error) : resolve(),
              ),
            ),
        )
        await sleep(50)
        expect(pool.waitingCount).toBe(2)
        // pg-pool answers the first waiter from inside this release, in this trace's context.
        const own = await traced(async () => held.release())
        const [byPromise, byCallback] = await Promise.all([promised, called])
        expect(queries(own.spans)).toEqual([])
        for (const { request, spans } of [byPromise, byCallback]) {
          expect(checkouts(spans)).toHaveLength(1)
          expect(queries(spans)).toHaveLength(1)
          for (const span of [...checkouts(spans), ...queries(spans)])
            expect(parentOf(span)).toBe(request.spanContext().spanId)
        }
        expect(queries(byPromise.spans).map(textOf)).toEqual(['select 1 as promised'])
        expect(queries(byCallback.spans).map(textOf)).toEqual(['select 1 as called_back'])
      } finally {
        await pool.end()
      }
    })

    it('a read run again after its connection was lost shows twice, the second under a db-core.read-retry span', async () => {
      const { db, pool, close } = openDb(configFor(cluster.connectionString()))
      try {
        const { request, spans } = await traced(async () => {
          // A Kysely select, first on its checkout: the kind of statement the pool may run again.
          const answer = db.selectFrom(sql`pg_sleep(0.3)`.as('s')).select(sql<number>`1`.as('one')).execute()
          await terminateRunning('pg_sleep(0.3)')
          expect(await answer).toEqual([{ one: 1 }])
        })
        expect(pool.stats().readRetries).toBe(1)
        const [first, second, ...more] = queries(spans)
        expect(more).toEqual([])
        expect(textOf(first!)).toBe('select 1 as "one" from pg_sleep(0.3) as "s"')
        expect(textOf(second!)).toBe(textOf(first!))
        expect(first!.status.code).toBe(SpanStatusCode.ERROR)
        expect(parentOf(first!)).toBe(request.spanContext().spanId)
        const retry = spans.find((span) => span.name === 'db-core.read-retry')
        expect(retry?.attributes).toMatchObject({ 'db_core.retry.attempt': 2 })
        expect(parentOf(retry!)).toBe(request.spanContext().spanId)
        expect(parentOf(second!)).toBe(retry!.spanContext().spanId)
        expect(second!.attributes['db_core.retry.attempt']).toBe(2)
        expect(first!.attributes['db_core.retry.attempt']).toBeUndefined()
        expect(second!.status.code).not.toBe(SpanStatusCode.ERROR)
        // Each attempt had its checkout: the first under the request, the retry's under the retry.
        expect(checkouts(spans).map(parentOf).sort()).toEqual(
          [request.spanContext().spanId, retry!.spanContext().spanId].sort(),
        )
      } finally {
        await close()
      }
    })

    it('a read whose second run fails too marks its db-core.read-retry span as failed, and is not run a third time', async () => {
      const { db, pool, close } = openDb(configFor(cluster.connectionString()))
      try {
        let failure: unknown
        const { request, spans } = await traced(async () => {
          const answer = db
            .selectFrom(sql`pg_sleep(0.4)`.as('s'))
            .select(sql<number>`1`.as('one'))
            .execute()
            .catch((error: unknown) => error)
          // The retry runs on another backend: the first, terminated, may still be listed a moment.
          const first = await terminateRunning('pg_sleep(0.4)')
          await terminateRunning('pg_sleep(0.4)', [first])
          failure = await answer
        })
        expect(failure).toBeInstanceOf(Error)
        expect(pool.stats().readRetries).toBe(1)
        expect(queries(spans)).toHaveLength(2)
        const retry = spans.find((span) => span.name === 'db-core.read-retry')
        expect(parentOf(retry!)).toBe(request.spanContext().spanId)
        expect(retry!.status).toEqual({ code: SpanStatusCode.ERROR, message: (failure as Error).message })
      } finally {
        await close()
      }
    })

    it('while the database is down, the reconnect loop’s probes make no spans in the waiting caller’s trace', async () => {
      const pool = openPool(
        configFor(cluster.connectionString(), {
          DB_POOL_UNAVAILABLE_WAIT_MS: '1500',
          DB_POOL_RECONNECT_MIN_MS: '100',
          DB_POOL_RECONNECT_MAX_MS: '200',
        }),
      )
      try {
        await pool.query('select 1')
        await cluster.stop('fast')
        let failure: unknown
        const { spans } = await traced(async () => {
          // The first loses its connection and starts the reconnect loop; the second waits on it.
          await pool.query('select 1').catch(() => undefined)
          failure = await pool.query('select 2').then(
            () => undefined,
            (error: unknown) => error,
          )
        })
        expect((failure as { code?: string }).code).toBe('DATABASE_UNAVAILABLE')
        expect(pool.stats().connectAttempts).toBeGreaterThan(2)
        expect(spans.filter((span) => span.name === 'pg.connect')).toEqual([])
        expect(checkouts(spans).every((span) => span.instrumentationScope.name === DB_CORE_SCOPE)).toBe(true)
      } finally {
        await pool.end()
        await cluster.start()
      }
    })

    it('a checkout that fails records its error on its span', async () => {
      const pool = openPool(
        configFor(cluster.connectionString(), {
          DB_POOL_SIZE: '1',
          DB_POOL_MAX_OVERFLOW: '0',
          DB_POOL_TIMEOUT_SECONDS: '0.2',
        }),
      )
      try {
        const held = await pool.connect()
        const { spans } = await traced(() =>
          pool.connect().then(
            () => undefined,
            () => undefined,
          ),
        )
        held.release()
        const [checkout] = checkouts(spans)
        expect(checkout?.status.code).toBe(SpanStatusCode.ERROR)
        expect(checkout?.attributes['error.type']).toBe('POOL_TIMEOUT')
        expect(checkout?.events.map((event) => event.name)).toContain('exception')
      } finally {
        await pool.end()
      }
    })
  })
}
