import { execFile } from 'node:child_process'
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { migrateToLatest } from '@classroom/classroom-db'
import { createTestDatabase, LocalPostgres } from '@classroom/local-postgres'
import { recordingLogger } from '@classroom/test-kit'
import { Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { loadApiConfig } from '../src/config.js'
import { type DatabaseRoles, EMBEDDED_ROLES, servingRoleGrants } from '../src/database-roles.js'
import { type RunningApi, startApi } from '../src/server.js'
import { authorization, request, startTestApi, TEST_AUTH_SECRET, type TestApi } from './support.js'

// The demo data's first school (after the default one): its admin sees its three classrooms.
const NORTHSIDE = () => authorization({ userId: 1, schoolId: 2, role: 'school_admin' })

const run = promisify(execFile)
const MIGRATE_CLI = fileURLToPath(new URL('../dist/migrate-cli.js', import.meta.url))

// Roles are server-wide: names of this file's own, made once and kept (their databases are recreated).
const OWNER = 'lp_owner'
const APP = 'lp_app'
const PASSWORDS = { [OWNER]: 'owner-secret', [APP]: 'app-secret' }

interface Provisioned {
  readonly ownerUrl: string
  readonly appUrl: string
  readonly adminUrl: string
}

async function asAdmin<T>(url: string, work: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  try {
    return await work(admin)
  } finally {
    await admin.end()
  }
}

/** What the README tells a DBA to do, on a fresh database of the test server: roles, ownership, grants. */
async function provision(database: string): Promise<Provisioned> {
  const serverUrl = inject('databaseUrl')
  await asAdmin(serverUrl, async (admin) => {
    for (const [role, password] of Object.entries(PASSWORDS)) {
      const { rowCount } = await admin.query('select 1 from pg_roles where rolname = $1', [role])
      await admin.query(`${rowCount ? 'alter' : 'create'} role ${role} login password '${password}'`)
    }
  })
  const adminUrl = await createTestDatabase(serverUrl, database)
  const roles: DatabaseRoles = { database, owner: OWNER, app: APP }
  await asAdmin(adminUrl, async (admin) => {
    await admin.query(`alter database ${database} owner to ${OWNER}`)
    for (const statement of servingRoleGrants(roles)) await admin.query(statement)
  })
  const as = (role: keyof typeof PASSWORDS) => {
    const url = new URL(adminUrl)
    url.username = role
    url.password = PASSWORDS[role]
    return url.toString()
  }
  return { ownerUrl: as(OWNER), appUrl: as(APP), adminUrl }
}

/** The SQLSTATE a statement through the api's own pool fails with. */
async function sqlState(api: RunningApi, statement: string): Promise<string | undefined> {
  return sql
    .raw(statement)
    .execute(api.db)
    .then(
      () => undefined,
      (error: { code?: string }) => error.code,
    )
}

describe('an api whose DATABASE_URL is the serving role and DATABASE_MIGRATION_URL the owner', () => {
  let db: Provisioned
  let api: TestApi

  beforeAll(async () => {
    db = await provision('api_least_privilege')
    api = await startTestApi('api_least_privilege', { DATABASE_MIGRATION_URL: db.ownerUrl }, db.appUrl)
  })

  afterAll(async () => {
    await api?.close()
  })

  it('applies the migrations at start as the owner: it owns every table', async () => {
    const rows = await asAdmin(db.adminUrl, async (admin) => {
      const result = await admin.query<{ tablename: string; tableowner: string }>(
        "select tablename, tableowner from pg_tables where schemaname = 'public' order by tablename",
      )
      return result.rows
    })
    expect(rows.map((r) => r.tablename)).toEqual(
      expect.arrayContaining([
        'classrooms',
        'enrollments',
        'idempotency_keys',
        'kysely_migration',
        'students',
      ]),
    )
    expect(new Set(rows.map((r) => r.tableowner))).toEqual(new Set([OWNER]))
    expect(api.logs.find((l) => l.message === 'database migrations applied')?.applied).toEqual([
      '0001-classrooms-students-enrollments',
      '0002-idempotency-keys',
      '0003-schools-and-owners',
      '0004-row-level-security',
    ])
  })

  it('closes the migration pool once migrated: no connection of the owner stays open', async () => {
    const ownerSessions = () =>
      asAdmin(db.adminUrl, async (admin) => {
        const { rows } = await admin.query<{ n: number }>(
          'select count(*)::int as n from pg_stat_activity where usename = $1 and datname = current_database()',
          [OWNER],
        )
        return rows[0]?.n
      })
    // A backend outlives its client's goodbye by a moment.
    await expect.poll(ownerSessions, { timeout: 2000 }).toBe(0)
  })

  it('serves as the DATABASE_URL role', async () => {
    const { rows } = await sql<{ user: string }>`select current_user as user`.execute(api.api.db)
    expect(rows).toEqual([{ user: APP }])
  })

  it('serves every route with row privileges only', async () => {
    const room = await request(api.url, 'POST', '/classrooms', { name: 'Least', capacity: 2 })
    expect(room.status).toBe(201)
    const student = await request(api.url, 'POST', '/students', { name: 'Ada', email: 'ada@least.test' })
    expect(student.status).toBe(201)
    const path = `/classrooms/${room.body.id}/enrollments`
    expect((await request(api.url, 'POST', path, { studentId: student.body.id })).status).toBe(201)
    expect(
      (await request(api.url, 'GET', `/students/${student.body.id}/classrooms`)).body.items,
    ).toHaveLength(1)
    expect((await request(api.url, 'GET', `/classrooms/${room.body.id}`)).body.enrolledCount).toBe(1)
    expect((await request(api.url, 'DELETE', `${path}/${student.body.id}`)).status).toBe(204)
    expect((await request(api.url, 'GET', '/classrooms?limit=5')).status).toBe(200)
  })

  it('cannot create a table through its pool (42501)', async () => {
    expect(await sqlState(api.api, 'create table intruder (id int)')).toBe('42501')
  })

  it('cannot drop a table through its pool (42501)', async () => {
    expect(await sqlState(api.api, 'drop table enrollments')).toBe('42501')
  })

  it('cannot alter a table through its pool (42501)', async () => {
    expect(await sqlState(api.api, 'alter table students add column nickname text')).toBe('42501')
  })

  it('cannot create a temporary table through its pool (42501)', async () => {
    expect(await sqlState(api.api, 'create temporary table scratch (id int)')).toBe('42501')
  })

  it('cannot touch a table it was not granted: the migrator’s own, or one the superuser made', async () => {
    await asAdmin(db.adminUrl, (admin) => admin.query('create table if not exists payroll (amount int)'))
    expect(await sqlState(api.api, 'select * from payroll')).toBe('42501')
    expect(await sqlState(api.api, 'select * from kysely_migration')).toBe('42501')
    expect(await sqlState(api.api, "delete from kysely_migration where name like '0002%'")).toBe('42501')
  })

  it('reads and writes a table a later migration (the owner) creates, with no grant of its own', async () => {
    await asAdmin(db.ownerUrl, (owner) =>
      owner.query('create table if not exists later (id int generated always as identity, note text)'),
    )
    expect(await sqlState(api.api, "insert into later (note) values ('covered')")).toBeUndefined()
    const { rows } = await sql<{ note: string }>`select note from later`.execute(api.api.db)
    expect(rows).toEqual([{ note: 'covered' }])
  })
})

describe('migrating as the serving role', () => {
  it('fails the start naming DATABASE_MIGRATION_URL when it is unset and DATABASE_URL may not change the schema', async () => {
    const db = await provision('api_least_privilege_unset')
    const started = startTestApi('api_least_privilege_unset', {}, db.appUrl)
    await expect(started).rejects.toThrow(
      'The migrating role "lp_app" may not change the schema: set DATABASE_MIGRATION_URL to a connection of the role that owns',
    )
  })
})

describe('pnpm db:migrate', () => {
  it('migrates as DATABASE_MIGRATION_URL, not DATABASE_URL', async () => {
    const db = await provision('api_least_privilege_cli')
    const { stdout } = await run(process.execPath, [MIGRATE_CLI], {
      env: {
        ...process.env,
        DATABASE_URL: db.appUrl,
        DATABASE_MIGRATION_URL: db.ownerUrl,
        LOG_FORMAT: 'json',
      },
    })
    expect(stdout).toContain('"message":"migrations applied"')
    const owners = await asAdmin(db.adminUrl, async (admin) => {
      const { rows } = await admin.query<{ owner: string }>(
        "select distinct tableowner as owner from pg_tables where schemaname = 'public'",
      )
      return rows.map((r) => r.owner)
    })
    expect(owners).toEqual([OWNER])
  })
})

/** A directory for embedded data directories, removed by the caller. */
async function embeddedRoot(): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'api-embedded-'))
  // mkdtemp makes it 0700; the server's own user (when we are root) must reach the data directory.
  await chmod(root, 0o755)
  return root
}

