// Who may see what, tried as an attacker would: tokens that prove nothing, other schools, other roles, SQL without settings.
import { type Database, migrateToLatest, seedDemoData } from '@classroom/classroom-db'
import { InstrumentedPostgresDialect, loadDbConfig } from '@classroom/db-core'
import { createTestDatabase } from '@classroom/local-postgres'
import { recordingLogger } from '@classroom/test-kit'
import { base64url } from 'jose'
import { Kysely, sql } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { Principal } from '../src/auth/principal.js'
import { request, startTestApi, type TestApi, testToken } from './support.js'

// A serving role as a DBA makes it: not the owner, NOBYPASSRLS, rows only. Server-wide, made once.
const APP = 'tenancy_app'
const APP_PASSWORD = 'tenancy-app-secret'

let t: TestApi
let adminUrl: string
let appUrl: string
let owner: Kysely<Database>
interface School {
  id: number
  classrooms: number[]
  students: number[]
  admin: number
  teachers: number[]
}
let north: School
let south: School

async function schoolNamed(name: string): Promise<School> {
  const { id } = await owner
    .selectFrom('schools')
    .select('id')
    .where('name', '=', name)
    .executeTakeFirstOrThrow()
  const ids = async (table: 'classrooms' | 'students') =>
    (await owner.selectFrom(table).select('id').where('school_id', '=', id).orderBy('id').execute()).map(
      (r) => r.id,
    )
  const staff = await owner
    .selectFrom('users')
    .select(['id', 'role'])
    .where('school_id', '=', id)
    .orderBy('id')
    .execute()
  return {
    id,
    classrooms: await ids('classrooms'),
    students: await ids('students'),
    admin: staff.find((s) => s.role === 'school_admin')?.id as number,
    teachers: staff.filter((s) => s.role === 'teacher').map((s) => s.id),
  }
}

const as = async (principal: Principal) => ({ authorization: `Bearer ${await testToken(principal)}` })
const adminOf = (school: School): Principal => ({
  userId: school.admin,
  schoolId: school.id,
  role: 'school_admin',
})
const studentOf = (school: School, i = 0): Principal => ({
  userId: school.students[i] as number,
  schoolId: school.id,
  role: 'student',
})

beforeAll(async () => {
  adminUrl = await createTestDatabase(inject('databaseUrl'), 'api_tenancy')
  owner = new Kysely<Database>({
    dialect: new InstrumentedPostgresDialect({
      ...loadDbConfig({ DATABASE_URL: adminUrl }),
      logger: recordingLogger().logger,
    }),
  })
  await migrateToLatest(owner)
  await seedDemoData(owner)
  // More students, so 50 principals can be students of two schools.
  await sql`insert into students (school_id, name, email)
    select s.id, 'Extra ' || g, 'extra' || g || '@' || s.id || '.example.edu' from schools s, generate_series(1, 20) g
    where s.name <> 'Default school'`.execute(owner)
  const { rows: existing } = await sql`select 1 from pg_roles where rolname = ${APP}`.execute(owner)
  await sql
    .raw(
      `${existing.length > 0 ? 'alter' : 'create'} role ${APP} login nobypassrls password '${APP_PASSWORD}'`,
    )
    .execute(owner)
  await sql
    .raw(`grant select, insert, update, delete on all tables in schema public to ${APP};
    grant usage, select on all sequences in schema public to ${APP}`)
    .execute(owner)
  const url = new URL(adminUrl)
  url.username = APP
  url.password = APP_PASSWORD
  appUrl = url.toString()
  north = await schoolNamed('Northside High')
  south = await schoolNamed('Southside Academy')
  t = await startTestApi(
    'unused',
    // FIFO: 50 principals queue on 2 connections on purpose; the adaptive policy would shed that
    // standing queue as overload (503), and this ledger wants every request answered.
    {
      DB_MIGRATE_ON_START: 'false',
      DB_POOL_SIZE: '2',
      DB_POOL_MAX_OVERFLOW: '0',
      DB_POOL_QUEUE_POLICY: 'fifo',
    },
    appUrl,
  )
}, 60_000)

afterAll(async () => {
  await t?.close()
  await owner?.destroy()
})

const counts = async () =>
  (
    await sql<{ n: string }>`select (select count(*) from classrooms) + (select count(*) from students)
      + (select count(*) from enrollments) + (select count(*) from idempotency_keys) as n`.execute(owner)
  ).rows[0]?.n

/** Every route that needs a token, with a body it would accept. */
const ROUTES = () =>
  [
    ['GET', '/classrooms'],
    ['GET', `/classrooms/${north.classrooms[0]}`],
    ['POST', '/classrooms', { name: 'Intruder', capacity: 3 }],
    ['GET', `/students/${north.students[0]}`],
    ['GET', `/students/${north.students[0]}/classrooms`],
    ['POST', '/students', { name: 'Intruder', email: 'intruder@example.edu' }],
    ['POST', `/classrooms/${north.classrooms[0]}/enrollments`, { studentId: north.students[1] }],
    ['DELETE', `/classrooms/${north.classrooms[0]}/enrollments/${north.students[0]}`],
    ['GET', '/metrics'],
  ] as const

