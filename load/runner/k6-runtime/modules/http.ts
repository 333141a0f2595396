// `k6/http` inside a VU of the built-in engine: synchronous calls (one, or a batch), made by the main thread.
import { parseDuration } from '../durations.js'
import type { HttpAnswer, HttpCall } from '../protocol.js'
import { vu } from '../vu-context.js'
import { selectJson } from './json-selector.js'

/** What `http.expectedStatuses()` returns and `setResponseCallback` / `params.responseCallback` take. */
export interface ResponseCallback {
  readonly expected: readonly (readonly [number, number])[]
}

/** The request parameters the built-in engine honours; any other fails the call, naming it. */
export interface Params {
  headers?: Record<string, string>
  tags?: Record<string, string>
  timeout?: string | number
  responseCallback?: ResponseCallback | null
}

const KNOWN_PARAMS = new Set(['headers', 'tags', 'timeout', 'responseCallback'])
const DEFAULT_TIMEOUT_MS = 60_000
// Scripts pass the same few timeouts on every call: parsed once each.
const timeouts = new Map<string | number, number>()

function timeoutMs(timeout: string | number | undefined): number {
  if (timeout === undefined) return DEFAULT_TIMEOUT_MS
  let ms = timeouts.get(timeout)
  if (ms === undefined) {
    ms = parseDuration(timeout, 'params.timeout')
    timeouts.set(timeout, ms)
  }
  return ms
}

type Body = string | Record<string, unknown> | null | undefined

/** k6's response: status, body, headers, timings, error; `json()` parses the body. */
export class Response {
  readonly status: number
  readonly body: string
  readonly timings: { readonly duration: number }
  readonly error: string
  readonly error_code: number
  readonly url: string
  readonly request: { readonly method: string; readonly url: string }

  constructor(method: string, url: string, answer: HttpAnswer) {
    this.status = answer.status
    this.body = answer.body
    this.rawHeaders = answer.headers
    this.timings = { duration: answer.durationMs }
    this.error = answer.error
    this.error_code = answer.errorCode
    this.url = url
    this.request = { method, url }
  }

  private readonly rawHeaders: Record<string, string>
  private canonical: Record<string, string> | undefined

  /** Response headers, named as k6 names them; built when first read (most scripts never do). */
  get headers(): Record<string, string> {
    this.canonical ??= canonicalHeaders(this.rawHeaders)
    return this.canonical
  }

  /** The body parsed as JSON; with a selector in k6's (gjson) path syntax (`a.b.0`, `items.#`), the value there. */
  json(selector?: string): unknown {
    const parsed = JSON.parse(this.body) as unknown
    return selector ? selectJson(parsed, selector) : parsed
  }
}

/** `Content-Type` rather than `content-type`, as k6 names response headers. */
function canonicalHeaders(headers: Record<string, string>): Record<string, string> {
  const result: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers))
    result[name.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase())] = value
  return result
}

/** Statuses counted as expected: numbers, or `{ min, max }` ranges. */
export function expectedStatuses(...statuses: (number | { min: number; max: number })[]): ResponseCallback {
  return {
    expected: statuses.map((s) => (typeof s === 'number' ? ([s, s] as const) : ([s.min, s.max] as const))),
  }
}

/** Sets which responses count as expected for `http_req_failed`; `null` stops emitting it. */
export function setResponseCallback(callback: ResponseCallback | null): void {
  vu().expected = callback?.expected ?? null
}

/** One HTTP call; blocks the VU until the answer (or the timeout) comes. */
export function request(method: string, url: string, body?: Body, params: Params = {}): Response {
  const call = prepare(method, url, body, params)
  return new Response(call.method, url, vu().http(call))
}

/** A request of `http.batch`: a URL (GET), `[method, url, body, params]` or `{ method, url, body, params }`. */
type BatchRequest =
  | string
  | readonly [method: string, url: string, body?: Body, params?: Params]
  | { readonly method: string; readonly url: string; readonly body?: Body; readonly params?: Params }

/**
 * Several calls at once, as k6's `http.batch`: sent together, the VU blocked until all are answered;
 * the responses come back in the requests' shape (an array, or an object with the same keys).
 */
export function batch(
  requests: readonly BatchRequest[] | Readonly<Record<string, BatchRequest>>,
): Response[] | Record<string, Response> {
  const entries = Object.entries(requests)
  const calls = entries.map(([key, raw]) => prepare(...batchArguments(key, raw)))
  const answers = vu().httpBatch(calls)
  const responses = calls.map((call, i) => new Response(call.method, call.url, answers[i]!))
  return Array.isArray(requests)
    ? responses
    : Object.fromEntries(entries.map(([key], i) => [key, responses[i]!]))
}

function batchArguments(key: string, raw: BatchRequest): [string, string, Body, Params | undefined] {
  if (typeof raw === 'string') return ['GET', raw, null, undefined]
  if (Array.isArray(raw)) return [raw[0], raw[1], raw[2], raw[3]] as [string, string, Body, Params]
  const request = raw as Exclude<BatchRequest, string | readonly unknown[]>
  if (typeof request?.method !== 'string' || typeof request.url !== 'string')
    throw new Error(
      `http.batch request ${key} is ${JSON.stringify(raw)}: a URL, [method, url, body, params] or { method, url, body, params }`,
    )
  return [request.method, request.url, request.body, request.params]
}

/** The call a request makes: its params checked, its body encoded, its tags and statuses resolved. */
function prepare(method: string, url: string, body: Body, params: Params = {}): HttpCall {
  for (const key of Object.keys(params))
    if (!KNOWN_PARAMS.has(key))
      throw new Error(`k6/http param "${key}" does not run here (supported: ${[...KNOWN_PARAMS].join(', ')})`)
  const context = vu()
  const headers = { ...params.headers }
  let text: string | null = null
  if (typeof body === 'string') text = body
  else if (body && typeof body === 'object') {
    // k6 sends an object as a form.
    text = new URLSearchParams(body as Record<string, string>).toString()
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
      headers['Content-Type'] = 'application/x-www-form-urlencoded'
  }
  return {
    method: method.toUpperCase(),
    url,
    body: text,
    headers,
    tags: { ...context.tags(), name: url, ...params.tags },
    timeoutMs: timeoutMs(params.timeout),
    expected:
      params.responseCallback === undefined ? context.expected : (params.responseCallback?.expected ?? null),
  }
}

export const get = (url: string, params?: Params) => request('GET', url, null, params)
export const head = (url: string, params?: Params) => request('HEAD', url, null, params)
export const post = (url: string, body?: Body, params?: Params) => request('POST', url, body, params)
export const put = (url: string, body?: Body, params?: Params) => request('PUT', url, body, params)
export const patch = (url: string, body?: Body, params?: Params) => request('PATCH', url, body, params)
export const del = (url: string, body?: Body, params?: Params) => request('DELETE', url, body, params)
export const options = (url: string, body?: Body, params?: Params) => request('OPTIONS', url, body, params)

export default {
  request,
  batch,
  get,
  head,
  post,
  put,
  patch,
  del,
  options,
  expectedStatuses,
  setResponseCallback,
}
