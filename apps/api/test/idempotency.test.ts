import { createHash } from 'node:crypto'
import { createTestDatabase, FaultProxy } from '@classroom/local-postgres'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { request, startTestApi, type TestApi } from './support.js'

// The api on a database reached through a proxy that can lose a commit's reply.
let proxy: FaultProxy
let t: TestApi
let admin: pg.Client

beforeAll(async () => {
  const { hostname, port } = new URL(inject('databaseUrl'))
  proxy = await FaultProxy.start({ host: hostname, port: Number(port) })
  const direct = await createTestDatabase(inject('databaseUrl'), 'api_idempotency')
  t = await startTestApi('unused', {}, proxy.rewrite(direct))
  admin = new pg.Client({ connectionString: direct })
  await admin.connect()
})

afterAll(async () => {
  await admin?.end()
  await t?.close()
  await proxy?.close()
})

const countClassrooms = async (name: string) =>
  Number((await admin.query('select count(*) as n from classrooms where name = $1', [name])).rows[0].n)

describe('idempotent writes', () => {
  it('answers 201 once, with exactly one row, when the commit reached the database but its reply was lost', async () => {
    const struck = proxy.loseReplyTo(/commit/i)
    const created = await request(t.url, 'POST', '/classrooms', { name: 'Lost reply', capacity: 3 })
    await struck
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({ name: 'Lost reply', capacity: 3 })
    expect(created.headers.get('idempotent-replayed')).toBe('true')
    expect(await countClassrooms('Lost reply')).toBe(1)
  })

  it('gives a client that sends its Idempotency-Key twice the same answer, and writes once', async () => {
    const headers = { 'idempotency-key': 'client-key-1' }
    const body = { name: 'Keyed', capacity: 4 }
    const first = await request(t.url, 'POST', '/classrooms', body, headers)
    const second = await request(t.url, 'POST', '/classrooms', body, headers)
    expect(first.status).toBe(201)
    expect(second).toMatchObject({ status: 201, body: first.body })
    expect(first.headers.get('idempotent-replayed')).toBeNull()
    expect(second.headers.get('idempotent-replayed')).toBe('true')
    expect(await countClassrooms('Keyed')).toBe(1)
  })

  it('replays a DELETE by its key: 204 again, not 404', async () => {
    const room = await request(t.url, 'POST', '/classrooms', { name: 'Delete twice', capacity: 4 })
    const student = await request(t.url, 'POST', '/students', {
      name: 'D',
      email: 'delete.twice@school.test',
    })
    await request(t.url, 'POST', `/classrooms/${room.body.id}/enrollments`, { studentId: student.body.id })
    const path = `/classrooms/${room.body.id}/enrollments/${student.body.id}`
    const headers = { 'idempotency-key': 'delete-once' }
    expect((await request(t.url, 'DELETE', path, undefined, headers)).status).toBe(204)
    expect((await request(t.url, 'DELETE', path, undefined, headers)).status).toBe(204)
    expect((await request(t.url, 'DELETE', path)).status).toBe(404)
  })

  it('refuses a key reused with another body (422), writing nothing', async () => {
    const headers = { 'idempotency-key': 'client-key-2' }
    expect(
      (await request(t.url, 'POST', '/classrooms', { name: 'First body', capacity: 1 }, headers)).status,
    ).toBe(201)
    const reused = await request(t.url, 'POST', '/classrooms', { name: 'Other body', capacity: 1 }, headers)
    expect(reused).toMatchObject({ status: 422, body: { error: 'IDEMPOTENCY_KEY_REUSED' } })
    expect(await countClassrooms('Other body')).toBe(0)
  })

  it.each([
    ['an empty key', ''],
    ['a key with a space', 'two words'],
    ['a key over 255 characters', 'k'.repeat(256)],
  ])('refuses %s with 400 naming the header', async (_, key) => {
    const response = await request(
      t.url,
      'POST',
      '/classrooms',
      { name: 'Bad key', capacity: 1 },
      { 'idempotency-key': key },
    )
    expect(response).toMatchObject({
      status: 400,
      body: { error: 'VALIDATION_FAILED', field: 'headers.idempotency-key' },
    })
    expect(await countClassrooms('Bad key')).toBe(0)
  })
})

describe('idempotency key retention', () => {
  it('purges keys older than IDEMPOTENCY_KEY_RETENTION_SECONDS when it starts, keeping fresh ones', async () => {
    await admin.query(`insert into idempotency_keys (key, fingerprint, created_at)
      select 'expired-' || g, 'x', now() - interval '2 hours' from generate_series(1, 30) g`)
    const fresh = await request(
      t.url,
      'POST',
      '/classrooms',
      { name: 'Kept key', capacity: 1 },
      { 'idempotency-key': 'kept' },
    )
    expect(fresh.status).toBe(201)
    const { url, logs, close } = await startTestApi(
      'unused',
      { IDEMPOTENCY_KEY_RETENTION_SECONDS: '3600' },
      t.databaseUrl,
    )
    try {
      await expect
        .poll(async () =>
          Number(
            (await admin.query(`select count(*) as n from idempotency_keys where key like 'expired-%'`))
              .rows[0].n,
          ),
        )
        .toBe(0)
      // Stored under its principal's hash of 'kept' (the default principal: school 1's admin, user 1).
      const kept = createHash('sha256').update('1/school_admin/1/kept').digest('base64url')
      expect((await admin.query('select key from idempotency_keys where key = $1', [kept])).rows).toEqual([
        { key: kept },
      ])
      expect(logs).toContainEqual(
        expect.objectContaining({ message: 'expired idempotency keys purged', purged: 30 }),
      )
      expect((await request(url, 'GET', '/healthz')).status).toBe(200)
    } finally {
      await close()
    }
  })
})
