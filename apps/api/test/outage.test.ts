import { LocalPostgres } from '@classroom/local-postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request, startTestApi, type TestApi } from './support.js'

// Stops the database under the api: a cluster of its own, never the shared test server.
let cluster: LocalPostgres
let t: TestApi

beforeAll(async () => {
  cluster = await LocalPostgres.temporary()
  t = await startTestApi('unused', {}, await cluster.createDatabase('classroom'))
})

afterAll(async () => {
  await t.close()
  await cluster.destroy()
})

describe('when the database goes away and comes back', () => {
  it('answers 503 within 2 s while it is down, and serves again once it is up, with no restart of the api', async () => {
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
    expect(await request(t.url, 'GET', `/classrooms/${created.body.id}`)).toMatchObject({
      status: 200,
      body: { name: 'Before' },
    })
    expect((await request(t.url, 'POST', '/classrooms', { name: 'After', capacity: 5 })).status).toBe(201)
    const names = (await request(t.url, 'GET', '/classrooms')).body.items.map((c: { name: string }) => c.name)
    expect(names).toEqual(['Before', 'After'])
  })
})
