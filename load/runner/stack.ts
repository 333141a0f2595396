import { exec } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { API_NODE_FLAGS } from '@classroom/api/node-flags'
import { checkDatabase } from '@classroom/db-core'
import { FaultProxy, LocalPostgres, type ShutdownMode } from '@classroom/local-postgres'
import { type ApiProcess, spawnApi } from '@classroom/test-kit'
import { openProbePool } from './database-probe.js'

const execAsync = promisify(exec)

/** When the database went down and when it accepted connections again, in `performance.now()` time. */
export interface RestartTimes {
  readonly stoppedAt: number
  readonly acceptingAt: number
}

/** When the primary was killed and when a standby was promoted, in `performance.now()` time. */
export interface FailoverTimes {
  readonly killedAt: number
  readonly promotedAt: number
}

/** The system under load: a database and the built api in a process of its own. */
export interface Stack {
  readonly apiUrl: string
  /** The database's URL, as the api has it, for the ledger check (db-core finds the primary by it). */
  readonly databaseUrl: string
  readonly databaseDescription: string
  /** Restarts PostgreSQL while the api keeps running. */
  restartDatabase(mode: ShutdownMode, downSeconds: number): Promise<RestartTimes>
  /** Kills the primary, and promotes the standby `promoteAfterSeconds` after the kill. */
  failOver(mode: ShutdownMode, promoteAfterSeconds: number): Promise<FailoverTimes>
  /**
   * Stops the second standby the api reads from, and starts it again `downSeconds` later; the first
   * stops replaying meanwhile (a standby fallen behind, still answering).
   */
  restartStandby(mode: ShutdownMode, downSeconds: number): Promise<RestartTimes>
  stop(): Promise<void>
}

/**
 * A primary and a streaming standby for the failover drill. The api reaches them by the multi-host
 * URL (`hosts`, with `target_session_attrs=read-write`), or by one address that is re-pointed at
 * the promoted node (`proxy`: a virtual IP, a DNS name, a load balancer).
 */
export interface ReplicationOptions {
  readonly synchronous: boolean
  readonly via: 'hosts' | 'proxy'
}

/**
 * A primary and two asynchronous standbys for the replicas drill: the api writes to the primary
 * and reads from the standbys (`DATABASE_READ_URLS`), with read-your-writes on or off
 * (`DB_READ_YOUR_WRITES`).
 */
export interface ReadReplicaOptions {
  readonly readYourWrites: boolean
}

export interface StackOptions {
  /** An existing database; the runner starts an embedded one when absent. */
  readonly databaseUrl: string | undefined
  /** With `databaseUrl`: a shell command that restarts that server (gets DB_RESTART_MODE and DB_DOWN_SECONDS). */
  readonly restartCommand: string | undefined
  /**
   * With `databaseUrl`: a shell command that kills the primary and promotes a standby (gets
   * DB_FAILOVER_MODE and DB_PROMOTE_AFTER_SECONDS), returning once the standby is promoted.
   */
  readonly failoverCommand?: string | undefined
  /** Embedded only: a primary and a standby instead of one server. */
  readonly replication?: ReplicationOptions
  /** Embedded only: a primary and two standbys the api reads from. */
  readonly readReplicas?: ReadReplicaOptions
  /**
   * Embedded only: the api reaches its one server through a proxy that delays every exchange this
   * long (a known cost per statement); the ledger reads the server directly.
   */
  readonly latencyMs?: number
  /** More of the api's environment (the overload drill's pool). */
  readonly apiEnv?: Readonly<Record<string, string>>
  /** Where the api's log goes. */
  readonly apiLogPath: string
}

const ACCEPT_POLL_MS = 50

/**
 * Starts the database (embedded unless `databaseUrl` is given: one server, or a primary and a
 * standby) and the built api against it.
 *
 * ```ts
 * const stack = await startStack({ databaseUrl: undefined, restartCommand: undefined, apiLogPath })
 * ```
 */
