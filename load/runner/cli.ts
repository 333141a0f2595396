// `pnpm load`: the command line read, help printed, the drill or the script run, the exit code given back.
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { type ParseArgsConfig, parseArgs } from 'node:util'
import { UsageError, wholeNumberOption } from '@classroom/test-kit'
import { WARMUP_SECONDS } from '../shared/scenarios.js'
import { k6Available, runWithK6 } from './k6-engine.js'
import { EXIT_CODES, K6ScriptError } from './k6-runtime/errors.js'
import { runScript } from './k6-runtime/run-script.js'
import { DEFAULT_RESULTS_DIR } from './package-paths.js'
import { type LoadOptions, runLoad } from './run-load.js'
import { formatSummaryTable } from './run-summary.js'
import { SUBCOMMAND_USAGE, type Subcommand, USAGE } from './usage.js'

export { UsageError }

/** `pnpm load run`: the script, its `__ENV` and the engine. */
export interface RunCommand {
  readonly script: string
  readonly env: Readonly<Record<string, string>>
  readonly engine: 'node' | 'k6'
  /** Where the user typed the command: handleSummary's files are written relative to it. */
  readonly cwd: string
}

/**
 * Where the user typed the command: pnpm runs scripts in the package's directory and says where it
 * was called from in INIT_CWD, so paths on the command line are read from there, as k6 reads them.
 */
export function userDirectory(env: NodeJS.ProcessEnv): string {
  return env.INIT_CWD || process.cwd()
}

const wholeSeconds = (name: string, raw: string | undefined, fallback: number, min: number) =>
  wholeNumberOption(name, raw, { fallback, min, unit: 'seconds' })

function choice<T extends string>(
  name: string,
  raw: string | undefined,
  choices: readonly T[],
  fallback: T,
): T {
  if (raw === undefined) return fallback
  if (!(choices as readonly string[]).includes(raw))
    throw new UsageError(`--${name} is one of ${choices.join(', ')}, not "${raw}"`)
  return raw as T
}

