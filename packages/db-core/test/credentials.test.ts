import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { inspect } from 'node:util'
import { LocalPostgres } from '@classroom/local-postgres'
import { findClosedPort, recordingLogger } from '@classroom/test-kit'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  checkDatabase,
  DatabaseAuthError,
  DatabaseUnavailableError,
  InstrumentedPool,
  loadDbConfig,
  resolveDbConfig,
  Secret,
} from '../src/index.js'
import { configError, configFor, openPool, sleep } from './support.js'

// A server of its own: the role `app` and its password change here, test after test.
let cluster: LocalPostgres
let dir: string
let passwordFile: string
/** The password `app` has now; every rotation moves it on. */
let current = 'first-password'
let rotations = 0
const pools: InstrumentedPool[] = []

/** `app`'s URL, without a password: the file or the function gives it. */
function appUrl(ports: readonly number[] = [cluster.port]): string {
  return `postgres://app@${ports.map((port) => `127.0.0.1:${port}`).join(',')}/postgres`
}

/** Replaces the password file whole, as a secret store does (a reader never sees it half written). */
async function writePasswordFile(content: string): Promise<void> {
  const next = `${passwordFile}.next`
  await writeFile(next, content)
  await rename(next, passwordFile)
}

/** A rotation: the server's password first, then the file, as an operator or a secret store does. */
async function rotate(): Promise<string> {
  current = `rotated-password-${++rotations}`
  await cluster.query(`alter role app password '${current}'`)
  await writePasswordFile(`${current}\n`)
  return current
}

function track(pool: InstrumentedPool): InstrumentedPool {
  pools.push(pool)
  return pool
}

/** A pool of `app` reading its password from the file. */
function filePool(env: Record<string, string> = {}, logger = recordingLogger().logger): InstrumentedPool {
  return track(openPool(configFor(appUrl(), { DB_PASSWORD_FILE: passwordFile, ...env }), logger))
}

/** `n` queries at once, each holding its connection `seconds`: the backends that served them. */
async function pidsOf(pool: InstrumentedPool, n: number, seconds = 0.1): Promise<Set<number>> {
  const results = await Promise.all(
    Array.from({ length: n }, () =>
      pool.query<{ pid: number }>('select pg_backend_pid() as pid, pg_sleep($1)', [seconds]),
    ),
  )
  return new Set(results.map((result) => result.rows[0]!.pid))
}

async function failureOf(run: Promise<unknown>): Promise<unknown> {
  return run.then(
    () => new Error('expected a failure'),
    (error: unknown) => error,
  )
}

beforeAll(async () => {
  cluster = await LocalPostgres.temporary()
  await cluster.query(`create role app login password '${current}'`)
  dir = await mkdtemp(path.join(tmpdir(), 'db-core-credentials-'))
  passwordFile = path.join(dir, 'db-password')
})

beforeEach(async () => {
  await writePasswordFile(`${current}\n`)
})

afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.end()))
})

afterAll(async () => {
  await cluster?.destroy()
  await rm(dir, { recursive: true, force: true })
})

