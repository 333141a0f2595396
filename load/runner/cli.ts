// `pnpm load`: the command line read, help printed, the drill or the script run, the exit code given back.
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { type ParseArgsConfig, parseArgs } from 'node:util'
import { UsageError, wholeNumberOption } from '@classroom/test-kit'
import { WARMUP_SECONDS } from '../shared/scenarios.js'
import type { FlagName, FlagValues } from './drills/drill.js'
import { DRILL_NAMES, DRILLS } from './drills/index.js'
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

/** Every drill's flags for parseArgs: a flag no drill takes is refused by name. */
const DRILL_FLAGS = Object.fromEntries(
  [...new Set(DRILL_NAMES.flatMap((name) => DRILLS[name].flags))].map((flag) => [
    flag,
    { type: flag === 'async' ? 'boolean' : 'string' },
  ]),
) as NonNullable<ParseArgsConfig['options']>

/** "the failover drill", "steady and the restart drill": the drills that take a flag. */
function ownersOf(flag: FlagName): string {
  const owners = DRILL_NAMES.filter((name) => DRILLS[name].flags.includes(flag)).map(
    (name) => DRILLS[name].title,
  )
  return owners.length === 1 ? owners[0]! : `${owners.slice(0, -1).join(', ')} and ${owners.at(-1)}`
}

export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv): LoadOptions {
  const parsed = parseOptions({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { engine: { type: 'string' }, 'results-dir': { type: 'string' }, ...DRILL_FLAGS },
  })
  const { positionals } = parsed
  const values = parsed.values as FlagValues & { engine?: string; 'results-dir'?: string }
  const text = (key: FlagName) => values[key] as string | undefined
  if (positionals.length !== 1)
    throw new UsageError(
      `name one scenario, ${DRILL_NAMES.slice(0, -1).join(', ')} or ${DRILL_NAMES.at(-1)} (got ${positionals.length})`,
    )
  const scenario = choice('scenario', positionals[0], DRILL_NAMES, 'steady')
  const drill = DRILLS[scenario]
  const engine = choice('engine', values.engine, ['node', 'k6'] as const, 'node')
  if (engine === 'k6' && !k6Available(env)) {
    throw new UsageError(
      '--engine k6 needs the k6 binary on PATH; without it, leave --engine out to use the built-in engine',
    )
  }
  for (const flag of Object.keys(DRILL_FLAGS) as FlagName[]) {
    if (values[flag] === undefined || drill.flags.includes(flag)) continue
    // A steady run is warmed by its warm-up stage, a drill by its before phase.
    const why = flag === 'warmup' ? " (a drill's before phase warms it)" : ''
    throw new UsageError(`--${flag} is for ${ownersOf(flag)}, not ${scenario}${why}`)
  }
  drill.refuse?.(values, env)
  const defaults = drill.defaults ?? {}
  return {
    scenario,
    engine,
    durationSeconds: wholeSeconds('duration', text('duration'), defaults.duration ?? 60, 1),
    warmupSeconds: wholeSeconds('warmup', text('warmup'), WARMUP_SECONDS, 0),
    phases: {
      before: wholeSeconds('before', text('before'), defaults.before ?? 20, 1),
      window: wholeSeconds('window', text('window'), 20, 2),
      after: wholeSeconds('after', text('after'), defaults.after ?? 20, 1),
    },
    mode: choice('mode', text('mode'), ['fast', 'immediate'] as const, defaults.mode ?? 'fast'),
    downSeconds: wholeSeconds('down-seconds', text('down-seconds'), defaults.downSeconds ?? 0, 0),
    readYourWrites:
      choice('read-your-writes', text('read-your-writes'), ['on', 'off'] as const, 'on') === 'on',
    promoteAfterSeconds: wholeSeconds('promote-after', text('promote-after'), 1, 0),
    replication: {
      synchronous: values.async !== true,
      via: choice('via', text('via'), ['hosts', 'proxy'] as const, 'hosts'),
    },
    ...drill.read?.(values, env),
    resultsDir: resultsDirectory(values['results-dir'], env),
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
