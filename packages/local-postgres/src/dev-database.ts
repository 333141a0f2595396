// A persistent embedded PostgreSQL for development that any package can use: started in the
// background, found again by the state file beside its data directory, stopped on request.
import { spawn } from 'node:child_process'
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { LocalPostgres } from './local-postgres.js'

/** Where the development database lives and what it is called. */
export interface DevDatabaseOptions {
  /** Absolute path of its data directory, kept between starts. */
  readonly dataDir: string
  /** TCP port on 127.0.0.1; a free one at each start when absent. */
  readonly port?: number
  /** The database `DATABASE_URL` names, created when missing. */
  readonly database: string
}

/** A running development database, as its state file records it. */
export interface DevDatabaseState {
  /** The process that serves it (and stops it on SIGTERM or SIGINT). */
  readonly pid: number
  /** The superuser's URL of {@link DevDatabaseOptions.database}: what to set `DATABASE_URL` to. */
  readonly url: string
  readonly dataDir: string
}

/** The data directory used when none is given: in the temp directory, which the server's user can reach. */
export const DEFAULT_DEV_DATA_DIR = path.join(tmpdir(), 'classroom-engine', 'dev-postgres')
const READY_TIMEOUT_MS = 60_000

const stateFile = (dataDir: string) => `${dataDir}.server.json`
const logFile = (dataDir: string) => `${dataDir}.server.log`

/**
 * Runs the development database in this process until SIGTERM or SIGINT, which stop it ("fast"),
 * writing its state file once it accepts connections; `onReady` gets that state.
 *
 * ```ts
 * await serveDevDatabase({ dataDir, database: 'dev' }, (state) => console.log(state.url))
 * ```
 */
export async function serveDevDatabase(
  options: DevDatabaseOptions,
  onReady: (state: DevDatabaseState) => void,
): Promise<void> {
  const running = await runningDevDatabase(options.dataDir)
  if (running) {
    throw new Error(
      `A development database already runs on ${options.dataDir} (pid ${running.pid}): ${running.url}`,
    )
  }
  const cluster = await LocalPostgres.start({
    dataDir: options.dataDir,
    ...(options.port !== undefined && { port: options.port }),
  })
  let announced = false
  try {
    const state: DevDatabaseState = {
      pid: process.pid,
      url: await cluster.createDatabase(options.database),
      dataDir: options.dataDir,
    }
    await writeFile(stateFile(options.dataDir), `${JSON.stringify(state)}\n`, { mode: 0o600 })
    announced = true
    onReady(state)
    await new Promise((resolve) => {
      process.once('SIGTERM', resolve)
      process.once('SIGINT', resolve)
    })
  } finally {
    // Also when it could not be made ready: no server is left running that db:stop cannot find.
    await cluster.stop('fast')
    if (announced) await rm(stateFile(options.dataDir), { force: true })
  }
}

/**
 * Starts {@link serveDevDatabase} in a background process running `serveCommand` (a file and its
 * arguments) and resolves with its state once it accepts connections; when one already runs on
 * `dataDir`, resolves with that one's state instead. Its output goes to `<dataDir>.server.log`.
 *
 * ```ts
 * const state = await startDevDatabase(dataDir, [process.execPath, cli, 'serve', '--data-dir', dataDir])
 * ```
 */
export async function startDevDatabase(
  dataDir: string,
  serveCommand: readonly [string, ...string[]],
): Promise<{ readonly state: DevDatabaseState; readonly started: boolean }> {
  const running = await runningDevDatabase(dataDir)
  if (running) return { state: running, started: false }
  await mkdir(path.dirname(dataDir), { recursive: true, mode: 0o755 })
  const log = await open(logFile(dataDir), 'w')
  const [file, ...args] = serveCommand
  const child = spawn(file, args, { detached: true, stdio: ['ignore', log.fd, log.fd] })
  await log.close()
  child.unref()
  let exit: string | undefined
  child.once('exit', (code, signal) => {
    exit = `code ${code}, signal ${signal}`
  })
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (Date.now() < deadline) {
    const state = await runningDevDatabase(dataDir)
    if (state && state.pid === child.pid) return { state, started: true }
    if (exit !== undefined) {
      throw new Error(
        `The development database did not start (${exit}). Its log, ${logFile(dataDir)}:\n${await tail(dataDir)}`,
      )
    }
    await sleep(100)
  }
  child.kill('SIGTERM')
  throw new Error(
    `The development database did not accept connections within ${READY_TIMEOUT_MS / 1000} s. Its log, ${logFile(dataDir)}:\n${await tail(dataDir)}`,
  )
}

/**
 * Stops the development database on `dataDir` and waits for its process to exit. Resolves with
 * the stopped state, or undefined when none was running.
 *
 * ```ts
 * await stopDevDatabase(DEFAULT_DEV_DATA_DIR)
 * ```
 */
export async function stopDevDatabase(dataDir: string): Promise<DevDatabaseState | undefined> {
  const running = await runningDevDatabase(dataDir)
  if (!running) return undefined
  process.kill(running.pid, 'SIGTERM')
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (alive(running.pid)) {
    if (Date.now() > deadline) {
      throw new Error(
        `The development database (pid ${running.pid}) is still running ${READY_TIMEOUT_MS / 1000} s after SIGTERM.`,
      )
    }
    await sleep(50)
  }
  return running
}

/**
 * The state of the development database running on `dataDir`, or undefined when none runs (a
 * state file left by a process that is gone is removed).
 *
 * ```ts
 * const url = (await runningDevDatabase(DEFAULT_DEV_DATA_DIR))?.url
 * ```
 */
export async function runningDevDatabase(dataDir: string): Promise<DevDatabaseState | undefined> {
  const content = await readFile(stateFile(dataDir), 'utf8').catch(() => undefined)
  if (content === undefined) return undefined
  const state = JSON.parse(content) as DevDatabaseState
  if (alive(state.pid)) return state
  await rm(stateFile(dataDir), { force: true })
  return undefined
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function tail(dataDir: string): Promise<string> {
  const text = await readFile(logFile(dataDir), 'utf8').catch(() => '')
  return text.trimEnd().split('\n').slice(-20).join('\n')
}
