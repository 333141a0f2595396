import type {} from 'vitest'
import type { TestProject } from 'vitest/node'
import { provideTestDatabase } from './test-database.js'

declare module 'vitest' {
  export interface ProvidedContext {
    /** Connection string of the run's test server: `DATABASE_URL`, or a throwaway embedded cluster. */
    databaseUrl: string
  }
}

/**
 * A vitest global setup: one PostgreSQL server for the whole run, reached in tests with
 * `inject('databaseUrl')`.
 *
 * ```ts
 * // vitest.config.ts
 * export default defineConfig({ test: { globalSetup: ['@classroom/local-postgres/vitest-global-setup'] } })
 * ```
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const database = await provideTestDatabase()
  project.provide('databaseUrl', database.url)
  return database.teardown
}
