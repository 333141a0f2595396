import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LocalPostgres } from '../src/index.js'

describe('LocalPostgres', () => {
  let cluster: LocalPostgres

  beforeAll(async () => {
    cluster = await LocalPostgres.temporary()
  })

  afterAll(async () => {
    await cluster.destroy()
  })

  it('runs a real PostgreSQL 18 that accepts password connections on 127.0.0.1', async () => {
    const [row] = await cluster.query<{ version: string; addr: string }>(
      'select version() as version, inet_server_addr()::text as addr',
    )
    expect(row?.version).toMatch(/^PostgreSQL 18\./)
    expect(row?.addr).toBe('127.0.0.1/32')
    expect(cluster.connectionString()).toMatch(/^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/postgres$/)
  })

  it.each(['fast', 'immediate', 'smart'] as const)(
    'restarts in %s mode with a new postmaster and the data kept',
    async (mode) => {
      await cluster.query('create table if not exists kept (v int)')
      await cluster.query('insert into kept values (1)')
      const before = cluster.pid
      await cluster.restart(mode)
      expect(cluster.running).toBe(true)
      expect(cluster.pid).not.toBe(before)
      const rows = await cluster.query<{ n: string }>('select count(*) as n from kept')
      expect(Number(rows[0]?.n)).toBeGreaterThan(0)
    },
  )

  it('refuses connections while stopped and accepts them after start', async () => {
    await cluster.stop('fast')
    expect(cluster.running).toBe(false)
    await expect(cluster.query('select 1')).rejects.toThrow(/ECONNREFUSED/)
    await cluster.start()
    await expect(cluster.query('select 1 as one')).resolves.toEqual([{ one: 1 }])
  })

  it('reuses an initialised data directory and refuses a second server on it', async () => {
    await expect(LocalPostgres.start({ dataDir: cluster.dataDir })).rejects.toThrow(
      new RegExp(`already running on ${cluster.dataDir}`),
    )
    await cluster.stop()
    const again = await LocalPostgres.start({ dataDir: cluster.dataDir, port: cluster.port })
    try {
      const rows = await again.query<{ n: string }>('select count(*) as n from kept')
      expect(Number(rows[0]?.n)).toBe(3)
    } finally {
      await again.stop()
      await cluster.start()
    }
  })

  it('creates a database once and hands out its connection string', async () => {
    const url = await cluster.createDatabase('app_test')
    expect(url.endsWith('/app_test')).toBe(true)
    await expect(cluster.createDatabase('app_test')).resolves.toBe(url)
    const rows = await cluster.query<{ db: string }>('select current_database() as db', [], 'app_test')
    expect(rows).toEqual([{ db: 'app_test' }])
  })
})

describe('LocalPostgres.start on a new nested data directory', () => {
  it('creates the missing parents traversable for the server user and initialises the cluster', async () => {
    const { mkdtemp, chmod, rm, stat } = await import('node:fs/promises')
    const { tmpdir } = await import('node:os')
    const path = await import('node:path')
    const root = await mkdtemp(path.join(tmpdir(), 'local-postgres-nested-'))
    await chmod(root, 0o755)
    const dataDir = path.join(root, 'a', 'b', 'data')
    const cluster = await LocalPostgres.start({ dataDir })
    try {
      await expect(cluster.query('select 1 as one')).resolves.toEqual([{ one: 1 }])
      expect((await stat(path.join(root, 'a', 'b'))).mode & 0o777).toBe(0o755)
      expect((await stat(dataDir)).mode & 0o777).toBe(0o700)
    } finally {
      await cluster.stop()
      await rm(root, { recursive: true, force: true })
    }
  })
})
