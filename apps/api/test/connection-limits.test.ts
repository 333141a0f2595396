import { connect, type Socket } from 'node:net'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rawRequest } from './raw-http.js'
import { request, startTestApi, type TestApi } from './support.js'

const MAX_CONNECTIONS = 40
const CONNECTION_TIMEOUT_MS = 500
const REQUEST_TIMEOUT_MS = 800
const KEEP_ALIVE_TIMEOUT_MS = 700

let t: TestApi

beforeAll(async () => {
  t = await startTestApi('api_connection_limits', {
    HTTP_MAX_CONNECTIONS: String(MAX_CONNECTIONS),
    HTTP_CONNECTION_TIMEOUT_MS: String(CONNECTION_TIMEOUT_MS),
    HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
    HTTP_KEEP_ALIVE_TIMEOUT_MS: String(KEEP_ALIVE_TIMEOUT_MS),
  })
})

afterAll(async () => {
  await t.close()
})

/** Opens a socket (silent until the test writes to it); `closed` resolves to when the server closed it. */
function idleSocket(url = t.url): Promise<{ socket: Socket; closed: Promise<number> }> {
  const { port, hostname } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname)
    const closed = new Promise<number>((done) => socket.once('close', () => done(performance.now())))
    socket.on('error', () => {})
    socket.once('connect', () => resolve({ socket, closed }))
    socket.once('error', reject)
  })
}

function openConnections(api = t.api): Promise<number> {
  return new Promise((resolve, reject) =>
    api.app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  )
}

describe('idle sockets', () => {
  it('cannot fill the server: past HTTP_MAX_CONNECTIONS the oldest idle one makes room, and a real request is served', async () => {
    // A client between two requests on its kept-alive connection: idle, but it has spoken.
    const client = await idleSocket()
    const firstAnswer = new Promise((done) => client.socket.once('data', done))
    client.socket.write('GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n')
    await firstAnswer
    const idle = []
    for (let i = 0; i < MAX_CONNECTIONS * 3; i++) idle.push(await idleSocket())
    expect(await openConnections()).toBeLessThanOrEqual(MAX_CONNECTIONS)
    // The first two thirds were closed to make room for the last third, oldest first.
    const closedEarly = await Promise.race([
      Promise.all(idle.slice(0, MAX_CONNECTIONS * 2).map((s) => s.closed)).then(() => true),
      new Promise((done) => setTimeout(() => done(false), CONNECTION_TIMEOUT_MS / 2)),
    ])
    expect(closedEarly).toBe(true)
    // Sockets that never sent a byte went first: the client's connection is still there and serves.
    expect(client.socket.destroyed).toBe(false)
    const secondAnswer = new Promise<string>((done) =>
      client.socket.once('data', (data) => done(String(data))),
    )
    client.socket.write('GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n')
    expect(await secondAnswer).toMatch(/^HTTP\/1\.1 200 /)
    const { status } = await request(t.url, 'GET', '/classrooms')
    expect(status).toBe(200)
    for (const { socket } of [client, ...idle]) socket.destroy()
  })

  it('are closed after HTTP_CONNECTION_TIMEOUT_MS of silence', async () => {
    const openedAt = performance.now()
    const idle = await Promise.all(Array.from({ length: 20 }, () => idleSocket()))
    const closedAt = await Promise.all(idle.map((s) => s.closed))
    for (const at of closedAt) {
      expect(at - openedAt).toBeGreaterThanOrEqual(CONNECTION_TIMEOUT_MS - 50)
      expect(at - openedAt).toBeLessThan(CONNECTION_TIMEOUT_MS + 1500)
    }
    // The server counts a socket closed once its own side has run its close: poll, as the client saw it first.
    await expect.poll(() => openConnections(), { timeout: 2000, interval: 20 }).toBe(0)
  })

  it('a kept-alive connection idle after its answer is closed after HTTP_KEEP_ALIVE_TIMEOUT_MS (+ the second Node adds), not before', async () => {
    const { socket, closed } = await idleSocket()
    const answered = new Promise<number>((done) => socket.once('data', () => done(performance.now())))
    socket.write('GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n')
    const [answeredAt, closedAt] = await Promise.all([answered, closed])
    // Node waits one second past keepAliveTimeout, so a client reusing the socket at its edge is not cut.
    expect(closedAt - answeredAt).toBeGreaterThanOrEqual(KEEP_ALIVE_TIMEOUT_MS + 1000 - 50)
    expect(closedAt - answeredAt).toBeLessThan(KEEP_ALIVE_TIMEOUT_MS + 2000)
  })

  it('a slow answer is not cut for its silence: a read held 3 × HTTP_CONNECTION_TIMEOUT_MS behind a lock is answered', async () => {
    const id = (await request(t.url, 'POST', '/classrooms', { name: 'Slow', capacity: 5 })).body.id as number
    const admin = new pg.Client({ connectionString: t.databaseUrl })
    await admin.connect()
    try {
      await admin.query('begin')
      await admin.query('lock table classrooms in access exclusive mode')
      const read = request(t.url, 'GET', `/classrooms/${id}`)
      await new Promise((done) => setTimeout(done, CONNECTION_TIMEOUT_MS * 3))
      await admin.query('rollback')
      expect((await read).status).toBe(200)
    } finally {
      await admin.end()
    }
  })

  it('a request whose body does not arrive within HTTP_REQUEST_TIMEOUT_MS -> 408 REQUEST_TIMEOUT with the uniform body', async () => {
    const startedAt = performance.now()
    // Announces 100 bytes, sends 10 and goes quiet (a slow-body attack).
    const answer = await rawRequest(
      t.url,
      'POST /classrooms HTTP/1.1\r\nHost: a\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"name":"S',
    )
    expect(answer.status).toBe(408)
    expect(JSON.parse(answer.body)).toEqual({
      error: 'REQUEST_TIMEOUT',
      message: 'the request did not arrive whole within HTTP_REQUEST_TIMEOUT_MS',
    })
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50)
  })

  it('an oversized body that stops arriving is ended by HTTP_REQUEST_TIMEOUT_MS (408), not read forever; the api serves on', async () => {
    // Announces 10 MB, sends 1 MB and goes quiet: the 413 waits for a rest that never comes.
    const answer = await rawRequest(
      t.url,
      'POST /classrooms HTTP/1.1\r\nHost: a\r\ncontent-type: application/json\r\ncontent-length: 10000000\r\n\r\n',
      1_000_000,
    )
    expect(answer.status).toBe(408)
    expect(JSON.parse(answer.body).error).toBe('REQUEST_TIMEOUT')
    expect((await request(t.url, 'GET', '/healthz')).status).toBe(200)
    expect(t.logs.filter((line) => line.level === 'error')).toEqual([])
  })

  it('applies the HTTP_* settings to the server', () => {
    const { server } = t.api.app
    expect(server.timeout).toBe(CONNECTION_TIMEOUT_MS)
    expect(server.requestTimeout).toBe(REQUEST_TIMEOUT_MS)
    expect(server.keepAliveTimeout).toBe(KEEP_ALIVE_TIMEOUT_MS)
  })
})

