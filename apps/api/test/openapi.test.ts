import { readFile } from 'node:fs/promises'
import { Validator } from '@seriousme/openapi-schema-validator'
import { Ajv } from 'ajv'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { API_ERROR_STATUSES } from '../src/api-error.js'
import { openApiDocument } from '../src/openapi-document.js'
import { rawRequest } from './raw-http.js'
import { request, startTestApi, type TestApi } from './support.js'

interface Operation {
  responses: Record<
    string,
    { content?: Record<string, { schema: object }>; headers?: Record<string, object> }
  >
}
type Paths = Record<string, Record<string, Operation>>

let t: TestApi
let served: { paths: Paths; info: { description: string } }

beforeAll(async () => {
  t = await startTestApi('api_openapi')
  served = (await request(t.url, 'GET', '/documentation/json')).body
})

afterAll(async () => {
  await t.close()
})

/** `/classrooms/:id` as the document writes it: `/classrooms/{id}`. */
const documentPath = (route: string) => route.replace(/:(\w+)/g, '{$1}')

describe('the OpenAPI document', () => {
  it('validates as OpenAPI 3.1', async () => {
    const validator = new Validator()
    const result = await validator.validate(served as unknown as Parameters<Validator['validate']>[0])
    expect(result.errors).toBeUndefined()
    expect(result.valid).toBe(true)
    expect(validator.version).toBe('3.1')
  })

  it('is what `pnpm --filter @classroom/api openapi` wrote to openapi.json (run it after changing a route)', async () => {
    const committed = JSON.parse(await readFile(new URL('../openapi.json', import.meta.url), 'utf8'))
    expect(served).toEqual(committed)
    expect(await openApiDocument()).toEqual(committed)
  })

  it('has every route, each one fastify serves (none hidden but the reference page’s own; HEAD answers as its GET)', () => {
    const documented = Object.entries(served.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    )
    for (const operation of documented) {
      const [method = '', path = ''] = operation.split(' ')
      const url = path.replace(/\{(\w+)\}/g, ':$1')
      expect(t.api.app.hasRoute({ method: method as 'GET', url }), operation).toBe(true)
    }
    expect(documented.sort()).toEqual(
      [
        'POST /classrooms',
        'GET /classrooms',
        'GET /classrooms/{id}',
        'POST /students',
        'GET /students/{id}',
        'GET /students/{id}/classrooms',
        'POST /classrooms/{id}/enrollments',
        'DELETE /classrooms/{id}/enrollments/{studentId}',
        'GET /healthz',
        'GET /readyz',
        'GET /metrics',
        'GET /',
      ].sort(),
    )
  })

  it('describes every error code the api has, each under its status', () => {
    const text = JSON.stringify(served)
    for (const [code, status] of Object.entries(API_ERROR_STATUSES)) {
      if (code === 'NOT_FOUND' || code === 'METHOD_NOT_ALLOWED') {
        // Answers to no route: named in the document's description.
        expect(served.info.description).toContain(code)
        continue
      }
      expect(text).toContain(`"${code}"`)
      const under = Object.values(served.paths).some((operations) =>
        Object.values(operations).some((operation) =>
          JSON.stringify(operation.responses[String(status)] ?? {}).includes(`"${code}"`),
        ),
      )
      expect(under, `${code} under ${status}`).toBe(true)
    }
  })

  it('documents every status the routes answered, and each answer matches its schema', async () => {
    const ajv = new Ajv({ strict: false, validateFormats: false })
    const check = async (
      method: string,
      path: string,
      route: string,
      status: number,
      body?: unknown,
      headers?: Record<string, string>,
    ) => {
      const answer = await request(t.url, method, path, body, headers)
      expect(answer.status, `${method} ${path}`).toBe(status)
      const documented = served.paths[documentPath(route)]?.[method.toLowerCase()]?.responses[String(status)]
      expect(documented, `${method} ${route} ${status}`).toBeDefined()
      const content = documented?.content
      if (content?.['application/json']) {
        const valid = ajv.validate(content['application/json'].schema, answer.body)
        expect(valid, `${method} ${path}: ${ajv.errorsText()}`).toBe(true)
      }
      return answer.body
    }
    const room = await check(
      'POST',
      '/classrooms',
      '/classrooms',
      201,
      { name: 'Doc', capacity: 1 },
      { 'idempotency-key': 'doc-1' },
    )
    await check(
      'POST',
      '/classrooms',
      '/classrooms',
      422,
      { name: 'Other', capacity: 1 },
      { 'idempotency-key': 'doc-1' },
    )
    await check('POST', '/classrooms', '/classrooms', 400, { name: 'Doc' })
    await check('POST', '/classrooms', '/classrooms', 400, '{"name":')
    await check('POST', '/classrooms', '/classrooms', 413, { name: 'x'.repeat(20_000), capacity: 1 })
    await check('POST', '/classrooms', '/classrooms', 415, 'name=x', { 'content-type': 'text/plain' })
    await check('GET', '/classrooms', '/classrooms', 200)
    await check('GET', '/classrooms?limit=0', '/classrooms', 400)
    await check('GET', `/classrooms/${room.id}`, '/classrooms/:id', 200)
    await check('GET', '/classrooms/2147483647', '/classrooms/:id', 404)
    await check('GET', '/classrooms/abc', '/classrooms/:id', 400)
    await check('GET', `/classrooms/${'1'.repeat(101)}`, '/classrooms/:id', 414)
    const student = await check('POST', '/students', '/students', 201, {
      name: 'Doc',
      email: 'doc@openapi.test',
    })
    await check('POST', '/students', '/students', 409, { name: 'Doc', email: 'DOC@openapi.test' })
    const other = await check('POST', '/students', '/students', 201, {
      name: 'Other',
      email: 'other@openapi.test',
    })
    await check('GET', `/students/${student.id}`, '/students/:id', 200)
    await check('GET', '/students/2147483647', '/students/:id', 404)
    await check('GET', `/students/${student.id}/classrooms`, '/students/:id/classrooms', 200)
    await check('GET', '/students/2147483647/classrooms', '/students/:id/classrooms', 404)
    const enrollments = `/classrooms/${room.id}/enrollments`
    await check('POST', enrollments, '/classrooms/:id/enrollments', 201, { studentId: student.id })
    await check('POST', enrollments, '/classrooms/:id/enrollments', 409, { studentId: other.id })
    await check('POST', enrollments, '/classrooms/:id/enrollments', 404, { studentId: 2147483647 })
    const enrollment = `${enrollments}/${student.id}`
    await check('DELETE', enrollment, '/classrooms/:id/enrollments/:studentId', 204)
    await check('DELETE', enrollment, '/classrooms/:id/enrollments/:studentId', 404)
    await check('GET', '/healthz', '/healthz', 200)
    await check('GET', '/readyz', '/readyz', 200)
    await check('GET', '/', '/', 200)
    await check('GET', '/metrics', '/metrics', 200)

    // Whatever any route answered in this test, by the api's own request metric: in the document.
    const metrics = (await request(t.url, 'GET', '/metrics')).body as string
    const answered = [
      ...metrics.matchAll(
        /http_request_duration_seconds_count\{method="(\w+)",route="([^"]+)",status_code="(\d+)"\}/g,
      ),
    ]
    expect(answered.length).toBeGreaterThan(20)
    for (const [, method = '', route = '', status = ''] of answered) {
      // The reference page's own routes (@fastify/swagger-ui's) are left out of the document they serve.
      if (route === 'unmatched' || route.startsWith('/documentation')) continue
      expect(
        served.paths[documentPath(route)]?.[method.toLowerCase()]?.responses[status],
        `${method} ${route} ${status}`,
      ).toBeDefined()
    }
  })

  it('documents the answers Node gives before any route: 400 without Host, 417, on every operation', async () => {
    const noHost = await rawRequest(t.url, 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n')
    expect(noHost.status).toBe(400)
    const expectation = await rawRequest(t.url, 'GET /healthz HTTP/1.1\r\nHost: a\r\nExpect: x\r\n\r\n')
    expect(expectation.status).toBe(417)
    for (const operations of Object.values(served.paths))
      for (const operation of Object.values(operations))
        for (const status of ['400', '408', '417', '431', '500'])
          expect(operation.responses[status]).toBeDefined()
  })

  it('shows the headers answers carry: x-request-id on every one, Retry-After on a 503, the replay mark on a write', () => {
    for (const operations of Object.values(served.paths))
      for (const operation of Object.values(operations))
        for (const [status, response] of Object.entries(operation.responses)) {
          expect(response.headers?.['x-request-id'], status).toBeDefined()
          if (status === '503') expect(response.headers?.['retry-after']).toBeDefined()
        }
    for (const [path, method, status] of [
      ['/classrooms', 'post', '201'],
      ['/students', 'post', '201'],
      ['/classrooms/{id}/enrollments', 'post', '201'],
      ['/classrooms/{id}/enrollments/{studentId}', 'delete', '204'],
    ] as const)
      expect(served.paths[path]?.[method]?.responses[status]?.headers?.['idempotent-replayed']).toBeDefined()
  })
})