export async function startStack(options: StackOptions): Promise<Stack> {
  const database = options.databaseUrl
    ? externalDatabase(options)
    : options.replication
      ? await replicatedDatabase(options.replication)
      : options.readReplicas
        ? await readReplicasDatabase(options.readReplicas)
        : await singleDatabase(options.latencyMs ?? 0)
  const apiLog = createWriteStream(options.apiLogPath)
  let api: ApiProcess
  try {
    api = await spawnApi({
      entry: fileURLToPath(import.meta.resolve('@classroom/api/main')),
      // Request lines would dwarf everything else at 50 users: warnings and errors only.
      env: {
        DATABASE_URL: database.apiUrl,
        ...database.apiEnv,
        ...options.apiEnv,
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      },
      onLine: (line) => apiLog.write(`${line}\n`),
      // As `pnpm start` runs it; API_NODE_FLAGS replaces them, to measure the api under others.
      nodeArgs: process.env.API_NODE_FLAGS?.split(' ').filter(Boolean) ?? API_NODE_FLAGS,
    })
  } catch (error) {
    apiLog.end()
    await database.destroy()
    throw error
  }
  return {
    apiUrl: api.url,
    // Read through db-core, which finds the promoted primary by the same URL the api has.
    databaseUrl: database.directUrl ?? database.apiUrl,
    databaseDescription: database.description,
    async restartDatabase(mode, downSeconds) {
      const stoppedAt = performance.now()
      await database.restart(mode, downSeconds)
      // Whatever restarted it, "accepting" is when a fresh connection succeeds.
      const probe = openProbePool(database.apiUrl)
      try {
        while (!(await checkDatabase(probe, { timeoutMs: 1000 })).ok) await sleep(ACCEPT_POLL_MS)
      } finally {
        await probe.end()
      }
      return { stoppedAt, acceptingAt: performance.now() }
    },
    async failOver(mode, promoteAfterSeconds) {
      const killedAt = performance.now()
      await database.failOver(mode, promoteAfterSeconds, killedAt)
      return { killedAt, promotedAt: performance.now() }
    },
    async restartStandby(mode, downSeconds) {
      const stoppedAt = performance.now()
      await database.restartStandby(mode, downSeconds)
      // LocalPostgres.start() resolves once the standby accepts connections.
      return { stoppedAt, acceptingAt: performance.now() }
    },
    async stop() {
      api.child.kill('SIGTERM')
      await api.exited
      apiLog.end()
      await database.destroy()
    },
  }
}

/** What the drills do to a database, however it runs. */
interface DrillDatabase {
  /** The URL the api is given. */
  readonly apiUrl: string
  /** The server itself, when the api's URL goes through a latency proxy. */
  readonly directUrl?: string
  /** More of the api's environment: its read URLs. */
  readonly apiEnv?: Readonly<Record<string, string>>
  readonly description: string
  restart(mode: ShutdownMode, downSeconds: number): Promise<void>
  /** Kills the primary and returns once a standby is promoted `promoteAfterSeconds` after `killedAt`. */
  failOver(mode: ShutdownMode, promoteAfterSeconds: number, killedAt: number): Promise<void>
  /** Stops a standby the api reads from (another falls behind meanwhile); returns once it accepts connections again. */
  restartStandby(mode: ShutdownMode, downSeconds: number): Promise<void>
  destroy(): Promise<void>
}

const noStandby = () =>
  Promise.reject(new Error('no standby the api reads from: start the stack with `readReplicas`'))

async function singleDatabase(latencyMs: number): Promise<DrillDatabase> {
  const cluster = await LocalPostgres.temporary()
  let proxy: FaultProxy | undefined
  try {
    const url = await cluster.createDatabase('classroom')
    if (latencyMs > 0)
      proxy = await FaultProxy.start({ host: '127.0.0.1', port: cluster.port }, { latencyMs })
    const slowed = proxy
    return {
      apiUrl: slowed ? slowed.rewrite(url) : url,
      ...(slowed && { directUrl: url }),
      description: `embedded PostgreSQL ${cluster.version}${slowed ? `, every exchange with it delayed ${latencyMs} ms` : ''}`,
      restart: (mode, downSeconds) => cluster.restart(mode, { downMs: downSeconds * 1000 }),
      failOver: () =>
        Promise.reject(new Error('a failover needs a standby: start the stack with `replication`')),
      restartStandby: noStandby,
      destroy: async () => {
        await slowed?.close()
        await cluster.destroy()
      },
    }
  } catch (error) {
    await proxy?.close()
    await cluster.destroy()
    throw error
  }
}

