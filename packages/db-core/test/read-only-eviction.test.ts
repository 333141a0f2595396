import { FaultProxy, LocalPostgres } from '@classroom/local-postgres'
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DatabaseUnavailableError, type InstrumentedPool, isReadOnlyError } from '../src/index.js'
import { configFor, openPool, sleep } from './support.js'

// A primary, a standby of it, and a proxy in front (a VIP, a DNS name, a load balancer) that
// tests re-point; all of this file's own, since tests make servers read-only and move the proxy.
let primary: LocalPostgres
let standby: LocalPostgres
let proxy: FaultProxy

beforeAll(async () => {
  primary = await LocalPostgres.temporary()
  await primary.query('create table notes (id serial primary key, note text not null)')
  standby = await primary.startStandby()
  proxy = await FaultProxy.start({ host: '127.0.0.1', port: primary.port })
})

afterAll(async () => {
  await proxy?.close()
  await standby?.destroy()
  await primary?.destroy()
})

const POOL = { DB_POOL_SIZE: '4', DB_POOL_MAX_OVERFLOW: '0', DB_POOL_UNAVAILABLE_WAIT_MS: '400' }

/** One write on a connection of its own checkout; resolves to its error, if any, and the backend it ran on. */
async function write(pool: InstrumentedPool): Promise<{ error?: unknown; backend?: number }> {
  let client: pg.PoolClient
  try {
    client = await pool.connect()
  } catch (error) {
    return { error }
  }
  const backend = (client as unknown as { processID: number }).processID
  try {
    await client.query('insert into notes (note) values ($1)', ['written'])
    return { backend }
  } catch (error) {
    return { error, backend }
  } finally {
    client.release()
  }
}

/** Writes until one succeeds, or fails after `withinMs`. */
async function writesAgainWithin(pool: InstrumentedPool, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs
  for (;;) {
    const { error } = await write(pool)
    if (!error) return
    if (Date.now() > deadline) throw error
    await sleep(50)
  }
}

/** Opens `n` connections and leaves them idle in the pool. */
async function warm(pool: InstrumentedPool, n: number): Promise<void> {
  await Promise.all(Array.from({ length: n }, () => pool.query('select pg_sleep(0.05)')))
  expect(pool.stats().idle).toBe(n)
}

async function setPrimaryReadOnly(on: boolean): Promise<void> {
  await primary.query(
    on
      ? 'alter system set default_transaction_read_only = on'
      : 'alter system reset default_transaction_read_only',
  )
  await primary.query('select pg_reload_conf()')
  // Every backend applies the reload at its next command; give idle ones a moment to take it.
  await sleep(200)
}

describe('a server that stops accepting writes', () => {
  it('proxy re-pointed to a standby: a read-write pool refuses it with a clear error, then writes again once it points at a primary', async () => {
    const pool = openPool(
      configFor(`${proxy.rewrite(primary.connectionString())}?target_session_attrs=read-write`, POOL),
    )
    try {
      await warm(pool, 4)
      proxy.retarget({ host: '127.0.0.1', port: standby.port }, { cut: true })
      const outcomes = await Promise.all(Array.from({ length: 8 }, () => write(pool)))
      // Not one write reached the standby: every new connection was refused for what it found.
      expect(outcomes.filter((outcome) => isReadOnlyError(outcome.error))).toEqual([])
      const failed = outcomes.filter((outcome) => outcome.error)
      expect(failed.length).toBeGreaterThan(0)
      for (const { error } of failed) {
        expect(error).toBeInstanceOf(DatabaseUnavailableError)
        expect((error as Error).message).toContain('is a standby (read-only), not read-write')
      }
      expect(pool.stats().serverRoleRefusals).toBeGreaterThan(0)

      proxy.retarget({ host: '127.0.0.1', port: primary.port })
      await writesAgainWithin(pool, 3000)
    } finally {
      proxy.retarget({ host: '127.0.0.1', port: primary.port })
      await pool.end()
    }
  })

  it.each([
    ['any', {}],
    ['read-write', { target_session_attrs: 'read-write' }],
  ] as const)(
    'target_session_attrs=%s: each old connection whose server turned read-only fails at most one write, and the pool writes again once it is writable',
    async (_attrs, params) => {
      const query = new URLSearchParams(params).toString()
      const pool = openPool(configFor(`${primary.connectionString()}${query ? `?${query}` : ''}`, POOL))
      try {
        await warm(pool, 4)
        await setPrimaryReadOnly(true)
        const refusedOn: number[] = []
        for (let i = 0; i < 10; i++) {
          const { error, backend } = await write(pool)
          if (isReadOnlyError(error)) refusedOn.push(backend!)
          else expect(error).toBeInstanceOf(DatabaseUnavailableError)
        }
        // No connection is handed out again after its server refused a write.
        expect(new Set(refusedOn).size).toBe(refusedOn.length)
        expect(refusedOn.length).toBeGreaterThan(0)
        expect(pool.stats().readOnlyDiscards).toBeGreaterThan(0)

        await setPrimaryReadOnly(false)
        await writesAgainWithin(pool, 3000)
      } finally {
        await setPrimaryReadOnly(false)
        await pool.end()
      }
    },
  )

  it('a read-only transaction refused on a writable server costs no connection', async () => {
    const pool = openPool(configFor(primary.connectionString(), POOL))
    const [server] = await primary.query<{ version: number }>(
      "select current_setting('server_version_num')::int as version",
    )
    try {
      const client = await pool.connect()
      try {
        await client.query('begin read only')
        await expect(client.query('insert into notes (note) values ($1)', ['no'])).rejects.toMatchObject({
          code: '25006',
        })
        await client.query('rollback')
      } finally {
        client.release()
      }
      // PostgreSQL 14+ reports that the server accepts writes; before 14 db-core cannot tell, and drops it.
      expect(pool.stats().readOnlyDiscards).toBe(server!.version >= 140000 ? 0 : 1)
    } finally {
      await pool.end()
    }
  })
})
