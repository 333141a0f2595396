import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { TEST_API_AUTH } from './api-auth.js'
import { findFreePort } from './free-port.js'

/** The built api running as a child process. */
export interface ApiProcess {
  readonly child: ChildProcess
  /** `http://127.0.0.1:port` */
  readonly url: string
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>
}

export interface SpawnApiOptions {
  /**
   * The built api's entry point: `@classroom/api`'s `./main` export, resolved by the caller (the
   * api is started as a process, never imported).
   *
   * ```ts
   * spawnApi({ entry: fileURLToPath(import.meta.resolve('@classroom/api/main')), env: { DATABASE_URL: url } })
   * ```
   */
  readonly entry: string
  /**
   * Environment on top of this process's; `DATABASE_URL` is required (the child must not start
   * an embedded database of its own).
   *
   * ```ts
   * spawnApi({ entry, env: { DATABASE_URL: url, LOG_LEVEL: 'warn' } })
   * ```
   */
  readonly env: Record<string, string> & { DATABASE_URL: string }
  /**
   * Receives every line the api writes (JSON log lines).
   *
   * ```ts
   * spawnApi({ entry, env, onLine: (line) => logFile.write(`${line}\n`) })
   * ```
   */
  readonly onLine?: (line: string) => void
  /**
   * Flags for node itself, before the entry point (`--cpu-prof` and friends are refused in NODE_OPTIONS).
   *
   * ```ts
   * spawnApi({ entry, env, nodeArgs: ['--cpu-prof', '--cpu-prof-dir=/tmp/profiles'] })
   * ```
   */
  readonly nodeArgs?: readonly string[]
  /** Longest wait for `/healthz`, in milliseconds. Default 30000. */
  readonly startTimeoutMs?: number
}

const OUTPUT_TAIL_LINES = 20

/**
 * Starts the built api (what `pnpm start` runs) on a free port and resolves once `/healthz`
 * answers; rejects when the process exits first.
 *
 * ```ts
 * const api = await spawnApi({ entry, env: { DATABASE_URL: url } })
 * api.child.kill('SIGTERM')
 * await api.exited
 * ```
 */
export async function spawnApi(options: SpawnApiOptions): Promise<ApiProcess> {
  const port = await findFreePort()
  const url = `http://127.0.0.1:${port}`
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), options.entry], {
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      LOG_FORMAT: 'json',
      ...TEST_API_AUTH,
      ...options.env,
      PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = once(child, 'exit').then(([code]) => code as number | null)
  const tail: string[] = []
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = ''
    stream.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk
      const lines = buffered.split('\n')
      buffered = lines.pop() ?? ''
      for (const line of lines) {
        tail.push(line)
        if (tail.length > OUTPUT_TAIL_LINES) tail.shift()
        options.onLine?.(line)
      }
    })
  }
  const startTimeoutMs = options.startTimeoutMs ?? 30_000
  const deadline = Date.now() + startTimeoutMs
  let exitCode: number | null | undefined
  void exited.then((code) => {
    exitCode = code
  })
  while (Date.now() < deadline) {
    if (exitCode !== undefined) {
      throw new Error(
        `the api exited with code ${exitCode} before it answered /healthz. Its last output:\n${tail.join('\n')}`,
      )
    }
    const healthy = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    )
    if (healthy) return { child, url, exited }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  child.kill('SIGKILL')
  throw new Error(
    `the api did not answer /healthz on ${url} within ${startTimeoutMs} ms. Its last output:\n${tail.join('\n')}`,
  )
}