describe('DB_PASSWORD_FILE', () => {
  it('logs in with the password the file holds, trailing newlines dropped', async () => {
    await writePasswordFile(`${current}\n\n`)
    const { rows } = await filePool().query<{ user: string }>('select current_user as user')
    expect(rows).toEqual([{ user: 'app' }])
  })

  it('keeps open connections working after a rotation: the server checks a password only at login', async () => {
    const pool = filePool({ DB_POOL_SIZE: '4', DB_POOL_MAX_OVERFLOW: '0' })
    const warm = await pidsOf(pool, 4)
    await rotate()
    expect(await pidsOf(pool, 4)).toEqual(warm)
    expect(pool.stats().connectionsCreated).toBe(4)
  })

  it('logs connections opened after a rotation in with the rewritten file', async () => {
    const pool = filePool({ DB_POOL_SIZE: '2', DB_POOL_MAX_OVERFLOW: '6' })
    const warm = await pidsOf(pool, 2)
    const old = current
    await rotate()
    // More load than the warm connections carry: six more are opened, after the rotation.
    const busy = await pidsOf(pool, 8)
    expect([...busy].filter((pid) => !warm.has(pid))).toHaveLength(6)
    expect(pool.stats()).toMatchObject({ connectionsCreated: 8, connectFailures: 0 })
    // The old password opens nothing any more: the new connections used the new one.
    const stale = new pg.Client({
      connectionString: `postgres://app:${old}@127.0.0.1:${cluster.port}/postgres`,
    })
    await expect(stale.connect()).rejects.toMatchObject({ code: '28P01' })
  })

  it('fails no query across a rotation under steady load, while idle connections end and new ones open', async () => {
    // Bursts of 12 callers holding 200 ms against the workers' queries: FIFO, so that the workers
    // wait for them rather than being refused as overload (not what this test is about).
    const pool = filePool({
      DB_POOL_SIZE: '4',
      DB_POOL_MAX_OVERFLOW: '8',
      DB_POOL_OVERFLOW_IDLE_MS: '50',
      DB_POOL_QUEUE_POLICY: 'fifo',
    })
    await pidsOf(pool, 4)
    let running = true
    let served = 0
    const failures: unknown[] = []
    const worker = async () => {
      while (running) {
        await pool.query('select 1').then(
          () => served++,
          (error: unknown) => failures.push(error),
        )
        await sleep(2)
      }
    }
    const workers = [worker(), worker()]
    await sleep(100)
    await rotate()
    await sleep(100)
    // Load past the warm connections opens overflow ones; idle, they end; the next burst opens more.
    await pidsOf(pool, 12, 0.2)
    await sleep(300)
    await pidsOf(pool, 12, 0.2)
    running = false
    await Promise.all(workers)
    expect(failures).toEqual([])
    expect(served).toBeGreaterThan(50)
    const stats = pool.stats()
    expect(stats).toMatchObject({ connectFailures: 0, acquireFailures: 0 })
    expect(stats.connectionsRemoved).toBeGreaterThan(0)
    expect(stats.connectionsCreated).toBeGreaterThan(12)
  })

  it('reaches every host of a multi-host URL that carries no password', async () => {
    const ports = [await findClosedPort(), cluster.port]
    const pool = track(openPool(configFor(appUrl(ports), { DB_PASSWORD_FILE: passwordFile })))
    const { rows } = await pool.query<{ port: number }>("select current_setting('port')::int as port")
    expect(rows).toEqual([{ port: cluster.port }])
  })

  it('a wrong password in the file fails the checkout with DatabaseAuthError naming the file, never the password', async () => {
    await writePasswordFile('not-the-password\n')
    const { logger, lines } = recordingLogger()
    const pool = filePool({}, logger)
    const error = await failureOf(pool.query('select 1'))
    expect(error).toBeInstanceOf(DatabaseAuthError)
    expect(error).toMatchObject({
      code: 'DATABASE_AUTH_FAILED',
      passwordSource: `DB_PASSWORD_FILE=${passwordFile}`,
      message: `authentication failed for user "app" with the password from DB_PASSWORD_FILE=${passwordFile} (28P01: password authentication failed for user "app")`,
      cause: expect.objectContaining({ code: '28P01' }),
    })
    expect(inspect(error, { depth: 5 }) + JSON.stringify(lines)).not.toContain('not-the-password')
    expect(pool.stats()).toMatchObject({ acquireFailures: 1, databaseDown: false })
  })

  it('a file that disappears after the start fails the connections that need it, clearly, until it is back', async () => {
    const pool = filePool()
    await rm(passwordFile)
    const error = await failureOf(pool.query('select 1'))
    expect(error).toBeInstanceOf(DatabaseAuthError)
    expect((error as Error).message).toBe(
      `could not read the database password from DB_PASSWORD_FILE=${passwordFile} (ENOENT)`,
    )
    await writePasswordFile(`${current}\n`)
    await expect(pool.query('select 1 as one')).resolves.toMatchObject({ rows: [{ one: 1 }] })
  })

  it('after an outage, a server back up that refuses the login is reported as such, not as unreachable', async () => {
    const pool = filePool({ DB_POOL_UNAVAILABLE_WAIT_MS: '200' })
    await cluster.stop('fast')
    await expect(pool.query('select 1')).rejects.toBeInstanceOf(DatabaseUnavailableError)
    await writePasswordFile('not-the-password\n')
    await cluster.start()
    // The reconnect loop's probe is refused a login: the server answers, so checkouts try again.
    let error: unknown
    for (const deadline = Date.now() + 5000; Date.now() < deadline; await sleep(100)) {
      error = await failureOf(pool.query('select 1'))
      if (!(error instanceof DatabaseUnavailableError)) break
    }
    expect(error).toBeInstanceOf(DatabaseAuthError)
    expect(pool.stats().databaseDown).toBe(false)
  })

  it('readiness through the pool logs in as the pool does', async () => {
    const health = await checkDatabase(filePool(), { timeoutMs: 2000 })
    expect(health).toMatchObject({ ok: true })
    await writePasswordFile('not-the-password\n')
    const refused = await checkDatabase(filePool(), { timeoutMs: 2000 })
    expect(refused).toMatchObject({
      ok: false,
      error: expect.stringMatching(
        /^authentication failed for user "app" with the password from DB_PASSWORD_FILE=/,
      ),
    })
  })
})