async function readReplicasDatabase({ readYourWrites }: ReadReplicaOptions): Promise<DrillDatabase> {
  const primary = await LocalPostgres.temporary()
  const standbys: LocalPostgres[] = []
  const destroy = async () => {
    for (const standby of standbys) await standby.destroy()
    await primary.destroy()
  }
  try {
    // Made before the standbys' base backups, so they have it too; the api migrates it on the primary.
    const apiUrl = await primary.createDatabase('classroom')
    standbys.push(await primary.startStandby())
    standbys.push(await primary.startStandby())
    const [behind, restarted] = standbys as [LocalPostgres, LocalPostgres]
    return {
      apiUrl,
      apiEnv: {
        DATABASE_READ_URLS: standbys.map((standby) => standby.connectionString('classroom')).join(','),
        DB_READ_YOUR_WRITES: String(readYourWrites),
      },
      description: `embedded PostgreSQL ${primary.version}, a primary and two asynchronous standbys the api reads from, read-your-writes ${readYourWrites ? 'on' : 'off'}`,
      restart: (mode, downSeconds) => primary.restart(mode, { downMs: downSeconds * 1000 }),
      failOver: () =>
        Promise.reject(new Error('the replicas drill stops a standby; a failover is the failover drill')),
      restartStandby: async (mode, downSeconds) => {
        // On one idle machine a standby replays a commit within a millisecond: one that falls behind
        // for certain is what makes a read-your-writes failure (or, switched off, its stale reads) show.
        await behind.query('select pg_wal_replay_pause()')
        try {
          await restarted.restart(mode, { downMs: downSeconds * 1000 })
        } finally {
          await behind.query('select pg_wal_replay_resume()')
        }
      },
      destroy,
    }
  } catch (error) {
    await destroy()
    throw error
  }
}

async function replicatedDatabase({ synchronous, via }: ReplicationOptions): Promise<DrillDatabase> {
  const primary = await LocalPostgres.temporary()
  let standby: LocalPostgres | undefined
  let proxy: FaultProxy | undefined
  const destroy = async () => {
    await proxy?.close()
    await standby?.destroy()
    await primary.destroy()
  }
  try {
    // Made before the standby's base backup, so the standby has it too.
    const primaryUrl = await primary.createDatabase('classroom')
    standby = await primary.startStandby({ synchronous })
    const promoted = standby
    let apiUrl: string
    if (via === 'proxy') {
      proxy = await FaultProxy.start({ host: '127.0.0.1', port: primary.port })
      apiUrl = proxy.rewrite(primaryUrl)
    } else {
      apiUrl = primary.connectionString('classroom', {
        ports: [primary.port, promoted.port],
        params: { target_session_attrs: 'read-write' },
      })
    }
    const movedProxy = proxy
    return {
      apiUrl,
      description: `embedded PostgreSQL ${primary.version}, primary and ${synchronous ? 'synchronous' : 'asynchronous'} standby, reached by ${via === 'proxy' ? 'one re-pointed address' : 'a multi-host URL'}`,
      restart: (mode, downSeconds) => primary.restart(mode, { downMs: downSeconds * 1000 }),
      async failOver(mode, promoteAfterSeconds, killedAt) {
        await primary.stop(mode)
        await sleep(Math.max(0, killedAt + promoteAfterSeconds * 1000 - performance.now()))
        await promoted.promote()
        movedProxy?.retarget({ host: '127.0.0.1', port: promoted.port })
      },
      restartStandby: noStandby,
      destroy,
    }
  } catch (error) {
    await destroy()
    throw error
  }
}

function externalDatabase(options: StackOptions): DrillDatabase {
  const url = options.databaseUrl!
  const run = async (command: string | undefined, variable: string, env: Record<string, string>) => {
    if (!command)
      throw new Error(
        `this drill on DATABASE_URL needs ${variable}: the runner cannot do it to a server it did not start`,
      )
    await execAsync(command, { env: { ...process.env, ...env } })
  }
  return {
    apiUrl: url,
    description: 'DATABASE_URL',
    restart: (mode, downSeconds) =>
      run(options.restartCommand, 'DB_RESTART_COMMAND', {
        DB_RESTART_MODE: mode,
        DB_DOWN_SECONDS: String(downSeconds),
      }),
    failOver: (mode, promoteAfterSeconds) =>
      run(options.failoverCommand, 'DB_FAILOVER_COMMAND', {
        DB_FAILOVER_MODE: mode,
        DB_PROMOTE_AFTER_SECONDS: String(promoteAfterSeconds),
      }),
    restartStandby: noStandby,
    destroy: async () => undefined,
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
