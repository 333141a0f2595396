import { exec } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { checkDatabase } from '@classroom/db-core'
import { LocalPostgres, type ShutdownMode } from '@classroom/local-postgres'
import { type ApiProcess, spawnApi } from '@classroom/test-kit'

const execAsync = promisify(exec)

/** When the database went down and when it accepted connections again, in `performance.now()` time. */
export interface RestartTimes {
  readonly stoppedAt: number
  readonly acceptingAt: number
}

/** The system under load: a database and the built api in a process of its own. */
export interface Stack {
  readonly apiUrl: string
  readonly databaseUrl: string
  readonly databaseDescription: string
  /** Restarts PostgreSQL while the api keeps running. */
  restartDatabase(mode: ShutdownMode, downSeconds: number): Promise<RestartTimes>
  stop(): Promise<void>
}

export interface StackOptions {
  /** An existing database; the runner starts an embedded one when absent. */
  readonly databaseUrl: string | undefined
  /** With `databaseUrl`: a shell command that restarts that server (gets DB_RESTART_MODE and DB_DOWN_SECONDS). */
  readonly restartCommand: string | undefined
  /** Where the api's log goes. */
  readonly apiLogPath: string
}

const ACCEPT_POLL_MS = 50

/**
 * Starts the database (embedded unless `databaseUrl` is given) and the built api against it.
 *
 * ```ts
 * const stack = await startStack({ databaseUrl: undefined, restartCommand: undefined, apiLogPath })
 * ```
 */
export async function startStack(options: StackOptions): Promise<Stack> {
  const cluster = options.databaseUrl ? undefined : await LocalPostgres.temporary()
  const databaseUrl = options.databaseUrl ?? (await cluster!.createDatabase('classroom'))
  const apiLog = createWriteStream(options.apiLogPath)
  let api: ApiProcess
  try {
    api = await spawnApi({
      entry: fileURLToPath(import.meta.resolve('@classroom/api/main')),
      // Request lines would dwarf everything else at 50 users: warnings and errors only.
      env: { DATABASE_URL: databaseUrl, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
      onLine: (line) => apiLog.write(`${line}\n`),
    })
  } catch (error) {
    apiLog.end()
    await cluster?.destroy()
    throw error
  }
  return {
    apiUrl: api.url,
    databaseUrl,
    databaseDescription: cluster ? `embedded PostgreSQL ${cluster.version}` : 'DATABASE_URL',
    async restartDatabase(mode, downSeconds) {
      const stoppedAt = performance.now()
      if (cluster) {
        await cluster.restart(mode, { downMs: downSeconds * 1000 })
      } else {
        await execAsync(options.restartCommand!, {
          env: { ...process.env, DB_RESTART_MODE: mode, DB_DOWN_SECONDS: String(downSeconds) },
        })
      }
      // Whatever restarted it, "accepting" is when a fresh connection succeeds.
      while (!(await checkDatabase(databaseUrl, { timeoutMs: 1000 })).ok) {
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_POLL_MS))
      }
      return { stoppedAt, acceptingAt: performance.now() }
    },
    async stop() {
      api.child.kill('SIGTERM')
      await api.exited
      apiLog.end()
      await cluster?.destroy()
    },
  }
}