describe('a request that proves nothing', () => {
  const tampered = async () => {
    const [head, body, signature] = (await testToken(adminOf(north))).split('.')
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(body as string)))
    return [head, base64url.encode(JSON.stringify({ ...claims, school_id: south.id })), signature].join('.')
  }
  const unsigned = async () => {
    const [, body] = (await testToken(adminOf(north))).split('.')
    return `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${body}.`
  }
  const cases: [string, () => Promise<string>][] = [
    ['no token', async () => ''],
    ['a header that is not a bearer token', async () => 'Basic dXNlcjpwYXNz'],
    [
      'an expired token',
      async () => `Bearer ${await testToken(adminOf(north), Math.floor(Date.now() / 1000) - 60)}`,
    ],
    ['alg: none', async () => `Bearer ${await unsigned()}`],
    ['a tampered payload', async () => `Bearer ${await tampered()}`],
    ['another key’s signature', async () => `Bearer ${(await testToken(adminOf(north))).slice(0, -4)}AAAA`],
  ]
  it.each(cases)(
    '%s: 401 UNAUTHENTICATED with WWW-Authenticate on every route, nothing written',
    async (_what, header) => {
      const before = await counts()
      for (const [method, path, body] of ROUTES()) {
        const answer = await request(t.url, method, path, body, { authorization: await header() })
        expect({ path, method, status: answer.status, error: answer.body?.error }).toEqual({
          path,
          method,
          status: 401,
          error: 'UNAUTHENTICATED',
        })
        expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer realm="classroom-api"/)
      }
      expect(await counts()).toBe(before)
    },
  )

  it('leaves /healthz, /readyz and the OpenAPI document open', async () => {
    for (const path of ['/healthz', '/readyz', '/documentation/json']) {
      expect((await request(t.url, 'GET', path, undefined, { authorization: '' })).status).toBe(200)
    }
  })
})

describe('another school, another role', () => {
  it('answers another school’s objects 404 and changes none of them', async () => {
    const headers = await as(adminOf(south))
    const before = await counts()
    const cases = [
      ['GET', `/classrooms/${north.classrooms[0]}`, undefined, 'CLASSROOM_NOT_FOUND'],
      ['GET', `/students/${north.students[0]}`, undefined, 'STUDENT_NOT_FOUND'],
      ['GET', `/students/${north.students[0]}/classrooms`, undefined, 'STUDENT_NOT_FOUND'],
      [
        'POST',
        `/classrooms/${north.classrooms[0]}/enrollments`,
        { studentId: south.students[0] },
        'CLASSROOM_NOT_FOUND',
      ],
      [
        'POST',
        `/classrooms/${south.classrooms[0]}/enrollments`,
        { studentId: north.students[0] },
        'STUDENT_NOT_FOUND',
      ],
      [
        'DELETE',
        `/classrooms/${north.classrooms[0]}/enrollments/${north.students[0]}`,
        undefined,
        'ENROLLMENT_NOT_FOUND',
      ],
    ] as const
    for (const [method, path, body, error] of cases) {
      const answer = await request(t.url, method, path, body, headers)
      expect({ path, status: answer.status, error: answer.body.error }).toEqual({ path, status: 404, error })
    }
    const listed = await request(t.url, 'GET', '/classrooms?limit=100', undefined, headers)
    expect(listed.body.items.map((c: { id: number }) => c.id)).toEqual(south.classrooms)
    expect(await counts()).toBe(before)
  })

  it('forbids a student every write (403) and shows it only itself', async () => {
    const headers = await as(studentOf(north))
    for (const [method, path, body] of ROUTES().filter(([m]) => m !== 'GET')) {
      const answer = await request(t.url, method, path, body, headers)
      expect({ path, status: answer.status, error: answer.body.error }).toEqual({
        path,
        status: 403,
        error: 'FORBIDDEN',
      })
    }
    expect((await request(t.url, 'GET', `/students/${north.students[0]}`, undefined, headers)).status).toBe(
      200,
    )
    expect((await request(t.url, 'GET', `/students/${north.students[1]}`, undefined, headers)).status).toBe(
      404,
    )
  })

  it('forbids a teacher the enrollments of another teacher’s classroom (403), allows its own', async () => {
    const [mine, theirs] = north.teachers as [number, number]
    const own = await owner
      .selectFrom('classrooms')
      .select('id')
      .where('teacher_id', '=', mine)
      .executeTakeFirstOrThrow()
    const other = await owner
      .selectFrom('classrooms')
      .select('id')
      .where('teacher_id', '=', theirs)
      .executeTakeFirstOrThrow()
    const headers = await as({ userId: mine, schoolId: north.id, role: 'teacher' })
    const student = north.students.at(-1) as number
    const refused = await request(
      t.url,
      'POST',
      `/classrooms/${other.id}/enrollments`,
      { studentId: student },
      headers,
    )
    expect(refused).toMatchObject({ status: 403, body: { error: 'FORBIDDEN' } })
    const made = await request(
      t.url,
      'POST',
      `/classrooms/${own.id}/enrollments`,
      { studentId: student },
      headers,
    )
    expect(made.status).toBe(201)
    const created = await request(t.url, 'POST', '/classrooms', { name: 'Mine', capacity: 2 }, headers)
    expect(created.status).toBe(201)
    const row = await owner
      .selectFrom('classrooms')
      .select(['school_id', 'teacher_id'])
      .where('id', '=', created.body.id)
      .executeTakeFirstOrThrow()
    expect(row).toEqual({ school_id: north.id, teacher_id: mine })
  })
})