describe('the password function', () => {
  /** A pool of `app` whose password comes from `password`. */
  function functionPool(password: () => string | Promise<string>, size = 3): InstrumentedPool {
    const options = { connectionString: appUrl(), password, pool: { size, maxOverflow: 0 } }
    return track(new InstrumentedPool({ ...options, logger: recordingLogger().logger }))
  }

  it('is called once for every new connection, and may be async', async () => {
    let calls = 0
    const pool = functionPool(async () => {
      calls++
      await sleep(5)
      return current
    })
    await pidsOf(pool, 3)
    expect(calls).toBe(3)
    // Reused connections log in no more.
    await pidsOf(pool, 3)
    expect(calls).toBe(3)
    expect(pool.stats().connectionsCreated).toBe(3)
  })

  it('gives detached connections (probes, readiness) their password too', async () => {
    let calls = 0
    const pool = functionPool(() => {
      calls++
      return current
    })
    await expect(checkDatabase(pool, { timeoutMs: 2000 })).resolves.toMatchObject({ ok: true })
    expect(calls).toBe(1)
  })

  it('a function that throws fails the checkout with DatabaseAuthError naming the function', async () => {
    const pool = functionPool(async () => {
      throw new Error('token service unreachable')
    })
    const error = await failureOf(pool.query('select 1'))
    expect(error).toBeInstanceOf(DatabaseAuthError)
    expect(error).toMatchObject({
      message: 'the password function failed: token service unreachable',
      passwordSource: 'the password function',
    })
  })

  it.each([
    ['an empty string', ''],
    ['a null', null],
  ])(
    'a function that returns %s fails the checkout with DatabaseAuthError saying so',
    async (what, returned) => {
      const pool = functionPool(() => returned as unknown as string)
      const error = await failureOf(pool.query('select 1'))
      expect(error).toBeInstanceOf(DatabaseAuthError)
      expect(error).toMatchObject({ message: `the password function returned ${what}, not a password` })
    },
  )

  it('a file emptied after the start fails the connections that need it with DatabaseAuthError saying so', async () => {
    const pool = filePool()
    await writePasswordFile('\n')
    const error = await failureOf(pool.query('select 1'))
    expect(error).toBeInstanceOf(DatabaseAuthError)
    expect(error).toMatchObject({
      message: `the database password file is empty (DB_PASSWORD_FILE=${passwordFile})`,
    })
  })

  it('a wrong password from it is a DatabaseAuthError naming the function, not the password', async () => {
    const pool = functionPool(() => 'expired-token')
    const error = await failureOf(pool.query('select 1'))
    expect((error as Error).message).toBe(
      'authentication failed for user "app" with the password from the password function (28P01: password authentication failed for user "app")',
    )
    expect(inspect(error, { depth: 5 })).not.toContain('expired-token')
  })
})

