import { METHODS } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rawRequest } from './raw-http.js'
import { request, startTestApi, type TestApi } from './support.js'

let t: TestApi

beforeAll(async () => {
  t = await startTestApi('api_http_refusals')
})

afterAll(async () => {
  await t.close()
})

async function rowCounts() {
  return t.api.db
    .selectFrom(['classrooms', 'students'])
    .select((eb) => eb.fn.countAll().as('n'))
    .executeTakeFirstOrThrow()
}

/** The uniform error body, parsed, with the status and request id it came with. */
function expectUniformError(answer: { status: number; headers: Record<string, string>; body: string }) {
  expect(answer.headers['content-type']).toBe('application/json; charset=utf-8')
  expect(answer.headers['x-request-id']).toMatch(/\S/)
  const body = JSON.parse(answer.body)
  expect(Object.keys(body).sort()).toEqual(expect.arrayContaining(['error', 'message']))
  expect(body.error).toMatch(/^[A-Z_]+$/)
  return body
}

describe('every method Node parses', () => {
  // CONNECT is a proxy's method; the rest reach fastify, routed or not, with or without a body.
  it.each(METHODS.flatMap((method) => [[method, '/classrooms'] as const, [method, '/nowhere'] as const]))(
    '%s %s -> below 500, with the uniform body',
    async (method, path) => {
      const target = method === 'CONNECT' ? 'example.test:443' : path
      const answer = await rawRequest(
        t.url,
        `${method} ${target} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`,
      )
      expect(answer.status, answer.body).toBeGreaterThanOrEqual(200)
      expect(answer.status, answer.body).toBeLessThan(500)
      if (answer.status >= 400 && method !== 'HEAD') expectUniformError(answer)
    },
  )

  it('QUERY without a Content-Type -> 400 MALFORMED_REQUEST, not a 500', async () => {
    const answer = await rawRequest(
      t.url,
      'QUERY /classrooms HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
    )
    expect(answer.status).toBe(400)
    expect(expectUniformError(answer)).toEqual({
      error: 'MALFORMED_REQUEST',
      message: 'this method needs a Content-Type header; send the body as application/json',
    })
  })

  it('CONNECT -> 405 METHOD_NOT_ALLOWED with the uniform body', async () => {
    const answer = await rawRequest(
      t.url,
      'CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n',
    )
    expect(answer.status).toBe(405)
    expect(expectUniformError(answer).error).toBe('METHOD_NOT_ALLOWED')
  })
})

describe('requests Node itself refuses', () => {
  it('Expect: other than 100-continue -> 417 EXPECTATION_FAILED with the uniform body, and no row', async () => {
    const before = await rowCounts()
    const json = '{"name":"Expected","capacity":3}'
    const answer = await rawRequest(
      t.url,
      `POST /classrooms HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\ncontent-type: application/json\r\ncontent-length: ${json.length}\r\nx-request-id: expect-1\r\n\r\n${json}`,
    )
    expect(answer.status).toBe(417)
    expect(answer.headers['x-request-id']).toBe('expect-1')
    expect(expectUniformError(answer)).toEqual({
      error: 'EXPECTATION_FAILED',
      message: 'this api meets no Expect header but "Expect: 100-continue"',
    })
    expect(await rowCounts()).toEqual(before)
  })

  it('an HTTP/1.1 request without Host -> 400 MALFORMED_REQUEST with the uniform body; HTTP/1.0 needs none', async () => {
    const answer = await rawRequest(t.url, 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n')
    expect(answer.status).toBe(400)
    expect(expectUniformError(answer)).toEqual({
      error: 'MALFORMED_REQUEST',
      message: 'an HTTP/1.1 request must have a Host header',
    })
    const old = await rawRequest(t.url, 'GET /healthz HTTP/1.0\r\n\r\n')
    expect(old.status).toBe(200)
  })
})

describe('bodies', () => {
  it.each([
    ['a lone continuation byte', Buffer.from([0x80])],
    ['a truncated 2-byte sequence', Buffer.from([0xc3])],
    ['an overlong encoding', Buffer.from([0xc0, 0xaf])],
    ['an encoded surrogate', Buffer.from([0xed, 0xa0, 0x80])],
    ['a byte never in UTF-8', Buffer.from([0xff])],
  ])('a JSON string holding %s -> 400 MALFORMED_JSON naming the body, and no row', async (_what, bad) => {
    const before = await rowCounts()
    const json = Buffer.concat([Buffer.from('{"name":"Bad '), bad, Buffer.from('","capacity":3}')])
    const answer = await rawRequest(
      t.url,
      Buffer.concat([
        Buffer.from(
          `POST /classrooms HTTP/1.1\r\nHost: a\r\ncontent-type: application/json\r\ncontent-length: ${json.length}\r\nConnection: close\r\n\r\n`,
        ),
        json,
      ]),
    )
    expect(answer.status).toBe(400)
    expect(expectUniformError(answer)).toEqual({
      error: 'MALFORMED_JSON',
      field: 'body',
      message: 'body is not valid UTF-8 text; send JSON encoded as UTF-8',
    })
    expect(await rowCounts()).toEqual(before)
  })

  it('a JSON body in valid UTF-8 (multi-byte and astral characters) is stored as sent', async () => {
    const { status, body } = await request(t.url, 'POST', '/classrooms', {
      name: 'Ünïcødé 数学 😀',
      capacity: 3,
    })
    expect(status).toBe(201)
    expect(body.name).toBe('Ünïcødé 数学 😀')
  })

  it('keeps fastify’s refusal of a prototype-poisoning body', async () => {
    const { status, body } = await request(
      t.url,
      'POST',
      '/classrooms',
      '{"name":"P","capacity":3,"__proto__":{"x":1}}',
    )
    expect(status).toBe(400)
    expect(body.error).toBe('MALFORMED_JSON')
  })

  it.each([
    ['10 MB', 10_000_000, 'content-length'],
    ['2 MB', 2_000_000, 'content-length'],
    ['10 MB', 10_000_000, 'chunked'],
    ['2 MB', 2_000_000, 'chunked'],
    ['10 MB', 10_000_000, 'content-length, Connection: close'],
    ['10 MB', 10_000_000, 'chunked, Connection: close'],
  ])(
    'a %s upload (%s) gets its 413 read by a client still sending it, not a reset',
    async (_size, bytes, framing) => {
      for (let run = 0; run < 3; run++) {
        const close = framing.endsWith('Connection: close') ? 'connection: close\r\n' : ''
        const head = framing.startsWith('content-length')
          ? `POST /classrooms HTTP/1.1\r\nHost: a\r\n${close}content-type: application/json\r\ncontent-length: ${bytes}\r\n\r\n`
          : `POST /classrooms HTTP/1.1\r\nHost: a\r\n${close}content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n${bytes.toString(16)}\r\n`
        const answer = await rawRequest(
          t.url,
          head,
          bytes,
          framing.startsWith('chunked') ? '\r\n0\r\n\r\n' : '',
        )
        expect(answer.socketError).toBeUndefined()
        expect(answer.status).toBe(413)
        expect(expectUniformError(answer)).toEqual({
          error: 'BODY_TOO_LARGE',
          message: 'the body is larger than this api accepts (16 KiB)',
        })
      }
    },
  )
})