/** node's parseArgs, its refusals as usage errors. */
function parseOptions(config: ParseArgsConfig): ReturnType<typeof parseArgs> {
  try {
    return parseArgs(config)
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
}

/** `pnpm load soak`'s length of judged load when `--duration` does not say: 30 minutes. */
export const SOAK_SECONDS = 1800

/**
 * `soak [options]` is `steady --duration 1800 [options]`: a long steady run, whose memory trend the
 * drill judges as it does any steady run long enough (a `--duration` of its own wins).
 */
function soakAsSteady(argv: readonly string[]): string[] {
  if (argv[0] !== 'soak') return [...argv]
  const rest = argv.slice(1)
  const duration = rest.some((arg) => arg === '--duration' || arg.startsWith('--duration='))
  return ['steady', ...(duration ? [] : ['--duration', String(SOAK_SECONDS)]), ...rest]
}

export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv): LoadOptions {
  const parsed = parseOptions({
    args: soakAsSteady(argv),
    allowPositionals: true,
    strict: true,
    options: {
      engine: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      before: { type: 'string' },
      window: { type: 'string' },
      after: { type: 'string' },
      mode: { type: 'string' },
      'down-seconds': { type: 'string' },
      'promote-after': { type: 'string' },
      async: { type: 'boolean' },
      via: { type: 'string' },
      'read-your-writes': { type: 'string' },
      'results-dir': { type: 'string' },
    },
  })
  const { values, positionals } = parsed
  const text = (key: string) => values[key] as string | undefined
  if (positionals.length !== 1)
    throw new UsageError(
      `name one scenario, steady, restart, failover or replicas (got ${positionals.length})`,
    )
  const scenario = choice(
    'scenario',
    positionals[0],
    ['steady', 'restart', 'failover', 'replicas'] as const,
    'steady',
  )
  const engine = choice('engine', text('engine'), ['node', 'k6'] as const, 'node')
  if (engine === 'k6' && !k6Available(env)) {
    throw new UsageError(
      '--engine k6 needs the k6 binary on PATH; without it, leave --engine out to use the built-in engine',
    )
  }
  if (scenario === 'restart' && env.DATABASE_URL && !env.DB_RESTART_COMMAND) {
    throw new UsageError(
      'restart with DATABASE_URL needs DB_RESTART_COMMAND: the runner cannot restart a server it did not start',
    )
  }
  if (scenario === 'failover' && env.DATABASE_URL && !env.DB_FAILOVER_COMMAND) {
    throw new UsageError(
      'failover with DATABASE_URL needs DB_FAILOVER_COMMAND: the runner cannot kill and promote servers it did not start',
    )
  }
  if (scenario === 'replicas' && env.DATABASE_URL) {
    throw new UsageError(
      'replicas runs on a primary and two standbys it starts (it stops one mid-run): unset DATABASE_URL',
    )
  }
  if (values['read-your-writes'] !== undefined && scenario !== 'replicas')
    throw new UsageError(`--read-your-writes is for the replicas drill, not ${scenario}`)
  if (values.warmup !== undefined && scenario !== 'steady')
    throw new UsageError(`--warmup is for steady, not ${scenario} (a drill's before phase warms it)`)
  for (const name of ['promote-after', 'async', 'via'] as const) {
    if (values[name] !== undefined && scenario !== 'failover')
      throw new UsageError(`--${name} is for the failover drill, not ${scenario}`)
    if (values[name] !== undefined && env.DATABASE_URL && name !== 'promote-after')
      throw new UsageError(
        `--${name} sets up the embedded servers; with DATABASE_URL, DB_FAILOVER_COMMAND does`,
      )
  }
  return {
    scenario,
    engine,
    durationSeconds: wholeSeconds('duration', text('duration'), 60, 1),
    warmupSeconds: wholeSeconds('warmup', text('warmup'), WARMUP_SECONDS, 0),
    phases: {
      before: wholeSeconds('before', text('before'), 20, 1),
      window: wholeSeconds('window', text('window'), 20, 2),
      after: wholeSeconds('after', text('after'), 20, 1),
    },
    mode: choice(
      'mode',
      text('mode'),
      ['fast', 'immediate'] as const,
      scenario === 'failover' ? 'immediate' : 'fast',
    ),
    downSeconds: wholeSeconds('down-seconds', text('down-seconds'), scenario === 'replicas' ? 5 : 0, 0),
    readYourWrites:
      choice('read-your-writes', text('read-your-writes'), ['on', 'off'] as const, 'on') === 'on',
    promoteAfterSeconds: wholeSeconds('promote-after', text('promote-after'), 1, 0),
    replication: {
      synchronous: values.async !== true,
      via: choice('via', text('via'), ['hosts', 'proxy'] as const, 'hosts'),
    },
    resultsDir: resultsDirectory(text('results-dir'), env),
    databaseUrl: env.DATABASE_URL || undefined,
    restartCommand: env.DB_RESTART_COMMAND || undefined,
    failoverCommand: env.DB_FAILOVER_COMMAND || undefined,
  }
}

/**
 * Reads `run <script> [-e KEY=VALUE]... [--engine node|k6]` (the arguments after `run`), as
 * `k6 run` takes them.
 *
 * ```ts
 * parseRunCommand(['load/k6/steady.ts', '-e', 'DURATION=5'], process.env)
 * ```
 */
