import pg from 'pg'

/** The two roles of a least-privilege deployment, and the database the owner owns. */
export interface DatabaseRoles {
  readonly database: string
  /** Owns the database, its `public` schema and every table: migrations run as it (`DATABASE_MIGRATION_URL`). */
  readonly owner: string
  /** Serves the routes (`DATABASE_URL`): reads and writes rows, nothing else. */
  readonly app: string
}

/** The names the embedded database uses (and the README's example). */
export const EMBEDDED_ROLES: DatabaseRoles = Object.freeze({
  database: 'classroom',
  owner: 'classroom_owner',
  app: 'classroom_app',
})

/**
 * What a superuser runs, connected to the database, once both roles exist and the owner owns the
 * database: the serving role may connect, use the schema and read and write rows of every table
 * and sequence the owner creates (default privileges, so tables of future migrations are covered
 * without a grant of their own); nobody else may connect or create objects, not even temporary
 * tables; row-level security binds the serving role (`NOBYPASSRLS`). Role names stay out of the migrations, which run anywhere. The README shows this list.
 *
 * ```ts
 * for (const statement of servingRoleGrants(EMBEDDED_ROLES)) await admin.query(statement)
 * ```
 */
export function servingRoleGrants({ database, owner, app }: DatabaseRoles): string[] {
  const [db, own, serve] = [database, owner, app].map((name) => pg.escapeIdentifier(name))
  return [
    // PostgreSQL 15+ gives the schema to the database owner already; 14 and older to the superuser.
    `alter schema public owner to ${own}`,
    // Row-level security binds it: it may not bypass the policies (the default, said explicitly).
    `alter role ${serve} nobypassrls`,
    `revoke create on schema public from public`,
    `revoke all on database ${db} from public`,
    `grant connect on database ${db} to ${serve}`,
    `grant usage on schema public to ${serve}`,
    `alter default privileges for role ${own} in schema public grant select, insert, update, delete on tables to ${serve}`,
    `alter default privileges for role ${own} in schema public grant usage, select on sequences to ${serve}`,
  ]
}
