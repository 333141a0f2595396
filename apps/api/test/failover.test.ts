import { LocalPostgres } from '@classroom/local-postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request, startTestApi, type TestApi } from './support.js'

// A primary and a synchronous standby of this file's own: the tests kill the primary.
let primary: LocalPostgres
let standby: LocalPostgres
/** On the standby alone, as an api whose address was moved to a standby would be. */
let onStandby: TestApi
/** On both, by libpq's multi-host URL, asking for a writable server. */
let onBoth: TestApi
let classroomId: number

beforeAll(async () => {
  primary = await LocalPostgres.temporary()
  const primaryUrl = await primary.createDatabase('classroom')
  // Migrates the database on the primary, before the standby copies it.
  const first = await startTestApi('unused', {}, primaryUrl)
  classroomId = (await request(first.url, 'POST', '/classrooms', { name: 'Replicated', capacity: 5 })).body.id
  await first.close()
  standby = await primary.startStandby({ synchronous: true })
  const quick = { DB_POOL_UNAVAILABLE_WAIT_MS: '300', DB_MIGRATE_ON_START: 'false' }
  onStandby = await startTestApi('unused', quick, standby.connectionString('classroom'))
  onBoth = await startTestApi(
    'unused',
    { DB_MIGRATE_ON_START: 'false' },
    primary.connectionString('classroom', {
      ports: [standby.port, primary.port],
      params: { target_session_attrs: 'read-write' },
    }),
  )
})

afterAll(async () => {
  await onStandby?.close()
  await onBoth?.close()
  await standby?.destroy()
  await primary?.destroy()
})

describe('an api whose database fails over', () => {
  it('on a standby, serves reads and answers writes 503 DATABASE_UNAVAILABLE, never a 500', async () => {
    expect((await request(onStandby.url, 'GET', `/classrooms/${classroomId}`)).status).toBe(200)
    const write = await request(onStandby.url, 'POST', '/students', {
      name: 'Nope',
      email: 'nope@school.test',
    })
    expect(write.status).toBe(503)
    expect(write.body).toEqual({
      error: 'DATABASE_UNAVAILABLE',
      message: 'the database does not accept writes right now; retry shortly',
    })
    expect(write.headers.get('retry-after')).toBe('2')
  })

  it('on a multi-host URL with target_session_attrs=read-write, writes to the primary listed second, and is ready', async () => {
    const write = await request(onBoth.url, 'POST', '/students', {
      name: 'Written',
      email: 'written@school.test',
    })
    expect(write.status).toBe(201)
    expect((await request(onBoth.url, 'GET', '/readyz')).status).toBe(200)
  })

  it('holds a write sent after the primary died until the standby is promoted, then answers it 201, with no restart', async () => {
    await primary.stop('immediate')
    const held = request(onBoth.url, 'POST', '/students', { name: 'Held', email: 'held@school.test' })
    // As an HA manager would, after its check interval.
    await new Promise((resolve) => setTimeout(resolve, 1000))
    await standby.promote()
    const answer = await held
    expect(answer.status).toBe(201)
    const stored = await standby.query(
      'select 1 from students where email = $1',
      ['held@school.test'],
      'classroom',
    )
    expect(stored).toHaveLength(1)
    expect((await request(onBoth.url, 'GET', '/readyz')).status).toBe(200)
  })
})
