import net from 'node:net'
import { LocalPostgres } from '@classroom/local-postgres'
import { type ApiProcess, recordingLogger, spawnApi } from '@classroom/test-kit'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { loadApiConfig } from '../src/config.js'
import { runMigrations } from '../src/migrate.js'
import { lsnBytes } from '../src/replica-metrics.js'
import { API_ENTRY, request, startTestApi, TEST_AUTH_SECRET, type TestApi } from './support.js'

// A primary and a standby of this file's own: the tests pause the standby's replay.
let primary: LocalPostgres
let standby: LocalPostgres
/** In this process, reading from the standby. */
let api: TestApi
/** A second api process on the same servers: a token handed out by `api` must work here too. */
let other: ApiProcess

const POSITION = /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/
// Polled often, and never left out for lag while its replay is paused: the position alone decides.
const REPLICA_ENV = { DB_REPLICA_POLL_MS: '50', DB_REPLICA_MAX_LAG_MS: '600000' }

beforeAll(async () => {
  primary = await LocalPostgres.temporary()
  const primaryUrl = await primary.createDatabase('classroom')
  standby = await primary.startStandby()
  const readUrls = { DATABASE_READ_URLS: standby.connectionString('classroom'), ...REPLICA_ENV }
  // Migrates on the primary; the standby replays the schema.
  api = await startTestApi('unused', readUrls, primaryUrl)
  other = await spawnApi({
    entry: API_ENTRY,
    env: { DATABASE_URL: primaryUrl, DB_MIGRATE_ON_START: 'false', LOG_LEVEL: 'warn', ...readUrls },
  })
  await standby.waitForReplay()
})

afterEach(async () => {
  if ((await standby.query('select pg_is_wal_replay_paused() as paused'))[0]?.paused)
    await standby.query('select pg_wal_replay_resume()')
})

afterAll(async () => {
  other?.child.kill('SIGTERM')
  await other?.exited
  await api?.close()
  await standby?.destroy()
  await primary?.destroy()
})

/** Stops the standby replaying, once it has replayed what the primary has now: it serves reads, older and older. */
async function pauseReplay(): Promise<void> {
  await standby.waitForReplay()
  await standby.query('select pg_wal_replay_pause()')
}

let students = 0
const newStudent = (via: string) =>
  request(via, 'POST', '/students', { name: 'Ada', email: `ada${++students}@replicas.test` })

