// The VUs' HTTP calls, made in the main thread on one undici agent, with k6's built-in HTTP metrics.
import { performance } from 'node:perf_hooks'
import { Agent, errors, request } from 'undici'
import type { MetricRegistry } from './metric-registry.js'
import type { HttpAnswer, HttpCall } from './protocol.js'

/** One call as the main thread saw it: what a VU sent, what came back, when. */
export interface Exchange {
  readonly call: HttpCall
  readonly answer: HttpAnswer
  /** `performance.now()` when the request left. */
  readonly startedAt: number
  /** The VU that made it (0: setup/teardown). */
  readonly vuId: number
}

/**
 * Below this, a call's timeout is kept by a timer of its own from the moment it is sent: undici's
 * own timeouts start when the request is written and tick coarsely past a second, so a caller with
 * a 1 s deadline could wait 2 s or more. Above it (a 10 s hang guard), undici's cheaper timers do.
 */
const PRECISE_TIMEOUT_BELOW_MS = 5000

// k6's error codes for the failures a closed-loop test meets.
const ERROR_CODES = { timeout: 1050, refused: 1212, reset: 1220, generic: 1000 } as const

/**
 * Makes the VUs' HTTP calls on one keep-alive undici agent and records k6's built-in HTTP metrics
 * (`http_reqs`, `http_req_duration`, `http_req_failed`) with k6's tags. `observe` sees every
 * exchange, so a runner can judge answers without the script's help.
 */
export class HttpBridge {
  private readonly agent = new Agent({ keepAliveTimeout: 30_000, pipelining: 1 })

  constructor(
    private readonly metrics: MetricRegistry,
    private readonly observe: ((exchange: Exchange) => void) | undefined,
  ) {}

  /** Makes the call; never rejects (a failure is a status-0 answer with k6's error fields). */
  async send(call: HttpCall, vuId: number): Promise<HttpAnswer> {
    const startedAt = performance.now()
    const precise = call.timeoutMs < PRECISE_TIMEOUT_BELOW_MS
    let answer: HttpAnswer
    try {
      const response = await request(call.url, {
        dispatcher: this.agent,
        method: call.method as 'GET',
        headers: call.headers,
        body: call.body,
        // undici's own timers: cheaper than an AbortSignal per request, where their coarseness does not matter.
        headersTimeout: call.timeoutMs,
        bodyTimeout: call.timeoutMs,
        ...(precise && { signal: AbortSignal.timeout(call.timeoutMs) }),
      })
      const body = await response.body.text()
      answer = {
        status: response.statusCode,
        body,
        headers: flatten(response.headers),
        durationMs: performance.now() - startedAt,
        error: '',
        errorCode: 0,
      }
    } catch (error) {
      answer = failure(error, call, performance.now() - startedAt)
    }
    this.record(call, answer)
    try {
      this.observe?.({ call, answer, startedAt, vuId })
    } catch (error) {
      // The VU still gets its answer (it would block for ever); the run fails at its end.
      this.observerError ??= error as Error
    }
    return answer
  }

  /** The first error the observer threw, if any: what watched the exchanges cannot be trusted. */
  observerError: Error | undefined

  private record(call: HttpCall, answer: HttpAnswer): void {
    const expected =
      call.expected === null
        ? null
        : call.expected.some(([min, max]) => answer.status >= min && answer.status <= max)
    const tags = {
      ...call.tags,
      method: call.method,
      status: String(answer.status),
      url: call.url,
      ...(expected !== null && { expected_response: String(expected) }),
      ...(answer.errorCode !== 0 && { error_code: String(answer.errorCode) }),
    }
    this.metrics.add('http_reqs', 1, tags)
    this.metrics.add('http_req_duration', answer.durationMs, tags)
    if (expected !== null) this.metrics.add('http_req_failed', expected ? 0 : 1, tags)
  }

  close(): Promise<void> {
    return this.agent.close()
  }
}

function flatten(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const flat: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) flat[name] = String(value)
  return flat
}

function failure(error: unknown, call: HttpCall, durationMs: number): HttpAnswer {
  const cause = (error as { cause?: { code?: string } }).cause
  const code = (error as { code?: string }).code ?? cause?.code
  const timedOut =
    error instanceof errors.HeadersTimeoutError ||
    error instanceof errors.BodyTimeoutError ||
    (error as Error).name === 'TimeoutError'
  const [message, errorCode] = timedOut
    ? [`request timeout after ${call.timeoutMs} ms`, ERROR_CODES.timeout]
    : code === 'ECONNREFUSED'
      ? [`dial: connection refused`, ERROR_CODES.refused]
      : code === 'ECONNRESET' || code === 'UND_ERR_SOCKET'
        ? ['connection reset by peer', ERROR_CODES.reset]
        : [(error as Error).message, ERROR_CODES.generic]
  return { status: 0, body: '', headers: {}, durationMs, error: message, errorCode }
}
