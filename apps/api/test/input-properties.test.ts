import fc from 'fast-check'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { authorization, startTestApi, type TestApi } from './support.js'

// Generated inputs thrown at the running api over real HTTP, against a real PostgreSQL. Whatever
// comes in: no 5xx, an answer within the bound, every refusal a 4xx with the uniform error body,
// and no half-written row. A failure prints its seed and path; FC_SEED=<seed> (and FC_PATH=<path>
// to go straight to the shrunk counterexample) replays it, with `-t` naming the property.

const NUM_RUNS = 200
const ANSWER_WITHIN_MS = 5_000
const MAX_ID = 2_147_483_647
const { FC_SEED, FC_PATH } = process.env
const runs = {
  numRuns: NUM_RUNS,
  ...(FC_SEED !== undefined && { seed: Number(FC_SEED) }),
  ...(FC_PATH !== undefined && { path: FC_PATH }),
}

let t: TestApi
const known = { classroomIds: [] as number[], studentIds: [] as number[] }

beforeAll(async () => {
  t = await startTestApi('api_input_properties')
  for (let i = 0; i < 3; i++) {
    const room = await send({
      method: 'POST',
      path: '/classrooms',
      body: `{"name":"Room ${i}","capacity":2}`,
    })
    const student = await send({
      method: 'POST',
      path: '/students',
      body: `{"name":"Known ${i}","email":"known${i}@school.test"}`,
    })
    known.classroomIds.push(room.body.id)
    known.studentIds.push(student.body.id)
  }
})

afterAll(async () => {
  await t.close()
})

interface Attempt {
  method: string
  path: string
  /** Sent as it is: not always JSON. */
  body?: string
  headers?: Record<string, string>
}

interface Answer {
  status: number
  headers: Headers
  // biome-ignore lint/suspicious/noExplicitAny: properties read arbitrary response bodies
  body: any
  text: string
}

async function send({ method, path, body, headers = {} }: Attempt): Promise<Answer> {
  const withType = body !== undefined && !('content-type' in headers)
  const response = await fetch(`${t.url}${path}`, {
    method,
    body,
    headers: {
      ...(await authorization()),
      ...(withType ? { 'content-type': 'application/json', ...headers } : headers),
    },
    signal: AbortSignal.timeout(ANSWER_WITHIN_MS),
  })
  const text = await response.text()
  const json = method !== 'HEAD' && response.headers.get('content-type')?.includes('application/json')
  return { status: response.status, headers: response.headers, body: json ? JSON.parse(text) : text, text }
}

/** Every row of every table, as text: equal snapshots mean nothing was written. */
async function snapshot(): Promise<Record<string, string>> {
  const { rows } = await sql<Record<string, string>>`select
      (select count(*) || ':' || coalesce(md5(string_agg(c::text, ',' order by id)), '') from classrooms c) as classrooms,
      (select count(*) || ':' || coalesce(md5(string_agg(s::text, ',' order by id)), '') from students s) as students,
      (select count(*) || ':' || coalesce(md5(string_agg(e::text, ',' order by classroom_id, student_id)), '') from enrollments e) as enrollments,
      (select count(*) || ':' || coalesce(md5(string_agg(k::text, ',' order by key)), '') from idempotency_keys k) as idempotency_keys`.execute(
    t.api.db,
  )
  return rows[0]!
}

const CONTEXTS = ['body', 'params', 'querystring', 'headers']

/** A refusal: a 4xx with `{ error, message, field? }`, naming the field of a validation failure. */
function expectUniformRefusal(answer: Answer, attempt: Attempt): void {
  const where = `${attempt.method} ${attempt.path} -> ${answer.status} ${answer.text.slice(0, 300)}`
  expect(answer.status, where).toBeGreaterThanOrEqual(400)
  expect(answer.status, where).toBeLessThan(500)
  if (attempt.method === 'HEAD') return
  expect(answer.headers.get('content-type'), where).toContain('application/json')
  const { error, message, field, ...rest } = answer.body
  expect(rest, where).toEqual({})
  expect(error, where).toMatch(/^[A-Z_]+$/)
  expect(typeof message === 'string' && message.length > 0, where).toBe(true)
  if (error === 'VALIDATION_FAILED') {
    expect(typeof field, where).toBe('string')
    expect(CONTEXTS, where).toContain(field.split('.')[0])
    expect(message, where).toContain(field)
  } else {
    expect(field, where).toBeUndefined()
  }
}

