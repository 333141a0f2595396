// What the wait queue itself costs: 10,000 callers queued behind a held connection, then abandoned
// (each aborts) or served one by one; client CPU per operation and heap per waiter, by queue length.
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { InstrumentedPool, InstrumentedPostgresDialect } from '@classroom/db-core'
import { LocalPostgres } from '@classroom/local-postgres'
import { UsageError, wholeNumberOption } from '@classroom/test-kit'
import { Kysely } from 'kysely'

const USAGE = `usage: node --expose-gc bench/dist/queue-cost.js [--waiters N]

  --waiters N   the largest queue measured (default 10000); 1/10 and 1/100 of it are measured too`

const silent = { error() {}, warn() {}, info() {}, debug() {} }

/** Microseconds of this process's CPU (user + system) `run` takes. */
async function cpuMicros(run: () => Promise<void>): Promise<number> {
  const before = process.cpuUsage()
  await run()
  const used = process.cpuUsage(before)
  return used.user + used.system
}

function heapUsed(): number {
  ;(globalThis as { gc?: () => void }).gc?.()
  return process.memoryUsage().heapUsed
}

async function measure(pool: InstrumentedPool, db: Kysely<unknown>, waiters: number) {
  const held = await pool.connect()
  // A signal of its own per caller, as per HTTP request (listeners on one shared signal cost O(n) each in Node).
  const controllers = Array.from({ length: waiters }, () => new AbortController())
  const heapBefore = heapUsed()
  let pending: Promise<unknown>[] = []
  // FIFO, a 10-minute timeout: nothing but the callers themselves ends a wait here.
  // Each a Kysely statement with the caller's signal, as an HTTP handler whose client may give up.
  const enqueueUs = await cpuMicros(async () => {
    for (const { signal } of controllers) {
      pending.push(
        db
          .selectNoFrom((eb) => eb.lit(1).as('one'))
          .execute({ signal })
          .catch(() => undefined),
      )
    }
    // Kysely takes the checkout a few promise steps later: every caller queued before this ends.
    while (pool.waitingCount < waiters) await new Promise((resolve) => setImmediate(resolve))
  })
  const heapPerWaiter = (heapUsed() - heapBefore) / waiters
  if (pool.waitingCount !== waiters)
    throw new Error(`expected ${waiters} waiting, found ${pool.waitingCount}`)
  const abandonUs = await cpuMicros(async () => {
    for (const controller of controllers) controller.abort(new Error('gone'))
    await Promise.all(pending)
  })
  if (pool.waitingCount !== 0) throw new Error(`abandoned waiters still queued: ${pool.waitingCount}`)
  // Served one by one: each release hands the connection to the next waiter.
  pending = []
  for (let i = 0; i < waiters; i++) {
    pending.push(pool.connect().then((client) => (client as { release(): void }).release()))
  }
  const serveUs = await cpuMicros(async () => {
    held.release()
    await Promise.all(pending)
  })
  return {
    waiters,
    enqueueUs: enqueueUs / waiters,
    abandonUs: abandonUs / waiters,
    serveUs: serveUs / waiters,
    heapBytes: heapPerWaiter,
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    options: { waiters: { type: 'string' }, help: { type: 'boolean' } },
  })
  if (values.help) {
    console.log(USAGE)
    return
  }
  const largest = wholeNumberOption('--waiters', values.waiters, { fallback: 10_000, min: 100 })
  if (!(globalThis as { gc?: unknown }).gc)
    throw new UsageError('run with node --expose-gc: heap per waiter is read after a full GC')
  const cluster = await LocalPostgres.temporary()
  try {
    const url = await cluster.createDatabase('queue_cost')
    const pool = new InstrumentedPool({
      connectionString: url,
      logger: silent,
      pool: {
        size: 1,
        maxOverflow: 0,
        queuePolicy: 'fifo',
        acquireTimeoutMs: 600_000,
        queueWarnThreshold: 1_000_000,
      },
    })
    const db = new Kysely<unknown>({ dialect: new InstrumentedPostgresDialect({ pool }) })
    await (await pool.connect()).release()
    console.log(
      `Node ${process.version}; client CPU (user + system) per waiter, heap per waiter after a full GC`,
    )
    console.log('| queued | enter µs | abandon µs | served µs | heap bytes |')
    console.log('|---|---|---|---|---|')
    for (const waiters of [largest / 100, largest / 10, largest, largest / 100, largest / 10, largest]) {
      const row = await measure(pool, db, Math.round(waiters))
      console.log(
        `| ${row.waiters} | ${row.enqueueUs.toFixed(2)} | ${row.abandonUs.toFixed(2)} | ${row.serveUs.toFixed(2)} | ${Math.round(row.heapBytes)} |`,
      )
    }
    await db.destroy()
  } finally {
    await cluster.stop()
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof UsageError ? `${error.message}\n${USAGE}` : error)
  process.exitCode = error instanceof UsageError ? 2 : 1
})
