import { type HeadlessChromium, launchChromium, requestsOffThisMachine } from '@classroom/test-kit/chromium'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request, startTestApi, type TestApi } from './support.js'

// The pages a newcomer opens, in a real browser: Debian's Chromium, headless. Screenshots go to
// apps/api/test-results/ (gitignored) for a developer to look at.
let t: TestApi
let browser: HeadlessChromium

beforeAll(async () => {
  t = await startTestApi('api_browser')
  browser = await launchChromium(new URL('..', import.meta.url))
})

afterAll(async () => {
  await browser?.close()
  await t?.close()
})

describe('in a browser', () => {
  it('GET / shows what this is and its links lead to the reference page, with no console error', async () => {
    const { page, record } = await browser.open()
    await page.goto(`${t.url}/`)
    expect(await page.locator('h1').textContent()).toBe('Classroom API')
    await browser.screenshot(page, 'home')
    await page.getByRole('link', { name: '/documentation', exact: true }).click()
    await page.waitForURL(`${t.url}/documentation`)
    expect(record.errors).toEqual([])
    expect(requestsOffThisMachine(record)).toEqual([])
  })

  it('/documentation lists every route of the OpenAPI document, with no console error and nothing fetched off this machine', async () => {
    const document = (await request(t.url, 'GET', '/documentation/json')).body as {
      paths: Record<string, Record<string, unknown>>
    }
    const documented = Object.entries(document.paths)
      .flatMap(([path, operations]) =>
        Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
      )
      .sort()
    const { page, record } = await browser.open()
    await page.goto(`${t.url}/documentation`)
    await page.locator('.opblock').first().waitFor()
    // Each operation Swagger UI drew: its method's class and its path.
    const listed = await page.locator('.opblock').evaluateAll((blocks) =>
      blocks.map((block) => {
        const method = /opblock-(get|post|put|patch|delete|head|options)\b/.exec(block.className)?.[1] ?? '?'
        const path = block.querySelector('[data-path]')?.getAttribute('data-path') ?? '?'
        return `${method.toUpperCase()} ${path}`
      }),
    )
    await browser.screenshot(page, 'documentation')
    expect(documented.length).toBeGreaterThan(10)
    expect(listed.sort()).toEqual(documented)
    expect(await page.locator('.info .title').textContent()).toContain('Classroom API')
    expect(record.errors).toEqual([])
    expect(record.requests).toContain(`${t.url}/documentation/json`)
    expect(requestsOffThisMachine(record)).toEqual([])
  })
})