/**
 * Sends the attempt and checks what holds for any input: an answer within the bound, never a 5xx,
 * a refusal in the uniform shape that left every table as it was. Returns the answer and the
 * tables before and after, for the route's own checks of an accepted write.
 */
async function attemptHolds(attempt: Attempt) {
  const before = await snapshot()
  const answer = await send(attempt)
  const after = await snapshot()
  const where = `${attempt.method} ${attempt.path} ${attempt.body?.slice(0, 200)} -> ${answer.status} ${answer.text.slice(0, 300)}`
  expect(answer.status, where).toBeLessThan(500)
  if (answer.status >= 400) {
    expectUniformRefusal(answer, attempt)
    expect(after, where).toEqual(before)
  }
  return { answer, before, after, where }
}

function count(state: Record<string, string>, table: string): number {
  return Number(state[table]!.split(':')[0])
}

// --- generators -------------------------------------------------------------------------------

// Characters that have broken text handling somewhere: NUL and control characters, halves of
// surrogate pairs, byte-order marks, separators, RTL marks, astral emoji, case-changing letters.
const nastyChar = fc.oneof(
  fc.constantFrom(
    '\u0000',
    '\u0001',
    '\u001f',
    '\u007f',
    '\ud800',
    '\udbff',
    '\udc00',
    '\udfff',
    '\ufeff',
    '\ufffe',
    '\uffff',
    '\u2028',
    '\u202e',
    '\u200b',
    ' ',
    '\t',
    '\n',
    '"',
    '\\',
    "'",
    '%',
    '@',
    '.',
    'é',
    'İ',
    'ß',
    '😀',
    '𝔸',
  ),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }),
)

const nastyText = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: nastyChar, maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('a', 'é', '😀', '\u0000', ' '), fc.integer({ min: 190, max: 9_000 }))
      .map(([c, n]) => c.repeat(n)),
  },
)

/** A plausible name: mostly ordinary, sometimes with the nasty characters somewhere inside. */
const nameText = fc.oneof(
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
  fc.tuple(fc.string({ minLength: 1, maxLength: 10 }), nastyText).map(([a, b]) => a + b),
  nastyText,
)

/** Numbers as JSON text, including those JavaScript and PostgreSQL cannot hold. */
const numberText = fc.oneof(
  fc.integer({ min: -3, max: 100_003 }).map(String),
  fc.integer().map(String),
  fc.double().map((n) => (Number.isFinite(n) ? String(n) : `"${n}"`)),
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(String),
  fc.constantFrom(
    '0',
    '-0',
    '-1',
    '1.0',
    '1.5',
    '1e3',
    '1E400',
    '-1e400',
    '2147483647',
    '2147483648',
    '-2147483649',
    '4294967296',
    '9007199254740993',
    '9223372036854775808',
    '100000',
    '100001',
    '"NaN"',
    '"Infinity"',
    '"1"',
    '0.1e1',
  ),
)

/** Any JSON value as text; strings with the nasty characters, objects nested a few levels. */
const jsonText = fc
  .jsonValue({ maxDepth: 3, stringUnit: nastyChar })
  .map((value) => JSON.stringify(value) ?? 'null')

/** The value of a known field: a fitting one, a number, any JSON, or nothing (the field is left out). */
function fieldText(fitting: fc.Arbitrary<string>): fc.Arbitrary<string | undefined> {
  return fc.oneof(
    { weight: 10, arbitrary: fitting },
    { weight: 2, arbitrary: numberText },
    { weight: 2, arbitrary: jsonText },
    { weight: 1, arbitrary: fc.constant(undefined) },
  )
}

/** An object body with the route's fields (fitting or not) and sometimes extra ones, or any other text. */
function bodyText(fields: Record<string, fc.Arbitrary<string>>): fc.Arbitrary<string> {
  const entries = Object.entries(fields).map(([name, fitting]) =>
    fieldText(fitting).map((value) => (value === undefined ? [] : [`${JSON.stringify(name)}:${value}`])),
  )
  const extra = fc.array(
    fc
      .tuple(fc.string({ unit: nastyChar, maxLength: 8 }), jsonText)
      .map(([k, v]) => `${JSON.stringify(k)}:${v}`),
    { maxLength: 2 },
  )
  const object = fc
    .tuple(
      fc.tuple(...entries),
      fc.oneof({ weight: 4, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: extra }),
    )
    .map(([known, more]) => `{${[...known.flat(), ...more].join(',')}}`)
  return fc.oneof(
    { weight: 8, arbitrary: object },
    { weight: 1, arbitrary: jsonText },
    { weight: 1, arbitrary: fc.string({ unit: nastyChar, maxLength: 40 }) },
  )
}

