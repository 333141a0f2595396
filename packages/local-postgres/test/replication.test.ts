import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { LocalPostgres } from '../src/index.js'

/** An insert whose commit would wait for a standby that is not there fails fast instead of hanging the test. */
async function insertWithin(cluster: LocalPostgres, table: string, value: number, ms = 5000): Promise<void> {
  const client = new pg.Client({ connectionString: cluster.connectionString() })
  await client.connect()
  const timer = new AbortController()
  try {
    // Not statement_timeout: cancelling a commit's wait for a synchronous standby reports success.
    await Promise.race([
      client.query(`insert into ${table} values ($1)`, [value]),
      sleep(ms, undefined, { signal: timer.signal }).then(() => {
        throw new Error(`the commit still waits after ${ms} ms`)
      }),
    ])
  } finally {
    timer.abort()
    // A backend stuck waiting for a standby does not close its end: do not wait for it either.
    await Promise.race([client.end().catch(() => undefined), sleep(1000)])
  }
}

describe('a streaming standby of a running primary', () => {
  let primary: LocalPostgres
  let standby: LocalPostgres

  beforeAll(async () => {
    primary = await LocalPostgres.temporary()
    await primary.query('create table items (v int)')
    standby = await primary.startStandby()
  })

  afterAll(async () => {
    await standby?.destroy()
    await primary?.destroy()
  })

  it('streams asynchronously, in a temp directory of its own on a port of its own', async () => {
    const rows = await primary.query<{ state: string; sync_state: string }>(
      'select state, sync_state from pg_stat_replication where application_name = $1',
      [standby.standbyName],
    )
    expect(rows).toEqual([{ state: 'streaming', sync_state: 'async' }])
    expect(standby.standbyName).toBe('standby1')
    expect(standby.port).not.toBe(primary.port)
    expect(path.basename(path.dirname(standby.dataDir))).toMatch(/^local-postgres-standby-/)
  })

  it('replays a row written on the primary', async () => {
    await primary.query('insert into items values (42)')
    await standby.waitForReplay()
    const rows = await standby.query<{ v: number }>('select v from items where v = 42')
    expect(rows).toEqual([{ v: 42 }])
  })

  it('waitForReplay() gives up after timeoutMs while replay is held up, saying how far it got', async () => {
    const [startup] = await standby.query<{ pid: number }>(
      "select pid from pg_stat_activity where backend_type = 'startup'",
    )
    // The startup process replays WAL: stopped, the standby receives but applies nothing.
    process.kill(startup!.pid, 'SIGSTOP')
    try {
      await primary.query('insert into items values (43)')
      await expect(standby.waitForReplay({ timeoutMs: 300 })).rejects.toThrow(
        /^Standby "standby1" replayed WAL up to \S+ within 300 ms; the primary was at \S+\.$/,
      )
    } finally {
      process.kill(startup!.pid, 'SIGCONT')
    }
    await standby.waitForReplay()
  })

  it('waitForReplay() on a primary, or while the primary is stopped, says why there is nothing to wait for', async () => {
    await expect(primary.waitForReplay()).rejects.toThrow(/is for a standby made by startStandby\(\)/)
    await primary.stop('fast')
    try {
      await expect(standby.waitForReplay()).rejects.toThrow(/The primary of standby "standby1" is stopped/)
    } finally {
      await primary.start()
    }
  })

  it('waitForReplay() on a standby promoted while its primary runs says it was promoted', async () => {
    const early = await primary.startStandby({ name: 'promoted_early' })
    try {
      await early.promote()
      await expect(early.waitForReplay()).rejects.toThrow(/"promoted_early" was promoted/)
    } finally {
      await early.destroy()
    }
  })

  it('refuses writes with SQLSTATE 25006 before promotion', async () => {
    await expect(standby.query('insert into items values (1)')).rejects.toMatchObject({ code: '25006' })
  })

  it('says it is a standby, and its primary says primary', async () => {
    expect(await standby.role()).toBe('standby')
    expect(await primary.role()).toBe('primary')
  })

  it('promote() on a primary fails with an error saying it is not a standby', async () => {
    await expect(primary.promote()).rejects.toThrow(/is a primary, not a standby/)
  })

  it('a synchronous standby shows sync_state sync; destroying it lets commits go on without it', async () => {
    const sync = await primary.startStandby({ synchronous: true })
    try {
      expect(sync.standbyName).toBe('standby2')
      const rows = await primary.query<{ sync_state: string }>(
        'select sync_state from pg_stat_replication where application_name = $1',
        [sync.standbyName],
      )
      expect(rows).toEqual([{ sync_state: 'sync' }])
      const [names] = await primary.query<{ synchronous_standby_names: string }>(
        'show synchronous_standby_names',
      )
      expect(names?.synchronous_standby_names).toBe('FIRST 1 (standby2)')
    } finally {
      await sync.destroy()
    }
    // The name is off synchronous_standby_names (after the reload): a commit does not wait for the gone standby.
    await expect(insertWithin(primary, 'items', 7)).resolves.toBeUndefined()
  })

  it('refuses a name that is not a replication slot name, or one the primary already has', async () => {
    await expect(primary.startStandby({ name: 'Not-A-Slot' })).rejects.toThrow(/not a replication slot name/)
    await expect(primary.startStandby({ name: 'standby1' })).rejects.toThrow(/already has a standby/)
  })

  it('a standby that fails to start leaves no slot and no temp directory behind', async () => {
    // A TMPDIR of our own: other runs on this machine make local-postgres-* directories in /tmp too.
    const scratch = await mkdtemp(path.join(tmpdir(), 'local-postgres-scratch-'))
    await chmod(scratch, 0o755)
    vi.stubEnv('TMPDIR', scratch)
    try {
      await expect(
        primary.startStandby({ name: 'broken', settings: { no_such_setting: 'on' } }),
      ).rejects.toThrow(/exited during start-up/)
      expect(await readdir(scratch)).toEqual([])
      await expect(
        primary.query("select 1 from pg_replication_slots where slot_name = 'broken'"),
      ).resolves.toEqual([])
    } finally {
      vi.unstubAllEnvs()
      await rm(scratch, { recursive: true, force: true })
    }
  })

  it('adds the pg_hba.conf line for replication from 127.0.0.1 when the primary lacks it', async () => {
    const hba = path.join(primary.dataDir, 'pg_hba.conf')
    const lines = (await readFile(hba, 'utf8')).split('\n')
    await writeFile(hba, lines.filter((line) => !/^host\s+replication\s/.test(line)).join('\n'))
    await primary.query('select pg_reload_conf()')
    const extra = await primary.startStandby({ name: 'hba_check' })
    try {
      expect(await extra.role()).toBe('standby')
      expect(await readFile(hba, 'utf8')).toMatch(/^host replication all 127\.0\.0\.1\/32 scram-sha-256$/m)
    } finally {
      await extra.destroy()
    }
  })

  it("stop('smart') of a primary with a streaming standby returns, and the standby keeps running", async () => {
    const started = Date.now()
    await primary.stop('smart')
    try {
      expect(Date.now() - started).toBeLessThan(15_000)
      expect(standby.running).toBe(true)
      expect(await standby.role()).toBe('standby')
    } finally {
      await primary.start()
    }
  })

  it('destroy() of a standby removes its temp directory and its slot; the primary keeps running', async () => {
    const doomed = await primary.startStandby({ name: 'doomed' })
    const root = path.dirname(doomed.dataDir)
    await doomed.destroy()
    expect(doomed.running).toBe(false)
    await expect(stat(root)).rejects.toThrow(/ENOENT/)
    expect(primary.running).toBe(true)
    const slots = await primary.query("select 1 from pg_replication_slots where slot_name = 'doomed'")
    expect(slots).toEqual([])
    await expect(insertWithin(primary, 'items', 8)).resolves.toBeUndefined()
  })
})

