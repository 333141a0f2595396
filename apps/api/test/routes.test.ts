import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request, startTestApi, type TestApi } from './support.js'

let t: TestApi
const call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
  request(t.url, method, path, body, headers)

beforeAll(async () => {
  t = await startTestApi('api_routes')
})

afterAll(async () => {
  await t.close()
})

async function newClassroom(capacity = 30, name = 'Physics') {
  const { status, body } = await call('POST', '/classrooms', { name, capacity })
  expect(status).toBe(201)
  return body as { id: number; name: string; capacity: number; createdAt: string }
}

let emailSeq = 0
async function newStudent(name = 'Ada') {
  const { status, body } = await call('POST', '/students', {
    name,
    email: `student${++emailSeq}@school.test`,
  })
  expect(status).toBe(201)
  return body as { id: number; name: string; email: string; createdAt: string }
}

describe('classrooms', () => {
  it('POST /classrooms creates one; GET /classrooms/:id returns it with its enrolled count', async () => {
    const created = await newClassroom(25, 'Biology')
    expect(created).toEqual({
      id: expect.any(Number),
      name: 'Biology',
      capacity: 25,
      createdAt: expect.any(String),
    })
    const { status, body } = await call('GET', `/classrooms/${created.id}`)
    expect(status).toBe(200)
    expect(body).toEqual({ ...created, enrolledCount: 0 })
  })

  it('GET /classrooms pages by keyset: every classroom once, in id order', async () => {
    for (let i = 0; i < 5; i++) await newClassroom(10, `Paged ${i}`)
    const seen: number[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const query: string = cursor ? `?limit=2&cursor=${cursor}` : '?limit=2'
      const { status, body } = await call('GET', `/classrooms${query}`)
      expect(status).toBe(200)
      expect(body.items.length).toBeLessThanOrEqual(2)
      seen.push(...body.items.map((c: { id: number }) => c.id))
      cursor = body.nextCursor
      pages++
    } while (cursor && pages < 100)
    const { body: all } = await call('GET', '/classrooms?limit=100')
    expect(seen).toEqual(all.items.map((c: { id: number }) => c.id))
    expect(seen).toEqual([...seen].sort((a, b) => a - b))
    expect(new Set(seen).size).toBe(seen.length)
    expect(all.nextCursor).toBeNull()
  })

  it.each([
    [{ name: 'Math', capacity: '10' }, 'body.capacity', 'body.capacity must be integer'],
    [{ name: 'Math', capacity: 0 }, 'body.capacity', 'body.capacity must be >= 1'],
    [{ name: 'Math', capacity: 2.5 }, 'body.capacity', 'body.capacity must be integer'],
    [{ capacity: 10 }, 'body.name', 'body.name is required'],
    [{ name: '', capacity: 10 }, 'body.name', 'body.name must NOT have fewer than 1 characters'],
    [{ name: 'Math', capacity: 10, teacher: 'x' }, 'body.teacher', 'body.teacher is not a known field'],
    [{ name: 42, capacity: 10 }, 'body.name', 'body.name must be string'],
  ])('POST /classrooms %j -> 400 naming %s', async (payload, field, message) => {
    const { status, body } = await call('POST', '/classrooms', payload)
    expect(status).toBe(400)
    expect(body).toEqual({ error: 'VALIDATION_FAILED', field, message })
  })

  it('refuses malformed JSON, an empty JSON body, a non-JSON content type and an oversized body', async () => {
    const malformed = await call('POST', '/classrooms', '{"name": "Math", "capacity": ')
    expect(malformed.status).toBe(400)
    expect(malformed.body.error).toBe('MALFORMED_JSON')

    const empty = await call('POST', '/classrooms', '')
    expect(empty.status).toBe(400)
    expect(empty.body.error).toBe('MALFORMED_JSON')

    const text = await call('POST', '/classrooms', 'name=Math', { 'content-type': 'text/plain' })
    expect(text.status).toBe(415)
    expect(text.body.error).toBe('UNSUPPORTED_MEDIA_TYPE')

    const huge = await call('POST', '/classrooms', { name: 'x'.repeat(20_000), capacity: 1 })
    expect(huge.status).toBe(413)
    expect(huge.body.error).toBe('BODY_TOO_LARGE')
  })

  it.each([
    ['?limit=101', 'querystring.limit'],
    ['?limit=0', 'querystring.limit'],
    ['?limit=ten', 'querystring.limit'],
    ['?cursor=not-a-cursor', 'querystring.cursor'],
    ['?page=2', 'querystring.page'],
  ])('GET /classrooms%s -> 400 naming %s', async (query, field) => {
    const { status, body } = await call('GET', `/classrooms${query}`)
    expect(status).toBe(400)
    expect(body.error).toBe('VALIDATION_FAILED')
    expect(body.message).toContain(field)
    expect(body.field).toBe(field)
  })

  it.each(['abc', '0', '-1', '1.5', '99999999999'])(
    'GET /classrooms/%s -> 400 naming params.id',
    async (id) => {
      const { status, body } = await call('GET', `/classrooms/${id}`)
      expect(status).toBe(400)
      expect(body).toMatchObject({ error: 'VALIDATION_FAILED', field: 'params.id' })
    },
  )

  it('GET /classrooms/:id of an unknown classroom -> 404 CLASSROOM_NOT_FOUND', async () => {
    const { status, body } = await call('GET', '/classrooms/2147483647')
    expect(status).toBe(404)
    expect(body).toEqual({ error: 'CLASSROOM_NOT_FOUND', message: 'classroom 2147483647 does not exist' })
  })
})

