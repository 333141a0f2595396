import { recordingLogger } from '@classroom/test-kit'
import pg from 'pg'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { DatabaseUnavailableError, InstrumentedPool, isConnectionError } from '../src/index.js'
import { configFor, sleep, startDyingServer } from './support.js'

// A connection killed in the instant it opens: heard, discarded, the waiter served or told why; the
// process never dies of an unheard 'error' event (vitest fails the run on one).
const url = inject('databaseUrl')
const APPLICATION = 'db-core-born-to-die'
const pools: InstrumentedPool[] = []

function pool(target: string, overrides: Record<string, string> = {}): InstrumentedPool {
  const created = new InstrumentedPool({
    ...configFor(target, overrides),
    logger: recordingLogger().logger,
    clientConfig: { application_name: APPLICATION },
  })
  pools.push(created)
  return created
}

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => (p.ending ? undefined : p.end())))
})

/** Runs `select 1` from `callers` concurrent loops until `ms` have passed; what each answer was. */
async function hammer(p: InstrumentedPool, callers: number, ms: number) {
  const until = performance.now() + ms
  const outcomes = { served: 0, unavailable: 0, connectionLost: 0, other: [] as unknown[] }
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (performance.now() < until) {
        try {
          await p.query('select 1')
          outcomes.served++
        } catch (error) {
          if (error instanceof DatabaseUnavailableError) outcomes.unavailable++
          else if (isConnectionError(error)) outcomes.connectionLost++
          else outcomes.other.push(error)
        }
      }
    }),
  )
  return outcomes
}

/** Terminates this file's backends younger than `youngerThanMs` (all when undefined) every `everyMs`. */
function startKiller(everyMs: number, youngerThanMs: number | undefined) {
  const admin = new pg.Client({ connectionString: url })
  let killed = 0
  let running = true
  const loop = (async () => {
    await admin.connect()
    while (running) {
      const { rows } = await admin.query<{ killed: number }>(
        // In the aggregate, not the WHERE clause: the planner may order quals, never before filtering.
        `select coalesce(sum(pg_terminate_backend(pid)::int), 0)::int as killed from pg_stat_activity
          where application_name = $1
            and ($2::int is null or backend_start > now() - make_interval(secs => $2::int / 1000.0))`,
        [APPLICATION, youngerThanMs ?? null],
      )
      killed += rows[0]!.killed
      await sleep(everyMs)
    }
    await admin.end()
  })()
  return {
    async stop(): Promise<number> {
      running = false
      await loop
      return killed
    },
  }
}

describe('a connection that dies as it is born', () => {
  it('a server that sends ReadyForQuery and a FATAL 57P01 in one write: 50 concurrent callers each get DatabaseUnavailableError, the process lives', async () => {
    const dying = await startDyingServer()
    try {
      const p = pool(dying.url, { DB_POOL_TIMEOUT_SECONDS: '2', DB_POOL_UNAVAILABLE_WAIT_MS: '500' })
      const results = await Promise.allSettled(Array.from({ length: 50 }, () => p.query('select 1')))
      const reasons = results.map((r) => (r.status === 'rejected' ? r.reason : r.value))
      expect(reasons.filter((reason) => !(reason instanceof DatabaseUnavailableError))).toEqual([])
      expect(p.stats()).toMatchObject({ connectionsCreated: 0, total: 0 })
      expect(p.stats().connectFailures).toBeGreaterThan(0)
    } finally {
      dying.close()
    }
  })

  it.each([
    { everyMs: 20, youngerThanMs: 300 },
    { everyMs: 250, youngerThanMs: undefined },
  ])(
    'backends terminated every $everyMs ms (younger than $youngerThanMs ms) under 50 concurrent callers: every answer a result or a typed error, and the pool serves once the killing stops',
    async ({ everyMs, youngerThanMs }) => {
      const p = pool(url, {
        DB_POOL_SIZE: '5',
        DB_POOL_MAX_OVERFLOW: '5',
        DB_POOL_UNAVAILABLE_WAIT_MS: '1000',
        DB_POOL_RECONNECT_MIN_MS: '20',
        DB_POOL_RECONNECT_MAX_MS: '200',
        DB_READ_RETRY: 'false',
      })
      const killer = startKiller(everyMs, youngerThanMs)
      const outcomes = await hammer(p, 50, 2000)
      const killed = await killer.stop()
      expect(killed).toBeGreaterThan(0)
      expect(outcomes.other).toEqual([])
      // Healed with no action: the next callers are served (after at most one reconnect probe).
      await sleep(300)
      const after = await hammer(p, 50, 300)
      expect(after).toMatchObject({ unavailable: 0, connectionLost: 0, other: [] })
      expect(after.served).toBeGreaterThan(0)
    },
  )
})
