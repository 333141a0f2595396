import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'
import { LocalPostgres } from '@classroom/local-postgres'
import { UsageError, wholeNumberOption } from '@classroom/test-kit'
import { SQL_CONTENDERS, type SqlContender } from './contenders.js'
import { createDataset } from './dataset.js'
import { HTTP_CONTENDERS, startHttpServer } from './http-servers.js'
import { startOtlpSink } from './otlp-sink.js'
import { initPgbench, locatePgbench, runPgbenchSelectOnly } from './pgbench.js'
import { type BenchRun, formatReport, type Measurement } from './report.js'
import { measureStatementCache } from './statement-cache-memory.js'
import type { WorkerResult, WorkerTask } from './worker.js'
import { WORKLOADS } from './workloads.js'

const execFileAsync = promisify(execFile)
const HERE = path.dirname(fileURLToPath(import.meta.url))
const DEFAULT_RESULTS_DIR = path.resolve(HERE, '..', 'results')

const USAGE = `usage: pnpm bench [--rounds N] [--seconds N] [--warmup N] [--concurrency N] [--workloads LIST] [--contenders LIST] [--no-install-pgbench] [--cpu-prof]

  --rounds N             rounds of every contender, interleaved (default 5, at least 1)
  --seconds N            measured seconds per contender and round (default 5)
  --warmup N             unmeasured seconds before each measurement (default 1)
  --concurrency N        concurrent callers (default 50)
  --workloads LIST       comma-separated, of ${[...WORKLOADS, 'http'].join(', ')} (default all)
  --contenders LIST      comma-separated SQL contenders (bench/src/contenders.ts; default all, the
                         baseline pg-pool always runs); with DB_CORE_BASELINE (or DB_CORE_VARIANT) set
                         to a copy of another packages/db-core/dist build, also db-core-defaults@baseline
                         and kysely-db-core@baseline (@variant)
  --no-install-pgbench   skip the pgbench row when pgbench is missing instead of installing it
  --cpu-prof             write a V8 CPU profile of every worker and server to <results-dir>/profiles
  --results-dir DIR      where latest.md and latest.json go (default bench/results)`

/** A command line that cannot run. */

interface BenchOptions {
  rounds: number
  seconds: number
  warmupSeconds: number
  concurrency: number
  installPgbench: boolean
  cpuProf: boolean
  resultsDir: string
  workloads: readonly string[]
  contenders: readonly SqlContender[]
}

function parseOptions(argv: string[]): BenchOptions {
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      options: {
        rounds: { type: 'string' },
        seconds: { type: 'string' },
        warmup: { type: 'string' },
        concurrency: { type: 'string' },
        'no-install-pgbench': { type: 'boolean' },
        'cpu-prof': { type: 'boolean' },
        'results-dir': { type: 'string' },
        workloads: { type: 'string' },
        contenders: { type: 'string' },
      },
    })
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  const values = parsed.values as Record<string, string | boolean | undefined>
  const whole = (name: string, fallback: number, min: number) =>
    wholeNumberOption(name, values[name], { fallback, min })
  const list = (name: string, known: readonly string[]) => {
    const value = values[name]
    if (typeof value !== 'string') return known
    const picked = value.split(',').filter(Boolean)
    const unknown = picked.filter((p) => !known.includes(p))
    if (unknown.length > 0 || picked.length === 0)
      throw new UsageError(
        `--${name}: unknown ${unknown.join(', ') || '(empty)'}; known: ${known.join(', ')}`,
      )
    return picked
  }
  const contenderNames = list(
    'contenders',
    SQL_CONTENDERS.map((c) => c.name),
  )
  return {
    workloads: list('workloads', [...WORKLOADS, 'http']),
    contenders: SQL_CONTENDERS.filter((c) => c.name === 'pg-pool' || contenderNames.includes(c.name)),
    rounds: whole('rounds', 5, 1),
    seconds: whole('seconds', 5, 1),
    warmupSeconds: whole('warmup', 1, 0),
    concurrency: whole('concurrency', 50, 1),
    installPgbench: values['no-install-pgbench'] !== true,
    cpuProf: values['cpu-prof'] === true,
    resultsDir:
      typeof values['results-dir'] === 'string' ? path.resolve(values['results-dir']) : DEFAULT_RESULTS_DIR,
  }
}

/** Rotates the order each round, so no contender always runs first (or right after a heavy one). */
function rotate<T>(items: readonly T[], by: number): T[] {
  const shift = by % items.length
  return [...items.slice(shift), ...items.slice(0, shift)]
}

async function runWorker(task: WorkerTask, options: BenchOptions): Promise<WorkerResult> {
  const profile = options.cpuProf
    ? ['--cpu-prof', `--cpu-prof-dir=${path.join(options.resultsDir, 'profiles')}`]
    : []
  const { stdout } = await execFileAsync(
    process.execPath,
    [...profile, path.join(HERE, 'worker.js'), JSON.stringify(task)],
    {
      maxBuffer: 1024 * 1024,
    },
  )
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as WorkerResult
}

