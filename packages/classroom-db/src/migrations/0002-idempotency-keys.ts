import { createIdempotencyKeysTable } from '@classroom/db-core'
import type { Kysely } from 'kysely'

// Every POST and DELETE of the api runs through db-core's idempotentTransaction, which keeps its keys here.
export async function up(db: Kysely<unknown>): Promise<void> {
  await createIdempotencyKeysTable(db)
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('idempotency_keys').execute()
}