describe('the database enforces it: SQL as the serving role', () => {
  const asApp = async <T>(work: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: appUrl })
    await client.connect()
    try {
      return await work(client)
    } finally {
      await client.end()
    }
  }

  it('without settings reads no row of any table and writes none; it may not turn row security off', async () => {
    await asApp(async (client) => {
      for (const table of ['schools', 'users', 'classrooms', 'students', 'enrollments', 'idempotency_keys']) {
        expect((await client.query(`select * from ${table}`)).rows).toEqual([])
      }
      await expect(
        client.query(`insert into classrooms (school_id, name, capacity) values (${north.id}, 'x', 1)`),
      ).rejects.toMatchObject({ code: '42501' })
      expect((await client.query(`delete from enrollments where school_id = ${north.id}`)).rowCount).toBe(0)
      await expect(client.query('alter table classrooms disable row level security')).rejects.toMatchObject({
        code: '42501',
      })
      await client.query('set row_security = off')
      await expect(client.query('select * from classrooms')).rejects.toMatchObject({ code: '42501' })
    })
  })

  it('with a school’s settings reads that school only, and cannot write into another', async () => {
    await asApp(async (client) => {
      await client.query('begin')
      await client.query(
        "select set_config('app.school_id', $1, true), set_config('app.role', 'school_admin', true)",
        [String(south.id)],
      )
      const rows = (await client.query<{ school_id: number }>('select school_id from classrooms')).rows
      expect(new Set(rows.map((r) => r.school_id))).toEqual(new Set([south.id]))
      await expect(
        client.query(`insert into students (school_id, name, email) values (${north.id}, 'x', 'x@x.x')`),
      ).rejects.toMatchObject({ code: '42501' })
      await client.query('rollback')
    })
  })
})

describe('50 principals interleaved over a pool of 2 connections', () => {
  it('10 000 requests: 0 rows of another principal ever returned (a ledger)', async () => {
    // The classrooms the tests before made count as their school's.
    north = await schoolNamed('Northside High')
    south = await schoolNamed('Southside Academy')
    const principals = [
      ...north.students.slice(0, 25).map((_, i) => ({ school: north, principal: studentOf(north, i) })),
      ...south.students.slice(0, 25).map((_, i) => ({ school: south, principal: studentOf(south, i) })),
    ]
    const ledger = { requests: 0, rows: 0, leaks: [] as string[] }
    await Promise.all(
      principals.map(async ({ school, principal }) => {
        const headers = await as(principal)
        const other = school.students.find((id) => id !== principal.userId) as number
        for (let i = 0; i < 50; i++) {
          const answers = await Promise.all([
            request(t.url, 'GET', `/students/${principal.userId}`, undefined, headers),
            request(t.url, 'GET', `/students/${principal.userId}/classrooms`, undefined, headers),
            request(t.url, 'GET', '/classrooms?limit=100', undefined, headers),
            request(t.url, 'GET', `/students/${other}`, undefined, headers),
          ])
          ledger.requests += answers.length
          const [self, enrolled, listed, stranger] = answers as [
            (typeof answers)[0],
            (typeof answers)[0],
            (typeof answers)[0],
            (typeof answers)[0],
          ]
          const who = `${principal.schoolId}/${principal.userId}`
          if (self.status !== 200 || self.body.id !== principal.userId)
            ledger.leaks.push(`${who} self ${self.status} ${self.body.id}`)
          for (const room of [...(enrolled.body.items ?? []), ...(listed.body.items ?? [])]) {
            ledger.rows++
            if (!school.classrooms.includes(room.id)) ledger.leaks.push(`${who} classroom ${room.id}`)
          }
          if (stranger.status !== 404) ledger.leaks.push(`${who} saw student ${other}: ${stranger.status}`)
        }
      }),
    )
    expect(ledger.requests).toBe(10_000)
    expect(ledger.rows).toBeGreaterThan(0)
    expect(ledger.leaks.slice(0, 10)).toEqual([])
    expect(t.api.pool.stats().unsafeReleases).toBe(0)
  }, 120_000)
})
