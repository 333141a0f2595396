// Purpose: where a pool's CPU goes: N operations with 50 concurrent callers per contender (one process each, under `node --cpu-prof`), CPU µs per operation and a profile broken down by package and function.
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'
import { LocalPostgres } from '@classroom/local-postgres'
import { testApiToken } from '@classroom/test-kit'
import { Pool } from 'undici'
import { SQL_CONTENDERS, sqlContender } from './contenders.js'
import { analyzeProfile, formatBreakdown } from './cpu-profile.js'
import { createDataset } from './dataset.js'
import { HTTP_CONTENDERS, startHttpServer } from './http-servers.js'
import { startOtlpSink } from './otlp-sink.js'
import { CLASSROOM_ROWS, type WorkloadName } from './workloads.js'

// The api answers 401 without a bearer token (the minimal handler ignores it): one made once, sent by every request.
const AUTHORIZATION = { authorization: `Bearer ${testApiToken()}` }

const execFileAsync = promisify(execFile)
const HERE = path.dirname(fileURLToPath(import.meta.url))

const USAGE = `usage: node bench/dist/profile.js [options]
       node bench/dist/profile.js --compare DIR [--workload W] [--top N]   (the tables of an earlier run again)

  --workload W        select-1 | indexed-read | transaction | http (default select-1)
  --contenders A,B    SQL contenders (bench/src/contenders.ts names; with DB_CORE_BASELINE or
                      DB_CORE_VARIANT, also db-core-defaults@baseline, kysely-db-core@baseline,
                      ...@variant), or for http: http-minimal,
                      ${HTTP_CONTENDERS.map((c) => c.name).join(', ')} (default pg-pool,db-core-defaults,kysely-pg-pool,kysely-db-core)
  --ops N             measured operations per contender and repeat (default 100000)
  --warmup N          operations before the measurement (default 20000)
  --concurrency N     concurrent callers (default 50)
  --repeat N          rounds, contenders interleaved and rotated (default 1)
  --interval US       sampling interval of --cpu-prof-interval, µs (default 100)
  --dir DIR           where the .cpuprofile files go (default bench/results/profiles)
  --top N             functions listed per profile (default 25)
  --focus REGEX       also list inclusive time of functions matching it
  --no-profile        measure CPU µs per operation without a profiler attached`

interface ChildTask {
  contender: string
  workload: WorkloadName
  databaseUrl: string
  ops: number
  warmup: number
  concurrency: number
}

interface Measured {
  ops: number
  seconds: number
  /** Process CPU (user + system) during the measured operations, µs. */
  cpuUs: number
  /** CPU of the whole machine (every process, PostgreSQL's too, and the kernel), µs. */
  machineCpuUs: number
  /** process.hrtime in µs at the start and end of the measured operations. */
  fromUs: number
  toUs: number
}

/** Busy time of all cores since boot (Linux /proc/stat), µs. */
function machineBusyUs(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal: all but idle and iowait, in ticks of 10 ms.
  const busy = cpu.slice(0, 8).reduce((sum, v, i) => (i === 3 || i === 4 ? sum : sum + v), 0)
  return busy * 10_000
}

const randomId = () => 1 + Math.floor(Math.random() * CLASSROOM_ROWS)
const nowUs = () => Number(process.hrtime.bigint() / 1000n)