describe('an api with read replicas (DATABASE_READ_URLS)', () => {
  it("answers a write with its commit's Read-Position", async () => {
    const write = await newStudent(api.url)
    expect(write.status).toBe(201)
    expect(write.headers.get('read-position')).toMatch(POSITION)
    const [primaryNow] = await primary.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn')
    expect(lsnBytes(write.headers.get('read-position')!)).toBeLessThanOrEqual(lsnBytes(primaryNow!.lsn))
  })

  it('reads a write back with its Read-Position while the standby replays nothing: from the primary; without it, from the standby, stale', async () => {
    await pauseReplay()
    const write = await newStudent(api.url)
    const position = write.headers.get('read-position')!
    const path = `/students/${write.body.id}`
    const fallbacksBefore = await fallbacks(api.url)

    const withPosition = await request(api.url, 'GET', path, undefined, { 'read-position': position })
    expect(withPosition.status).toBe(200)
    expect(withPosition.body).toMatchObject({ id: write.body.id })
    // The answer hands the position back, for the client's next request.
    expect(withPosition.headers.get('read-position')).toBe(position)
    expect(await fallbacks(api.url)).toBe(fallbacksBefore + 1)

    // The control: the same read with no position goes to the standby, which has not replayed the write.
    const without = await request(api.url, 'GET', path)
    expect(without.status).toBe(404)
    expect(without.headers.get('read-position')).toBeNull()
  })

  it('carries the token across two api processes: written through one, read back through the other', async () => {
    await pauseReplay()
    const write = await newStudent(api.url)
    const position = write.headers.get('read-position')!
    const path = `/students/${write.body.id}/classrooms`

    const elsewhere = await request(other.url, 'GET', path, undefined, { 'read-position': position })
    expect(elsewhere.status).toBe(200)
    expect(elsewhere.body).toEqual({ items: [] })
    expect((await request(other.url, 'GET', path)).status).toBe(404)

    await standby.query('select pg_wal_replay_resume()')
    await standby.waitForReplay()
    // Replayed, and seen replayed by the other process's poll: the standby serves the read.
    await until(
      async () =>
        (await metric(other.url, 'db_replica_replay_lsn_bytes{replica="replica1"}')) >= lsnBytes(position),
    )
    const readsBefore = await readsOn(other.url, 'replica1')
    expect((await request(other.url, 'GET', path, undefined, { 'read-position': position })).status).toBe(200)
    expect(await readsOn(other.url, 'replica1')).toBe(readsBefore + 1)
  })

  it('refuses a Read-Position that is no log position with 400 INVALID_READ_POSITION naming the header and the form, before anything is written', async () => {
    for (const bad of ['yesterday', '16/', '16/B374D848/1', 'G/1', '123456789/1']) {
      const answer = await request(
        api.url,
        'POST',
        '/students',
        { name: 'Never', email: 'never@replicas.test' },
        { 'read-position': bad },
      )
      expect(answer.status, bad).toBe(400)
      expect(answer.body).toMatchObject({ error: 'INVALID_READ_POSITION', field: 'headers.read-position' })
      expect(answer.body.message).toContain('the Read-Position header')
      expect(answer.body.message).toContain('<hex>/<hex>')
      expect(answer.headers.get('read-position')).toBeNull()
    }
    expect(
      await primary.query('select 1 from students where email = $1', ['never@replicas.test'], 'classroom'),
    ).toEqual([])
    expect(
      (await request(api.url, 'GET', '/students/1', undefined, { 'read-position': 'nope' })).status,
    ).toBe(400)
  })

  it('exposes reads per target, fallbacks by reason, each replica’s lag, replay position and state, and its pool, on /metrics', async () => {
    await standby.waitForReplay()
    // A poll after the replay: the replica's position and lag are current.
    await new Promise((resolve) => setTimeout(resolve, 200))
    const text = (await request(api.url, 'GET', '/metrics')).body as string
    expect(text).toMatch(/^db_reads_total\{target="primary"\} \d+$/m)
    expect(text).toMatch(/^db_reads_total\{target="replica1"\} [1-9]\d*$/m)
    expect(text).toMatch(/^db_read_primary_fallbacks_total\{reason="behind_position"\} [1-9]\d*$/m)
    expect(text).toMatch(/^db_read_primary_fallbacks_total\{reason="forced"\} \d+$/m)
    expect(text).toMatch(/^db_read_primary_fallbacks_total\{reason="no_healthy_replica"\} \d+$/m)
    expect(text).toMatch(/^db_replica_lag_seconds\{replica="replica1"\} [\d.e-]+$/m)
    expect(text).toMatch(/^db_replica_up\{replica="replica1"\} 1$/m)
    const [replayed] = await standby.query<{ lsn: string }>('select pg_last_wal_replay_lsn()::text as lsn')
    const exposed = Number(/^db_replica_replay_lsn_bytes\{replica="replica1"\} (\d+)$/m.exec(text)?.[1])
    expect(exposed).toBeGreaterThan(0)
    expect(exposed).toBeLessThanOrEqual(lsnBytes(replayed!.lsn))
    // The replica's own pool, labelled; the primary's keeps its unlabelled series.
    expect(text).toMatch(/^db_pool_connections_max\{replica="replica1"\} \d+$/m)
    expect(text).toMatch(/^db_pool_connections_max \d+$/m)
  })

  it('shows no replica series and hands out no position without read URLs', async () => {
    const plain = await startTestApi('api_no_replicas')
    try {
      const write = await newStudent(plain.url)
      expect(write.status).toBe(201)
      expect(write.headers.get('read-position')).toBeNull()
      const text = (await request(plain.url, 'GET', '/metrics')).body as string
      expect(text).not.toMatch(/^db_reads_total|^db_replica_up|replica="/m)
      expect(text).toMatch(/^db_pool_connections_max \d+$/m)
    } finally {
      await plain.close()
    }
  })

  it('runs migrations on the primary alone: no connection reaches a read URL', async () => {
    // A listener standing where a standby would: every connection a replica pool or poll opens lands here.
    let reached = 0
    const listener = net.createServer((socket) => {
      reached++
      socket.destroy()
    })
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve))
    const { port } = listener.address() as net.AddressInfo
    try {
      const migrationUrl = await primary.createDatabase('migrate_primary_only')
      const config = loadApiConfig({
        API_AUTH_HS256_SECRET: TEST_AUTH_SECRET,
        DATABASE_URL: migrationUrl,
        DATABASE_READ_URLS: `postgres://app:secret@127.0.0.1:${port}/classroom`,
        DB_REPLICA_POLL_MS: '10',
      })
      const applied = await runMigrations(config, migrationUrl, recordingLogger().logger)
      expect(applied.length).toBeGreaterThan(0)
      expect(reached).toBe(0)
    } finally {
      await new Promise((resolve) => listener.close(resolve))
    }
  })
})

/** Waits (10 s at most: the poll runs every 50 ms) until `done` says so. */
async function until(done: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error('waited 10 s in vain')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

async function metric(url: string, series: string): Promise<number> {
  const text = (await request(url, 'GET', '/metrics')).body as string
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return Number(line?.split(' ')[1] ?? Number.NaN)
}
const fallbacks = (url: string) => metric(url, 'db_read_primary_fallbacks_total{reason="behind_position"}')
const readsOn = (url: string, target: string) => metric(url, `db_reads_total{target="${target}"}`)
