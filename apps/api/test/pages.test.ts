import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HOME_LINKS } from '../src/routes/home.js'
import { request, startTestApi, type TestApi } from './support.js'

// What a browser sends for a page (Chromium's Accept for a navigation).
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8'

let t: TestApi

beforeAll(async () => {
  t = await startTestApi('api_pages')
})

afterAll(async () => {
  await t.close()
})

describe('GET /', () => {
  it('to a browser: a page saying what this is, linking the reference, the document, health, readiness and metrics', async () => {
    const page = await request(t.url, 'GET', '/', undefined, { accept: BROWSER_ACCEPT })
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(page.headers.get('vary')).toBe('Accept')
    const hrefs = [...String(page.body).matchAll(/<a href="([^"]+)"/g)].map((match) => match[1])
    expect(hrefs).toEqual(['/documentation', '/documentation/json', '/healthz', '/readyz', '/metrics'])
    for (const href of hrefs) {
      expect((await request(t.url, 'GET', href ?? '')).status, href).toBe(200)
    }
  })

  it.each([
    ['no Accept', undefined],
    ['*/*, as curl', '*/*'],
    ['application/json', 'application/json'],
    ['text/html refused with q=0', 'text/html;q=0, application/json'],
  ])('to anything else (%s): the same as JSON', async (_case, accept) => {
    const answer = await request(t.url, 'GET', '/', undefined, accept === undefined ? {} : { accept })
    expect(answer.status).toBe(200)
    expect(answer.headers.get('content-type')).toBe('application/json; charset=utf-8')
    expect(answer.body).toEqual({
      name: 'Classroom API',
      description: expect.stringContaining('Classrooms, students and enrollments'),
      links: HOME_LINKS,
    })
  })
})

describe('/documentation', () => {
  it('serves the Swagger UI page, every asset it loads from this server (nothing from a CDN)', async () => {
    const page = await request(t.url, 'GET', '/documentation', undefined, { accept: BROWSER_ACCEPT })
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8')
    const assets = [...String(page.body).matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1] ?? '')
    expect(assets).toEqual(expect.arrayContaining(['/documentation/static/swagger-ui-bundle.js']))
    for (const asset of assets) {
      expect(asset, 'a path on this server').toMatch(/^\/documentation\/static\//)
      expect((await request(t.url, 'GET', asset)).status, asset).toBe(200)
    }
  })

  it('serves the OpenAPI document it renders at /documentation/json, and as YAML', async () => {
    const document = await request(t.url, 'GET', '/documentation/json')
    expect(document.status).toBe(200)
    expect(document.body).toMatchObject({ openapi: '3.1.0', info: { title: 'Classroom API' } })
    const yaml = await request(t.url, 'GET', '/documentation/yaml')
    expect(yaml.status).toBe(200)
    expect(String(yaml.body)).toContain('openapi: 3.1.0')
  })
})
