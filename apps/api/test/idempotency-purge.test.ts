import { InstrumentedPostgresDialect } from '@classroom/db-core'
import { createTestDatabase } from '@classroom/local-postgres'
import { recordingLogger } from '@classroom/test-kit'
import { Kysely } from 'kysely'
import { describe, expect, inject, it } from 'vitest'
import { startIdempotencyPurge } from '../src/idempotency-purge.js'

describe('startIdempotencyPurge', () => {
  it('logs a purge that fails and keeps the process up, to try again at the next interval', async () => {
    // A database without the keys table: every purge fails.
    const url = await createTestDatabase(inject('databaseUrl'), 'api_purge_failure')
    const { logger, lines } = recordingLogger()
    const db = new Kysely({ dialect: new InstrumentedPostgresDialect({ connectionString: url, logger }) })
    const stop = startIdempotencyPurge(db, { retentionMs: 50, logger })
    try {
      await expect
        .poll(
          () =>
            lines.filter((l) => l.message === 'purging expired idempotency keys failed; trying again later')
              .length,
        )
        .toBeGreaterThanOrEqual(2)
      expect(lines.find((l) => l.level === 'warn')?.error).toMatch(/idempotency_keys/)
    } finally {
      stop()
      await db.destroy()
    }
  })
})
