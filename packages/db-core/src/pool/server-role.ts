import type pg from 'pg'
import type { TargetSessionAttrs } from '../config/connection-url.js'

/** What a server is, in the terms `target_session_attrs` judges it by. */
export interface ServerRole {
  /** In hot standby: a standby replaying a primary's WAL. */
  readonly standby: boolean
  /** Sessions start read-only: a standby, or `default_transaction_read_only` on. */
  readonly readOnly: boolean
}

/** What one connection must land on: `prefer-standby` resolves to `standby`, then `any`. */
export type RoleRequirement = Exclude<TargetSessionAttrs, 'prefer-standby'>

// What libpq asks servers that do not report their role at connect (before PostgreSQL 14, PgBouncer).
const ROLE_QUERY = `select pg_catalog.pg_is_in_recovery() as standby,
  pg_catalog.current_setting('transaction_read_only') = 'on' as read_only`

/**
 * The role a server announced at connect and keeps announcing as it changes: PostgreSQL 14+
 * reports `in_hot_standby` and `default_transaction_read_only` as it does `server_version`.
 * `undefined` when either is missing.
 */
export function reportedRole(parameters: ReadonlyMap<string, string>): ServerRole | undefined {
  const hotStandby = parameters.get('in_hot_standby')
  const defaultReadOnly = parameters.get('default_transaction_read_only')
  if (hotStandby === undefined || defaultReadOnly === undefined) return undefined
  return { standby: hotStandby === 'on', readOnly: hotStandby === 'on' || defaultReadOnly === 'on' }
}

/** Asks the server its role, in one round trip, bounded by `timeoutMs` when given. */
export async function queryRole(client: pg.ClientBase, timeoutMs?: number): Promise<ServerRole> {
  // query_timeout is honoured per query by pg, though @types/pg does not declare it.
  const config = { text: ROLE_QUERY, ...(timeoutMs !== undefined && { query_timeout: timeoutMs }) }
  const { rows } = await client.query<{ standby: boolean; read_only: boolean }>(config as pg.QueryConfig)
  const row = rows[0]!
  return { standby: row.standby, readOnly: row.read_only }
}

/**
 * Why a server of `role` does not qualify for `requirement`, in words that follow its address in
 * an error ("127.0.0.1:5433 is a standby ..."); `undefined` when it qualifies.
 */
export function roleMismatch(requirement: RoleRequirement, role: ServerRole): string | undefined {
  switch (requirement) {
    case 'any':
      return undefined
    case 'read-write':
      if (!role.readOnly) return undefined
      return role.standby
        ? 'is a standby (read-only), not read-write'
        : 'has default_transaction_read_only on, not read-write'
    case 'read-only':
      return role.readOnly ? undefined : 'accepts read-write sessions, not read-only'
    case 'primary':
      return role.standby ? 'is a standby, not a primary' : undefined
    case 'standby':
      return role.standby ? undefined : 'is not a standby'
  }
}
