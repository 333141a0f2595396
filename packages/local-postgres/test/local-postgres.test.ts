import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir, userInfo } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { BINARIES_COPY_PREFIX } from '../src/binaries.js'
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
    expect(
      cluster.connectionString('app', { ports: [5433, 5434], params: { target_session_attrs: 'primary' } }),
    ).toMatch(
      /^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:5433,127\.0\.0\.1:5434\/app\?target_session_attrs=primary$/,
    )
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
    // Rows of its own: counting what other tests left behind breaks `vitest -t` on this test alone.
    await cluster.query('drop table if exists reused')
    await cluster.query('create table reused as select generate_series(1, 3) as v')
    await cluster.stop()
    const again = await LocalPostgres.start({ dataDir: cluster.dataDir, port: cluster.port })
    try {
      const rows = await again.query<{ n: string }>('select count(*) as n from reused')
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

// Only root runs PostgreSQL as another user, who may be kept out of a private directory.
describe.runIf(userInfo().uid === 0)('LocalPostgres.start as root', () => {
  it('refuses a data directory under a directory private to root, saying why and what to choose', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'local-postgres-private-'))
    try {
      const dataDir = path.join(root, 'pg', 'data')
      await expect(LocalPostgres.start({ dataDir })).rejects.toThrow(
        `PostgreSQL runs as the "postgres" user (it refuses to run as root), who cannot reach ${path.join(root, 'pg')}: a directory above it is private.`,
      )
      await expect(stat(dataDir)).rejects.toThrow(/ENOENT/)
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })
})

describe('LocalPostgres.destroy', () => {
  it('removes the data directory it was started on and nothing beside it', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'local-postgres-destroy-'))
    await chmod(root, 0o755)
    const keep = path.join(root, 'keep')
    await mkdir(keep, { mode: 0o755 })
    await writeFile(path.join(keep, 'sibling.txt'), 'not the cluster data\n')
    const dataDir = path.join(keep, 'data')
    try {
      const cluster = await LocalPostgres.start({ dataDir })
      await cluster.destroy()
      expect(cluster.running).toBe(false)
      await expect(stat(dataDir)).rejects.toThrow(/ENOENT/)
      expect((await stat(keep)).isDirectory()).toBe(true)
      expect((await stat(path.join(keep, 'sibling.txt'))).isFile()).toBe(true)
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })

  it('removes the whole temp directory a temporary cluster made', async () => {
    const cluster = await LocalPostgres.temporary()
    const root = path.dirname(cluster.dataDir)
    expect(path.basename(root)).toMatch(/^local-postgres-/)
    await cluster.destroy()
    await expect(stat(root)).rejects.toThrow(/ENOENT/)
  })
  it('removes the temp directory of a temporary cluster whose server fails to start', async () => {
    // A TMPDIR of our own: other runs on this machine make local-postgres-* directories in /tmp too.
    const scratch = await mkdtemp(path.join(tmpdir(), 'local-postgres-scratch-'))
    await chmod(scratch, 0o755)
    vi.stubEnv('TMPDIR', scratch)
    try {
      await expect(LocalPostgres.temporary({ settings: { no_such_setting: 'on' } })).rejects.toThrow(
        /exited during start-up/,
      )
      // Its own temp directory is gone; the binaries' copy (made when the server user cannot reach the
      // checkout, as for root in a 0700 directory) is shared by every cluster, and stays.
      const left = await readdir(scratch)
      expect(left.filter((name) => !name.startsWith(BINARIES_COPY_PREFIX))).toEqual([])
    } finally {
      vi.unstubAllEnvs()
      await rm(scratch, { recursive: true, force: true })
    }
  })
})