describe('configuration of the password', () => {
  const withPassword = 'postgres://app:hunter2@127.0.0.1:5432/app'
  const withoutPassword = 'postgres://app@127.0.0.1:5432/app'

  it('DB_PASSWORD_FILE is kept as a path: the config holds neither the password nor the file', () => {
    const config = loadDbConfig({ DATABASE_URL: withoutPassword, DB_PASSWORD_FILE: passwordFile })
    expect(config.passwordFile).toBe(passwordFile)
    expect(inspect(config, { depth: 5 }) + JSON.stringify(config)).not.toContain(current)
  })

  it('refuses DB_PASSWORD_FILE together with a password in DATABASE_URL, naming both', () => {
    const error = configError(() =>
      loadDbConfig({ DATABASE_URL: withPassword, DB_PASSWORD_FILE: passwordFile }),
    )
    expect(error.issues).toEqual([
      {
        name: 'DB_PASSWORD_FILE',
        value: passwordFile,
        expected:
          'one source of the password, but DATABASE_URL holds one too: remove it from the URL (postgres://user@host/db) or unset DB_PASSWORD_FILE',
      },
    ])
    expect(error.message).not.toContain('hunter2')
  })

  it('refuses a DB_PASSWORD_FILE that cannot be read, or that is empty', async () => {
    expect(() =>
      loadDbConfig({ DATABASE_URL: withoutPassword, DB_PASSWORD_FILE: '/nonexistent/db-password' }),
    ).toThrow(
      'DB_PASSWORD_FILE: got "/nonexistent/db-password"; expected a readable file holding the password (ENOENT)',
    )
    expect(() => loadDbConfig({ DATABASE_URL: withoutPassword, DB_PASSWORD_FILE: dir })).toThrow(
      `DB_PASSWORD_FILE: got "${dir}"; expected a readable file holding the password (EISDIR)`,
    )
    await writePasswordFile('\n')
    expect(() => loadDbConfig({ DATABASE_URL: withoutPassword, DB_PASSWORD_FILE: passwordFile })).toThrow(
      `DB_PASSWORD_FILE: got "${passwordFile}"; expected a file holding the password (it is empty)`,
    )
  })

  it('refuses a password function together with a password in the URL, or with passwordFile', () => {
    const password = () => 'secret'
    const inUrl = configError(() => resolveDbConfig({ connectionString: withPassword, password }))
    expect(inUrl.issues).toEqual([
      {
        name: 'password',
        value: 'a function',
        expected:
          'one source of the password, but connectionString holds one too: remove it from the URL or drop the password function',
      },
    ])
    const withFile = configError(() =>
      resolveDbConfig({ connectionString: withoutPassword, password, passwordFile }),
    )
    expect(withFile.issues).toEqual([
      {
        name: 'password',
        value: 'a function',
        expected: 'one source of the password, but passwordFile is set too: keep one of them',
      },
    ])
  })

  it('refuses a password that is not a function, without showing it', () => {
    const options = { connectionString: withoutPassword, password: 'hunter2' as unknown as () => string }
    const error = configError(() => resolveDbConfig(options))
    expect(error.issues).toEqual([
      {
        name: 'password',
        value: 'a string',
        expected:
          'a function returning the password (or a promise of it); a fixed password goes in connectionString',
      },
    ])
    expect(error.message).not.toContain('hunter2')
  })

  it('keeps the password function out of sight in a resolved config, as a Secret, and in one resolved again', async () => {
    const password = () => 'from-the-function'
    const config = resolveDbConfig({ connectionString: withoutPassword, password })
    expect(config.password).toBeInstanceOf(Secret)
    expect(await config.password?.reveal()).toBe('from-the-function')
    expect(JSON.stringify(config) + inspect(config, { depth: 5 })).not.toMatch(/from-the-function/)
    expect(resolveDbConfig(config).password).toBe(config.password)
  })
})
