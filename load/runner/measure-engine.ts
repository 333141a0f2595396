// `pnpm --filter @classroom/load measure-engine`: requests/s and CPU of this engine, an earlier build and a plain undici loop, side by side.
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { UsageError, wholeNumberOption } from '@classroom/test-kit'
import { outputOf } from './child-output.js'
import { userDirectory } from './cli.js'
import { percentile } from './k6-runtime/metric-sinks.js'

const PACKAGE_DIR = fileURLToPath(new URL('../..', import.meta.url))
const USAGE = `usage: pnpm --filter @classroom/load measure-engine --earlier DIR [--seconds N] [--rounds N] [--vus N]

  Plays one k6 script (N constant VUs, each iteration one http.get) against a stub HTTP server in a
  process of its own, on this engine and on an earlier build of the load package (DIR holds its
  dist/runner/cli.js), beside a plain undici loop of N concurrent requests; contenders alternate
  round by round. Prints requests/s and the CPU each process used (user + sys, start-up included).

  --earlier DIR            the earlier load package, built (e.g. git archive <commit> load | tar -x, then tsc)
  --seconds N              seconds of load per contender and round (default 10)
  --rounds N               rounds (default 3)
  --vus N                  VUs, or concurrent requests of the undici loop (default 50)`

const STUB = `import { createServer } from 'node:http'
const body = JSON.stringify({ id: 1, name: 'Algebra', capacity: 30, enrolledCount: 3 })
const server = createServer((request, response) => {
  response.writeHead(200, { 'content-type': 'application/json' })
  response.end(body)
})
server.listen(0, '127.0.0.1', () => console.log(server.address().port))`

const SCRIPT = `import http from 'k6/http'
export const options = { scenarios: { loop: { executor: 'constant-vus', vus: Number(__ENV.VUS), duration: __ENV.SECONDS + 's' } } }
export default function () { http.get(__ENV.BASE_URL + '/classrooms/1') }
export function handleSummary(data) {
  return { stdout: JSON.stringify({ requests: data.metrics.http_reqs.values.count, ms: data.state.testRunDurationMs }) + '\\n' }
}`

// The plain loop: N concurrent requests on one undici agent, as fast as they are answered.
const UNDICI_LOOP = `import { Agent, request } from 'undici'
const [url, seconds, vus] = process.argv.slice(1)
const agent = new Agent({ keepAliveTimeout: 30_000 })
const started = performance.now()
const end = started + Number(seconds) * 1000
let requests = 0
await Promise.all(Array.from({ length: Number(vus) }, async () => {
  while (performance.now() < end) {
    const response = await request(url, { dispatcher: agent })
    await response.body.text()
    requests++
  }
}))
console.log(JSON.stringify({ requests, ms: performance.now() - started }))
await agent.close()`

interface Contender {
  readonly name: string
  readonly command: (url: string) => string[]
}

interface Measure {
  readonly requestsPerSecond: number
  readonly cpuSeconds: number
  readonly requests: number
}

