// Builds the api's OpenAPI document without a database: the routes, not their data, make it.

import type { Database } from '@classroom/classroom-db'
import { createLogger } from '@classroom/db-core'
import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from 'kysely'
import { buildApp } from './app.js'
import { createMetrics } from './metrics.js'

/**
 * The document `GET /documentation/json` serves, from an app whose database is never reached (its
 * routes compile queries when registered, and none runs).
 *
 * ```ts
 * const document = await openApiDocument()
 * ```
 */
export async function openApiDocument(): Promise<Record<string, unknown>> {
  const app = buildApp({
    db: databaseNeverReached(),
    logger: createLogger({ level: 'error', format: 'json' }),
    metrics: createMetrics(),
    writeRetryWithinMs: 0,
    checkDatabase: () => Promise.reject(new Error('the document is built without a database')),
    verifyToken: () => Promise.reject(new Error('the document is built without a key')),
  })
  await app.ready()
  const document = app.swagger() as unknown as Record<string, unknown>
  await app.close()
  return document
}

/** A Kysely that compiles queries and runs none (each answers no rows): for an app built without a database. */
export function databaseNeverReached(): Kysely<Database> {
  return new Kysely<Database>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  })
}
