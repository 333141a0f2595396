import path from 'node:path'
import { pathToFileURL } from 'node:url'
import {
  createLogger,
  InstrumentedPool,
  InstrumentedPostgresDialect,
  type PoolSettings,
} from '@classroom/db-core'
import { Kysely, PostgresDialect } from 'kysely'
import { PostgresJSDialect } from 'kysely-postgres-js'
import pg from 'pg'
import postgres from 'postgres'
import { type BenchDatabase, type Driver, kyselyDriver, pgDriver, postgresJsDriver } from './workloads.js'

/** Pool size of every contender: db-core's default size + overflow. */
export const MAX_CONNECTIONS = 60

export type SqlContenderName =
  | 'pg-pool'
  | 'db-core-no-ping'
  | 'db-core-ping-idle'
  | 'db-core-ping-always'
  | 'db-core-defaults'
  | 'kysely-db-core'
  | 'kysely-db-core-replicas'
  | 'kysely-pg-pool'
  | 'kysely-postgres-js'
  | 'postgres-js'
  | `db-core-defaults@${string}`
  | `kysely-db-core@${string}`

export interface SqlContender {
  readonly name: SqlContenderName
  /** As the report shows it. */
  readonly label: string
  create(databaseUrl: string): Driver
}

const silent = createLogger({ silent: true })

const dbCore = (connectionString: string, pool: Partial<PoolSettings>) =>
  new InstrumentedPool({ connectionString, pool, logger: silent })

// Other builds of db-core, to measure a change side by side with what it changes: DB_CORE_BASELINE
// (a copy of an older dist directory, inside packages/db-core so that its imports resolve) adds
// `db-core-defaults@baseline` and `kysely-db-core@baseline`; DB_CORE_VARIANT another pair, `@variant`.
const otherBuilds: [string, typeof import('@classroom/db-core')][] = []
for (const [tag, dir] of [
  ['baseline', process.env.DB_CORE_BASELINE],
  ['variant', process.env.DB_CORE_VARIANT],
] as const) {
  if (dir) otherBuilds.push([tag, await import(pathToFileURL(path.resolve(dir, 'index.js')).href)])
}

const buildContenders = (tag: string, build: typeof import('@classroom/db-core')): SqlContender[] => [
  {
    name: `db-core-defaults@${tag}`,
    label: `db-core, all defaults, build ${tag} (DB_CORE_${tag.toUpperCase()})`,
    create: (url) => pgDriver(new build.InstrumentedPool({ connectionString: url, logger: silent })),
  },
  {
    name: `kysely-db-core@${tag}`,
    label: `Kysely over db-core, all defaults, build ${tag} (DB_CORE_${tag.toUpperCase()})`,
    create: (url) => {
      const db = new Kysely<BenchDatabase>({
        dialect: new build.InstrumentedPostgresDialect({ connectionString: url, logger: silent }),
      })
      return kyselyDriver(db, () => db.destroy())
    },
  },
]

/** In report order; the first is the baseline every ratio is taken against. */
export const SQL_CONTENDERS: readonly SqlContender[] = [
  {
    name: 'pg-pool',
    label: 'bare pg.Pool (max 60)',
    create: (url) => pgDriver(new pg.Pool({ connectionString: url, max: MAX_CONNECTIONS })),
  },
  {
    name: 'db-core-no-ping',
    label: 'db-core, pre-ping off, leak detection off',
    create: (url) => pgDriver(dbCore(url, { prePing: false, leakWarnMs: 0 })),
  },
  {
    name: 'db-core-ping-idle',
    label: 'db-core, pre-ping idle ≥ 1 s, leak detection off',
    create: (url) => pgDriver(dbCore(url, { leakWarnMs: 0 })),
  },
  {
    name: 'db-core-ping-always',
    label: 'db-core, pre-ping every checkout, leak detection off',
    create: (url) => pgDriver(dbCore(url, { prePingIdleMs: 0, leakWarnMs: 0 })),
  },
  {
    name: 'db-core-defaults',
    label: 'db-core, all defaults (pre-ping idle ≥ 1 s, leak detection 60 s)',
    create: (url) => pgDriver(dbCore(url, {})),
  },
  {
    name: 'kysely-db-core',
    label: 'Kysely over db-core, all defaults',
    create: (url) => {
      const db = new Kysely<BenchDatabase>({
        dialect: new InstrumentedPostgresDialect({ connectionString: url, logger: silent }),
      })
      return kyselyDriver(db, () => db.destroy())
    },
  },
  {
    name: 'kysely-db-core-replicas',
    // The same server as its one replica: it is no standby, so the poll leaves it out and every read
    // takes the routing path to the primary (the decision, the late-binding checkout, the scope lookup).
    label: 'Kysely over db-core with DATABASE_READ_URLS = the same server (routing cost)',
    create: (url) => {
      const db = new Kysely<BenchDatabase>({
        dialect: new InstrumentedPostgresDialect({
          connectionString: url,
          logger: silent,
          replicas: { urls: [url] },
        }),
      })
      return kyselyDriver(db, () => db.destroy())
    },
  },
  {
    name: 'kysely-pg-pool',
    label: 'Kysely over a bare pg.Pool (max 60)',
    create: (url) => {
      const db = new Kysely<BenchDatabase>({
        dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: MAX_CONNECTIONS }) }),
      })
      return kyselyDriver(db, () => db.destroy())
    },
  },
  {
    name: 'kysely-postgres-js',
    label: 'Kysely over postgres.js (kysely-postgres-js, max 60)',
    create: (url) => {
      const db = new Kysely<BenchDatabase>({
        dialect: new PostgresJSDialect({
          postgres: postgres(url, { max: MAX_CONNECTIONS, onnotice: () => undefined }),
        }),
      })
      return kyselyDriver(db, () => db.destroy())
    },
  },
  {
    name: 'postgres-js',
    label: 'postgres.js (max 60)',
    create: (url) => postgresJsDriver(postgres(url, { max: MAX_CONNECTIONS, onnotice: () => undefined })),
  },
  ...otherBuilds.flatMap(([tag, build]) => buildContenders(tag, build)),
]

export function sqlContender(name: string): SqlContender {
  const found = SQL_CONTENDERS.find((c) => c.name === name)
  if (!found)
    throw new Error(`no SQL contender "${name}"; known: ${SQL_CONTENDERS.map((c) => c.name).join(', ')}`)
  return found
}
