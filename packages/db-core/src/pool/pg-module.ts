import { createRequire } from 'node:module'
import type PgModule from 'pg'

/**
 * node-postgres, loaded with `require()`: OpenTelemetry's instrumentation-pg (alone or through
 * auto-instrumentations-node) patches `pg` through Node's require hook, which never sees an ESM
 * `import`. Imported, db-core's queries would go untraced in every service that loads the SDK with
 * `--require` or `--import ...register`. It is the same module instance an `import pg from 'pg'` gets.
 */
const pg: typeof PgModule = createRequire(import.meta.url)('pg')

export const { Client, Pool, Query } = pg
