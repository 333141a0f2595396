// Demand above the database's capacity: an open-model load (callers arrive at a fixed rate whatever
// the answers) of 10 ms statements through Kysely, each caller with its own deadline, and what comes back.
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { InstrumentedPostgresDialect } from '@classroom/db-core'
import { LocalPostgres } from '@classroom/local-postgres'
import { UsageError, wholeNumberOption } from '@classroom/test-kit'
import { Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'

const USAGE = `usage: node bench/dist/overload.js [--pool N] [--statement-ms N] [--deadline-ms N] [--phases LIST] [--contenders LIST] [--fifo]

  --pool N            connections (no overflow) (default 5)
  --statement-ms N    each statement's cost on the server, pg_sleep (default 10)
  --deadline-ms N     each caller's deadline, passed to Kysely as an AbortSignal (default 1000)
  --phases LIST       load x seconds, comma-separated; each is followed by 3 s at 0.5x
                      (default 0.9x5,1.2x10,2x20,5x10)
  --contenders LIST   kysely-db-core, kysely-db-core-fifo, kysely-pg-pool (default all three)`

const RECOVERY_SECONDS = 3
const RECOVERY_LOAD = 0.5

interface Phase {
  readonly load: number
  readonly seconds: number
}

interface Outcome {
  readonly at: number
  readonly ms: number
  readonly answered: boolean
  readonly inTime: boolean
}

type Contender = 'kysely-db-core' | 'kysely-db-core-fifo' | 'kysely-pg-pool'
const CONTENDERS: readonly Contender[] = ['kysely-db-core', 'kysely-db-core-fifo', 'kysely-pg-pool']

function parsePhases(text: string): Phase[] {
  return text.split(',').map((part) => {
    const match = /^([0-9.]+)x([0-9]+)$/.exec(part.trim())
    if (!match) throw new UsageError(`--phases: "${part}" is not LOADxSECONDS (e.g. 2x20)`)
    return { load: Number(match[1]), seconds: Number(match[2]) }
  })
}

function options(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      pool: { type: 'string' },
      'statement-ms': { type: 'string' },
      'deadline-ms': { type: 'string' },
      phases: { type: 'string' },
      contenders: { type: 'string' },
      help: { type: 'boolean' },
    },
  })
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  const contenders = (values.contenders?.split(',') ?? CONTENDERS) as Contender[]
  for (const name of contenders) {
    if (!CONTENDERS.includes(name))
      throw new UsageError(`--contenders: unknown "${name}", expected ${CONTENDERS.join(', ')}`)
  }
  return {
    pool: wholeNumberOption('--pool', values.pool, { fallback: 5, min: 1 }),
    statementMs: wholeNumberOption('--statement-ms', values['statement-ms'], { fallback: 10, min: 1 }),
    deadlineMs: wholeNumberOption('--deadline-ms', values['deadline-ms'], { fallback: 1000, min: 1 }),
    phases: parsePhases(values.phases ?? '0.9x5,1.2x10,2x20,5x10'),
    contenders,
  }
}

function makeDb(contender: Contender, url: string, size: number): Kysely<unknown> {
  if (contender === 'kysely-pg-pool') {
    return new Kysely({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: size }) }),
    })
  }
  const silent = { error() {}, warn() {}, info() {}, debug() {} }
  return new Kysely({
    dialect: new InstrumentedPostgresDialect({
      connectionString: url,
      logger: silent,
      pool: {
        size,
        maxOverflow: 0,
        queuePolicy: contender === 'kysely-db-core-fifo' ? 'fifo' : 'adaptive',
        queueWarnThreshold: 1_000_000,
      },
    }),
  })
}

/** Offers `load x capacity` callers per second for `seconds`, each with its own deadline. */
async function offer(
  db: Kysely<unknown>,
  statement: ReturnType<typeof sql>,
  perSecond: number,
  seconds: number,
  deadlineMs: number,
  outcomes: Outcome[],
): Promise<void> {
  const start = performance.now()
  const total = Math.round(perSecond * seconds)
  const pending: Promise<void>[] = []
  for (let sent = 0; sent < total; ) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * perSecond))
    for (; sent < due; sent++) {
      const at = performance.now()
      const signal = AbortSignal.timeout(deadlineMs)
      pending.push(
        statement.execute(db, { signal } as never).then(
          () => {
            const ms = performance.now() - at
            outcomes.push({ at, ms, answered: true, inTime: ms <= deadlineMs })
          },
          () => {
            outcomes.push({ at, ms: performance.now() - at, answered: false, inTime: false })
          },
        ),
      )
    }
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  await Promise.all(pending)
}

