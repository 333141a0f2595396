import { performance } from 'node:perf_hooks'
import { FaultProxy, LocalPostgres } from '@classroom/local-postgres'
import { findClosedPort, recordingLogger } from '@classroom/test-kit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkDatabase, DatabaseUnavailableError, type InstrumentedPool } from '../src/index.js'
import { configFor, openPool } from './support.js'

// A real primary and a real hot standby of it, on clusters of this file's own.
let primary: LocalPostgres
let standby: LocalPostgres
/** A port nothing listens on: a host that refuses every connection. */
let deadPort: number

beforeAll(async () => {
  primary = await LocalPostgres.temporary()
  standby = await primary.startStandby()
  deadPort = await findClosedPort()
})

afterAll(async () => {
  await standby?.destroy()
  await primary?.destroy()
})

/** The URL of `ports` in order, as libpq writes several hosts, with `params` appended. */
function multiHostUrl(ports: readonly number[], params = ''): string {
  return `${primary.connectionString('postgres', { ports })}${params}`
}

/** The port of the server a pooled connection landed on. */
async function landedOn(pool: InstrumentedPool): Promise<number> {
  const { rows } = await pool.query<{ port: number }>('select inet_server_port() as port')
  return rows[0]!.port
}

async function withPool<T>(
  url: string,
  run: (pool: InstrumentedPool) => Promise<T>,
  overrides: Record<string, string> = {},
): Promise<T> {
  const pool = openPool(configFor(url, { DB_POOL_SIZE: '2', DB_POOL_MAX_OVERFLOW: '2', ...overrides }))
  try {
    return await run(pool)
  } finally {
    await pool.end()
  }
}

describe('several hosts, tried in order as libpq does', () => {
  it('a first host that refuses: the connection lands on the second', async () => {
    await withPool(multiHostUrl([deadPort, primary.port]), async (pool) => {
      expect(await landedOn(pool)).toBe(primary.port)
      expect(pool.stats().connectFailures).toBeGreaterThanOrEqual(1)
      expect(pool.stats().databaseDown).toBe(false)
    })
  })

  it('read-write skips a standby listed first and lands on the primary', async () => {
    await withPool(
      multiHostUrl([standby.port, primary.port], '?target_session_attrs=read-write'),
      async (pool) => {
        expect(await landedOn(pool)).toBe(primary.port)
        expect(pool.stats().serverRoleRefusals).toBeGreaterThanOrEqual(1)
      },
    )
  })

  it.each([
    ['read-only', 'standby'],
    ['standby', 'standby'],
    ['prefer-standby', 'standby'],
    ['primary', 'primary'],
    ['read-write', 'primary'],
    ['any', 'primary'],
  ] as const)('target_session_attrs=%s lands on the %s', async (attrs, expected) => {
    const ports = [primary.port, standby.port]
    await withPool(multiHostUrl(ports, `?target_session_attrs=${attrs}`), async (pool) => {
      expect(await landedOn(pool)).toBe(expected === 'standby' ? standby.port : primary.port)
    })
  })

  it.each([
    ['no connect_timeout: the 5 s share of each of several hosts', '', 5000],
    ['connect_timeout=2', '?connect_timeout=2', 2000],
  ] as const)(
    'a first host that accepts TCP and never answers costs %s, and new connections then pass it over',
    async (_label, params, shareMs) => {
      // Packets to a dead VM or across a partition go unanswered: a frozen proxy is such a host.
      const silent = await FaultProxy.start({ host: '127.0.0.1', port: primary.port })
      silent.freeze()
      try {
        await withPool(multiHostUrl([silent.port, primary.port], params), async (pool) => {
          const startedAt = performance.now()
          expect(await landedOn(pool)).toBe(primary.port)
          const firstMs = performance.now() - startedAt
          expect(firstMs).toBeGreaterThanOrEqual(shareMs - 100)
          expect(firstMs).toBeLessThan(shareMs + 3000)
          // Remembered for twice what it cost: three more new connections go straight to the primary.
          const again = performance.now()
          const held = await Promise.all([pool.connect(), pool.connect(), pool.connect()])
          for (const client of held) client.release()
          expect(performance.now() - again).toBeLessThan(shareMs / 2)
        })
      } finally {
        await silent.close()
      }
    },
  )

  it('prefer-standby falls back to the primary when no standby answers', async () => {
    await withPool(
      multiHostUrl([deadPort, primary.port], '?target_session_attrs=prefer-standby'),
      async (pool) => {
        expect(await landedOn(pool)).toBe(primary.port)
      },
    )
  })

  it('closes every connection it refused: none is left open on the wrong server', async () => {
    const application = `refused-${process.pid}`
    await withPool(
      multiHostUrl(
        [standby.port, primary.port],
        `?target_session_attrs=primary&application_name=${application}`,
      ),
      async (pool) => {
        await Promise.all(Array.from({ length: 4 }, () => pool.query('select pg_sleep(0.05)')))
        expect(pool.stats().serverRoleRefusals).toBeGreaterThanOrEqual(1)
        const left = await standby.query('select 1 from pg_stat_activity where application_name = $1', [
          application,
        ])
        expect(left).toEqual([])
      },
    )
  })

  it('no host qualifies: DatabaseUnavailableError naming each host and why, never the password, within the wait', async () => {
    const url = multiHostUrl([deadPort, standby.port], '?target_session_attrs=read-write')
    const password = new URL(primary.connectionString()).password
    await withPool(
      url,
      async (pool) => {
        const startedAt = performance.now()
        const error = await pool.query('select 1').catch((caught: unknown) => caught)
        const elapsedMs = performance.now() - startedAt
        expect(error).toBeInstanceOf(DatabaseUnavailableError)
        const { message } = error as Error
        expect(message).toContain(`127.0.0.1:${deadPort} failed to connect: connect ECONNREFUSED`)
        expect(message).toContain(`127.0.0.1:${standby.port} is a standby (read-only), not read-write`)
        expect(message).not.toContain(password)
        // The pool's wait for an unreachable database bounds it, far below the acquire timeout.
        expect(elapsedMs).toBeLessThan(5000)
      },
      { DB_POOL_UNAVAILABLE_WAIT_MS: '300', DB_POOL_TIMEOUT_SECONDS: '10' },
    )
  })

  it('readiness through the pool answers for what requests meet: down when no host qualifies', async () => {
    await withPool(
      multiHostUrl([standby.port, primary.port], '?target_session_attrs=read-write'),
      async (pool) => {
        await expect(checkDatabase(pool, { timeoutMs: 1000 })).resolves.toMatchObject({ ok: true })
      },
    )
    await withPool(multiHostUrl([standby.port], '?target_session_attrs=read-write'), async (pool) => {
      const health = await checkDatabase(pool, { timeoutMs: 1000 })
      expect(health).toMatchObject({ ok: false, error: expect.stringContaining('is a standby') })
    })
  })

  it('logs no warning for a host refused on the way to one that qualifies', async () => {
    const { logger, lines } = recordingLogger()
    const pool = openPool(
      configFor(multiHostUrl([standby.port, primary.port], '?target_session_attrs=read-write')),
      logger,
    )
    try {
      await pool.query('select 1')
      expect(lines.filter((line) => line.level === 'warn')).toEqual([])
    } finally {
      await pool.end()
    }
  })
})
