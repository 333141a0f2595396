import { LocalPostgres } from '@classroom/local-postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request, startTestApi, type TestApi } from './support.js'

// Stops the database under the api: a cluster of its own, never the shared test server.
let cluster: LocalPostgres
// The default wait (5 s): a restart, however slow the machine, is shorter.
let riding: TestApi
// A short wait, to be outlasted.
let t: TestApi

beforeAll(async () => {
  cluster = await LocalPostgres.temporary()
  const url = await cluster.createDatabase('classroom')
  riding = await startTestApi('unused', {}, url)
  t = await startTestApi('unused', { DB_POOL_UNAVAILABLE_WAIT_MS: '1000' }, url)
})

afterAll(async () => {
  await riding?.close()
  await t?.close()
  await cluster.destroy()
})

describe('when the database goes away and comes back', () => {
  it('holds requests that arrive during a restart shorter than DB_POOL_UNAVAILABLE_WAIT_MS, and answers them all once it is back', async () => {
    const created = await request(riding.url, 'POST', '/classrooms', { name: 'Held', capacity: 5 })
    await cluster.stop('fast')
    const requests = Promise.all([
      ...Array.from({ length: 10 }, () => request(riding.url, 'GET', `/classrooms/${created.body.id}`)),
      ...Array.from({ length: 10 }, (_, i) =>
        request(riding.url, 'POST', '/students', { name: 'Held', email: `held${i}@school.test` }),
      ),
    ])
    await new Promise((resolve) => setTimeout(resolve, 400))
    await cluster.start()
    const statuses = (await requests).map((r) => r.status)
    expect(statuses).toEqual([...Array(10).fill(200), ...Array(10).fill(201)])
  })

  it('answers 503 within 2 s while it is down past the wait, and serves again once it is up, with no restart of the api', async () => {
    const created = await request(t.url, 'POST', '/classrooms', { name: 'Before', capacity: 5 })
    expect(created.status).toBe(201)

    await cluster.stop('fast')
    for (const [method, path, body] of [
      ['GET', '/readyz'],
      ['GET', `/classrooms/${created.body.id}`],
      ['GET', '/classrooms'],
      ['POST', '/classrooms', { name: 'During', capacity: 5 }],
    ] as const) {
      const startedAt = performance.now()
      const response = await request(t.url, method, path, body)
      const elapsed = performance.now() - startedAt
      expect(response.status, `${method} ${path}`).toBe(503)
      expect(response.body.error).toBe('DATABASE_UNAVAILABLE')
      expect(response.headers.get('retry-after')).toBe('2')
      expect(elapsed, `${method} ${path} answered in ${elapsed} ms`).toBeLessThan(2000)
    }
    expect((await request(t.url, 'GET', '/healthz')).status).toBe(200)

    await cluster.start()
    expect((await request(t.url, 'GET', '/readyz')).status).toBe(200)
    // The pool's reconnect loop notices at its next probe (at most DB_POOL_RECONNECT_MAX_MS, 1 s).
    await expect
      .poll(async () => (await request(t.url, 'GET', `/classrooms/${created.body.id}`)).status, {
        timeout: 3000,
      })
      .toBe(200)
    expect(await request(t.url, 'GET', `/classrooms/${created.body.id}`)).toMatchObject({
      status: 200,
      body: { name: 'Before' },
    })
    expect((await request(t.url, 'POST', '/classrooms', { name: 'After', capacity: 5 })).status).toBe(201)
    const names = (await request(t.url, 'GET', '/classrooms')).body.items.map((c: { name: string }) => c.name)
    expect(names).toEqual(['Held', 'Before', 'After'])
  })
})