/** Every byte percent-encoded: any text can travel in a path or a query string this way. */
function percentEncoded(text: string): string {
  return [...Buffer.from(text, 'utf8')]
    .map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`)
    .join('')
}

/** A path segment where an id goes: real ids, ids out of range, and junk. */
function idSegment(ids: () => readonly number[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(0, 1, 2).map((i) => String(ids()[i])) },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: MAX_ID }).map(String) },
    { weight: 2, arbitrary: fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        '0',
        '-0',
        '-1',
        '007',
        '00000000000000000001',
        '2147483647',
        '2147483648',
        '1.5',
        '1e3',
        '0x10',
        'NaN',
        'Infinity',
        'null',
        'true',
        '..',
        '.',
        '%00',
        '1%00',
        '%',
        '%zz',
        '%ED%A0%80',
        '%C0%AF',
        '%FF',
        '%2F',
        '%2e%2e',
        '%20',
        '١٢',
        '1'.repeat(101),
        '9'.repeat(5_000),
      ),
    },
    { weight: 2, arbitrary: fc.string({ unit: nastyChar, minLength: 1, maxLength: 12 }).map(percentEncoded) },
    {
      weight: 1,
      arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 12 }).map(encodeURIComponent),
    },
  )
}

const classroomId = idSegment(() => known.classroomIds)
const studentId = idSegment(() => known.studentIds)

/** A query-string value: junk of every kind, as sent on the wire. */
const junkQueryValue = fc.oneof(
  numberText.map(encodeURIComponent),
  fc.uint8Array({ maxLength: 60 }).map((bytes) => Buffer.from(bytes).toString('base64url')),
  fc.base64String({ maxLength: 80 }).map(encodeURIComponent),
  fc.string({ unit: nastyChar, maxLength: 20 }).map(percentEncoded),
  fc.constantFrom('', '%', '%zz', 'Infinity', '-Infinity', '1e400', 'x'.repeat(5_000)),
)

/** `limit`: fitting, or not. */
const limitValue = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 100 }).map(String) },
  junkQueryValue,
)

/** `cursor`: one the api could have issued, a forged one (`id:` and any number), or junk. */
const cursorValue = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.integer({ min: 0, max: 20 }).map((n) => Buffer.from(`id:${n}`).toString('base64url')),
  },
  fc
    .oneof(fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }), fc.double())
    .map((n) => Buffer.from(`id:${n}`).toString('base64url')),
  fc.constantFrom(
    'aWQ6',
    'aWQ6LTE',
    'aWQ6MS41',
    'aWQ6MjE0NzQ4MzY0OA',
    'aWQ6MDAwMDAwMDAwMDE',
    'aWQ6MQ==',
    'aWQ6MQ%3D%3D',
  ),
  junkQueryValue,
)

const queryString = fc
  .array(
    fc.oneof(
      { weight: 4, arbitrary: limitValue.map((v) => `limit=${v}`) },
      { weight: 4, arbitrary: cursorValue.map((v) => `cursor=${v}`) },
      fc
        .tuple(fc.string({ maxLength: 6 }).map(encodeURIComponent), junkQueryValue)
        .map(([k, v]) => `${k}=${v}`),
    ),
    { maxLength: 3 },
  )
  .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.join('&')}`))

/**
 * Header values as bytes on the wire: fetch sends a string's characters as Latin-1 bytes, so text
 * beyond it travels as its UTF-8 bytes; control characters other than tab cannot be sent at all.
 */
function headerValue(text: string): string {
  return [...Buffer.from(text, 'utf8').toString('latin1')]
    .filter((c) => c === '\t' || (c >= ' ' && c !== '\u007f'))
    .join('')
}

const idempotencyKey = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  { weight: 6, arbitrary: fc.uuid() },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', 'k'.repeat(255), 'k'.repeat(256), 'k'.repeat(20_000)) },
  { weight: 1, arbitrary: fc.integer({ min: 200, max: 17_000 }).map((n) => 'k'.repeat(n)) },
  { weight: 2, arbitrary: fc.string({ unit: nastyChar, maxLength: 30 }).map(headerValue) },
)

