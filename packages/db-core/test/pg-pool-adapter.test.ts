// The one module that touches pg-pool's private state, pinned against the pg-pool the lockfile resolves.
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { describe, expect, inject, it } from 'vitest'
import { PgPoolStore } from '../src/pool/queue/pg-pool-adapter.js'

const url = inject('databaseUrl')
const SRC = fileURLToPath(new URL('../src', import.meta.url))

// What the adapter was written against: a new pg-pool must be read again before this moves.
const PINNED_PG_POOL = '3.14.0'

function* sources(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) yield* sources(full)
    else if (entry.name.endsWith('.ts')) yield full
  }
}

describe("pg-pool's private state, behind PgPoolStore", () => {
  it('is the pg-pool version the adapter was written against', () => {
    const requireFromPg = createRequire(createRequire(import.meta.url).resolve('pg'))
    // pg-pool's exports hide its package.json: read the one beside its entry point.
    const entry = requireFromPg.resolve('pg-pool')
    const pkg = JSON.parse(readFileSync(path.join(path.dirname(entry), 'package.json'), 'utf8')) as {
      version: string
    }
    expect(pkg.version).toBe(PINNED_PG_POOL)
  })

  it('is read and written nowhere else in db-core', () => {
    const privates = /\b(_idle|_clients|_pendingQueue|_pulseQueue|newClient)\b/
    const readers = [...sources(SRC)].filter((file) => privates.test(readFileSync(file, 'utf8')))
    expect(readers.map((file) => path.relative(SRC, file))).toEqual([
      path.join('pool', 'queue', 'pg-pool-adapter.ts'),
    ])
  })

  it("take() hands over an idle connection before returning, leaving nothing in pg-pool's queue", async () => {
    const pool = new pg.Pool({ connectionString: url, max: 2 })
    try {
      const client = await pool.connect()
      client.release()
      const store = new PgPoolStore(pool, () => undefined)
      expect({ idle: store.idle, open: store.open, max: store.max }).toEqual({ idle: 1, open: 1, max: 2 })
      let given: pg.PoolClient | undefined
      store.take((_error, taken) => {
        given = taken
      })
      expect(given).toBe(client)
      expect(pool.waitingCount).toBe(0)
      expect(store.idle).toBe(0)
      given?.release()
      expect(pool.idleCount).toBe(1)
    } finally {
      await pool.end()
    }
  })

  it('dial() opens a new connection, counted open at once and opening until it is; a failed one is said', async () => {
    const pool = new pg.Pool({ connectionString: url, max: 2 })
    try {
      const store = new PgPoolStore(pool, () => undefined)
      const opened = new Promise<pg.PoolClient>((resolve, reject) =>
        store.dial((error, client) => (client ? resolve(client) : reject(error))),
      )
      expect({ open: store.open, opening: store.opening }).toEqual({ open: 1, opening: 1 })
      const client = await opened
      expect(store.opening).toBe(0)
      expect((await client.query('select 1 as one')).rows).toEqual([{ one: 1 }])
      client.release()
    } finally {
      await pool.end()
    }
    const refused = new pg.Pool({ connectionString: 'postgres://nobody:x@127.0.0.1:1/none', max: 1 })
    let told = 0
    const store = new PgPoolStore(refused, () => told++)
    const error = await new Promise((resolve) => store.dial((e) => resolve(e)))
    expect(error).toMatchObject({ code: 'ECONNREFUSED' })
    expect({ told, open: store.open, opening: store.opening }).toEqual({ told: 1, open: 0, opening: 0 })
    await refused.end()
  })
})
