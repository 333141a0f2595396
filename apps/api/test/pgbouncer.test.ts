import { type LocalPgBouncer, type LocalPostgres, startBouncedCluster } from '@classroom/local-postgres'
import { type ApiProcess, spawnApi } from '@classroom/test-kit'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { API_ENTRY, request } from './support.js'

// Past one machine: two api replicas share one PgBouncer (transaction mode) in front of one server.
const BOUNCER_POOL = 10
let cluster: LocalPostgres
let bouncer: LocalPgBouncer
let destroy: (() => Promise<void>) | undefined
let apis: ApiProcess[]
let admin: pg.Client
let classrooms: number[]
let students: number[]

beforeAll(async () => {
  ;({ cluster, bouncer, destroy } = await startBouncedCluster({
    database: 'classroom',
    poolSize: BOUNCER_POOL,
  }))
  // Both start at once: their migrations meet in PgBouncer and the migrator's transaction-scoped
  // advisory lock (Kysely's own lock is session-level, which transaction mode defeats).
  apis = await Promise.all(
    [0, 1].map(() =>
      spawnApi({
        entry: API_ENTRY,
        env: { DATABASE_URL: bouncer.connectionString(), DB_PGBOUNCER: 'true', LOG_LEVEL: 'warn' },
      }),
    ),
  )
  admin = new pg.Client({ connectionString: cluster.connectionString() })
  await admin.connect()
  const api = apis[0]!.url
  classrooms = await Promise.all(
    Array.from(
      { length: 5 },
      async (_, i) =>
        (await request(api, 'POST', '/classrooms', { name: `Shared ${i}`, capacity: 1000 })).body.id,
    ),
  )
  students = await Promise.all(
    Array.from(
      { length: 50 },
      async (_, i) =>
        (await request(api, 'POST', '/students', { name: `S${i}`, email: `s${i}@bouncer.test` })).body.id,
    ),
  )
}, 180_000)

afterAll(async () => {
  await admin?.end()
  for (const api of apis ?? []) {
    api.child.kill('SIGTERM')
    await api.exited
  }
  await destroy?.()
})

/** 50 users, spread over both replicas, for `ms`; returns the answers outside normal service. */
async function load(ms: number): Promise<string[]> {
  const failures: string[] = []
  const end = Date.now() + ms
  await Promise.all(
    Array.from({ length: 50 }, async (_, user) => {
      const api = apis[user % 2]!.url
      const student = students[user]!
      for (let i = 0; Date.now() < end; i++) {
        const room = classrooms[i % classrooms.length]!
        const calls: Array<[string, string, unknown?]> = [
          ['GET', `/classrooms/${room}`],
          ['POST', `/classrooms/${room}/enrollments`, { studentId: student }],
          ['GET', `/students/${student}/classrooms`],
          ['DELETE', `/classrooms/${room}/enrollments/${student}`],
        ]
        for (const [method, path, body] of calls) {
          const { status, body: answer } = await request(api, method, path, body)
          if (![200, 201, 204, 409].includes(status))
            failures.push(`${method} ${path} ${status} ${answer?.error ?? ''}`)
        }
      }
    }),
  )
  return failures
}

async function serverConnections(): Promise<number> {
  const { rows } = await admin.query<{ n: string }>(
    `select count(*) as n from pg_stat_activity where datname = 'classroom' and backend_type = 'client backend'`,
  )
  return Number(rows[0]?.n)
}

describe('two api replicas through PgBouncer', () => {
  it('serve 50 users with zero errors and never more server connections than PgBouncer pools', async () => {
    let peak = 0
    const sampler = setInterval(async () => {
      peak = Math.max(peak, await serverConnections().catch(() => 0))
    }, 50)
    const failures = await load(3000)
    clearInterval(sampler)
    expect(failures).toEqual([])
    expect(peak).toBeGreaterThan(0)
    expect(peak).toBeLessThanOrEqual(BOUNCER_POOL)
  })

  it('heal by themselves when PgBouncer restarts', async () => {
    await load(300)
    await bouncer.restart()
    // Every replica answers again with no restart of its own...
    for (const api of apis) {
      const deadline = Date.now() + 10_000
      let status = 0
      while (Date.now() < deadline && status !== 200) {
        status = (await request(api.url, 'GET', `/classrooms/${classrooms[0]}`)).status
        if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100))
      }
      expect(status).toBe(200)
    }
    // ...and serves the full load cleanly again.
    expect(await load(1500)).toEqual([])
  })
})