const contentType = fc.oneof(
  { weight: 12, arbitrary: fc.constant('application/json') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'APPLICATION/JSON',
      'application/json;',
      'application/json; charset=utf-16',
      'application/vnd.api+json',
      'application/jsonx',
      'text/plain',
      'text/json',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      '*/*',
      ';',
      '',
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: nastyChar, maxLength: 20 }).map(headerValue) },
)

const writeHeaders = fc
  .record({ key: idempotencyKey, type: contentType })
  .map(({ key, type }) => ({ 'content-type': type, ...(key !== undefined && { 'idempotency-key': key }) }))

// Fitting values, so that some writes are accepted and checked as fully there.
const capacityText = fc.integer({ min: 1, max: 100_000 }).map(String)
const emailText = fc.oneof(
  fc.emailAddress().map((e) => JSON.stringify(e)),
  fc
    .tuple(
      fc.string({ unit: nastyChar, minLength: 1, maxLength: 12 }),
      fc.string({ unit: nastyChar, minLength: 1, maxLength: 8 }),
    )
    .map(([local, domain]) => JSON.stringify(`${local}@${domain}.test`)),
)
const idText = fc.oneof(
  fc.constantFrom(0, 1, 2).map((i) => String(known.studentIds[i])),
  numberText,
)

// --- properties ----------------------------------------------------------------------------------