describe('students', () => {
  it('POST /students creates one with the email lower-cased; GET /students/:id returns it', async () => {
    const { status, body } = await call('POST', '/students', {
      name: 'Grace',
      email: 'Grace.Hopper@Navy.test',
    })
    expect(status).toBe(201)
    expect(body).toEqual({
      id: expect.any(Number),
      name: 'Grace',
      email: 'grace.hopper@navy.test',
      createdAt: expect.any(String),
    })
    const fetched = await call('GET', `/students/${body.id}`)
    expect(fetched).toMatchObject({ status: 200, body })
  })

  it('POST /students with an email already taken (in any case) -> 409 EMAIL_TAKEN, and no second row', async () => {
    await call('POST', '/students', { name: 'Alan', email: 'alan@turing.test' })
    const { status, body } = await call('POST', '/students', { name: 'Alan T', email: 'ALAN@turing.test' })
    expect(status).toBe(409)
    expect(body).toEqual({
      error: 'EMAIL_TAKEN',
      message: 'a student with email alan@turing.test already exists',
    })
  })

  it.each([
    [{ name: 'Ken', email: 'not-an-email' }, 'body.email'],
    [{ name: 'Ken' }, 'body.email'],
    [{ name: 'Ken', email: 'ken@x.test', age: 3 }, 'body.age'],
    [{ name: '   ', email: 'ken@x.test' }, 'body.name'],
  ])('POST /students %j -> 400 naming %s', async (payload, field) => {
    const { status, body } = await call('POST', '/students', payload)
    expect(status).toBe(400)
    expect(body).toMatchObject({ error: 'VALIDATION_FAILED', field })
  })

  it('GET /students/:id and /students/:id/classrooms of an unknown student -> 404 STUDENT_NOT_FOUND', async () => {
    for (const path of ['/students/2147483647', '/students/2147483647/classrooms']) {
      const { status, body } = await call('GET', path)
      expect(status).toBe(404)
      expect(body.error).toBe('STUDENT_NOT_FOUND')
    }
  })

  it('GET /students/:id/classrooms lists the classrooms the student is enrolled in', async () => {
    const student = await newStudent()
    const a = await newClassroom(5, 'A')
    const b = await newClassroom(5, 'B')
    await newClassroom(5, 'C (not enrolled)')
    const none = await call('GET', `/students/${student.id}/classrooms`)
    expect(none).toMatchObject({ status: 200, body: { items: [] } })
    for (const room of [b, a])
      await call('POST', `/classrooms/${room.id}/enrollments`, { studentId: student.id })
    const { status, body } = await call('GET', `/students/${student.id}/classrooms`)
    expect(status).toBe(200)
    expect(body.items).toEqual([
      { ...a, enrolledAt: expect.any(String) },
      { ...b, enrolledAt: expect.any(String) },
    ])
  })
})