/** Runs a command under /usr/bin/time: its JSON line (requests, ms) and the CPU it used. */
async function measure(argv: readonly string[], cwd: string): Promise<Measure> {
  const { status, stdout, stderr } = await outputOf(
    spawn('/usr/bin/time', ['-f', 'cpu %U %S', ...argv], { cwd }),
  )
  const line = stdout.split('\n').find((l) => l.startsWith('{"requests"'))
  const cpu = /cpu ([\d.]+) ([\d.]+)/.exec(stderr)
  if (status !== 0 || !line || !cpu)
    throw new Error(`${argv.join(' ')} exited ${status}: ${stderr.slice(-400)}`)
  const { requests, ms } = JSON.parse(line) as { requests: number; ms: number }
  return { requests, requestsPerSecond: requests / (ms / 1000), cpuSeconds: Number(cpu[1]) + Number(cpu[2]) }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      earlier: { type: 'string' },
      seconds: { type: 'string' },
      rounds: { type: 'string' },
      vus: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) return void process.stdout.write(`${USAGE}\n`)
  if (!values.earlier) throw new UsageError('--earlier DIR is required: the earlier load package, built')
  const earlierCli = path.resolve(userDirectory(process.env), values.earlier, 'dist/runner/cli.js')
  const seconds = wholeNumberOption('seconds', values.seconds, { fallback: 10, min: 1, unit: 'seconds' })
  const rounds = wholeNumberOption('rounds', values.rounds, { fallback: 3, min: 1 })
  const vus = wholeNumberOption('vus', values.vus, { fallback: 50, min: 1 })
  const dir = await mkdtemp(path.join(tmpdir(), 'measure-engine-'))
  const script = path.join(dir, 'get.js')
  await writeFile(script, SCRIPT)
  const stub = spawn(process.execPath, ['--input-type=module', '-e', STUB], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  try {
    const port = await new Promise<string>((resolve) =>
      stub.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim())),
    )
    const baseUrl = `http://127.0.0.1:${port}`
    const k6 = (cli: string) => (url: string) => [
      process.execPath,
      cli,
      'run',
      script,
      '-e',
      `BASE_URL=${url}`,
      '-e',
      `SECONDS=${seconds}`,
      '-e',
      `VUS=${vus}`,
    ]
    const contenders: Contender[] = [
      { name: 'this engine', command: k6(path.join(PACKAGE_DIR, 'dist/runner/cli.js')) },
      { name: `earlier engine (${values.earlier})`, command: k6(earlierCli) },
      {
        name: 'plain undici loop',
        command: (url) => [
          process.execPath,
          '--input-type=module',
          '-e',
          UNDICI_LOOP,
          `${url}/classrooms/1`,
          String(seconds),
          String(vus),
        ],
      },
    ]
    const results = new Map<string, Measure[]>(contenders.map((c) => [c.name, []]))
    for (let round = 0; round < rounds; round++)
      // Each round starts with the next contender, so none always runs first on a warming machine.
      for (let i = 0; i < contenders.length; i++) {
        const contender = contenders[(round + i) % contenders.length]!
        const result = await measure(contender.command(baseUrl), PACKAGE_DIR)
        results.get(contender.name)!.push(result)
        process.stderr.write(
          `round ${round + 1}: ${contender.name}: ${result.requestsPerSecond.toFixed(0)} req/s, ${result.cpuSeconds.toFixed(1)} s CPU\n`,
        )
      }
    process.stdout.write(`${table(results, seconds, vus)}\n`)
  } finally {
    stub.kill()
    await rm(dir, { recursive: true, force: true })
  }
}

/** The rounds of each contender, their median requests/s and CPU per request, as markdown. */
function table(results: Map<string, Measure[]>, seconds: number, vus: number): string {
  const median = (values: number[]) =>
    percentile(
      [...values].sort((a, b) => a - b),
      50,
    )
  const lines = [
    `${vus} VUs (or concurrent requests), ${seconds} s per round, against a stub HTTP server`,
    '',
    '| contender | req/s per round | median req/s | CPU s per round (start-up included) | median CPU µs per request |',
    '| --- | --- | ---: | --- | ---: |',
  ]
  for (const [name, rounds] of results)
    lines.push(
      `| ${name} | ${rounds.map((r) => r.requestsPerSecond.toFixed(0)).join(' / ')} | ${median(rounds.map((r) => r.requestsPerSecond)).toFixed(0)} | ${rounds.map((r) => r.cpuSeconds.toFixed(1)).join(' / ')} | ${median(rounds.map((r) => (r.cpuSeconds / r.requests) * 1e6)).toFixed(0)} |`,
    )
  return lines.join('\n')
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof UsageError ? `${error.message}\n\n${USAGE}` : (error as Error).stack}\n`,
  )
  process.exitCode = error instanceof UsageError ? 2 : 1
})