/** The api as `pnpm start` runs it without DATABASE_URL, on an embedded data directory. */
function startEmbedded(dataDir: string): Promise<RunningApi> {
  return startApi(
    loadApiConfig({ EMBEDDED_PG_DATA_DIR: dataDir, PORT: '0', API_AUTH_HS256_SECRET: TEST_AUTH_SECRET }),
    recordingLogger().logger,
  )
}

describe('the embedded default', () => {
  let root: string
  let api: RunningApi | undefined

  beforeAll(async () => {
    root = await embeddedRoot()
  })

  afterAll(async () => {
    await api?.close()
    await rm(root, { recursive: true, force: true })
  })

  const start = async () => {
    api = await startEmbedded(path.join(root, 'pg'))
    return api
  }

  it('serves as classroom_app, on tables classroom_owner migrated and owns, and the app may not run DDL', async () => {
    const running = await start()
    const { rows } = await sql<{ user: string; owners: string[] }>`
      select current_user as user,
        (select array_agg(distinct tableowner)::text[] from pg_tables where schemaname = 'public') as owners`.execute(
      running.db,
    )
    expect(rows).toEqual([{ user: EMBEDDED_ROLES.app, owners: [EMBEDDED_ROLES.owner] }])
    expect(await sqlState(running, 'drop table students')).toBe('42501')
    // Row-level security binds it: not the owner, no bypass, and without a principal's settings it sees no row.
    const { rows: role } = await sql<{ bypass: boolean; seen: string }>`
      select rolbypassrls as bypass, (select count(*) from classrooms)::text as seen from pg_roles where rolname = current_user`.execute(
      running.db,
    )
    expect(role).toEqual([{ bypass: false, seen: '0' }])
    expect(
      (await request(running.url, 'GET', '/classrooms?limit=100', undefined, await NORTHSIDE())).body.items,
    ).toHaveLength(3)
  })

  it('starts again on the same data directory, its roles already there, the demo data loaded once', async () => {
    await api?.close()
    api = undefined
    const running = await start()
    const { rows } = await sql<{ user: string }>`select current_user as user`.execute(running.db)
    expect(rows).toEqual([{ user: EMBEDDED_ROLES.app }])
    expect(
      (await request(running.url, 'GET', '/classrooms?limit=100', undefined, await NORTHSIDE())).body.items,
    ).toHaveLength(3)
  })
})