/** Answers per second with `callers` closed loops (one per connection): what the database serves here, now. */
async function measureCapacity(
  db: Kysely<unknown>,
  statement: ReturnType<typeof sql>,
  callers: number,
): Promise<number> {
  let answered = 0
  const until = performance.now() + 3000
  const start = performance.now()
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (performance.now() < until) {
        await statement.execute(db)
        answered++
      }
    }),
  )
  return answered / ((performance.now() - start) / 1000)
}

function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

function summarize(label: string, outcomes: readonly Outcome[], seconds: number, capacity: number) {
  const answers = outcomes
    .filter((o) => o.inTime)
    .map((o) => o.ms)
    .sort((a, b) => a - b)
  const refusals = outcomes
    .filter((o) => !o.answered)
    .map((o) => o.ms)
    .sort((a, b) => a - b)
  const fmt = (ms: number | undefined) => (ms === undefined ? '—' : `${Math.round(ms)}`)
  return {
    label,
    offered: outcomes.length,
    goodputRatio: answers.length / seconds / capacity,
    p50: fmt(percentile(answers, 50)),
    p99: fmt(percentile(answers, 99)),
    refused: refusals.length,
    refusalMedian: fmt(percentile(refusals, 50)),
    late: outcomes.filter((o) => o.answered && !o.inTime).length,
  }
}

async function main(): Promise<void> {
  const opts = options(process.argv.slice(2))
  const nominal = (opts.pool * 1000) / opts.statementMs
  const cluster = await LocalPostgres.temporary()
  try {
    const url = await cluster.createDatabase('overload')
    console.log(
      `pool ${opts.pool} (nominal capacity ${nominal}/s: ${opts.pool} x 1000 / ${opts.statementMs} ms), caller deadline ${opts.deadlineMs} ms, Node ${process.version}`,
    )
    console.log(
      '| contender | phase | offered | answered in time / capacity | p50 / p99 ms | refused | refused after (median ms) | late answers |',
    )
    console.log('|---|---|---|---|---|---|---|---|')
    for (const contender of opts.contenders) {
      const db = makeDb(contender, url, opts.pool)
      const statement = sql`select pg_sleep(${opts.statementMs / 1000})`
      // Warm: every connection open and its statement prepared.
      await Promise.all(Array.from({ length: opts.pool * 2 }, () => statement.execute(db)))
      // Measured, not computed: on a shared machine the client's CPU may serve less than the nominal figure.
      const capacity = await measureCapacity(db, statement, opts.pool)
      console.log(
        `| ${contender} | capacity, measured (closed loop of ${opts.pool}) | ${Math.round(capacity)}/s | 1 | | | | |`,
      )
      for (const phase of opts.phases) {
        const loaded: Outcome[] = []
        await offer(db, statement, phase.load * capacity, phase.seconds, opts.deadlineMs, loaded)
        const after: Outcome[] = []
        await offer(db, statement, RECOVERY_LOAD * capacity, RECOVERY_SECONDS, opts.deadlineMs, after)
        const firstSecond = after.filter((o) => o.at - (after[0]?.at ?? 0) < 1000)
        for (const row of [
          summarize(`${phase.load}x ${phase.seconds} s`, loaded, phase.seconds, capacity),
          summarize(`then 0.5x, first second`, firstSecond, 1, capacity),
        ]) {
          console.log(
            `| ${contender} | ${row.label} | ${row.offered} | ${row.goodputRatio.toFixed(3)} | ${row.p50} / ${row.p99} | ${row.refused} | ${row.refusalMedian} | ${row.late} |`,
          )
        }
      }
      await db.destroy()
    }
  } finally {
    await cluster.stop()
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof UsageError ? `${error.message}\n${USAGE}` : error)
  process.exitCode = error instanceof UsageError ? 2 : 1
})
