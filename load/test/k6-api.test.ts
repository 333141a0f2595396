import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Exchange } from '../runner/k6-runtime/http-bridge.js'
import { selectJson } from '../runner/k6-runtime/modules/json-selector.js'
import { runScript } from '../runner/k6-runtime/run-script.js'
import type { SummaryData } from '../runner/k6-runtime/summary.js'
import { textSummary } from '../runner/k6-runtime/text-summary.js'
import { fixture, type LocalServer, startLocalServer } from './local-server.js'

// group, SharedArray, http.batch and Response.json(selector) as k6 documents them, on the built-in
// engine against a local HTTP server; and k6's text summary.
let server: LocalServer
let run: Awaited<ReturnType<typeof runScript>>
let summary: SummaryData
const exchanges: Exchange[] = []
/** A fixture that fails inside its iterations: what its console said (the VUs go on; exit 0). */
async function consoleOf(name: string): Promise<string> {
  const seen: string[] = []
  const outcome = await runScript({
    script: fixture(name),
    env: {},
    stdout: () => undefined,
    onConsole: (_, text) => seen.push(text),
  })
  expect(outcome.exitCode).toBe(0)
  return seen.join('\n')
}
const md5 = (text: string) => createHash('md5').update(text).digest('hex')
const logged: { vu: number; built: number; user: { name: string; at: number }; length: number }[] = []

beforeAll(async () => {
  server = await startLocalServer((request, response) => {
    if (request.url === '/json') response.end(JSON.stringify({ items: [{ id: 3 }, { id: 7 }] }))
    else response.end('ok')
  })
  let stdout = ''
  run = await runScript({
    script: fixture('groups-shared-batch.js'),
    env: { BASE_URL: server.baseUrl },
    onExchange: (exchange) => exchanges.push(exchange),
    onConsole: (_, text) => logged.push(JSON.parse(text) as (typeof logged)[number]),
    stdout: (text) => {
      stdout += text
    },
  })
  summary = JSON.parse(stdout) as SummaryData
})

afterAll(() => server.close())

describe('group', () => {
  it("tags what runs inside with k6's group path (::browse, ::browse::details), setup with ::setup, and times each group", () => {
    expect(run.exitCode).toBe(0)
    const groups = exchanges.map((e) => e.call.tags.group)
    expect(groups.filter((g) => g === '::setup')).toHaveLength(1)
    expect(groups.filter((g) => g === '::browse')).toHaveLength(4)
    // Per iteration: a batch of two and a batch of one; 4 iterations.
    expect(groups.filter((g) => g === '::browse::details')).toHaveLength(12)
    expect(summary.metrics['group_duration{group:::browse}']!.values.max).toBeGreaterThan(0)
  })

  it('judges thresholds on group-tagged submetrics, with the same numbers the summary shows', () => {
    const reqs = run.thresholds.find((t) => t.threshold.key === 'http_reqs{group:::browse::details}')!
    expect(reqs).toMatchObject({ actual: 12, ok: true })
    expect(summary.metrics['http_reqs{group:::browse::details}']).toMatchObject({
      values: { count: 12 },
      thresholds: { 'count==12': { ok: true } },
    })
    expect(run.thresholds.map((t) => [t.threshold.key, t.ok])).toEqual([
      ['group_duration{group:::browse}', true],
      ['http_req_duration{group:::browse::details}', true],
      ['http_reqs{group:::browse::details}', true],
      ['checks{group:::browse}', true],
    ])
  })

  it("nests the checks in the summary's root_group as k6 does, ids the md5 of their paths", () => {
    const browse = summary.root_group.groups.find((g) => g.name === 'browse')!
    expect(browse).toMatchObject({ path: '::browse', id: md5('::browse') })
    expect(browse.checks).toEqual([
      {
        name: 'json selector',
        path: '::browse::json selector',
        id: md5('::browse::json selector'),
        passes: 4,
        fails: 0,
      },
    ])
    expect(browse.groups[0]).toMatchObject({
      name: 'details',
      path: '::browse::details',
      checks: [expect.objectContaining({ name: 'batch answered in order', passes: 4, fails: 0 })],
    })
  })

  it('refuses a group name holding "::", the separator of nested groups', async () => {
    expect(await consoleOf('bad-group.js')).toContain('group name "a::b" contains "::"')
  })
})