describe('busy connections', () => {
  it('at HTTP_MAX_CONNECTIONS with every connection answering, a new one is refused (closed), and none of those answering is cut', async () => {
    const busy = await startTestApi('api_connection_cap_busy', { HTTP_MAX_CONNECTIONS: '2' })
    try {
      const id = (await request(busy.url, 'POST', '/classrooms', { name: 'Held', capacity: 5 })).body
        .id as number
      const admin = new pg.Client({ connectionString: busy.databaseUrl })
      await admin.connect()
      try {
        await admin.query('begin')
        await admin.query('lock table classrooms in access exclusive mode')
        // Inside a transaction pg_stat_activity is a snapshot taken at its first read: cleared each time.
        const waiting = async () =>
          (
            await admin
              .query('select pg_stat_clear_snapshot()')
              .then(() =>
                admin.query(
                  "select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = 'classroom-api' and wait_event_type = 'Lock'",
                ),
              )
          ).rows[0].n
        // One after the other: a connection that has not yet sent its request is idle, and may make room.
        const held = []
        for (const n of [1, 2]) {
          held.push(rawRequest(busy.url, `GET /classrooms/${id} HTTP/1.1\r\nHost: a\r\n\r\n`))
          await expect.poll(waiting, { timeout: 10_000, interval: 50 }).toBe(n)
        }
        const third = await idleSocket(busy.url)
        const closedAt = await Promise.race([
          third.closed,
          new Promise<number>((done) => setTimeout(() => done(-1), 1000)),
        ])
        expect(closedAt).toBeGreaterThan(0)
        await expect.poll(() => openConnections(busy.api), { timeout: 2000, interval: 20 }).toBe(2)
        await admin.query('rollback')
        for (const answer of await Promise.all(held)) expect(answer.status).toBe(200)
      } finally {
        await admin.end()
      }
      expect((await request(busy.url, 'GET', '/healthz')).status).toBe(200)
    } finally {
      await busy.close()
    }
  })
})
