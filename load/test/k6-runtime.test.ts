import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { outputOf } from '../runner/child-output.js'
import { runScript } from '../runner/k6-runtime/run-script.js'
import { fixture, type LocalServer, startLocalServer } from './local-server.js'

// `pnpm load run` on small scripts against a local HTTP server: the built-in engine as a load
// engineer meets it, exit codes and output included.
const CLI = fileURLToPath(new URL('../dist/runner/cli.js', import.meta.url))
let server: LocalServer

beforeAll(async () => {
  server = await startLocalServer((request, response) => {
    if (request.url === '/slow') setTimeout(() => response.end('late'), 2000)
    else if (request.url === '/missing') response.writeHead(404).end('no')
    else response.end('ok')
  })
})

afterAll(() => server.close())

/** `pnpm load run <fixture> -e BASE_URL=…`, without blocking this process's server. */
function run(name: string) {
  return outputOf(spawn(process.execPath, [CLI, 'run', fixture(name), '-e', `BASE_URL=${server.baseUrl}`]))
}

describe('pnpm load run: k6 scripts on the built-in engine', () => {
  it('exits 99, as k6, when a check fails and the threshold on checks is breached', async () => {
    const { status, stdout } = await run('failing-check.js')
    expect(status).toBe(99)
    // k6's text summary (no handleSummary): the check failed 4 times, its threshold is marked.
    expect(stdout).toContain('✗ answered 200')
    expect(stdout).toContain('✓ 0 / ✗ 4')
    expect(stdout).toMatch(/checks\n\s+✗ 'rate==1' rate=0\.00%/)
    expect(stdout).toMatch(/http_reqs\n\s+✓ 'count==4' count=4/)
  })

  it("prints k6's own text summary when handleSummary returns nothing, as k6's summary wrapper does", async () => {
    const { status, stdout } = await run('summary-nothing.js')
    expect(status).toBe(0)
    expect(stdout).toContain('█ TOTAL RESULTS')
    expect(stdout).toMatch(/iterations\.+: 1 /)
  })

  it.each([
    ['unsupported-module.js', 'imports "k6/ws", which does not run here'],
    ['unsupported-export.js', 'uses cookieJar from k6/http, which does not run here'],
  ])('refuses %s at load time, naming what does not run (exit 107)', async (name, message) => {
    const { status, stderr, stdout } = await run(name)
    expect(status).toBe(107)
    expect(stderr).toContain(message)
    expect(stdout).toBe('')
  })

  it("counts an iteration that threw as k6 does, logs it, and keeps the other VU's iterations going", async () => {
    const { status, stdout, stderr } = await run('throwing-vu.js')
    expect(status).toBe(0)
    expect(JSON.parse(stdout)).toEqual({
      // 3 iterations that threw (VU 1) and 3 that made a call (VU 2).
      iterations: 6,
      httpReqs: 3,
      checks: [
        {
          name: 'answered 200',
          path: '::answered 200',
          id: createHash('md5').update('::answered 200').digest('hex'),
          passes: 3,
          fails: 0,
        },
      ],
    })
    for (const iteration of [0, 1, 2])
      expect(stderr).toContain(`Error: VU 1 fails on purpose in iteration ${iteration}`)
  })

  it('judges a request by its own responseCallback param, and one without it by the global callback', async () => {
    const { status, stdout } = await run('response-callback.js')
    expect(status).toBe(0)
    // Two 404s: only the second, expected by no callback, counts as failed.
    expect(JSON.parse(stdout)).toMatchObject({ passes: 1, fails: 1, rate: 0.5 })
  })

  it('never ends a timed scenario before its duration (deadline and stop timed on one monotonic clock, never a timer firing early)', async () => {
    const runs: number[] = []
    for (let i = 0; i < 12; i++) {
      const outputs: string[] = []
      const { exitCode } = await runScript({
        script: fixture('tight-loop.js'),
        env: {},
        stdout: (text) => outputs.push(text),
      })
      expect(exitCode).toBe(0)
      runs.push((JSON.parse(outputs.join('')) as { testRunDurationMs: number }).testRunDurationMs)
    }
    expect(runs.filter((ms) => ms < 150)).toEqual([])
  })

  it("honours a request's timeout param: status 0, k6's timeout error code, no later than asked", async () => {
    const { status, stderr } = await run('timeout.js')
    expect(status).toBe(0)
    const logged = JSON.parse(/\{"status".*\}/.exec(stderr)![0]) as {
      status: number
      errorCode: number
      ms: number
    }
    expect(logged).toMatchObject({ status: 0, errorCode: 1050 })
    expect(logged.ms).toBeGreaterThanOrEqual(290)
    expect(logged.ms).toBeLessThan(1500)
  })
})
