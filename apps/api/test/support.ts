import { fileURLToPath } from 'node:url'
import { createTestDatabase } from '@classroom/local-postgres'
import type {} from '@classroom/local-postgres/vitest-global-setup'
import { type RecordedLine, recordingLogger } from '@classroom/test-kit'
import { inject } from 'vitest'
import { loadApiConfig } from '../src/config.js'
import { type RunningApi, startApi } from '../src/server.js'

/** The built entry point, what `pnpm start` runs (tests of the process spawn it). */
export const API_ENTRY = fileURLToPath(new URL('../dist/main.js', import.meta.url))

/** A started api on a database of its own, and what it logged. */
export interface TestApi {
  readonly api: RunningApi
  readonly url: string
  readonly databaseUrl: string
  readonly logs: RecordedLine[]
  close(): Promise<void>
}

/**
 * Starts the real api (migrations included) on an ephemeral port against a fresh database named
 * `database` on the run's test server, or on `databaseUrl` when given.
 */
export async function startTestApi(
  database: string,
  env: Record<string, string> = {},
  databaseUrl?: string,
): Promise<TestApi> {
  const url = databaseUrl ?? (await createTestDatabase(inject('databaseUrl'), database))
  const config = loadApiConfig({ DATABASE_URL: url, PORT: '0', ...env })
  const { logger, lines } = recordingLogger()
  const api = await startApi(config, logger)
  return { api, url: api.url, databaseUrl: url, logs: lines, close: async () => void (await api.close()) }
}

export interface JsonResponse {
  status: number
  headers: Headers
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary response bodies
  body: any
}

/**
 * One real HTTP request; a JSON body is sent as JSON, a string body as it is (for malformed input).
 *
 * ```ts
 * const { status, body } = await request(api.url, 'POST', '/classrooms', { name: 'Math', capacity: 3 })
 * ```
 */
export async function request(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<JsonResponse> {
  const init: RequestInit = { method, headers: { ...headers } }
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body)
    ;(init.headers as Record<string, string>)['content-type'] ??= 'application/json'
  }
  const response = await fetch(new URL(path, baseUrl), init)
  const text = await response.text()
  let parsed: unknown = text
  if (response.headers.get('content-type')?.includes('application/json')) parsed = JSON.parse(text)
  return { status: response.status, headers: response.headers, body: parsed }
}
