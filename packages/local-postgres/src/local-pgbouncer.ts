import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { findFreePort } from '@classroom/test-kit'
import pg from 'pg'
import { type RunAs, resolveRunAs } from './run-as.js'

const DEBIAN_BINARY = '/usr/sbin/pgbouncer'

/**
 * Debian's pgbouncer, installed with apt-get when missing and we are root; otherwise an error
 * saying how to get it.
 */
export function ensurePgBouncer(): string {
  if (existsSync(DEBIAN_BINARY)) return DEBIAN_BINARY
  if (process.getuid?.() !== 0) {
    throw new Error('pgbouncer is not installed and installing it needs root: apt-get install pgbouncer')
  }
  execFileSync(
    'sh',
    [
      '-c',
      'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends pgbouncer',
    ],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  )
  if (!existsSync(DEBIAN_BINARY)) throw new Error(`apt-get install pgbouncer left no ${DEBIAN_BINARY}`)
  return DEBIAN_BINARY
}

export interface LocalPgBouncerOptions {
  /** The PostgreSQL server's connection string (a superuser's, with its password). */
  readonly serverUrl: string
  /** The database clients reach through PgBouncer. */
  readonly database: string
  /** Server connections per user/database pair (`default_pool_size`). */
  readonly poolSize: number
}

/**
 * PgBouncer in transaction mode in front of a server, on a port of its own, for tests: stop it,
 * start it again, restart it under load.
 *
 * ```ts
 * const bouncer = await LocalPgBouncer.start({ serverUrl: cluster.connectionString(), database: 'app', poolSize: 10 })
 * const url = bouncer.connectionString()
 * ```
 */
export class LocalPgBouncer {
  readonly #binary: string
  readonly #dir: string
  readonly #port: number
  readonly #clientUrl: string
  readonly #runAs: RunAs | undefined
  #process: ChildProcess | undefined

  private constructor(
    binary: string,
    dir: string,
    port: number,
    clientUrl: string,
    runAs: RunAs | undefined,
  ) {
    this.#runAs = runAs
    this.#binary = binary
    this.#dir = dir
    this.#port = port
    this.#clientUrl = clientUrl
  }

  static async start(options: LocalPgBouncerOptions): Promise<LocalPgBouncer> {
    const binary = ensurePgBouncer()
    const server = new URL(options.serverUrl)
    const user = decodeURIComponent(server.username)
    const password = decodeURIComponent(server.password)
    const dir = await mkdtemp(path.join(tmpdir(), 'local-pgbouncer-'))
    const port = await findFreePort()
    await writeFile(path.join(dir, 'userlist.txt'), `"${user}" "${password}"\n`, { mode: 0o600 })
    await writeFile(
      path.join(dir, 'pgbouncer.ini'),
      [
        '[databases]',
        `${options.database} = host=${server.hostname} port=${server.port} dbname=${options.database}`,
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${port}`,
        'unix_socket_dir =',
        'auth_type = scram-sha-256',
        `auth_file = ${path.join(dir, 'userlist.txt')}`,
        'pool_mode = transaction',
        `default_pool_size = ${options.poolSize}`,
        'max_client_conn = 1000',
        `logfile = ${path.join(dir, 'pgbouncer.log')}`,
        '',
      ].join('\n'),
    )
    const runAs = resolveRunAs()
    if (runAs) {
      // PgBouncer refuses to run as root; it runs as the service user, who must read its files.
      await chmod(dir, 0o700)
      for (const file of ['', 'userlist.txt', 'pgbouncer.ini'])
        await chown(path.join(dir, file), runAs.uid, runAs.gid)
    }
    const clientUrl = new URL(options.serverUrl)
    clientUrl.port = String(port)
    clientUrl.pathname = `/${options.database}`
    const bouncer = new LocalPgBouncer(binary, dir, port, clientUrl.toString(), runAs)
    await bouncer.start()
    return bouncer
  }

  /** The connection string clients use: the server's user and password, PgBouncer's port. */
  connectionString(): string {
    return this.#clientUrl
  }

  async start(): Promise<void> {
    const runAs = this.#runAs
    const child = spawn(
      this.#binary,
      [...(runAs ? ['-u', runAs.name] : []), path.join(this.#dir, 'pgbouncer.ini')],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    )
    this.#process = child
    let stderr = ''
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
    })
    const deadline = Date.now() + 15_000
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`pgbouncer exited with ${child.exitCode}: ${stderr}`)
      const client = new pg.Client({ connectionString: this.#clientUrl, connectionTimeoutMillis: 1000 })
      try {
        await client.connect()
        await client.end()
        return
      } catch {
        await client.end().catch(() => undefined)
        await sleep(50)
      }
    }
    throw new Error(`pgbouncer did not accept connections on port ${this.#port}: ${stderr}`)
  }

  /** Stops PgBouncer at once (SIGINT, then SIGKILL after 5 s): every client connection drops. */
  async stop(): Promise<void> {
    const child = this.#process
    if (!child || child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGINT')
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(killer)
    this.#process = undefined
  }

  async restart(): Promise<void> {
    await this.stop()
    await this.start()
  }

  async destroy(): Promise<void> {
    await this.stop()
    await rm(this.#dir, { recursive: true, force: true })
  }
}