describe('a synchronous standby promoted after its primary was killed', () => {
  const commits = 25
  let primary: LocalPostgres
  let standby: LocalPostgres

  beforeAll(async () => {
    primary = await LocalPostgres.temporary()
    await primary.query('create table acknowledged (v int)')
    standby = await primary.startStandby({ synchronous: true })
    const client = new pg.Client({ connectionString: primary.connectionString() })
    await client.connect()
    try {
      // Each insert its own commit, acknowledged only once the standby has flushed it.
      for (let v = 1; v <= commits; v++) await client.query('insert into acknowledged values ($1)', [v])
    } finally {
      await client.end()
    }
    await primary.stop('immediate')
    await standby.promote()
  })

  afterAll(async () => {
    await standby?.destroy()
    await primary?.destroy()
  })

  it('keeps every commit the primary acknowledged', async () => {
    const [row] = await standby.query<{ n: string }>('select count(*) as n from acknowledged')
    expect(Number(row?.n)).toBe(commits)
  })

  it('is a writable primary', async () => {
    expect(await standby.role()).toBe('primary')
    await standby.query('insert into acknowledged values (0)')
    await expect(standby.query('select 1 from acknowledged where v = 0')).resolves.toHaveLength(1)
  })

  it('has no synchronous_standby_names: its commits do not wait for a standby', async () => {
    const [row] = await standby.query<{ synchronous_standby_names: string }>('show synchronous_standby_names')
    expect(row?.synchronous_standby_names).toBe('')
    await expect(insertWithin(standby, 'acknowledged', -1)).resolves.toBeUndefined()
  })
})