/** Peak resident memory of another process (Linux), in MB. */
async function peakRssOf(pid: number | undefined): Promise<number | null> {
  if (pid === undefined) return null
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  const match = /VmHWM:\s+(\d+) kB/.exec(status)
  return match ? Math.round((Number(match[1]) / 1024) * 10) / 10 : null
}

// Distinct statements one connection prepares for the statement cache's memory row.
const STATEMENT_CACHE_PROBE = 200

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2))
  await mkdir(options.resultsDir, { recursive: true })
  // Node refuses --cpu-prof in NODE_OPTIONS: servers get it as a node argument, like the workers.
  const profileArgs = options.cpuProf
    ? ['--cpu-prof', `--cpu-prof-dir=${path.join(options.resultsDir, 'profiles')}`]
    : []
  const cluster = await LocalPostgres.temporary()
  const otlpSink = await startOtlpSink()
  try {
    const databaseUrl = await cluster.createDatabase('bench')
    process.stderr.write('creating the dataset...\n')
    await createDataset(databaseUrl)
    const pgbench = locatePgbench({ install: options.installPgbench })
    let pgbenchUrl: string | undefined
    if (pgbench.found) {
      pgbenchUrl = await cluster.createDatabase('pgbench')
      await initPgbench(pgbench.path, pgbenchUrl)
    } else {
      process.stderr.write(`pgbench row skipped: ${pgbench.reason}\n`)
    }

    const measurements: Measurement[] = []
    const base = {
      concurrency: options.concurrency,
      warmupSeconds: options.warmupSeconds,
      seconds: options.seconds,
    }
    for (let round = 1; round <= options.rounds; round++) {
      for (const workload of WORKLOADS.filter((w) => options.workloads.includes(w))) {
        for (const contender of rotate(options.contenders, round - 1)) {
          process.stderr.write(`round ${round}/${options.rounds}  ${workload}  ${contender.label}\n`)
          const result = await runWorker(
            { kind: 'sql', contender: contender.name, workload, databaseUrl, ...base },
            options,
          )
          measurements.push({
            round,
            group: workload,
            contender: contender.name,
            label: contender.label,
            ...result,
          })
        }
      }
      if (pgbench.found && pgbenchUrl && options.workloads.includes('indexed-read')) {
        process.stderr.write(`round ${round}/${options.rounds}  pgbench -S\n`)
        const result = await runPgbenchSelectOnly(pgbench.path, pgbenchUrl, {
          clients: options.concurrency,
          seconds: options.seconds,
        })
        measurements.push({
          round,
          group: 'indexed-read',
          contender: 'pgbench',
          label: `pgbench -S, ${options.concurrency} clients (the server's ceiling)`,
          opsPerSecond: result.tps,
          p50Ms: null,
          p99Ms: null,
          latencyAverageMs: result.latencyAverageMs,
          peakRssMb: null,
          errors: 0,
        })
      }
      for (const server of rotate(options.workloads.includes('http') ? HTTP_CONTENDERS : [], round - 1)) {
        process.stderr.write(`round ${round}/${options.rounds}  http  ${server.label}\n`)
        const { url, child } = await startHttpServer(server, databaseUrl, profileArgs, otlpSink.endpoint)
        try {
          const result = await runWorker({ kind: 'http', baseUrl: url, ...base }, options)
          measurements.push({
            round,
            group: 'http',
            contender: server.name,
            label: server.label,
            ...result,
            // The server is the contender here: its memory, not the load client's.
            peakRssMb: await peakRssOf(child.pid),
          })
        } finally {
          child.kill('SIGTERM')
          await once(child, 'exit')
        }
      }
    }

    process.stderr.write('statement cache memory\n')
    const statementCache = await measureStatementCache(databaseUrl, STATEMENT_CACHE_PROBE)
    const run: BenchRun = {
      date: new Date().toISOString(),
      command: `pnpm bench ${process.argv.slice(2).join(' ')}`.trim(),
      machine: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, PostgreSQL ${cluster.version} (embedded, same machine)`,
      options,
      pgbenchSkipped: pgbench.found ? undefined : pgbench.reason,
      measurements,
      statementCache,
    }
    const markdown = formatReport(run)
    process.stdout.write(`${markdown}\n`)
    await writeFile(path.join(options.resultsDir, 'latest.md'), `${markdown}\n`)
    await writeFile(path.join(options.resultsDir, 'latest.json'), `${JSON.stringify(run, null, 2)}\n`)
    process.stderr.write(`written to ${path.join(options.resultsDir, 'latest.md')}\n`)
  } finally {
    await otlpSink.close()
    await cluster.destroy()
  }
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`${error.message}\n\n${USAGE}\n`)
    process.exitCode = 2
    return
  }
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`)
  process.exitCode = 1
})