export function parseRunCommand(argv: string[], env: NodeJS.ProcessEnv): RunCommand {
  const parsed = parseOptions({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { env: { type: 'string', short: 'e', multiple: true }, engine: { type: 'string' } },
  })
  const { values, positionals } = parsed
  if (positionals.length !== 1) throw new UsageError(`run takes one script (got ${positionals.length})`)
  const engine = choice('engine', values.engine as string | undefined, ['node', 'k6'] as const, 'node')
  if (engine === 'k6' && !k6Available(env))
    throw new UsageError(
      '--engine k6 needs the k6 binary on PATH; without it, leave --engine out to use the built-in engine',
    )
  const scriptEnv: Record<string, string> = {}
  for (const pair of (values.env as string[] | undefined) ?? []) {
    const equals = pair.indexOf('=')
    if (equals <= 0) throw new UsageError(`-e takes KEY=VALUE, not "${pair}"`)
    scriptEnv[pair.slice(0, equals)] = pair.slice(equals + 1)
  }
  const cwd = userDirectory(env)
  return { script: path.resolve(cwd, positionals[0]!), env: scriptEnv, engine, cwd }
}

/** `--results-dir`, from where the user typed the command; `load/results` by default. */
function resultsDirectory(raw: string | undefined, env: NodeJS.ProcessEnv): string {
  return raw === undefined ? DEFAULT_RESULTS_DIR : path.resolve(userDirectory(env), raw)
}

/**
 * The help the command line asks for, if it does: `--help` or `-h` anywhere (before a `run`
 * script's `-e` values, which could hold the same text), or `help [subcommand]`.
 */
export function helpWanted(argv: readonly string[]): string | undefined {
  const [first, second] = argv
  const subcommand = (name: string | undefined): name is Subcommand =>
    name !== undefined && Object.hasOwn(SUBCOMMAND_USAGE, name)
  if (first === 'help') return subcommand(second) ? SUBCOMMAND_USAGE[second] : USAGE
  const flags =
    first === 'run' ? argv.slice(0, argv.indexOf('-e') < 0 ? undefined : argv.indexOf('-e')) : argv
  if (!flags.includes('--help') && !flags.includes('-h')) return undefined
  return subcommand(first) ? SUBCOMMAND_USAGE[first] : USAGE
}

/** `pnpm load run`: the script's own output, and k6's exit code (107 when it cannot run here). */
async function runCommand(command: RunCommand): Promise<number> {
  if (command.engine === 'k6') return runWithK6(command.script, command.env, command.cwd)
  try {
    return (await runScript({ script: command.script, env: command.env, cwd: command.cwd })).exitCode
  } catch (error) {
    if (!(error instanceof K6ScriptError)) throw error
    process.stderr.write(`${error.message}\n`)
    return EXIT_CODES.scriptError
  }
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2)
  const help = helpWanted(argv)
  if (help) {
    process.stdout.write(`${help}\n`)
    return 0
  }
  let options: LoadOptions
  try {
    if (argv[0] === 'run') return await runCommand(parseRunCommand(argv.slice(1), process.env))
    options = parseCommandLine(argv, process.env)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    const subcommand = argv[0] as Subcommand
    process.stderr.write(
      `${error.message}\n\n${Object.hasOwn(SUBCOMMAND_USAGE, subcommand) ? SUBCOMMAND_USAGE[subcommand] : USAGE}\n`,
    )
    return 2
  }
  const tty = process.stdout.isTTY === true
  let lastPrinted = 0
  const result = await runLoad({
    ...options,
    onProgress: (line) => {
      // A live line in a terminal; one line every 5 s in a log.
      if (tty) process.stdout.write(`\r${line.padEnd(110)}`)
      else if (Date.now() - lastPrinted >= 5000) {
        lastPrinted = Date.now()
        process.stdout.write(`${line}\n`)
      }
    },
  })
  if (tty) process.stdout.write('\n')
  if (result.summary) process.stdout.write(`\n${formatSummaryTable(result.summary)}\n`)
  process.stdout.write(`\nresults: ${result.runDir}\n`)
  return result.exitCode
}

// Runs as the CLI; imported (by tests) it only exposes the command-line parsers.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => {
      process.exitCode = code
    },
    (error: unknown) => {
      process.stderr.write(`load run failed: ${error instanceof Error ? error.stack : String(error)}\n`)
      process.exitCode = 1
    },
  )
}