describe('no input reaches the database that it cannot store', () => {
  it('POST /classrooms: any body and headers; an accepted classroom is stored exactly as sent', async () => {
    await fc.assert(
      fc.asyncProperty(
        bodyText({ name: nameText.map((s) => JSON.stringify(s)), capacity: capacityText }),
        writeHeaders,
        async (body, headers) => {
          const attempt = { method: 'POST', path: '/classrooms', body, headers }
          const { answer, before, after, where } = await attemptHolds(attempt)
          if (answer.status >= 400) return
          expect(answer.status, where).toBe(201)
          const sent = JSON.parse(body)
          expect(answer.body, where).toEqual({
            id: expect.any(Number),
            name: sent.name,
            capacity: sent.capacity,
            createdAt: expect.any(String),
          })
          const stored = await t.api.db
            .selectFrom('classrooms')
            .selectAll()
            .where('id', '=', answer.body.id)
            .executeTakeFirst()
          expect(stored, where).toMatchObject({ name: sent.name, capacity: sent.capacity })
          const replayed = answer.headers.get('idempotent-replayed') === 'true'
          expect(count(after, 'classrooms') - count(before, 'classrooms'), where).toBe(replayed ? 0 : 1)
          expect(after.students, where).toBe(before.students)
          expect(after.enrollments, where).toBe(before.enrollments)
        },
      ),
      runs,
    )
  })

  it('POST /students: any body and headers; an accepted student is stored as sent, email lower-cased', async () => {
    await fc.assert(
      fc.asyncProperty(
        bodyText({ name: nameText.map((s) => JSON.stringify(s)), email: emailText }),
        writeHeaders,
        async (body, headers) => {
          const attempt = { method: 'POST', path: '/students', body, headers }
          const { answer, before, after, where } = await attemptHolds(attempt)
          if (answer.status >= 400) return
          expect(answer.status, where).toBe(201)
          const sent = JSON.parse(body)
          const stored = await t.api.db
            .selectFrom('students')
            .selectAll()
            .where('id', '=', answer.body.id)
            .executeTakeFirst()
          expect(stored, where).toMatchObject({ name: sent.name, email: sent.email.toLowerCase() })
          expect(answer.body, where).toMatchObject({ name: sent.name, email: sent.email.toLowerCase() })
          const replayed = answer.headers.get('idempotent-replayed') === 'true'
          expect(count(after, 'students') - count(before, 'students'), where).toBe(replayed ? 0 : 1)
          expect(after.classrooms, where).toBe(before.classrooms)
        },
      ),
      runs,
    )
  })

  it('POST /classrooms/:id/enrollments: any path id, body and headers; an accepted enrollment is there', async () => {
    await fc.assert(
      fc.asyncProperty(
        classroomId,
        bodyText({ studentId: idText }),
        writeHeaders,
        async (id, body, headers) => {
          const attempt = { method: 'POST', path: `/classrooms/${id}/enrollments`, body, headers }
          const { answer, before, after, where } = await attemptHolds(attempt)
          if (answer.status >= 400) return
          expect(answer.status, where).toBe(201)
          const stored = await t.api.db
            .selectFrom('enrollments')
            .selectAll()
            .where('classroom_id', '=', answer.body.classroomId)
            .where('student_id', '=', answer.body.studentId)
            .executeTakeFirst()
          expect(stored, where).toBeDefined()
          expect(answer.body.studentId, where).toBe(JSON.parse(body).studentId)
          const replayed = answer.headers.get('idempotent-replayed') === 'true'
          expect(count(after, 'enrollments') - count(before, 'enrollments'), where).toBe(replayed ? 0 : 1)
          // Keep room in the few known classrooms for later runs.
          await t.api.db
            .deleteFrom('enrollments')
            .where('classroom_id', '=', answer.body.classroomId)
            .where('student_id', '=', answer.body.studentId)
            .execute()
        },
      ),
      runs,
    )
  })

  it('DELETE /classrooms/:id/enrollments/:studentId: any path ids, body and headers; an accepted one is gone', async () => {
    await fc.assert(
      fc.asyncProperty(
        classroomId,
        studentId,
        fc.option(bodyText({}), { freq: 4 }),
        writeHeaders,
        fc.boolean(),
        async (id, student, body, headers, enrolledFirst) => {
          const pair = [Number(id), Number(student)] as const
          const enrolled =
            enrolledFirst && known.classroomIds.includes(pair[0]) && known.studentIds.includes(pair[1])
          if (enrolled) {
            await t.api.db
              .insertInto('enrollments')
              .values({ classroom_id: pair[0], student_id: pair[1] })
              .onConflict((oc) => oc.doNothing())
              .execute()
          }
          const key = headers['idempotency-key']
          const attempt: Attempt =
            body === null
              ? {
                  method: 'DELETE',
                  path: `/classrooms/${id}/enrollments/${student}`,
                  headers: key === undefined ? {} : { 'idempotency-key': key },
                }
              : { method: 'DELETE', path: `/classrooms/${id}/enrollments/${student}`, body, headers }
          const { answer, before, after, where } = await attemptHolds(attempt)
          if (answer.status >= 400) return
          expect(answer.status, where).toBe(204)
          const replayed = answer.headers.get('idempotent-replayed') === 'true'
          expect(count(before, 'enrollments') - count(after, 'enrollments'), where).toBe(replayed ? 0 : 1)
          if (enrolled) {
            const left = await t.api.db
              .selectFrom('enrollments')
              .selectAll()
              .where('classroom_id', '=', pair[0])
              .where('student_id', '=', pair[1])
              .executeTakeFirst()
            expect(left, where).toBeUndefined()
          }
        },
      ),
      runs,
    )
  })

  it('GET /classrooms: any query string; a page holds at most its limit, in id order', async () => {
    await fc.assert(
      fc.asyncProperty(queryString, async (query) => {
        const { answer, where } = await attemptHolds({ method: 'GET', path: `/classrooms${query}` })
        if (answer.status >= 400) return
        expect(answer.status, where).toBe(200)
        const ids = answer.body.items.map((c: { id: number }) => c.id)
        expect(ids, where).toEqual([...ids].sort((a, b) => a - b))
        expect(ids.length, where).toBeLessThanOrEqual(100)
      }),
      runs,
    )
  })

  it('GET /classrooms/:id, /students/:id, /students/:id/classrooms: any path id and query string', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/classrooms/', '/students/', '/students/:/classrooms'),
        fc.oneof(classroomId, studentId),
        fc.oneof({ weight: 4, arbitrary: fc.constant('') }, { weight: 1, arbitrary: queryString }),
        fc.constantFrom('GET', 'HEAD'),
        async (route, id, query, method) => {
          const path = route.includes(':') ? route.replace(':', id) : `${route}${id}`
          const { answer, where } = await attemptHolds({ method, path: `${path}${query}` })
          if (answer.status >= 400 || method === 'HEAD') return
          expect(answer.status, where).toBe(200)
          // A path id of `..` or `%2e%2e` leads elsewhere: `/students/../classrooms` is the list,
          // `/classrooms/..` the home page's links.
          expect(answer.body, where).toSatisfy(
            (body: { id?: unknown; items?: unknown; links?: unknown }) =>
              typeof body.id === 'number' || Array.isArray(body.items) || Array.isArray(body.links),
          )
        },
      ),
      runs,
    )
  })
})
