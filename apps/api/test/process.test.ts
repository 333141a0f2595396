import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createTestDatabase } from '@classroom/local-postgres'
import { type ApiProcess, spawnApi } from '@classroom/test-kit'
import pg from 'pg'
import { describe, expect, inject, it } from 'vitest'
import { API_ENTRY, request } from './support.js'

interface RunningProcess extends ApiProcess {
  readonly lines: Record<string, unknown>[]
}

async function startApiProcess(
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<RunningProcess> {
  const lines: Record<string, unknown>[] = []
  const api = await spawnApi({
    entry: API_ENTRY,
    env: { DATABASE_URL: databaseUrl, LOG_LEVEL: 'info', ...env },
    onLine: (line) => lines.push(JSON.parse(line) as Record<string, unknown>),
  })
  return { ...api, lines }
}

async function withAdmin<T>(url: string, run: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  try {
    return await run(admin)
  } finally {
    await admin.end()
  }
}

/**
 * An enrollment request blocked inside its transaction, behind a classroom row lock that `admin`
 * holds (in a transaction the caller rolls back): a request, and a checkout, that cannot finish.
 */
async function blockedEnrollment(
  api: RunningProcess,
  databaseUrl: string,
): Promise<{ blocked: Promise<number | 'connection cut'>; admin: pg.Client }> {
  const room = (await request(api.url, 'POST', '/classrooms', { name: 'Locked', capacity: 5 })).body
    .id as number
  const student = (await request(api.url, 'POST', '/students', { name: 'Slow', email: 'slow@shutdown.test' }))
    .body.id as number
  const admin = new pg.Client({ connectionString: databaseUrl })
  await admin.connect()
  await admin.query('begin')
  await admin.query('select * from classrooms where id = $1 for update', [room])
  const blocked = request(api.url, 'POST', `/classrooms/${room}/enrollments`, { studentId: student }).then(
    (r) => r.status,
    () => 'connection cut' as const,
  )
  // Time for the request to reach the lock and wait there.
  await new Promise((resolve) => setTimeout(resolve, 200))
  return { blocked, admin }
}

describe('the api process', () => {
  it('on SIGTERM finishes in-flight requests, exits 0, and every request answered 2xx is in the database', async () => {
    const databaseUrl = await createTestDatabase(inject('databaseUrl'), 'api_sigterm')
    const api = await startApiProcess(databaseUrl)
    const acknowledged: string[] = []
    const refused: number[] = []
    let stop = false
    let seq = 0
    const writer = async (w: number) => {
      while (!stop) {
        const email = `w${w}.${seq++}@shutdown.test`
        try {
          const response = await request(api.url, 'POST', '/students', { name: 'Inflight', email })
          if (response.status === 201) acknowledged.push(email)
          else refused.push(response.status)
        } catch {
          return // the server closed: this writer is done
        }
      }
    }
    const writers = Array.from({ length: 20 }, (_, w) => writer(w))
    await new Promise((resolve) => setTimeout(resolve, 400))
    api.child.kill('SIGTERM')
    const code = await api.exited
    stop = true
    await Promise.all(writers)

    expect(code).toBe(0)
    expect(acknowledged.length).toBeGreaterThan(20)
    // Requests that arrived on a closing server may be refused (503), never half-done.
    for (const status of refused) expect(status).toBe(503)
    const stored = await withAdmin(databaseUrl, async (admin) => {
      const { rows } = await admin.query<{ email: string }>('select email from students')
      return new Set(rows.map((r) => r.email))
    })
    const lost = acknowledged.filter((email) => !stored.has(email))
    expect(lost).toEqual([])
    expect(api.lines.map((l) => l.message)).toContain('shut down')
  })

  it('cuts requests still running after SHUTDOWN_TIMEOUT_MS and exits 1; what was not acknowledged may not be stored', async () => {
    const databaseUrl = await createTestDatabase(inject('databaseUrl'), 'api_shutdown_timeout')
    const api = await startApiProcess(databaseUrl, { SHUTDOWN_TIMEOUT_MS: '300' })
    const { blocked, admin } = await blockedEnrollment(api, databaseUrl)
    try {
      api.child.kill('SIGTERM')
      expect(await blocked).toBe('connection cut')
    } finally {
      await admin.query('rollback')
      await admin.end()
    }
    expect(await api.exited).toBe(1)
    expect(api.lines.map((l) => l.message)).toContain(
      'in-flight requests did not finish within SHUTDOWN_TIMEOUT_MS; cutting their connections',
    )
  })

  it('exits 1 within SHUTDOWN_TIMEOUT_MS even while a database checkout stays held, naming it', async () => {
    const databaseUrl = await createTestDatabase(inject('databaseUrl'), 'api_shutdown_held')
    const api = await startApiProcess(databaseUrl, { SHUTDOWN_TIMEOUT_MS: '500' })
    const { blocked, admin } = await blockedEnrollment(api, databaseUrl)
    try {
      // The lock outlives the shutdown: the enrollment's checkout is never given back on its own.
      const signalledAt = performance.now()
      api.child.kill('SIGTERM')
      expect(await api.exited).toBe(1)
      expect(performance.now() - signalledAt).toBeLessThan(500 + 2000)
      await blocked
      expect(api.lines.map((l) => l.message)).toContain('a connection still held at shutdown was destroyed')
    } finally {
      await admin.query('rollback')
      await admin.end()
    }
  })

  it('exits at once on a second signal', async () => {
    const databaseUrl = await createTestDatabase(inject('databaseUrl'), 'api_second_signal')
    const api = await startApiProcess(databaseUrl, { SHUTDOWN_TIMEOUT_MS: '60000' })
    const room = (await request(api.url, 'POST', '/classrooms', { name: 'Locked', capacity: 5 })).body
      .id as number
    const admin = new pg.Client({ connectionString: databaseUrl })
    await admin.connect()
    try {
      await admin.query('begin')
      await admin.query('select * from classrooms where id = $1 for update', [room])
      void request(api.url, 'POST', `/classrooms/${room}/enrollments`, { studentId: 1 }).catch(
        () => undefined,
      )
      await new Promise((resolve) => setTimeout(resolve, 200))
      api.child.kill('SIGTERM')
      await new Promise((resolve) => setTimeout(resolve, 200))
      expect(api.child.exitCode).toBeNull() // still draining the blocked request
      api.child.kill('SIGTERM')
      expect(await api.exited).toBe(1)
      expect(api.lines.map((l) => l.message)).toContain('second signal: exiting at once')
    } finally {
      await admin.query('rollback')
      await admin.end()
    }
  })

  it('exits 1 when start-up fails after validation, saying why (a connection budget the server cannot meet)', async () => {
    const databaseUrl = await createTestDatabase(inject('databaseUrl'), 'api_budget_refused')
    const started = startApiProcess(databaseUrl, {
      DB_POOL_BUDGET_STRICT: 'true',
      DB_EXPECTED_REPLICAS: '100',
    })
    await expect(started).rejects.toThrow(
      /^the api exited with code 1 before it answered \/healthz\. Its last output:/,
    )
    await expect(started).rejects.toThrow('"message":"api failed to start"')
    await expect(started).rejects.toThrow(
      'ConnectionBudgetError: 100 replica(s) × (size + overflow = 60) = 6000 connections',
    )
  })

  it('refuses to start on bad configuration, listing every bad variable, before opening any connection', async () => {
    const child = spawn(process.execPath, [API_ENTRY], {
      env: {
        ...process.env,
        DATABASE_URL: 'postgres://app:hunter2@127.0.0.1:1/app',
        DB_POOL_SIZE: '-1',
        PORT: 'eighty',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
    })
    const [code] = await once(child, 'exit')
    expect(code).toBe(1)
    expect(stderr).toContain('Invalid configuration (2 variables):')
    expect(stderr).toContain('DB_POOL_SIZE: got "-1"; expected a whole number ≥ 0')
    expect(stderr).toContain('PORT: got "eighty"; expected a whole number ≥ 0')
    expect(stderr).not.toContain('hunter2')
  })
})
