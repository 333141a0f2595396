import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { stripVTControlCharacters } from 'node:util'
import { createTestDatabase } from '@classroom/local-postgres'
import { type ApiProcess, findFreePort, spawnApi, TEST_API_AUTH } from '@classroom/test-kit'
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

/** Runs the built api with no DATABASE_URL and EMBEDDED_PG_PORT on a port something listens on; its lines, colours stripped. */
async function startOnTakenPort(env: Record<string, string>): Promise<{ code: number; lines: string[] }> {
  const port = await findFreePort()
  const holder = net.createServer()
  await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve))
  const dataDir = await mkdtemp(path.join(tmpdir(), 'api-taken-port-'))
  try {
    const { DATABASE_URL: _external, ...rest } = process.env
    const child = spawn(process.execPath, [API_ENTRY], {
      env: { ...rest, EMBEDDED_PG_PORT: String(port), EMBEDDED_PG_DATA_DIR: dataDir, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    for (const stream of [child.stdout, child.stderr])
      stream.setEncoding('utf8').on('data', (c) => (output += c))
    const [code] = (await once(child, 'exit')) as [number]
    const lines = stripVTControlCharacters(output)
      .split('\n')
      .filter((line) => line !== '')
    return { code, lines }
  } finally {
    holder.close()
    await rm(dataDir, { recursive: true, force: true })
  }
}

/**
 * Runs the built api under a real pseudo-terminal (`script`), as `pnpm start` in a terminal does,
 * until it says it listens; what the terminal showed, colours stripped.
 */
async function startOnTerminal(env: Record<string, string>): Promise<string> {
  const port = await findFreePort()
  const child = spawn('script', ['-qec', `exec '${process.execPath}' '${API_ENTRY}'`, '/dev/null'], {
    env: { ...process.env, ...TEST_API_AUTH, HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  let shown = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    shown += chunk
  })
  const exited = once(child, 'exit')
  const deadline = Date.now() + 30_000
  while (!shown.includes('api listening') && Date.now() < deadline && child.exitCode === null) {
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  // The api's SIGINT: the terminal's Ctrl-C.
  child.stdin.write('\x03')
  await exited
  return stripVTControlCharacters(shown).replace(/\r\n/g, '\n')
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
    await expect(started).rejects.toThrow(
      '"message":"api failed to start: 100 replica(s) × (size + overflow = 60) = 6000 connections',
    )
    await expect(started).rejects.toThrow('"error":"ConnectionBudgetError"')
  })

  it('a start that fails prints one plain line saying what is wrong and what to do, no stack, and exits 1 (the embedded port taken)', async () => {
    const { code, lines } = await startOnTakenPort({ LOG_FORMAT: 'pretty' })
    expect(code).toBe(1)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} error api failed to start: Port \d+ on 127\.0\.0\.1 is taken by another server: something already listens there\. Nothing was created on it; stop that server or choose another port \(or none, and a free one is chosen\)\. error=PortTakenError$/,
    )
  })

  it('at LOG_LEVEL=debug the failed start also shows where it failed (the stack)', async () => {
    const { code, lines } = await startOnTakenPort({ LOG_FORMAT: 'pretty', LOG_LEVEL: 'debug' })
    expect(code).toBe(1)
    expect(lines.some((line) => line.includes('error api failed to start: Port'))).toBe(true)
    expect(lines.some((line) => line.includes('debug the failed start, where it failed'))).toBe(true)
    expect(lines.some((line) => /^ +at refuseIfPortTaken /.test(line))).toBe(true)
  })

  it('on a terminal writes readable lines and says which URL to open; piped, JSON lines (LOG_FORMAT=auto)', async () => {
    const databaseUrl = await createTestDatabase(inject('databaseUrl'), 'api_terminal')
    const onTerminal = await startOnTerminal({ DATABASE_URL: databaseUrl, LOG_FORMAT: 'auto' })
    expect(onTerminal).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} info {2}api listening: open (http:\/\/127\.0\.0\.1:\d+)\/ \(the API reference: \1\/documentation\) url=\1 pool=\{"size":20,"maxOverflow":40\}$/m,
    )
    expect(onTerminal).not.toMatch(/^\{/m)

    const piped = await startApiProcess(databaseUrl, { LOG_FORMAT: 'auto' })
    piped.child.kill('SIGTERM')
    expect(await piped.exited).toBe(0)
    expect(piped.lines).toContainEqual(
      expect.objectContaining({ level: 'info', message: expect.stringMatching(/^api listening: open http/) }),
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
