import { afterEach, describe, expect, it } from 'vitest'
import { scriptEnv, scriptOf } from '../runner/k6-engine.js'
import { runScript } from '../runner/k6-runtime/run-script.js'
import { overloadPlan } from '../shared/overload.js'
import { steadyPlan } from '../shared/scenarios.js'
import { type LocalServer, startLocalServer } from './local-server.js'

// The k6 journeys against an api that refuses everything but the seeding: a user waits out a
// 503's Retry-After before its next request, instead of sending it at once; a caller of the
// overload drill, refused, leaves (its VU is free for the next arrival at once).
let server: LocalServer | undefined

afterEach(async () => {
  await server?.close()
  server = undefined
})

/** An api stand-in: seeding creates (201 with an id), every other request 503 POOL_OVERLOADED. */
async function refusingApi(retryAfter: string | undefined): Promise<LocalServer> {
  let id = 0
  return startLocalServer((request, response) => {
    if (request.method === 'POST' && (request.url === '/classrooms' || request.url === '/students')) {
      response.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: ++id }))
      return
    }
    response
      .writeHead(503, {
        'content-type': 'application/json',
        ...(retryAfter && { 'retry-after': retryAfter }),
      })
      .end(JSON.stringify({ error: 'POOL_OVERLOADED', message: 'the pool is overloaded' }))
  })
}

/** The load requests (setup's seeding apart) a script sends to `server`. */
async function loadRequests(
  plan: ReturnType<typeof steadyPlan>,
  api: LocalServer,
  extra = {},
): Promise<number> {
  let requests = 0
  const run = await runScript({
    script: scriptOf(plan),
    env: { ...scriptEnv(plan, { baseUrl: api.baseUrl, summaryPath: '/dev/null', downSeconds: 0 }), ...extra },
    onExchange: ({ call }) => {
      if (call.tags.group !== '::setup') requests++
    },
    stdout: () => undefined,
  })
  expect([0, 99]).toContain(run.exitCode)
  return requests
}

describe('the k6 journeys and Retry-After', () => {
  it('a closed-loop user refused with Retry-After: 1 sends at most one request a second', async () => {
    server = await refusingApi('1')
    const requests = await loadRequests(steadyPlan(3, 2, 0), server, { VUS: '2' })
    // Two users for 3 s, each waiting 1 s after every refusal: 4 requests each at the very most.
    expect(requests).toBeGreaterThan(0)
    expect(requests).toBeLessThanOrEqual(8)
  })

  it('without Retry-After the same users send again at once (the bound above is the header at work)', async () => {
    server = await refusingApi(undefined)
    expect(await loadRequests(steadyPlan(3, 2, 0), server, { VUS: '2' })).toBeGreaterThan(50)
  })

  it('an overload caller refused with Retry-After leaves: its VU takes the next arrival at once', async () => {
    server = await refusingApi('5')
    const plan = overloadPlan({
      capacity: 10,
      beforeSeconds: 1,
      overload: [{ multiple: 2, seconds: 1 }],
      afterSeconds: 1,
      maxVus: 2,
    })
    // 5 + 20 + 5 arrivals planned: two VUs waiting 5 s each would send two.
    expect(await loadRequests(plan, server)).toBeGreaterThanOrEqual(20)
  })
})
