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