describe('the embedded default without a key (pnpm start)', () => {
  it('makes a key for the run and logs development tokens that work, and the metrics token, never the key', async () => {
    const root = await embeddedRoot()
    const { logger, lines } = recordingLogger()
    const running = await startApi(
      loadApiConfig({ EMBEDDED_PG_DATA_DIR: path.join(root, 'pg'), PORT: '0' }),
      logger,
    )
    try {
      const line = lines.find((l) => String(l.message).startsWith('development tokens'))
      const tokens = line?.tokens as Record<string, string>
      const admin = Object.entries(tokens).find(([who]) => who.includes('school_admin, Northside High'))?.[1]
      const student = Object.entries(tokens).find(([who]) =>
        who.includes('(student, Southside Academy)'),
      )?.[1]
      const listed = await request(running.url, 'GET', '/classrooms?limit=100', undefined, {
        authorization: `Bearer ${admin}`,
      })
      expect(listed.body.items.map((c: { name: string }) => c.name)).toEqual([
        'Algebra I',
        'World History',
        'Chemistry Lab',
      ])
      const write = await request(
        running.url,
        'POST',
        '/students',
        { name: 'S', email: 's@x.test' },
        { authorization: `Bearer ${student}` },
      )
      expect(write.status).toBe(403)
      const metrics = await request(running.url, 'GET', '/metrics', undefined, {
        authorization: `Bearer ${line?.metricsToken}`,
      })
      expect(metrics.status).toBe(200)
      // The test's own key is not the run's: its tokens are refused.
      expect((await request(running.url, 'GET', '/classrooms')).status).toBe(401)
      expect(JSON.stringify(lines)).not.toMatch(/secret/i)
    } finally {
      await running.close()
      await rm(root, { recursive: true, force: true })
    }
  })
})