describe('enrollments', () => {
  it('enrolls (201), refuses a second enrollment (409 ALREADY_ENROLLED), counts it, and un-enrolls (204, then 404)', async () => {
    const room = await newClassroom(3)
    const student = await newStudent()
    const first = await call('POST', `/classrooms/${room.id}/enrollments`, { studentId: student.id })
    expect(first).toMatchObject({
      status: 201,
      body: { classroomId: room.id, studentId: student.id, createdAt: expect.any(String) },
    })
    const again = await call('POST', `/classrooms/${room.id}/enrollments`, { studentId: student.id })
    expect(again.status).toBe(409)
    expect(again.body.error).toBe('ALREADY_ENROLLED')
    expect((await call('GET', `/classrooms/${room.id}`)).body.enrolledCount).toBe(1)

    const removed = await call('DELETE', `/classrooms/${room.id}/enrollments/${student.id}`)
    expect(removed.status).toBe(204)
    expect((await call('GET', `/classrooms/${room.id}`)).body.enrolledCount).toBe(0)
    const missing = await call('DELETE', `/classrooms/${room.id}/enrollments/${student.id}`)
    expect(missing.status).toBe(404)
    expect(missing.body.error).toBe('ENROLLMENT_NOT_FOUND')
  })

  it('refuses an enrollment past capacity with 409 CLASSROOM_FULL', async () => {
    const room = await newClassroom(1)
    const [a, b] = [await newStudent(), await newStudent()]
    expect((await call('POST', `/classrooms/${room.id}/enrollments`, { studentId: a.id })).status).toBe(201)
    const full = await call('POST', `/classrooms/${room.id}/enrollments`, { studentId: b.id })
    expect(full.status).toBe(409)
    expect(full.body).toEqual({
      error: 'CLASSROOM_FULL',
      message: `classroom ${room.id} is full (capacity 1)`,
    })
  })

  it('answers 404 for an unknown classroom or student', async () => {
    const room = await newClassroom()
    const student = await newStudent()
    const noRoom = await call('POST', '/classrooms/2147483647/enrollments', { studentId: student.id })
    expect(noRoom.status).toBe(404)
    expect(noRoom.body.error).toBe('CLASSROOM_NOT_FOUND')
    const noStudent = await call('POST', `/classrooms/${room.id}/enrollments`, { studentId: 2147483647 })
    expect(noStudent.status).toBe(404)
    expect(noStudent.body.error).toBe('STUDENT_NOT_FOUND')
  })

  it.each([
    ['/classrooms/1/enrollments', { studentId: '1' }, 'body.studentId'],
    ['/classrooms/1/enrollments', {}, 'body.studentId'],
    ['/classrooms/1/enrollments', { studentId: 1, role: 'ta' }, 'body.role'],
    ['/classrooms/x/enrollments', { studentId: 1 }, 'params.id'],
  ])('POST %s %j -> 400 naming %s', async (path, payload, field) => {
    const { status, body } = await call('POST', path, payload)
    expect(status).toBe(400)
    expect(body).toMatchObject({ error: 'VALIDATION_FAILED', field })
  })

  it.each([
    ['/classrooms/1/enrollments/abc', 'params.studentId'],
    ['/classrooms/abc/enrollments/1', 'params.id'],
  ])('DELETE %s -> 400 naming %s', async (path, field) => {
    const { status, body } = await call('DELETE', path)
    expect(status).toBe(400)
    expect(body).toMatchObject({ error: 'VALIDATION_FAILED', field })
  })
})

