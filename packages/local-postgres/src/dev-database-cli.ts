import path from 'node:path'
// `pnpm db:start` / `db:stop` / `db:url` / `db:serve`: the development database from the command line.
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { UsageError, wholeNumberOption } from '@classroom/test-kit'
import {
  DEFAULT_DEV_DATA_DIR,
  type DevDatabaseOptions,
  runningDevDatabase,
  serveDevDatabase,
  startDevDatabase,
  stopDevDatabase,
} from './dev-database.js'

const USAGE = `usage: local-postgres-dev <start | stop | url | serve> [--data-dir <absolute path>] [--port <n>] [--database <name>]

  start   start the development database in the background (or find it running) and print DATABASE_URL=...
  stop    stop it
  url     print its URL, or exit 1 when it is not running
  serve   run it in the foreground until Ctrl-C, printing DATABASE_URL=...

  --data-dir  where its files live, kept between starts (default ${DEFAULT_DEV_DATA_DIR})
  --port      TCP port on 127.0.0.1 (default: a free port at each start)
  --database  the database the URL names, created when missing (default dev)`

/**
 * The command and its options from `argv` (the arguments after the script), or a
 * {@link UsageError} saying what is wrong.
 *
 * ```ts
 * parseDevCommand(['start', '--port', '5433']) // { command: 'start', options: { port: 5433, ... } }
 * ```
 */
export function parseDevCommand(argv: readonly string[]): {
  readonly command: 'start' | 'stop' | 'url' | 'serve'
  readonly options: DevDatabaseOptions
} {
  const { positionals, values } = parseOptions(argv)
  const [command, ...extra] = positionals
  if (command !== 'start' && command !== 'stop' && command !== 'url' && command !== 'serve') {
    throw new UsageError(
      `name one command, start, stop, url or serve (got ${command === undefined ? 'none' : `"${command}"`})`,
    )
  }
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`)
  const dataDir = values['data-dir'] ?? DEFAULT_DEV_DATA_DIR
  if (!path.isAbsolute(dataDir)) throw new UsageError(`--data-dir takes an absolute path, not "${dataDir}"`)
  const database = values.database ?? 'dev'
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(database)) {
    throw new UsageError(
      `--database takes lowercase letters, digits and underscores (at most 63), not "${database}"`,
    )
  }
  const port = wholeNumberOption('port', values.port, { fallback: 0, min: 1 })
  if (port > 65_535) throw new UsageError(`--port takes a whole number from 1 to 65535, not "${values.port}"`)
  return { command, options: { dataDir, database, ...(port !== 0 && { port }) } }
}

const OPTIONS = {
  'data-dir': { type: 'string' },
  port: { type: 'string' },
  database: { type: 'string' },
} as const

/** node's parseArgs, its refusals as usage errors. */
function parseOptions(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true })
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
}

/** The arguments that make a background process serve the same database as `options`. */
function serveArguments(options: DevDatabaseOptions): [string, ...string[]] {
  return [
    process.execPath,
    fileURLToPath(import.meta.url),
    'serve',
    '--data-dir',
    options.dataDir,
    '--database',
    options.database,
    ...(options.port !== undefined ? ['--port', String(options.port)] : []),
  ]
}

async function main(argv: readonly string[]): Promise<void> {
  const { command, options } = parseDevCommand(argv)
  const say = (line: string) => process.stdout.write(`${line}\n`)
  switch (command) {
    case 'start': {
      const { state, started } = await startDevDatabase(options.dataDir, serveArguments(options))
      say(
        `${started ? 'started' : 'already running'}: PostgreSQL on ${options.dataDir} (pid ${state.pid}); \`pnpm db:stop\` stops it`,
      )
      say(`DATABASE_URL=${state.url}`)
      return
    }
    case 'stop': {
      const stopped = await stopDevDatabase(options.dataDir)
      say(
        stopped
          ? `stopped the development database on ${options.dataDir}`
          : `no development database runs on ${options.dataDir}`,
      )
      return
    }
    case 'url': {
      const running = await runningDevDatabase(options.dataDir)
      if (!running) {
        process.stderr.write(
          `no development database runs on ${options.dataDir}: \`pnpm db:start\` starts it\n`,
        )
        process.exitCode = 1
        return
      }
      say(running.url)
      return
    }
    case 'serve':
      await serveDevDatabase(options, (state) => {
        say(`PostgreSQL on ${options.dataDir} accepts connections; Ctrl-C stops it`)
        say(`DATABASE_URL=${state.url}`)
      })
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    await main(process.argv.slice(2))
  } catch (error) {
    process.stderr.write(
      error instanceof UsageError ? `${error.message}\n\n${USAGE}\n` : `${(error as Error).message}\n`,
    )
    process.exitCode = error instanceof UsageError ? 2 : 1
  }
}
