import { tmpdir } from 'node:os'
import path from 'node:path'
import type { DbConfig } from '@classroom/db-core'
import { ConfigError, redactSecrets } from '@classroom/db-core'
import {
  boolean,
  dbConfigFromEnv,
  dbEnvSpec,
  type LoggerLevel,
  loggerEnvSpec,
  parseEnv,
  postgresUrl,
  wholeNumber,
} from '@classroom/db-core/env'
import { EnvError, makeValidator } from 'envalid'
import { DEFAULT_HTTP_LIMITS, type HttpLimits } from './http-limits.js'

const host = makeValidator<string>((input) => {
  if (!/^[a-zA-Z0-9.:-]+$/.test(input)) throw new EnvError('a host name or IP address, like 127.0.0.1')
  return input
})

const absolutePath = makeValidator<string>((input) => {
  if (!path.isAbsolute(input)) throw new EnvError('an absolute directory path')
  return input
})

/** The api's own variables plus db-core's and the logger's, validated in one pass. */
export const apiEnvSpec = {
  ...dbEnvSpec,
  ...loggerEnvSpec,
  // Optional here: without it the api starts an embedded PostgreSQL.
  DATABASE_URL: postgresUrl({ default: undefined }),
  // Optional: an owner role's connection for migrations only; without it they run on DATABASE_URL.
  DATABASE_MIGRATION_URL: postgresUrl({ default: undefined }),
  PORT: wholeNumber(0)({ default: 3000 }),
  HOST: host({ default: '127.0.0.1' }),
  SHUTDOWN_TIMEOUT_MS: wholeNumber(1)({ default: 10_000 }),
  DB_MIGRATE_ON_START: boolean({ default: true }),
  READYZ_TIMEOUT_MS: wholeNumber(1)({ default: 1000 }),
  IDEMPOTENCY_KEY_RETENTION_SECONDS: wholeNumber(1)({ default: 86_400 }),
  EMBEDDED_PG_DATA_DIR: absolutePath({ default: path.join(tmpdir(), 'classroom-engine', 'postgres') }),
  EMBEDDED_PG_PORT: wholeNumber(0)({ default: 0 }),
  HTTP_CONNECTION_TIMEOUT_MS: wholeNumber(1)({ default: DEFAULT_HTTP_LIMITS.connectionTimeoutMs }),
  HTTP_REQUEST_TIMEOUT_MS: wholeNumber(1)({ default: DEFAULT_HTTP_LIMITS.requestTimeoutMs }),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: wholeNumber(1)({ default: DEFAULT_HTTP_LIMITS.keepAliveTimeoutMs }),
  HTTP_MAX_CONNECTIONS: wholeNumber(1)({ default: DEFAULT_HTTP_LIMITS.maxConnections }),
  API_REQUEST_TIMEOUT_MS: wholeNumber(1)({ default: 10_000 }),
}

export interface ApiConfig {
  readonly port: number
  readonly host: string
  readonly shutdownTimeoutMs: number
  readonly migrateOnStart: boolean
  readonly readyzTimeoutMs: number
  /** Each request's deadline (`API_REQUEST_TIMEOUT_MS`): its checkouts never wait past it. */
  readonly requestDeadlineMs: number
  /** How long a write's idempotency key (and its stored answer) is kept. */
  readonly idempotencyKeyRetentionMs: number
  readonly log: { readonly level: LoggerLevel; readonly format: 'auto' | 'json' | 'pretty' }
  /** The HTTP server's timeouts and connection cap (`HTTP_*`). */
  readonly http: HttpLimits
  /**
   * Where the database is, or how to run the embedded one when `DATABASE_URL` is unset. An external
   * database is served through `connectionString` and migrated through `migrationConnectionString`
   * (`DATABASE_MIGRATION_URL`, or `DATABASE_URL` itself when that is unset).
   */
  readonly database:
    | {
        readonly kind: 'external'
        readonly connectionString: string
        readonly migrationConnectionString: string
      }
    | { readonly kind: 'embedded'; readonly dataDir: string; readonly port: number | undefined }
  /** Builds db-core's config once the connection string is known (for embedded, after it started). */
  dbConfig(connectionString: string): DbConfig
}

/**
 * Validates the whole environment at once; a bad value anywhere throws one `ConfigError` listing
 * every offending variable, before any connection is opened.
 *
 * ```ts
 * const config = loadApiConfig(process.env)
 * ```
 */
export function loadApiConfig(env: Record<string, string | undefined> = process.env): ApiConfig {
  const clean = parseEnv(env, apiEnvSpec)
  if (clean.DATABASE_MIGRATION_URL && !clean.DATABASE_URL) {
    // The embedded database migrates with an owner role of its own: a URL here would be ignored.
    throw new ConfigError([
      {
        name: 'DATABASE_MIGRATION_URL',
        value: redactSecrets(clean.DATABASE_MIGRATION_URL),
        expected:
          'DATABASE_URL to be set too (the serving connection); without DATABASE_URL the embedded database migrates with its own owner role',
      },
    ])
  }
  return Object.freeze({
    port: clean.PORT,
    host: clean.HOST,
    shutdownTimeoutMs: clean.SHUTDOWN_TIMEOUT_MS,
    migrateOnStart: clean.DB_MIGRATE_ON_START,
    readyzTimeoutMs: clean.READYZ_TIMEOUT_MS,
    requestDeadlineMs: clean.API_REQUEST_TIMEOUT_MS,
    idempotencyKeyRetentionMs: clean.IDEMPOTENCY_KEY_RETENTION_SECONDS * 1000,
    log: Object.freeze({ level: clean.LOG_LEVEL, format: clean.LOG_FORMAT }),
    http: Object.freeze({
      connectionTimeoutMs: clean.HTTP_CONNECTION_TIMEOUT_MS,
      requestTimeoutMs: clean.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: clean.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      maxConnections: clean.HTTP_MAX_CONNECTIONS,
    }),
    database: clean.DATABASE_URL
      ? {
          kind: 'external' as const,
          connectionString: clean.DATABASE_URL,
          migrationConnectionString: clean.DATABASE_MIGRATION_URL ?? clean.DATABASE_URL,
        }
      : {
          kind: 'embedded' as const,
          dataDir: clean.EMBEDDED_PG_DATA_DIR,
          port: clean.EMBEDDED_PG_PORT || undefined,
        },
    dbConfig: (connectionString: string) => dbConfigFromEnv({ ...clean, DATABASE_URL: connectionString }),
  })
}