describe('input the database cannot store', () => {
  it.each([
    ['/classrooms', { name: 'Math\u0000', capacity: 10 }, 'body.name'],
    ['/classrooms', { name: 'Math \ud800', capacity: 10 }, 'body.name'],
    ['/students', { name: 'Ken\u0000', email: 'ken@x.test' }, 'body.name'],
    ['/students', { name: 'Ken', email: 'ken\u0000@x.test' }, 'body.email'],
    ['/students', { name: 'Ken', email: 'ken\udc00@x.test' }, 'body.email'],
  ])(
    'POST %s %j (a NUL or an unpaired surrogate) -> 400 naming %s, and no row',
    async (path, payload, field) => {
      const before = await t.api.db
        .selectFrom(['classrooms', 'students'])
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow()
      const { status, body } = await call('POST', path, payload)
      expect(status).toBe(400)
      expect(body).toEqual({
        error: 'VALIDATION_FAILED',
        field,
        message: `${field} must not contain NUL characters or unpaired surrogates`,
      })
      const after = await t.api.db
        .selectFrom(['classrooms', 'students'])
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow()
      expect(after).toEqual(before)
    },
  )

  it('stores a name with astral characters (a whole surrogate pair) as sent', async () => {
    const created = await newClassroom(5, 'Maths 😀 𝔸')
    expect(created.name).toBe('Maths 😀 𝔸')
    expect((await call('GET', `/classrooms/${created.id}`)).body.name).toBe('Maths 😀 𝔸')
  })

  it.each([
    ['GET', '/classrooms/Infinity', 'params.id'],
    ['GET', '/classrooms/1e400', 'params.id'],
    ['GET', '/students/-Infinity', 'params.id'],
    ['GET', '/students/Infinity/classrooms', 'params.id'],
    ['DELETE', '/classrooms/Infinity/enrollments/1', 'params.id'],
    ['DELETE', '/classrooms/1/enrollments/1e400', 'params.studentId'],
    ['GET', '/classrooms?limit=Infinity', 'querystring.limit'],
  ])('%s %s (a number past any range) -> 400 naming %s', async (method, path, field) => {
    const { status, body } = await call(method, path)
    expect(status).toBe(400)
    expect(body).toEqual({ error: 'VALIDATION_FAILED', field, message: `${field} must be a finite number` })
  })

  it('POST /classrooms/Infinity/enrollments -> 400 naming params.id', async () => {
    const { status, body } = await call('POST', '/classrooms/Infinity/enrollments', { studentId: 1 })
    expect(status).toBe(400)
    expect(body).toEqual({
      error: 'VALIDATION_FAILED',
      field: 'params.id',
      message: 'params.id must be a finite number',
    })
  })
})

describe('requests refused before any route runs', () => {
  it.each(['/classrooms/%zz', '/classrooms/%', '/students/%ED%A0%80/classrooms'])(
    'GET %s (a path that does not decode) -> 400 MALFORMED_URL with the uniform body',
    async (path) => {
      const { status, body, headers } = await call('GET', path)
      expect(status).toBe(400)
      expect(headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
      expect(body).toEqual({ error: 'MALFORMED_URL', message: 'the path is not valid percent-encoded UTF-8' })
    },
  )

  it('GET /classrooms/<101 digits> (a path segment past the limit) -> 414 URL_TOO_LONG with the uniform body', async () => {
    const { status, body } = await call('GET', `/classrooms/${'1'.repeat(101)}`)
    expect(status).toBe(414)
    expect(body).toEqual({
      error: 'URL_TOO_LONG',
      message: 'a path segment is longer than this api accepts (100 characters)',
    })
  })

  it('an Idempotency-Key past the 16 KiB of headers -> 431 HEADERS_TOO_LARGE with the uniform body, and no row', async () => {
    const before = await t.api.db
      .selectFrom('classrooms')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow()
    const { status, body } = await call(
      'POST',
      '/classrooms',
      { name: 'Math', capacity: 10 },
      { 'idempotency-key': 'k'.repeat(20_000) },
    )
    expect(status).toBe(431)
    expect(body).toEqual({
      error: 'HEADERS_TOO_LARGE',
      message: 'the request headers are larger than this api accepts',
    })
    const after = await t.api.db
      .selectFrom('classrooms')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow()
    expect(after).toEqual(before)
  })

  it('a request that is not HTTP -> 400 MALFORMED_REQUEST with the uniform body', async () => {
    const { port } = new URL(t.url)
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => socket.write('HELLO /classrooms WORLD\r\n\r\n'))
      let text = ''
      socket.on('data', (chunk) => {
        text += chunk.toString('utf8')
      })
      socket.on('close', () => resolve(text))
      socket.on('error', reject)
    })
    const [head = '', json = ''] = raw.split('\r\n\r\n')
    expect(head).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/)
    expect(head.toLowerCase()).toContain('content-type: application/json')
    expect(JSON.parse(json)).toEqual({ error: 'MALFORMED_REQUEST', message: 'the request is not valid HTTP' })
  })
})

