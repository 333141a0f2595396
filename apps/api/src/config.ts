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
import { EnvError, makeValidator, str } from 'envalid'
import type { AuthSettings } from './auth/verifier.js'
import { DEFAULT_HTTP_LIMITS, type HttpLimits } from './http-limits.js'

const host = makeValidator<string>((input) => {
  if (!/^[a-zA-Z0-9.:-]+$/.test(input)) throw new EnvError('a host name or IP address, like 127.0.0.1')
  return input
})

const absolutePath = makeValidator<string>((input) => {
  if (!path.isAbsolute(input)) throw new EnvError('an absolute directory path')
  return input
})

const absoluteFile = makeValidator<string>((input) => {
  if (!path.isAbsolute(input)) throw new EnvError('an absolute file path')
  return input
})

// HS256 wants a key as long as its hash (RFC 7518 3.2): 32 bytes at least.
const hs256Secret = makeValidator<string>((input) => {
  if (Buffer.byteLength(input) < 32)
    throw new EnvError('a secret of at least 32 bytes (e.g. openssl rand -base64 48)')
  return input
})

const metricsToken = makeValidator<string>((input) => {
  if (!/^[A-Za-z0-9._~+/-]{16,}=*$/.test(input))
    throw new EnvError(
      'a token of at least 16 characters of A-Z a-z 0-9 . _ ~ + / - (e.g. openssl rand -hex 24)',
    )
  return input
})

/** The public-key algorithms `API_AUTH_PUBLIC_KEY_ALGORITHM` accepts. */
const PUBLIC_KEY_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
]

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
  // Exactly one key source; none only on the embedded database, which makes a development key.
  API_AUTH_HS256_SECRET: hs256Secret({ default: undefined }),
  API_AUTH_PUBLIC_KEY_FILE: absoluteFile({ default: undefined }),
  API_AUTH_PUBLIC_KEY_ALGORITHM: str({ choices: PUBLIC_KEY_ALGORITHMS, default: 'RS256' }),
  API_AUTH_JWKS_FILE: absoluteFile({ default: undefined }),
  API_AUTH_ISSUER: str({ default: undefined }),
  API_AUTH_AUDIENCE: str({ default: 'classroom-api' }),
  METRICS_TOKEN: metricsToken({ default: undefined }),
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
  /** How bearer tokens are verified (`API_AUTH_*`); `undefined` on the embedded database: a development key is made. */
  readonly auth: AuthSettings | undefined
  /** What `/metrics` takes as its bearer token (`METRICS_TOKEN`); unset: `/metrics` answers 401. */
  readonly metricsToken: string | undefined
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
export function loadApiConfig(
  env: Record<string, string | undefined> = process.env,
  /** `false`: no token is verified (`pnpm db:migrate`), so no key is needed. */
  { verifiesTokens = true }: { readonly verifiesTokens?: boolean } = {},
): ApiConfig {
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
  const keys = (['API_AUTH_HS256_SECRET', 'API_AUTH_PUBLIC_KEY_FILE', 'API_AUTH_JWKS_FILE'] as const).filter(
    (name) => clean[name] !== undefined,
  )
  if (keys.length > 1 || (keys.length === 0 && clean.DATABASE_URL && verifiesTokens)) {
    throw new ConfigError(
      (keys.length > 1 ? keys : ['API_AUTH_HS256_SECRET' as const]).map((name) => ({
        name,
        value: keys.length > 1 ? '[set]' : undefined,
        expected:
          'exactly one of API_AUTH_HS256_SECRET, API_AUTH_PUBLIC_KEY_FILE (with API_AUTH_PUBLIC_KEY_ALGORITHM) or API_AUTH_JWKS_FILE: the key bearer tokens are verified with (only the embedded database, without DATABASE_URL, makes a development key)',
      })),
    )
  }
  const key: AuthSettings['key'] | undefined = clean.API_AUTH_HS256_SECRET
    ? { kind: 'secret', secret: new TextEncoder().encode(clean.API_AUTH_HS256_SECRET) }
    : clean.API_AUTH_PUBLIC_KEY_FILE
      ? {
          kind: 'public-key',
          file: clean.API_AUTH_PUBLIC_KEY_FILE,
          algorithm: clean.API_AUTH_PUBLIC_KEY_ALGORITHM,
        }
      : clean.API_AUTH_JWKS_FILE
        ? { kind: 'jwks', file: clean.API_AUTH_JWKS_FILE }
        : undefined
  return Object.freeze({
    auth: key && Object.freeze({ key, issuer: clean.API_AUTH_ISSUER, audience: clean.API_AUTH_AUDIENCE }),
    metricsToken: clean.METRICS_TOKEN,
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
