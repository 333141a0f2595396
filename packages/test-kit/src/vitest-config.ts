import { defineConfig, mergeConfig, type ViteUserConfig } from 'vitest/config'

/**
 * The vitest config every package starts from: generous timeouts (tests start, stop and restart
 * real PostgreSQL servers) and, with `database`, the global setup that starts the run's shared
 * test server (or uses `DATABASE_URL`). `extra` is merged on top.
 *
 * ```ts
 * export default defineTestConfig({ database: true })
 * ```
 */
export function defineTestConfig(
  options: { readonly database: boolean; readonly testTimeoutMs?: number },
  extra: ViteUserConfig = {},
): ViteUserConfig {
  return mergeConfig(
    defineConfig({
      test: {
        ...(options.database && { globalSetup: ['@classroom/local-postgres/vitest-global-setup'] }),
        testTimeout: options.testTimeoutMs ?? 60_000,
        hookTimeout: 60_000,
      },
    }),
    extra,
  )
}
