import { fileURLToPath } from 'node:url'
import { createTestDatabase } from '@classroom/local-postgres'
import type {} from '@classroom/local-postgres/vitest-global-setup'
import { type RecordedLine, recordingLogger, TEST_API_AUTH } from '@classroom/test-kit'
import { inject } from 'vitest'
import { mintToken } from '../src/auth/mint.js'
import type { Principal } from '../src/auth/principal.js'
import { loadApiConfig } from '../src/config.js'
import { type RunningApi, startApi } from '../src/server.js'

/** The built entry point, what `pnpm start` runs (tests of the process spawn it). */
export const API_ENTRY = fileURLToPath(new URL('../dist/main.js', import.meta.url))

/** The HS256 secret test apis verify tokens with (`API_AUTH_HS256_SECRET`). */
export const TEST_AUTH_SECRET = TEST_API_AUTH.API_AUTH_HS256_SECRET

/** The metrics token test apis take on `/metrics` (`METRICS_TOKEN`). */
export const TEST_METRICS_TOKEN = TEST_API_AUTH.METRICS_TOKEN

/** Who a test acts as unless it says: the admin of the default school (id 1, made by the tenancy migration). */
export const DEFAULT_PRINCIPAL: Principal = { userId: 1, schoolId: 1, role: 'school_admin' }

/**
 * A token signed with {@link TEST_AUTH_SECRET} for `principal`, as an identity provider issues it.
 *
 * ```ts
 * const token = await testToken({ userId: 3, schoolId: 2, role: 'teacher' })
 * ```
 */
export function testToken(
  principal: Principal = DEFAULT_PRINCIPAL,
  expiresIn: string | number = '1h',
): Promise<string> {
  return mintToken(new TextEncoder().encode(TEST_AUTH_SECRET), principal, {
    audience: 'classroom-api',
    expiresIn,
  })
}

/** The `authorization` header of {@link testToken}. */
export async function authorization(
  principal: Principal = DEFAULT_PRINCIPAL,
): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await testToken(principal)}` }
}

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
  const config = loadApiConfig({
    DATABASE_URL: url,
    PORT: '0',
    API_AUTH_HS256_SECRET: TEST_AUTH_SECRET,
    METRICS_TOKEN: TEST_METRICS_TOKEN,
    ...env,
  })
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
 * It carries the token of {@link DEFAULT_PRINCIPAL} unless `headers` has an `authorization` of its own
 * (an empty one: none sent).
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
  const own = path.startsWith('/metrics')
    ? { authorization: `Bearer ${TEST_METRICS_TOKEN}` }
    : await authorization()
  const given = { ...(headers.authorization === undefined && own), ...headers }
  if (given.authorization === '') delete given.authorization
  const init: RequestInit = { method, headers: given }
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