describe('operations', () => {
  it('GET /healthz and GET /readyz answer 200 while the database is up', async () => {
    expect(await call('GET', '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } })
    expect(await call('GET', '/readyz')).toMatchObject({ status: 200, body: { status: 'ready' } })
  })

  it('GET /metrics exposes pool gauges, pool counters, the acquire, hold and creation histograms and HTTP durations', async () => {
    await call('GET', '/classrooms')
    const { status, body, headers } = await call('GET', '/metrics')
    expect(status).toBe(200)
    expect(headers.get('content-type')).toContain('text/plain')
    for (const name of [
      'db_pool_connections',
      'db_pool_connections_idle',
      'db_pool_connections_active',
      'db_pool_connections_pending',
      'db_pool_connections_max 60',
      'db_pool_connections_min 20',
      'db_pool_acquire_seconds_bucket',
      'db_client_connection_use_time_seconds_count',
      'db_client_connection_create_time_seconds_count',
      'db_pool_acquire_timeouts_total 0',
      'db_pool_pre_pings_total',
      'db_pool_pre_ping_failures_total',
      'db_pool_connections_created_total',
      'db_pool_connections_removed_total',
      'db_pool_connections_recycled_total',
      'db_pool_capacity_refusals_total 0',
      'db_pool_database_at_capacity 0',
      'http_request_duration_seconds_bucket{le="0.001",method="GET",route="/classrooms",status_code="200"}',
    ]) {
      expect(body).toContain(name)
    }
    // The request above held a connection, opened for it or before: both histograms counted.
    expect(body).toMatch(/\ndb_client_connection_use_time_seconds_count [1-9]/)
    expect(body).toMatch(/\ndb_client_connection_create_time_seconds_count [1-9]/)
  })

  it('answers an unknown route with the uniform 404 body', async () => {
    const { status, body } = await call('GET', '/teachers')
    expect(status).toBe(404)
    expect(body).toEqual({ error: 'NOT_FOUND', message: 'no route GET /teachers' })
  })

  it('tags every response with a request id, honouring one the caller sends', async () => {
    const generated = await call('GET', '/healthz')
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
    const given = await call('GET', '/healthz', undefined, { 'x-request-id': 'trace-123' })
    expect(given.headers.get('x-request-id')).toBe('trace-123')
  })

  it('logs one line per request with method, route, status and duration, and no body', async () => {
    await call(
      'POST',
      '/students',
      { name: 'Logged', email: 'private.person@school.test' },
      { 'x-request-id': 'log-check' },
    )
    const lines = t.logs.filter((line) => line.requestId === 'log-check')
    expect(lines).toEqual([
      {
        level: 'info',
        message: 'request',
        method: 'POST',
        route: '/students',
        status: 201,
        durationMs: expect.any(Number),
        requestId: 'log-check',
      },
    ])
    expect(JSON.stringify(t.logs)).not.toContain('private.person')
  })
})