/** `concurrency` callers running `operation` until `warmup + ops` have been started; only the last `ops` measured. */
async function fixedCount(
  operation: () => Promise<unknown>,
  { ops, warmup, concurrency }: { ops: number; warmup: number; concurrency: number },
  onMeasureStart: () => void = () => undefined,
): Promise<Measured> {
  let started = 0
  let settled = 0
  let errors = 0
  let fromUs = 0
  let cpu = process.cpuUsage()
  let startedMs = 0
  let machine = 0
  const caller = async () => {
    while (started < warmup + ops) {
      started++
      await operation().catch(() => errors++)
      if (++settled === warmup) {
        onMeasureStart()
        fromUs = nowUs()
        startedMs = performance.now()
        cpu = process.cpuUsage()
        machine = machineBusyUs()
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, caller))
  const used = process.cpuUsage(cpu)
  const machineCpuUs = machineBusyUs() - machine
  const toUs = nowUs()
  if (errors > 0) throw new Error(`${errors} operations failed`)
  return {
    ops: settled - warmup,
    seconds: (performance.now() - startedMs) / 1000,
    cpuUs: used.user + used.system,
    machineCpuUs,
    fromUs,
    toUs,
  }
}

async function child(task: ChildTask): Promise<void> {
  const driver = sqlContender(task.contender).create(task.databaseUrl)
  try {
    const measured = await fixedCount(() => driver.run(task.workload, randomId()), task)
    process.stdout.write(`${JSON.stringify(measured)}\n`)
  } finally {
    await driver.close()
  }
}

/** User + system CPU of another process so far (Linux), µs. */
async function cpuOf(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ')
  // utime and stime, fields 14 and 15 of stat, in clock ticks (100 a second).
  return (Number(fields[11]) + Number(fields[12])) * 10_000
}

/** Load from this process, the server profiled in its own: CPU of the server per request. */
async function measureHttp(name: string, databaseUrl: string, nodeArgs: string[], o: Options) {
  const contender = HTTP_CONTENDERS.find((c) => c.name === name)
  if (!contender)
    throw new Error(`unknown HTTP contender ${name}: one of ${HTTP_CONTENDERS.map((c) => c.name)}`)
  const sink = await startOtlpSink()
  const { url, child: server } = await startHttpServer(contender, databaseUrl, nodeArgs, sink.endpoint)
  const client = new Pool(url, { connections: o.concurrency })
  let serverCpu = 0
  try {
    const measured = await fixedCount(
      async () => {
        const response = await client.request({
          method: 'GET',
          path: `/classrooms/${randomId()}`,
          headers: AUTHORIZATION,
        })
        await response.body.dump()
        if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}`)
      },
      o,
      () => {
        void cpuOf(server.pid!).then((us) => {
          serverCpu = us
        })
      },
    )
    const cpuUs = (await cpuOf(server.pid!)) - serverCpu
    return { ...measured, cpuUs }
  } finally {
    await client.close()
    server.kill('SIGTERM')
    await once(server, 'exit')
    await sink.close()
  }
}

interface Options {
  workload: WorkloadName | 'http'
  contenders: string[]
  ops: number
  warmup: number
  concurrency: number
  repeat: number
  interval: number
  dir: string
  top: number
  focus: RegExp | undefined
  profile: boolean
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      workload: { type: 'string', default: 'select-1' },
      contenders: { type: 'string' },
      ops: { type: 'string', default: '100000' },
      warmup: { type: 'string', default: '20000' },
      concurrency: { type: 'string', default: '50' },
      repeat: { type: 'string', default: '1' },
      interval: { type: 'string', default: '100' },
      dir: { type: 'string', default: path.resolve(HERE, '..', 'results', 'profiles') },
      top: { type: 'string', default: '25' },
      focus: { type: 'string' },
      'no-profile': { type: 'boolean' },
      help: { type: 'boolean' },
    },
  })
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    process.exit(0)
  }
  const workload = values.workload as Options['workload']
  const fallback =
    workload === 'http' ? 'http-minimal,http-api' : 'pg-pool,db-core-defaults,kysely-pg-pool,kysely-db-core'
  const contenders = (values.contenders ?? fallback).split(',')
  for (const c of contenders) {
    if (workload === 'http' ? !c.startsWith('http-') : !SQL_CONTENDERS.some((s) => s.name === c))
      throw new Error(`unknown contender ${c}\n\n${USAGE}`)
  }
  return {
    workload,
    contenders,
    ops: Number(values.ops),
    warmup: Number(values.warmup),
    concurrency: Number(values.concurrency),
    repeat: Number(values.repeat),
    interval: Number(values.interval),
    dir: path.resolve(values.dir!),
    top: Number(values.top),
    focus: values.focus ? new RegExp(values.focus) : undefined,
    profile: values['no-profile'] !== true,
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/**
 * Contenders side by side: median over rounds of CPU µs per operation, by package and by function
 * (self time), the functions whose time differs most from the first contender first.
 */
async function compareProfiles(
  o: Options,
  runs: { contender: string; file: string; measured: Measured }[],
): Promise<string> {
  const perContender = new Map<
    string,
    { cpu: number[]; groups: Map<string, number>[]; fns: Map<string, number>[] }
  >()
  for (const run of runs) {
    const b = await analyzeProfile(path.join(o.dir, run.file), run.measured.fromUs, run.measured.toUs)
    const perOp = (m: Map<string, number>) => new Map([...m].map(([k, us]) => [k, us / run.measured.ops]))
    const entry = perContender.get(run.contender) ?? { cpu: [], groups: [], fns: [] }
    entry.cpu.push(run.measured.cpuUs / run.measured.ops)
    entry.groups.push(perOp(b.byGroup))
    entry.fns.push(perOp(b.selfByFunction))
    perContender.set(run.contender, entry)
  }
  const names = [...perContender.keys()]
  const table = (
    title: string,
    pick: (e: { groups: Map<string, number>[]; fns: Map<string, number>[] }) => Map<string, number>[],
    rows: number,
  ) => {
    const keys = new Set<string>()
    for (const e of perContender.values()) for (const m of pick(e)) for (const k of m.keys()) keys.add(k)
    const value = (name: string, key: string) =>
      median(pick(perContender.get(name)!).map((m) => m.get(key) ?? 0))
    const sorted = [...keys]
      .map((k) => ({ k, values: names.map((n) => value(n, k)) }))
      .sort(
        (a, b) =>
          Math.max(...b.values.map((v) => Math.abs(v - b.values[0]!))) -
          Math.max(...a.values.map((v) => Math.abs(v - a.values[0]!))),
      )
      .slice(0, rows)
    return [
      title,
      `| ${['', ...names].join(' | ')} |`,
      `|---|${names.map(() => '---:').join('|')}|`,
      ...sorted.map(({ k, values }) => `| ${k} | ${values.map((v) => v.toFixed(2)).join(' | ')} |`),
    ].join('\n')
  }
  return [
    `median over ${o.repeat} round(s), µs per operation (${o.workload})`,
    `| process CPU | ${names.map((n) => median(perContender.get(n)!.cpu).toFixed(2)).join(' | ')} |`,
    table('self time by package', (e) => e.groups, 30),
    table('self time by function, largest differences from the first contender first', (e) => e.fns, o.top),
  ].join('\n\n')
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2))
  await mkdir(o.dir, { recursive: true })
  const cluster = await LocalPostgres.temporary()
  try {
    const databaseUrl = await cluster.createDatabase('profile')
    await createDataset(databaseUrl)
    const summary: string[] = []
    const profiles: { contender: string; file: string; measured: Measured }[] = []
    for (let round = 1; round <= o.repeat; round++) {
      const shift = (round - 1) % o.contenders.length
      const order = [...o.contenders.slice(shift), ...o.contenders.slice(0, shift)]
      for (const contender of order) {
        const file = `${o.workload}-${contender.replace('@', '-')}-${round}.cpuprofile`
        const nodeArgs = o.profile
          ? [
              '--cpu-prof',
              `--cpu-prof-interval=${o.interval}`,
              `--cpu-prof-dir=${o.dir}`,
              `--cpu-prof-name=${file}`,
            ]
          : []
        let measured: Measured
        if (o.workload === 'http') {
          measured = await measureHttp(contender, databaseUrl, nodeArgs, o)
        } else {
          const { ops, warmup, concurrency } = o
          const task: ChildTask = { contender, workload: o.workload, databaseUrl, ops, warmup, concurrency }
          const { stdout } = await execFileAsync(process.execPath, [
            ...nodeArgs,
            fileURLToPath(import.meta.url),
            '--child',
            JSON.stringify(task),
          ])
          measured = JSON.parse(stdout.trim().split('\n').at(-1)!) as Measured
        }
        const line = `round ${round} ${o.workload} ${contender}: ${Math.round(measured.ops / measured.seconds)} ops/s, ${o.workload === 'http' ? 'server' : 'client'} CPU ${(measured.cpuUs / measured.ops).toFixed(2)} µs/op, machine CPU ${(measured.machineCpuUs / measured.ops).toFixed(2)} µs/op`
        summary.push(line)
        process.stdout.write(`\n${line}\n`)
        profiles.push({ contender, file, measured })
        if (o.profile) {
          const breakdown = await analyzeProfile(path.join(o.dir, file), measured.fromUs, measured.toUs)
          process.stdout.write(`${formatBreakdown(breakdown, measured.ops, o.top, o.focus)}\n`)
        }
      }
    }
    process.stdout.write(
      `\nsummary (${o.ops} operations, ${o.concurrency} callers):\n${summary.join('\n')}\n`,
    )
    if (o.profile) {
      await writeFile(path.join(o.dir, `${o.workload}-runs.json`), JSON.stringify(profiles, null, 2))
      process.stdout.write(`\n${await compareProfiles(o, profiles)}\n`)
    }
  } finally {
    await cluster.destroy()
  }
}

if (process.argv[2] === '--compare') {
  // Compares the profiles of an earlier run again: --compare DIR WORKLOAD [options].
  const o = options(process.argv.slice(4))
  o.dir = path.resolve(process.argv[3]!)
  const runs = JSON.parse(await readFile(path.join(o.dir, `${o.workload}-runs.json`), 'utf8'))
  process.stdout.write(
    `${await compareProfiles({ ...o, repeat: Math.max(...runs.map((r: { file: string }) => Number(r.file.split('-').at(-1)!.split('.')[0]))) }, runs)}\n`,
  )
} else if (process.argv[2] === '--child') {
  await child(JSON.parse(process.argv[3]!) as ChildTask)
} else {
  await main()
}
