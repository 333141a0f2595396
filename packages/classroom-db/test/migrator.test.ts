import { InstrumentedPostgresDialect, loadDbConfig } from '@classroom/db-core'
import { type BouncedCluster, startBouncedCluster } from '@classroom/local-postgres'
import { recordingLogger } from '@classroom/test-kit'
import { Kysely, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Database, migrateToLatest } from '../src/index.js'

// Replicas starting together, through PgBouncer in transaction mode: where a session-level lock
// (Kysely's own migration lock) protects nothing, because a session is not one server connection.
let bounced: BouncedCluster

beforeAll(async () => {
  bounced = await startBouncedCluster({ database: 'classroom', poolSize: 10 })
})

afterAll(async () => {
  await bounced?.destroy()
})

describe('migrateToLatest', () => {
  it('lets replicas that start together migrate a fresh database once, none failing, through PgBouncer', async () => {
    const replicas = Array.from(
      { length: 6 },
      () =>
        new Kysely<Database>({
          dialect: new InstrumentedPostgresDialect({
            ...loadDbConfig({
              DATABASE_URL: bounced.bouncer.connectionString(),
              DB_PGBOUNCER: 'true',
              DB_POOL_SIZE: '2',
            }),
            logger: recordingLogger().logger,
          }),
        }),
    )
    try {
      // Connections open first, so the migrations meet at the server at once.
      await Promise.all(replicas.map((db) => sql`select 1`.execute(db)))
      const applied = await Promise.allSettled(replicas.map((db) => migrateToLatest(db)))
      expect(applied.filter((r) => r.status === 'rejected')).toEqual([])
      // Exactly one replica applied the migration; the others found it done.
      expect(applied.flatMap((r) => (r.status === 'fulfilled' ? r.value : []))).toEqual([
        '0001-classrooms-students-enrollments',
        '0002-idempotency-keys',
        '0003-schools-and-owners',
        '0004-row-level-security',
      ])
    } finally {
      await Promise.all(replicas.map((db) => db.destroy()))
    }
    const rows = await bounced.cluster.query<{ name: string }>(
      'select name from kysely_migration order by name',
      [],
      'classroom',
    )
    expect(rows).toEqual([
      { name: '0001-classrooms-students-enrollments' },
      { name: '0002-idempotency-keys' },
      { name: '0003-schools-and-owners' },
      { name: '0004-row-level-security' },
    ])
  })
})
