import { createHmac } from 'node:crypto'

/**
 * The key and metrics token every api a test, drill or bench starts verifies with, unless it is
 * given its own: `API_AUTH_HS256_SECRET` (tokens are signed with it) and `METRICS_TOKEN`.
 *
 * ```ts
 * spawnApi({ entry, env: { DATABASE_URL: url, ...TEST_API_AUTH } })
 * ```
 */
export const TEST_API_AUTH = Object.freeze({
  API_AUTH_HS256_SECRET: 'test-secret-of-the-classroom-api-tests-0123456789',
  METRICS_TOKEN: 'test-metrics-token-0123456789',
})

/** Who drills and benches act as: the admin (user 1) of the default school (id 1, the tenancy migration's). */
export const TEST_PRINCIPAL = Object.freeze({ sub: '1', school_id: 1, role: 'school_admin' })

/**
 * An HS256 bearer token signed with {@link TEST_API_AUTH}'s secret, as the api verifies it (`aud`
 * `classroom-api`): synchronous, so a script's environment can carry it.
 *
 * ```ts
 * const headers = { authorization: `Bearer ${testApiToken()}` }
 * ```
 */
export function testApiToken(
  claims: Readonly<Record<string, unknown>> = TEST_PRINCIPAL,
  lifetimeSeconds = 86_400,
): string {
  const now = Math.floor(Date.now() / 1000)
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ aud: 'classroom-api', iat: now, exp: now + lifetimeSeconds, ...claims })}`
  const signature = createHmac('sha256', TEST_API_AUTH.API_AUTH_HS256_SECRET)
    .update(unsigned)
    .digest('base64url')
  return `${unsigned}.${signature}`
}
