import { randomBytes } from 'node:crypto'
import type { DbLogger } from '@classroom/db-core'
import type { LocalPostgres } from '@classroom/local-postgres'
import { DEFAULT_MIGRATION_LOCK_TABLE, DEFAULT_MIGRATION_TABLE } from 'kysely/migration'
import pg from 'pg'
import type { ApiConfig } from './config.js'
import { EMBEDDED_ROLES, servingRoleGrants } from './database-roles.js'

/** The database the api serves from, and how to let go of it at shutdown. */
export interface DatabaseTarget {
  /** What the routes use: `DATABASE_URL`, or the embedded database's serving role. */
  readonly connectionString: string
  /** What migrations use: `DATABASE_MIGRATION_URL` (else `DATABASE_URL`), or the embedded owner role. */
  readonly migrationConnectionString: string
  /** True when the api runs its own embedded PostgreSQL. */
  readonly embedded: boolean
  /** Stops the embedded server; nothing for an external one. */
  stop(): Promise<void>
}

/**
 * `DATABASE_URL` when set; otherwise an embedded PostgreSQL whose data directory survives restarts
 * of the api (`EMBEDDED_PG_DATA_DIR`), set up as a real server should be (see
 * {@link provisionEmbeddedRoles}): served as `classroom_app`, migrated as `classroom_owner`.
 *
 * ```ts
 * const target = await openDatabaseTarget(config, logger)
 * ```
 */
export async function openDatabaseTarget(config: ApiConfig, logger: DbLogger): Promise<DatabaseTarget> {
  const { database } = config
  if (database.kind === 'external') {
    return {
      connectionString: database.connectionString,
      migrationConnectionString: database.migrationConnectionString,
      embedded: false,
      stop: async () => undefined,
    }
  }
  const { LocalPostgres } = await loadLocalPostgres()
  const cluster = await LocalPostgres.start({
    dataDir: database.dataDir,
    ...(database.port !== undefined && { port: database.port }),
    onLog: (line) => logger.debug(line, { source: 'postgres' }),
  })
  try {
    const { connectionString, migrationConnectionString } = await provisionEmbeddedRoles(cluster)
    logger.info('embedded PostgreSQL started', {
      version: cluster.version,
      port: cluster.port,
      dataDir: cluster.dataDir,
      databaseUrl: connectionString,
      migrationRole: EMBEDDED_ROLES.owner,
    })
    return { connectionString, migrationConnectionString, embedded: true, stop: () => cluster.stop('fast') }
  } catch (error) {
    await cluster.stop('fast')
    throw error
  }
}

/**
 * Makes the embedded cluster what a DBA makes of a real server (the README's SQL): the owner and
 * serving roles, the database owned by the owner, {@link servingRoleGrants}. Idempotent, run at
 * every start as the superuser. The roles get new random passwords each time: the api, which sets
 * them, is their only user, so none is kept anywhere (the superuser's stays in the data directory).
 * Tables an older api made as the superuser are handed to the owner and granted to the serving role.
 */
async function provisionEmbeddedRoles(
  cluster: LocalPostgres,
): Promise<{ connectionString: string; migrationConnectionString: string }> {
  const { database, owner, app } = EMBEDDED_ROLES
  const urls: Record<string, string> = {}
  for (const role of [owner, app]) {
    const password = randomBytes(18).toString('base64url')
    const [existing] = await cluster.query('select 1 from pg_roles where rolname = $1', [role])
    const verb = existing ? 'alter' : 'create'
    await cluster.query(
      `${verb} role ${pg.escapeIdentifier(role)} login password ${pg.escapeLiteral(password)}`,
    )
    const url = new URL(cluster.connectionString(database))
    url.username = role
    url.password = password
    urls[role] = url.toString()
  }
  const [current] = await cluster.query<{ owner: string }>(
    'select pg_get_userbyid(datdba) as owner from pg_database where datname = $1',
    [database],
  )
  const [db, own, serve] = [database, owner, app].map((name) => pg.escapeIdentifier(name))
  if (!current) await cluster.query(`create database ${db} owner ${own}`)
  else if (current.owner !== owner) {
    // A data directory from before the roles: its tables belong to the superuser. The migrator's stay ungranted.
    await cluster.query(`alter database ${db} owner to ${own}`)
    await cluster.query(
      `do $$
      declare t regclass;
      begin
        for t in select c.oid::regclass from pg_class c join pg_namespace n on n.oid = c.relnamespace
                 where n.nspname = 'public' and c.relkind in ('r', 'p') and c.relowner <> ${pg.escapeLiteral(owner)}::regrole
        loop
          execute format('alter table %s owner to ${own}', t);
          if t::text not in (${[DEFAULT_MIGRATION_TABLE, DEFAULT_MIGRATION_LOCK_TABLE].map((name) => pg.escapeLiteral(name)).join(', ')}) then
            execute format('grant select, insert, update, delete on %s to ${serve}', t);
          end if;
        end loop;
      end $$`,
      [],
      database,
    )
  }
  await cluster.query(servingRoleGrants(EMBEDDED_ROLES).join(';\n'), [], database)
  return { connectionString: urls[app] as string, migrationConnectionString: urls[owner] as string }
}

/**
 * The embedded PostgreSQL, a development dependency: loaded only when `DATABASE_URL` is unset, so a
 * production install (`pnpm deploy --prod`) carries no PostgreSQL binaries and must set it.
 */
async function loadLocalPostgres(): Promise<typeof import('@classroom/local-postgres')> {
  try {
    return await import('@classroom/local-postgres')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw error
    throw new Error(
      'DATABASE_URL is not set, and the embedded PostgreSQL (@classroom/local-postgres, a development ' +
        'dependency) is not installed here: set DATABASE_URL to the database this api should serve',
      { cause: error },
    )
  }
}
