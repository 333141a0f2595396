import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { authorization, request, startTestApi, type TestApi } from './support.js'

let t: TestApi

beforeAll(async () => {
  t = await startTestApi('api_hang_up')
})

afterAll(async () => {
  await t?.close()
})

/** The api's statements now waiting on a lock on the server. */
async function waitingStatements(admin: pg.Client): Promise<number> {
  const { rows } = await admin.query(
    "select count(*)::int as n from pg_stat_activity where application_name = 'classroom-api' and wait_event_type = 'Lock'",
  )
  return rows[0].n
}

describe('a client that hangs up mid-request', () => {
  it('leaves no statement of its request running on the server', async () => {
    const id = (await request(t.url, 'POST', '/classrooms', { name: 'Locked', capacity: 5 })).body
      .id as number
    const admin = new pg.Client({ connectionString: t.databaseUrl })
    await admin.connect()
    try {
      // The read below waits behind this lock, as behind any slow statement.
      await admin.query('begin')
      await admin.query('lock table classrooms in access exclusive mode')
      const hangUp = new AbortController()
      const read = fetch(`${t.url}/classrooms/${id}`, {
        signal: hangUp.signal,
        headers: await authorization(),
      }).catch((error: unknown) => error)
      await expect.poll(() => waitingStatements(admin), { timeout: 5000, interval: 50 }).toBe(1)
      hangUp.abort()
      expect(await read).toBeInstanceOf(Error)
      // Cancelled on the server, not left waiting for a client that is gone.
      await expect.poll(() => waitingStatements(admin), { timeout: 1000, interval: 50 }).toBe(0)
    } finally {
      await admin.query('rollback')
      await admin.end()
    }
    // The api serves on, with the connection the cancelled read had.
    expect((await request(t.url, 'GET', `/classrooms/${id}`)).status).toBe(200)
    // Taken for what it is, a client gone (answered 499): its 57014 is not logged as an unexpected error.
    expect(t.logs.filter((line) => line.level === 'error' || line.level === 'warn')).toEqual([])
  })
})
