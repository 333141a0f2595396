import pg from 'pg'
import { LocalPostgres } from './local-postgres.js'

/** A database for a test run: the one `DATABASE_URL` names, or a throwaway local cluster. */
export interface TestDatabase {
  /** Connection string of a superuser-capable role (test files create their own databases). */
  readonly url: string
  /** Stops and removes the throwaway cluster; leaves an external database alone. */
  teardown(): Promise<void>
}

/**
 * What a vitest global setup calls: tests run against `DATABASE_URL` when it is set, else against
 * a fresh embedded PostgreSQL that lives for the run.
 *
 * ```ts
 * export default async function setup(project: TestProject) {
 *   const database = await provideTestDatabase()
 *   project.provide('databaseUrl', database.url)
 *   return database.teardown
 * }
 * ```
 */
export async function provideTestDatabase(env: NodeJS.ProcessEnv = process.env): Promise<TestDatabase> {
  const external = env.DATABASE_URL
  if (external) return { url: external, teardown: async () => undefined }
  const cluster = await LocalPostgres.temporary()
  return { url: cluster.connectionString(), teardown: () => cluster.destroy() }
}

/**
 * The URL of a database named `name` on the same server as `serverUrl`, created when missing, so
 * each test file works in a database of its own.
 *
 * ```ts
 * const url = await createTestDatabase(inject('databaseUrl'), 'api_routes')
 * ```
 */
export async function createTestDatabase(serverUrl: string, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: serverUrl })
  await admin.connect()
  try {
    await admin.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`)
    await admin.query(`create database ${pg.escapeIdentifier(name)}`)
  } finally {
    await admin.end()
  }
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return url.toString()
}