describe('calls a script gets wrong', () => {
  it('names a group without a function and a batch request without a method or url', async () => {
    const text = await consoleOf('bad-calls.js')
    expect(text).toContain('group("no function") needs a function as its second argument')
    expect(text).toContain(
      'http.batch request 0 is {"url":"http://127.0.0.1:1/"}: a URL, [method, url, body, params] or { method, url, body, params }',
    )
  })

  it('refuses at load time a SharedArray whose function returns no array (K6ScriptError: exit 107)', async () => {
    await expect(
      runScript({ script: fixture('bad-shared-array-init.js'), env: {}, stdout: () => undefined }),
    ).rejects.toThrow(`SharedArray "rows"'s function returned object: it must return an array`)
  })
})

describe('SharedArray', () => {
  it("builds its array once in the whole test (VU 0's init code); every VU reads the same elements, as copies", () => {
    // VUs 1 and 2 never ran the function: they got VU 0's array (its random values included).
    expect(logged.map((l) => l.built)).toEqual([0, 0, 0, 0])
    const byName = new Map(logged.map((l) => [l.user.name, l.user.at]))
    expect(byName.size).toBe(2)
    expect(logged.every((l) => l.length === 2)).toBe(true)
    // The element a VU changed is not what the next read returns.
    expect(logged.some((l) => l.user.name === 'changed')).toBe(false)
  })

  it('refuses to be written to, and to be built outside the init code', async () => {
    const text = await consoleOf('bad-shared-array.js')
    expect(text).toContain('SharedArray "list" is read-only')
    expect(text).toContain('new SharedArray("late") is only possible in the init code')
  })
})

describe('http.batch and Response.json(selector)', () => {
  it('sends a batch at once and answers in its shape: an array in order, an object by key; each request tagged by its params', () => {
    const batched = exchanges.filter((e) => e.call.tags.group === '::browse::details')
    expect(batched.filter((e) => e.call.tags.name === 'items')).toHaveLength(4)
    // The check in the fixture reads both shapes; it passed every time.
    const details = summary.root_group.groups[0]!.groups[0]!
    expect(details.checks[0]).toMatchObject({ passes: 4, fails: 0 })
  })

  it.each([
    ['items.#', 2],
    ['items.1.id', 7],
    ['items.#.id', [3, 7]],
    ['missing.key', undefined],
    ['a\\.b', 1],
  ])('selects %s', (selector, expected) => {
    expect(selectJson({ items: [{ id: 3 }, { id: 7 }], 'a.b': 1 }, selector)).toEqual(expected)
  })

  it("refuses gjson's queries and modifiers, naming them", () => {
    expect(() => selectJson({}, 'items.#(id>3)')).toThrow('gjson\'s "(" does not run here')
    expect(() => selectJson({}, 'items.*')).toThrow('gjson\'s "*" does not run here')
  })
})

describe("k6's text summary", () => {
  it('shows thresholds with the values judged, checks in their groups and each metric by kind, submetrics under it', () => {
    const text = textSummary(summary)
    expect(text).toContain('█ THRESHOLDS')
    expect(text).toMatch(/http_reqs\{group:::browse::details\}\n\s+✓ 'count==12' count=12/)
    expect(text).toMatch(/checks_total\.+: 8 /)
    expect(text).toMatch(/█ browse\n\n\s+✓ json selector/)
    expect(text).toMatch(/HTTP\n\s+http_req_duration\.+: avg=/)
    expect(text).toMatch(/http_reqs\.+: 17 /)
    expect(text).toMatch(/\{ group:::browse::details \}\.+: 12 /)
  })
})