describe('the embedded default with another PostgreSQL on EMBEDDED_PG_PORT', () => {
  it('fails naming the port and creates no role, database or table on that server', async () => {
    const foreign = await LocalPostgres.temporary()
    const root = await embeddedRoot()
    try {
      const config = loadApiConfig({
        EMBEDDED_PG_DATA_DIR: path.join(root, 'pg'),
        EMBEDDED_PG_PORT: String(foreign.port),
        PORT: '0',
      })
      await expect(startApi(config, recordingLogger().logger)).rejects.toThrow(
        `Port ${foreign.port} on 127.0.0.1 is taken by another server`,
      )
      const created = await foreign.query(
        'select rolname from pg_roles where rolname = any($1) union all select datname from pg_database where datname = $2',
        [[EMBEDDED_ROLES.owner, EMBEDDED_ROLES.app], EMBEDDED_ROLES.database],
      )
      expect(created).toEqual([])
    } finally {
      await foreign.destroy()
      await rm(root, { recursive: true, force: true })
    }
  })
})

describe('an embedded data directory from before the roles', () => {
  let root: string
  let api: RunningApi | undefined

  beforeAll(async () => {
    root = await embeddedRoot()
    // What an older api left: the database and its tables the superuser's, a classroom in it.
    const cluster = await LocalPostgres.start({ dataDir: path.join(root, 'pg') })
    const db = new Kysely({
      dialect: new PostgresDialect({
        pool: new pg.Pool({ connectionString: await cluster.createDatabase('classroom') }),
      }),
    })
    try {
      await migrateToLatest(db)
      await sql`insert into classrooms (name, capacity) values ('Kept', 3)`.execute(db)
    } finally {
      await db.destroy()
      await cluster.stop()
    }
    api = await startEmbedded(path.join(root, 'pg'))
  })

  afterAll(async () => {
    await api?.close()
    await rm(root, { recursive: true, force: true })
  })

  it('hands its tables to classroom_owner and serves them as classroom_app, the migrator’s own excepted', async () => {
    const running = api as RunningApi
    const { rows } = await sql<{ owners: string[] }>`
      select array_agg(distinct tableowner)::text[] as owners from pg_tables where schemaname = 'public'`.execute(
      running.db,
    )
    expect(rows).toEqual([{ owners: [EMBEDDED_ROLES.owner] }])
    expect((await request(running.url, 'GET', '/classrooms?limit=1')).body.items[0].name).toBe('Kept')
    expect(
      (await request(running.url, 'POST', '/students', { name: 'New', email: 'new@old.test' })).status,
    ).toBe(201)
    expect(await sqlState(running, 'select * from kysely_migration')).toBe('42501')
  })
})

describe("the api's README", () => {
  it('shows the DBA every statement servingRoleGrants makes, as it makes it', async () => {
    const readme = await readFile(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8')
    for (const statement of servingRoleGrants(EMBEDDED_ROLES)) expect(readme).toContain(`${statement};\n`)
  })
})
